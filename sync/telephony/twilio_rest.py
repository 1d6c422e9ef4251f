"""Click-to-call through Twilio's REST API (docs/telephony.md, "Calling out").

The server asks Twilio to ring the CSR's softphone first (``To=client:<username>``); when they answer,
Twilio fetches our voice URL with ``?dial=<customer number>`` and the TwiML it gets dials the customer
(sync/telephony/twilio.py). The call reaches us through the webhooks like every other: it is logged,
linked to the customer by the number, and left out of booking rate (outbound calls are not classified).

Holds the account's auth token and never shows it: not in repr, not in logs, not in the messages a
CSR reads (only the provider's own error message is passed on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import aiohttp

from .twilio import CLIENT_PREFIX, SEAT_DIAL_HEADER, TwilioUrls, sip_with_call_sid

log = logging.getLogger("csr.server.dial")
DEFAULT_API_BASE = "https://api.twilio.com"
TIMEOUT_SECONDS = 10.0
# The events of the placed call's own leg we want: "initiated" first, so the call (and its CSR) is
# known before anyone answers; later ones carry the duration and how it ended.
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")


class DialFailed(Exception):
    """A call the phone system didn't place; the message is for the CSR."""


@dataclass(frozen=True)
class TwilioRest:
    """Places calls for CSRs with the account's credentials (HTTP basic auth AccountSid:AuthToken)."""

    account_sid: str
    auth_token: str = field(repr=False)
    urls: TwilioUrls
    caller_id: str
    api_base: str = DEFAULT_API_BASE
    timeout: float = TIMEOUT_SECONDS

    def __repr__(self) -> str:
        return (
            f"TwilioRest(account_sid={self.account_sid!r}, auth_token=<hidden>, api_base={self.api_base!r})"
        )

    def calls_url(self) -> str:
        return f"{self.api_base.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Calls.json"

    async def place_call(self, username: str, number: str, seat: str = "") -> str:
        """Ring ``username``'s softphone — their SIP seat ``seat`` when they have one, else their Client —
        then (when they answer) ``number`` (E.164). The provider's call id (its CallSid), or DialFailed
        in plain words."""
        if not self.caller_id:
            raise DialFailed("Calling out needs the number customers see (--caller-id).")
        # A seat's INVITE carries the number (X-CSR-Dial): the console answers its own click-to-call.
        to = sip_with_call_sid(seat, number, SEAT_DIAL_HEADER) if seat else CLIENT_PREFIX + username
        agent = username if seat else ""
        form = [
            ("To", to),
            ("From", self.caller_id),
            ("Url", self.urls.dial_voice(number, agent)),
            ("Method", "POST"),
            ("StatusCallback", self.urls.dial_status(number, agent)),
            ("StatusCallbackMethod", "POST"),
        ]
        form += [("StatusCallbackEvent", e) for e in STATUS_EVENTS]
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session,
                session.post(
                    self.calls_url(), data=form, auth=aiohttp.BasicAuth(self.account_sid, self.auth_token)
                ) as response,
            ):
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("event=dial_unreachable agent=%s error=%s", username, type(exc).__name__)
            raise DialFailed("The phone system didn't answer — try again.") from exc
        if (
            status in (200, 201)
            and isinstance(body, dict)
            and isinstance(body.get("sid"), str)
            and body["sid"]
        ):
            log.info("event=dial_placed agent=%s call=%s", username, body["sid"])
            return str(body["sid"])
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        message = message.replace(self.auth_token, "<hidden>")[:300] if message else f"HTTP {status}"
        log.warning("event=dial_refused agent=%s status=%d message=%s", username, status, message)
        raise DialFailed(f"The phone system refused the call: {message}")
