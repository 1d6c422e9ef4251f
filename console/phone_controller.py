"""The softphone in the console: starts and watches the phone process (sync/phone_link.py) on the qasync
loop, shows its state in the phone bar beside the bubbles ("Phone offline" while it is down), and ties
its calls to the server's call bubbles.

- F2 (or a click) on a ringing bubble claims it (calls_controller) **and** answers the softphone's ringing
  leg for that call in the same key press: the answer goes to the phone at once, the claim to the server.
- A call answered on the softphone itself is claimed automatically when the company turns on
  ``company.phone_auto_claim``, so it is never Abandoned by accident.
- The softphone's leg is matched to the server's call by the provider's call sid the phone company puts
  in the INVITE (``X-CSR-Call-Sid``, from our ``<Dial><Sip>``); with none, the oldest ringing leg.

Nothing here blocks the UI thread: the link is asyncio on the Qt loop, and it never waits for the phone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QInputDialog, QLineEdit

from models.phone import format_phone
from sync.phone_link import PhoneLink, phone_command
from sync.phone_protocol import is_sip_uri
from widgets.phone_bar import OFFLINE, PhoneBar

from .phone_secrets import SeatSecrets
from .tasks import Tasks

RINGING = ("incoming", "early")
DIAL_PATIENCE_S = 60.0  # a click-to-call's ring of this seat is answered by itself within this long


def transfer_target(text: str, registrar: str) -> str:
    """What the CSR typed in Transfer as a SIP URI: a URI as is, a seat or number at the registrar's host."""
    text = text.strip()
    if is_sip_uri(text) or not registrar:  # a direct seat has no registrar: a SIP address is needed
        return text
    host = registrar.split(":", 1)[1].split(";")[0] if ":" in registrar else registrar
    return f"sip:{text.replace(' ', '')}@{host}"


def is_direct(seat: dict[str, Any]) -> bool:
    """A seat with no registrar: its phone listens at the seat's own address (the demo's seat)."""
    return not seat.get("registrar")


DEVICE_KEYS = ("input_device", "output_device", "ring_device")


def devices_of(message: dict[str, Any]) -> dict[str, Any]:
    """This PC's sound devices as the phone lists them (its ``devices`` event, or ``list_devices``'s
    answer): ``available``, ``inputs``, ``outputs`` (names) and ``message`` (why none, for the CSR)."""

    def names(value: Any) -> list[str]:
        return [str(n) for n in value if isinstance(n, str) and n] if isinstance(value, list) else []

    return {
        "available": bool(message.get("available")),
        "inputs": names(message.get("inputs")),
        "outputs": names(message.get("outputs")),
        "message": str(message.get("message") or ""),
    }


def only_devices_differ(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Two seats that differ in their sound devices only (the CSR chose others): no new sign-in."""
    rest = lambda seat: {k: v for k, v in seat.items() if k not in DEVICE_KEYS}  # noqa: E731
    return rest(old) == rest(new) and old != new


def _register_fields(seat: dict[str, Any], password: str) -> dict[str, Any]:
    """The phone's register command from a server seat and the password."""
    keys = ("registrar", "user", "transport", "proxy", *DEVICE_KEYS)
    fields = {k: seat.get(k) for k in keys}
    return {**{k: v for k, v in fields.items() if v}, "password": password}


class PhoneController(QObject):
    stateChanged = Signal(str, str)  # link state, message
    registrationChanged = Signal(bool, str)  # signed in at the registrar; why not (the CSR's sentence)
    answeredForCall = Signal(str)  # server call id whose softphone leg was answered (F2 or Answer)
    errorOccurred = Signal(str)
    devicesChanged = Signal(object)  # this PC's sound devices as the phone lists them (dict), or None
    deviceNotice = Signal(str)  # a device of the seat the phone did not find here (the CSR's sentence)
    seatKnown = Signal(object)  # the server's seat for this user (dict) or None: at sign-in, on each change

    def __init__(
        self,
        window: Any,
        calls: Any,
        *,
        command: list[str] | None = None,
        auto_claim_fn: Callable[[], bool] = lambda: False,
        stderr_path: str | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.calls = calls  # console/calls_controller.CallsController
        self.command = command
        self.auto_claim_fn = auto_claim_fn
        self.stderr_path = stderr_path
        self.bar = PhoneBar(window)
        self.bar.hide()  # shown once this CSR has a seat
        layout = window.centralWidget().layout()
        layout.insertWidget(layout.indexOf(window.bubble_strip) + 1, self.bar)
        self.link: PhoneLink | None = None
        self.seat: dict[str, Any] = {}
        self.registered = False
        self.ready_text = ""  # what the bar says while the seat is ready and idle
        self.legs: dict[str, dict[str, Any]] = {}  # the phone's call id → what we know of that leg
        self.answer_sent_at: dict[str, float] = {}  # leg → time.perf_counter() of the answer command
        self.secrets = SeatSecrets()
        self.server_seat: dict[str, Any] | None = None  # the seat the server gave at sign-in
        self.password_dialog: QInputDialog | None = None
        self.consulting: tuple[str, str] | None = None  # (the caller's leg, the consultation leg)
        self.auto_claim = False  # the company's phone setting, from the sign-in answer
        self.dial_asked_at: float | None = None  # a click-to-call asked from here (time.monotonic())
        self.devices: dict[str, Any] | None = None  # the phone's last list of this PC's sound devices
        self._tasks = Tasks()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.bar.answerRequested.connect(self.answer_ringing)
        self.bar.holdRequested.connect(lambda on: self._command("hold" if on else "resume"))
        self.bar.muteRequested.connect(lambda on: self._command("mute" if on else "unmute"))
        self.bar.hangupRequested.connect(lambda: self._command("hangup"))
        self.bar.dtmfRequested.connect(lambda digits: self._command("dtmf", digits=digits))
        self.bar.transferRequested.connect(self.transfer)
        self.bar.consultRequested.connect(lambda text: self._tasks.spawn(self.consult(text)))
        self.bar.completeRequested.connect(self.complete_transfer)
        self.bar.returnRequested.connect(self.return_to_caller)
        self.calls.strip.claimRequested.connect(self.claimed)
        self.calls.sync.signedIn.connect(self.on_signed_in)
        self.calls.sync.seatChanged.connect(self.seat_changed)
        self.window.customer_panel.callContactRequested.connect(self.dialing)
        self.errorOccurred.connect(lambda text: self.window.statusBar().showMessage(text, 10_000))

    # -- life cycle ----------------------------------------------------------------------------------------
    def start(self, seat: dict[str, Any]) -> None:
        """Start (or re-sign) the seat: ``seat`` has registrar, user, password, and optionally proxy,
        transport, domain — or, for a direct seat, ``address`` and ``user`` (no registrar, no password).
        The password stays in this process's memory and the phone's only."""
        self.seat = dict(seat)
        self.bar.show()
        if self.link is None:
            self.link = PhoneLink(
                self.command or phone_command(),
                on_event=self._on_event,
                on_state=self._on_state,
                stderr_path=self.stderr_path,
            )
            self.link.start()
        if self.seat.get("address") and is_direct(self.seat):
            devices = {k: str(self.seat[k]) for k in DEVICE_KEYS if self.seat.get(k)}
            self.link.listen(str(self.seat["address"]), devices)
        else:
            self.link.register({k: v for k, v in self.seat.items() if v not in (None, "")})

    def on_signed_in(self, user: dict[str, Any]) -> None:
        """The server says whether this CSR has a seat: sign the softphone in there (the password from
        the OS keyring, or asked), or stop it."""
        seat = user.get("phone_seat") or None
        self.server_seat = seat
        self.auto_claim = bool(user.get("phone_auto_claim", False))
        self.seatKnown.emit(seat)
        if not seat:
            self.bar.hide()
            self.seat = {}  # no seat, no SIP password kept for it
            if self.password_dialog is not None:  # the seat it asked for is gone
                self.password_dialog.close()
                self.password_dialog = None
            if self.link is not None:
                self._tasks.spawn(self._stop_link())
            return
        self._tasks.spawn(self._sign_in_seat(dict(seat)))

    def seat_changed(self, seat: dict[str, Any] | None) -> None:
        """The server says the seat now (each welcome; live when an admin sets or clears it): sign the
        softphone in at the new one, or stop it; the same seat as before changes nothing."""
        if (seat or None) == self.server_seat:
            return
        if seat and self.server_seat and only_devices_differ(self.server_seat, seat):
            # The CSR chose other sound devices (here or at another console): switch, don't sign in again.
            self.server_seat = dict(seat)
            self.apply_devices(seat)
            self.seatKnown.emit(self.server_seat)
            return
        self.on_signed_in({"phone_seat": seat, "phone_auto_claim": self.auto_claim})

    async def _sign_in_seat(self, seat: dict[str, Any]) -> None:
        if is_direct(seat):  # nothing to sign in to: the phone listens at the seat's address
            devices = {k: seat[k] for k in DEVICE_KEYS if seat.get(k)}
            self.start({"address": seat.get("sip_address", ""), "user": seat.get("user", ""), **devices})
            return
        password = await asyncio.to_thread(self.secrets.get, seat)
        seat = self._fresh(seat)
        if password:
            self.start(_register_fields(seat, password))
        else:
            self.ask_password(seat)

    def _fresh(self, seat: dict[str, Any]) -> dict[str, Any]:
        """``seat`` with the sound devices chosen since it was read (while the password was looked up or
        asked for): the same seat otherwise."""
        if self.server_seat and only_devices_differ(seat, self.server_seat):
            return dict(self.server_seat)
        return seat

    def ask_password(self, seat: dict[str, Any], why: str = "") -> None:
        """Ask for the seat's SIP password without blocking (``open()``, never ``exec()``)."""
        if self.password_dialog is not None:
            self.password_dialog.close()
        dialog = QInputDialog(self.window)
        dialog.setObjectName("phonePasswordDialog")
        dialog.setWindowTitle("Softphone sign-in")
        dialog.setLabelText(
            (why + "\n\n" if why else "")
            + f"SIP password for {seat.get('user', '')} at {seat.get('registrar', '')}:"
        )
        dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
        dialog.setAccessibleName("SIP password")
        dialog.finished.connect(lambda result, d=dialog: self._password_given(seat, d, result))
        self.password_dialog = dialog
        self.bar.show()
        self.bar.show_status(why or f"{OFFLINE} — waiting for the SIP password")
        dialog.open()

    def _password_given(self, seat: dict[str, Any], dialog: QInputDialog, result: int) -> None:
        password = dialog.textValue()
        dialog.deleteLater()
        if self.password_dialog is dialog:
            self.password_dialog = None
        if result != QDialog.DialogCode.Accepted or not password:
            self.bar.show_status(f"{OFFLINE} — no SIP password given (sign in again to retry)")
            return
        seat = self._fresh(seat)
        self.start(_register_fields(seat, password))
        self._tasks.spawn(self._keep_password(seat, password))

    async def _keep_password(self, seat: dict[str, Any], password: str) -> None:
        if not await asyncio.to_thread(self.secrets.put, seat, password):
            self.window.statusBar().showMessage(
                "There is no keyring on this PC: the SIP password is kept until you sign out.", 10_000
            )

    async def aclose(self) -> None:
        """Hang up and stop the phone process (the window is closing)."""
        await self._tasks.cancel_all()
        if self.password_dialog is not None:
            self.password_dialog.close()
            self.password_dialog = None
        await self._stop_link()

    async def _stop_link(self) -> None:
        if self.link is not None:
            link, self.link = self.link, None
            await link.stop()
        self.legs.clear()
        if self.devices is not None:
            self.devices = None
            self.devicesChanged.emit(None)

    @property
    def online(self) -> bool:
        return self.link is not None and self.link.state == "online"

    # -- what the phone says -------------------------------------------------------------------------------
    def _on_state(self, state: str, message: str) -> None:
        if state != "online":
            self.registered = False
            self.ready_text = ""
            self.consulting = None
            if self.legs:
                self.legs.clear()
                self.bar.show_call(None)
        if state == "offline":
            self.bar.show_status(message or OFFLINE)
        elif state == "starting":
            self.bar.show_status(f"{OFFLINE} — starting…")
        elif state == "online":
            self.bar.show_status(f"Phone signing in as {self.seat.get('user', '')}…")
        self.stateChanged.emit(state, message)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "registration":
            # A direct seat is ready once its transport is up ("listening"): there is no registration.
            self.registered = event["state"] in ("registered", "listening")
            text = f"Phone ready — {event.get('user', '')}" if self.registered else event.get("message", "")
            if event["state"] == "listening":
                text += f" (direct at {event.get('address', '')}, no registrar)"
            self.ready_text = text if self.registered else ""
            self.bar.show_status(text)
            self.registrationChanged.emit(self.registered, "" if self.registered else text)
            if not self.registered and text:
                self.errorOccurred.emit(text)
            if event["state"] == "auth_failed" and self.server_seat:
                # A wrong password is never retried by the phone: forget it and ask again.
                seat = dict(self.server_seat)
                self._tasks.spawn(asyncio.to_thread(self.secrets.forget, seat))
                self.ask_password(seat, text)
        elif kind == "incoming":
            self.legs[event["call"]] = {
                "state": "incoming",
                "incoming": True,
                "remote": event.get("remote", ""),
                "provider_call_id": event.get("provider_call_id", ""),
                "since": event.get("received", time.time()),
            }
            self.bar.show_status(f"Ringing — {self._who(self.legs[event['call']])} (F2 answers)")
            asked = self.dial_asked_at
            if event.get("dial") and asked is not None and time.monotonic() - asked < DIAL_PATIENCE_S:
                self.dial_asked_at = None
                self.bar.show_status(f"Calling {event['dial']}…")
                self._answer(event["call"])
        elif kind == "call" and event.get("call") in self.legs:
            leg = self.legs[event["call"]]
            was = leg["state"]
            leg["state"] = event["state"]
            if event["state"] == "disconnected":
                del self.legs[event["call"]]
                if self.consulting and event["call"] in self.consulting:
                    self.consulting = None
                self.bar.show_status(self.ready_text or "Phone ready — " + str(self.seat.get("user", "")))
            elif event["state"] == "confirmed" and was != "confirmed":
                self.bar.show_status(f"On a call — {self._who(leg)}")
                self._maybe_auto_claim(leg)
        elif kind == "call" and event.get("state") not in ("disconnected",):
            # A leg we placed (transfer or outbound).
            self.legs[event["call"]] = {
                "state": event["state"],
                "incoming": False,
                "remote": event.get("remote"),
            }
        elif kind == "media" and event.get("call") in self.legs:
            self.legs[event["call"]]["hold"] = event.get("hold")
        elif kind == "muted" and event.get("call") in self.legs:
            self.legs[event["call"]]["muted"] = event.get("muted")
        elif kind == "error":
            self.errorOccurred.emit(str(event.get("message", "")))
        elif kind == "device" and not event.get("found"):
            self.errorOccurred.emit(str(event.get("message", "")))
            self.deviceNotice.emit(str(event.get("message", "")))
        elif kind == "devices":  # right after ready: what this PC has (the Sound devices dialog lists it)
            self.devices = devices_of(event)
            self.devicesChanged.emit(self.devices)
        elif kind == "busy":
            on_call = any(v["state"] not in RINGING for v in self.legs.values())
            caller = str(event.get("remote") or "").removeprefix("<").removesuffix(">") or "a caller"
            self.errorOccurred.emit(
                f"Busy: {caller} called while "
                + ("you were on a call" if on_call else "another call rang")
                + "; it went to the next CSR."
            )
        self.bar.show_call(self.current(), consulting=self.consulting is not None)

    def current(self) -> dict[str, Any] | None:
        """The leg the bar acts on: the call in progress, else the oldest ringing one."""
        live = [(k, v) for k, v in self.legs.items() if v["state"] not in RINGING or not v.get("incoming")]
        if live:
            return {**live[-1][1], "id": live[-1][0]}
        ringing = sorted(self.legs.items(), key=lambda kv: kv[1].get("since", 0))
        return {**ringing[0][1], "id": ringing[0][0]} if ringing else None

    def _maybe_auto_claim(self, leg: dict[str, Any]) -> None:
        call_id = self._server_call(leg.get("provider_call_id", ""))
        if not call_id or not (self.auto_claim or self.auto_claim_fn()):
            return
        call = self.calls.calls.get(call_id, {})
        if not call.get("agent_id"):
            self.calls.strip._claim(call_id)

    def _who(self, leg: dict[str, Any]) -> str:
        """The caller as the bubble names them (name · number) when the leg is a call the server
        knows; else the SIP address (the carrier's trunk, a colleague's seat)."""
        card = self.calls.cards.get(self._server_call(str(leg.get("provider_call_id") or "")))
        if card is not None:
            number = format_phone(card.from_number) if card.from_number else "no caller ID"
            return f"{card.caller_name or 'Unknown caller'} · {number}"
        return str(leg.get("remote") or "")

    def _server_call(self, provider_call_id: str) -> str:
        if not provider_call_id:
            return ""
        return next(
            (cid for cid, c in self.calls.calls.items() if c.get("provider_call_id") == provider_call_id), ""
        )

    # -- what the CSR asks ---------------------------------------------------------------------------------
    def dialing(self, *_args: Any) -> None:
        """The CSR clicked Call on a contact: the phone system rings this seat first (X-CSR-Dial), and
        that leg is answered here at once — the CSR asked for it."""
        self.dial_asked_at = time.monotonic()

    def claimed(self, call_id: str) -> None:
        """A claim of a ringing bubble (F2 or a click): answer its softphone leg in the same key press."""
        provider = str(self.calls.calls.get(call_id, {}).get("provider_call_id") or "")
        ringing = [
            (k, v) for k, v in self.legs.items() if v.get("incoming") and v["state"] in RINGING
        ]  # oldest first (dict order)
        leg = next((k for k, v in ringing if provider and v.get("provider_call_id") == provider), None)
        if leg is None and ringing and not any(v.get("provider_call_id") for _, v in ringing):
            leg = ringing[0][0]
        if leg is not None:
            self._answer(leg)

    def answer_ringing(self) -> None:
        ringing = [k for k, v in self.legs.items() if v.get("incoming") and v["state"] in RINGING]
        if ringing:
            self._answer(ringing[0])

    def _answer(self, leg: str) -> None:
        if self.link is None or self.link.send({"cmd": "answer", "call": leg}) is None:
            self.errorOccurred.emit("The phone is offline: the call can't be answered here.")
            return
        self.answer_sent_at[leg] = time.perf_counter()
        server_call = self._server_call(self.legs.get(leg, {}).get("provider_call_id", ""))
        if server_call:
            self.answeredForCall.emit(server_call)

    def transfer(self, text: str) -> None:
        self._command("transfer", to=transfer_target(text, str(self.seat.get("registrar", ""))))

    async def consult(self, text: str) -> None:
        """Warm transfer, step 1: hold the caller and call a colleague (a seat, number or SIP address)."""
        leg = self.current()
        if leg is None or self.link is None or self.consulting:
            return
        try:
            if leg.get("hold") != "local":
                await self.link.request({"cmd": "hold", "call": leg["id"]})
            answer = await self.link.request(
                {"cmd": "call", "to": transfer_target(text, str(self.seat.get("registrar", "")))}
            )
        except (RuntimeError, TimeoutError) as exc:
            self.errorOccurred.emit(str(exc) or "The phone did not answer.")
            return
        if answer["event"] == "error":
            self.errorOccurred.emit(answer["message"])
            return
        self.consulting = (leg["id"], answer["call"])
        self.legs.setdefault(answer["call"], {"state": "calling", "incoming": False, "remote": text})
        self.bar.show_call(self.current(), consulting=True)

    def complete_transfer(self) -> None:
        """Warm transfer, step 2: join the caller to the colleague (the CSR's legs then end)."""
        if self.consulting and self.link is not None:
            caller, colleague = self.consulting
            self.link.send({"cmd": "complete_transfer", "call": caller, "other": colleague})

    def return_to_caller(self) -> None:
        """Warm transfer, or not: hang up the consultation and take the caller off hold."""
        if self.consulting and self.link is not None:
            caller, colleague = self.consulting
            self.consulting = None
            self.link.send({"cmd": "hangup", "call": colleague})
            self.link.send({"cmd": "resume", "call": caller})

    def _command(self, cmd: str, **fields: Any) -> None:
        leg = self.current()
        if leg is None:
            self.errorOccurred.emit("There is no call on the phone.")
            return
        if self.link is None or self.link.send({"cmd": cmd, "call": leg["id"], **fields}) is None:
            self.errorOccurred.emit("The phone is offline.")

    # -- sound devices (console/sound_devices.py) ------------------------------------------------------------
    async def list_devices(self) -> dict[str, Any]:
        """Ask the phone to look at this PC's sound devices again; RuntimeError with a sentence for the
        CSR when it can't (offline, no answer, an error)."""
        if self.link is None:
            raise RuntimeError("The phone is not running: it starts once you have a phone seat.")
        try:
            answer = await self.link.request({"cmd": "list_devices"})
        except TimeoutError:
            raise RuntimeError("The phone did not answer: try Refresh again.") from None
        if answer["event"] == "error":
            raise RuntimeError(str(answer.get("message") or "The phone could not list the sound devices."))
        self.devices = devices_of(answer)
        self.devicesChanged.emit(self.devices)
        return self.devices

    def apply_devices(self, devices: dict[str, Any]) -> bool:
        """Switch the phone to these devices now (``set_devices``) and after every restart (the sign-in
        replayed carries them); False when the phone is not running to be told now."""
        names = {k: str(devices.get(k) or "") for k in DEVICE_KEYS}
        for target in (self.seat, self.link.registration if self.link is not None else None):
            if target is None:
                continue
            for key, name in names.items():
                if name:
                    target[key] = name
                else:
                    target.pop(key, None)  # as the sign-in sends it: no name, the default
        return self.link is not None and self.link.send({"cmd": "set_devices", **names}) is not None

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> asyncio.Future:
        """The next phone event matching ``predicate`` (tests and the bench)."""
        assert self.link is not None
        return self.link.wait_for(predicate, timeout)
