"""Requests a console makes beside its sync session (claim a call, dial out, agent state, the floor,
scorecards, the sound devices of one's own phone seat): each is one message with an ``id`` whose answer
is routed back to it (sync/channel.py).

A request needs the server: offline, or when the server doesn't answer, it fails at once with a
sentence for the user — never silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import websockets

from .channel import Channel
from .protocol import ERROR_CODES

log = logging.getLogger("csr.sync.client")
DEVICE_KEYS = ("input_device", "output_device", "ring_device")


class RequestFailed(Exception):
    """A request the server refused or couldn't be asked: ``code`` is the protocol's error code (or
    "offline" / "no_answer"), the message is for the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ClaimFailed(RequestFailed):
    """A claim the server refused or couldn't be asked; the message is for the CSR."""

    def __init__(self, message: str, code: str = "claim_refused") -> None:
        super().__init__(code, message)


class DialFailed(RequestFailed):
    """A click-to-call the server refused or couldn't be asked; the message is for the CSR."""

    def __init__(self, message: str, code: str = "dial_failed") -> None:
        super().__init__(code, message)


class Requests:
    """The request side of one console's sync: ``channel()`` is the open connection (or None)."""

    def __init__(self, channel: Callable[[], Channel | None]) -> None:
        self._channel = channel
        self._number = 0
        self.floor_subscribed = False

    async def request(
        self,
        message: dict[str, Any],
        expected: str,
        timeout: float,
        offline: str = "That needs the server — you're offline.",
    ) -> dict[str, Any]:
        """Send a request beside the session and return its answer, or RequestFailed (code, message)."""
        channel = self._channel()
        if channel is None:
            raise RequestFailed("offline", offline)
        self._number += 1
        message = {**message, "id": f"{message['type']}-{self._number}"}
        try:
            answer = await channel.request(message, timeout)
        except (TimeoutError, websockets.WebSocketException) as exc:
            raise RequestFailed("no_answer", "The server didn't answer — try again.") from exc
        if answer.get("type") == expected:
            return answer
        raise RequestFailed(
            str(answer.get("code") or "error"),
            answer.get("message") or ERROR_CODES.get(str(answer.get("code")), "Refused."),
        )

    async def claim(self, call_id: str, takeover: bool = False, timeout: float = 5.0) -> dict[str, Any]:
        """Claim a ringing call (the CSR clicked its bubble): the server decides. The call as claimed,
        or ClaimFailed with a sentence for the CSR (offline, someone else has it, it ended)."""
        try:
            answer = await self.request(
                {"type": "claim_call", "call_id": call_id, "takeover": takeover},
                "claimed",
                timeout,
                offline="Claiming needs the server — you're offline.",
            )
        except RequestFailed as exc:
            raise ClaimFailed(
                str(exc) if exc.code != "error" else "The call can't be claimed.", exc.code
            ) from exc
        return answer["call"]

    async def dial(self, number: str, customer_id: str | None = None, timeout: float = 15.0) -> str:
        """Click-to-call: the server asks the phone system to ring this CSR's softphone, then ``number``.
        The provider's call id, or DialFailed with a sentence for the CSR."""
        message: dict[str, Any] = {"type": "dial", "number": number}
        if customer_id:
            message["customer_id"] = customer_id
        try:
            answer = await self.request(
                message, "dialing", timeout, offline="Calling out needs the server — you're offline."
            )
        except RequestFailed as exc:
            raise DialFailed(
                str(exc) if exc.code != "error" else "The call couldn't be placed.", exc.code
            ) from exc
        return str(answer.get("provider_call_id") or "")

    async def set_agent_state(self, state: str, reason: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """This CSR's state: "Available", "Away" (``reason`` one of the company's away reasons) or
        "Wrap-up". The ``agent_state`` answer: {"agent": row, "away_reasons": [...]}."""
        return await self.request(
            {"type": "set_agent_state", "state": state, "reason": reason}, "agent_state", timeout
        )

    async def subscribe_floor(self, timeout: float = 10.0) -> dict[str, Any]:
        """Supervisors: the floor's snapshot, then deltas and KPIs through ``on_floor``; re-subscribed
        after every reconnect. RequestFailed(``forbidden``) for a CSR."""
        answer = await self.request({"type": "subscribe_floor"}, "floor_snapshot", timeout)
        self.floor_subscribed = True
        return answer

    async def unsubscribe_floor(self, timeout: float = 5.0) -> None:
        self.floor_subscribed = False
        if self._channel() is not None:
            await self.request({"type": "unsubscribe_floor"}, "floor_unsubscribed", timeout)

    async def close_stale_call(self, call_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Supervisors: end a stale call (the server records an ``ended`` event ``closed-stale``)."""
        answer = await self.request({"type": "close_stale_call", "call_id": call_id}, "stale_closed", timeout)
        return answer["call"]

    async def scorecard(
        self,
        period: str = "today",
        first: str | None = None,
        last: str | None = None,
        user_id: str | None = None,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """Scorecards of a period ("today", "yesterday", "week", "month", "custom" with ISO ``first`` /
        ``last``); a CSR must pass their own ``user_id``. The ``scorecard_result`` message."""
        message: dict[str, Any] = {"type": "scorecard", "period": period}
        for key, value in (("first", first), ("last", last), ("user_id", user_id)):
            if value:
                message[key] = value
        return await self.request(message, "scorecard_result", timeout)

    async def manage_user(self, fields: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        """Admins: ``manage_user`` (sync/user_admin.py) — the user as changed, or RequestFailed with the
        server's sentence (``forbidden``, ``user_refused``)."""
        message = {"type": "manage_user", **{k: v for k, v in fields.items() if v not in (None, "")}}
        answer = await self.request(
            message, "user_managed", timeout, offline="Users change on the server — sign in first."
        )
        return dict(answer["user"])

    async def phone_seats(self, timeout: float = 15.0) -> dict[str, dict[str, Any]]:
        """Admins: ``list_phone_seats`` — user id → SIP seat, for the users who have one."""
        answer = await self.request(
            {"type": "list_phone_seats"},
            "phone_seats",
            timeout,
            offline="Phone seats are kept on the server — sign in first.",
        )
        return {str(k): dict(v) for k, v in dict(answer["seats"]).items()}

    async def set_my_devices(self, devices: dict[str, str], timeout: float = 15.0) -> dict[str, Any]:
        """The sound devices of this user's own phone seat (``input_device``, ``output_device``,
        ``ring_device``; "" for the default): the seat as stored, or RequestFailed with the server's
        sentence (``devices_refused``: no seat, a bad name; ``offline``)."""
        message = {"type": "set_my_devices", **{k: str(devices.get(k) or "") for k in DEVICE_KEYS}}
        answer = await self.request(
            message,
            "my_devices_set",
            timeout,
            offline="Your sound devices are kept with your phone seat on the server — you're offline.",
        )
        return dict(answer["seat"])

    async def recording(self, call_id: str, timeout: float = 30.0) -> tuple[bytes, str]:
        """A call's recording through the server (sync/media.py): the file and its content type, or
        RequestFailed with the server's sentence (``recording_refused`` for a call the user may not
        hear, ``recording_unavailable``, ``offline``)."""
        import base64

        parts: list[bytes] = []
        offset, kind = 0, ""
        while True:
            answer = await self.request(
                {"type": "get_recording", "call_id": call_id, "offset": offset},
                "recording",
                timeout,
                offline="Listening to a recording needs the server — you're offline.",
            )
            try:
                piece = base64.b64decode(str(answer.get("data") or ""), validate=True)
                next_offset = int(answer["next_offset"])
            except (ValueError, KeyError, TypeError) as exc:
                raise RequestFailed(
                    "recording_unavailable", "The recording arrived damaged — try again."
                ) from exc
            if int(answer.get("offset", -1)) != offset or next_offset != offset + len(piece):
                raise RequestFailed("recording_unavailable", "The recording arrived damaged — try again.")
            parts.append(piece)
            kind = str(answer.get("content_type") or kind)
            offset = next_offset
            if answer.get("done"):
                return b"".join(parts), kind

    async def resubscribe(self, channel: Channel) -> None:
        """After a reconnect, a supervisor's board gets a whole new snapshot (through ``on_floor``)."""
        self._number += 1
        try:
            await channel.request(
                {"type": "subscribe_floor", "id": f"floor-resubscribe-{self._number}"}, 10.0
            )
        except (TimeoutError, websockets.WebSocketException):
            log.info("re-subscribing to the floor failed; the next reconnect tries again")
