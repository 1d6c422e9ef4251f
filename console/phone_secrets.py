"""The SIP password of a seat: in the OS keyring when there is one, otherwise only in memory for this
sign-in (asked again next time). Never in a file of ours, never sent to the server."""

from __future__ import annotations

import logging

log = logging.getLogger("csr.phone")
SERVICE = "CSR Console SIP seat"


def seat_key(seat: dict) -> str:
    return f"{seat.get('user', '')}@{seat.get('registrar', '')}"


class SeatSecrets:
    """get/put/forget a seat's password; each call may block on the keyring (D-Bus): run it off the UI
    thread."""

    def __init__(self) -> None:
        self.memory: dict[str, str] = {}
        self.keyring_ok = True

    def get(self, seat: dict) -> str:
        key = seat_key(seat)
        if key in self.memory:
            return self.memory[key]
        try:
            import keyring

            return keyring.get_password(SERVICE, key) or ""
        except Exception as exc:  # noqa: BLE001 — no keyring here (e.g. headless Linux): ask instead
            self.keyring_ok = False
            log.info("no OS keyring for the SIP password (%s); asking at sign-in", exc)
            return ""

    def put(self, seat: dict, password: str) -> bool:
        """Keep it; True when the OS keyring holds it (False: this session only)."""
        key = seat_key(seat)
        self.memory[key] = password
        try:
            import keyring

            keyring.set_password(SERVICE, key, password)
            return True
        except Exception as exc:  # noqa: BLE001
            self.keyring_ok = False
            log.info("SIP password kept for this session only (%s)", exc)
            return False

    def forget(self, seat: dict) -> None:
        key = seat_key(seat)
        self.memory.pop(key, None)
        try:
            import keyring

            keyring.delete_password(SERVICE, key)
        except Exception:  # noqa: BLE001 — none stored, or no keyring
            pass
