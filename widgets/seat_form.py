"""The phone seat part of the admins' Users window (widgets/users_window.py): the highlighted user's SIP
seat as `csr-server phone-seat set` takes it — SIP address, registrar, SIP user, transport, proxy and
devices. There is no SIP password here: the server keeps none (the CSR's PC keeps it in the OS keyring,
or the console asks for it). The server checks the seat (sync/phone_seats.py ``check_seat``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QWidget

TRANSPORTS = ("udp", "tcp", "tls")
# form field → (label with its mnemonic, objectName, accessible name, manage_user field, the seat's key)
FIELDS = (
    (
        "S&IP address",
        "seatAddress",
        "SIP address the phone company dials (sip:…)",
        "sip_address",
        "sip_address",
    ),
    (
        "Re&gistrar",
        "seatRegistrar",
        "Registrar where the softphone signs in (sip:…)",
        "registrar",
        "registrar",
    ),
    ("SIP &user", "seatSipUser", "SIP user name", "sip_user", "user"),
    ("Pro&xy", "seatProxy", "Outbound proxy (sip:…), if any", "proxy", "proxy"),
    ("&Microphone", "seatInputDevice", "Microphone (empty: the system's)", "input_device", "input_device"),
    ("&Headset", "seatOutputDevice", "Headset (empty: the system's)", "output_device", "output_device"),
    ("Ring de&vice", "seatRingDevice", "Ring device (empty: the headset)", "ring_device", "ring_device"),
)


def seat_text(seat: dict[str, Any] | None) -> str:
    """How the users list shows a seat: its SIP address and transport, or "No seat"."""
    if not seat:
        return "No seat"
    return f"{seat.get('sip_address', '')} ({str(seat.get('transport') or 'udp').upper()})"


class SeatForm(QGroupBox):
    """The seat fields, in tab order; ``fields()`` is what ``manage_user`` ``set_seat`` sends."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Phone seat of the highlighted user", parent)
        self.setObjectName("seatForm")
        self.setAccessibleName("Phone seat of the highlighted user")
        self.edits: dict[str, QLineEdit] = {}
        self.transport = QComboBox(objectName="seatTransport")
        self.transport.setAccessibleName("SIP transport")
        self.transport.addItems([t.upper() for t in TRANSPORTS])
        # Widgets join the tab order when the layout takes them: the rows' order is the tab order.
        layout = QFormLayout(self)
        for n, (text, name, accessible, field, _key) in enumerate(FIELDS):
            edit = QLineEdit(
                objectName=name, maxLength=120 if "device" in field else 80 if field == "sip_user" else 200
            )
            edit.setAccessibleName(accessible)
            label = QLabel(text)
            label.setBuddy(edit)
            layout.addRow(label, edit)
            self.edits[field] = edit
            if n == 2:  # the transport after the SIP user, as the CLI lists them
                label = QLabel("Transpo&rt")
                label.setBuddy(self.transport)
                layout.addRow(label, self.transport)
        layout.addRow(
            QLabel(
                "No SIP password is kept on the server: the CSR's PC asks for it once and keeps it.",
                objectName="seatPasswordNote",
                wordWrap=True,
            )
        )

    def show_seat(self, seat: dict[str, Any] | None) -> None:
        """Fill the form with ``seat`` (the highlighted user's), or empty it."""
        seat = seat or {}
        for _text, _name, _accessible, field, key in FIELDS:
            self.edits[field].setText(str(seat.get(key) or ""))
        transport = str(seat.get("transport") or "udp").lower()
        self.transport.setCurrentIndex(TRANSPORTS.index(transport) if transport in TRANSPORTS else 0)

    def fields(self) -> dict[str, str]:
        """The ``manage_user`` seat fields as typed (the server checks them)."""
        typed = {field: self.edits[field].text().strip() for _t, _n, _a, field, _k in FIELDS}
        return {**typed, "transport": self.transport.currentText().lower()}

    def first_missing(self) -> tuple[QLineEdit, str] | None:
        """The first required field left empty and what it is called, to say so and put the focus in."""
        for field, what in (
            ("sip_address", "SIP address"),
            ("registrar", "registrar"),
            ("sip_user", "SIP user"),
        ):
            if not self.edits[field].text().strip():
                return self.edits[field], what
        return None
