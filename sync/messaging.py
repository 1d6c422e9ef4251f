"""The channels the notifications sender talks to (docs/notifications.md): texts through Twilio's
Messages REST API, emails through SMTP.

Each ``send`` answers a :class:`SendResult` and never raises for the provider's refusals: ``accepted``
(the provider took it), ``transient`` (try again later: a 5xx, a 429, no answer, an SMTP 4xx) or
``permanent`` (never again: an invalid or opted-out number, a landline, a bounced address). The auth
token and the SMTP password are never shown (not in repr, not in logs, not in an error a CSR reads).
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlencode

import aiohttp

from models.notify_bounces import bounce_address

log = logging.getLogger("csr.server.messaging")
DEFAULT_API_BASE = "https://api.twilio.com"
TIMEOUT_SECONDS = 10.0

# Twilio's error codes a CSR may meet, in their words (TW-ERR in the reference).
ERROR_TEXT = {
    "21211": "The number is not a valid phone number.",
    "21408": "Texting this region is not enabled on the account.",
    "21610": "The customer replied STOP: this number has opted out of texts.",
    "21614": "The number is not a mobile number (a landline?).",
    "30003": "The phone was unreachable (off or out of coverage).",
    "30004": "The message was blocked by the customer's phone or carrier.",
    "30005": "The number is unknown to its carrier (it may no longer exist).",
    "30006": "The number is a landline or can't receive texts.",
    "30007": "The carrier filtered the message as spam.",
    "30008": "The carrier could not deliver the message (unknown error).",
    "30034": "The sending number is not registered for texting (A2P 10DLC).",
}


def error_text(code: str, fallback: str = "") -> str:
    return (
        ERROR_TEXT.get(code)
        or fallback
        or (f"The provider refused the message (error {code})." if code else "")
    )


@dataclass(frozen=True)
class SendResult:
    outcome: str  # accepted / transient / permanent
    provider_id: str = ""
    status: str = ""  # the provider's first status (queued, accepted, …)
    error_code: str = ""
    error: str = ""
    at: datetime | None = None  # when the provider took it, by its own record (a message found later)

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"


@dataclass(frozen=True)
class TwilioSms:
    """Texts through ``POST /2010-04-01/Accounts/{Sid}/Messages.json`` (form-encoded, HTTP basic auth)."""

    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str = ""
    messaging_service_sid: str = ""
    status_callback: str = ""  # our signed status webhook's public URL
    api_base: str = DEFAULT_API_BASE
    timeout: float = TIMEOUT_SECONDS

    def __repr__(self) -> str:
        return f"TwilioSms(account_sid={self.account_sid!r}, auth_token=<hidden>, api_base={self.api_base!r})"

    def messages_url(self) -> str:
        return f"{self.api_base.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def _auth(self) -> dict[str, str]:
        """HTTP basic auth AccountSid:AuthToken, as a header (aiohttp's BasicAuth is deprecated)."""
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    async def send(self, session: aiohttp.ClientSession, to: str, body: str, ref: str = "") -> SendResult:
        """Text ``body`` to ``to``; ``ref`` (our message id) rides on the status callback's URL, so a
        callback that overtakes our own record of the send still finds its message."""
        form = [("To", to), ("Body", body)]
        if self.messaging_service_sid:
            form.append(("MessagingServiceSid", self.messaging_service_sid))
        else:
            form.append(("From", self.from_number))
        if self.status_callback:
            sep = "&" if "?" in self.status_callback else "?"
            form.append(
                ("StatusCallback", f"{self.status_callback}{sep}n={ref}" if ref else self.status_callback)
            )
        try:
            async with session.post(
                self.messages_url(),
                data=urlencode(form).encode(),  # aiohttp's FormData costs more than the POST itself
                headers={**self._auth(), "Content-Type": "application/x-www-form-urlencoded"},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                status = response.status
                try:
                    data = await response.json(content_type=None)
                except ValueError:
                    data = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return SendResult("transient", error=f"The text service didn't answer ({type(exc).__name__}).")
        data = data if isinstance(data, dict) else {}
        if status in (200, 201) and isinstance(data.get("sid"), str) and data["sid"]:
            return SendResult("accepted", data["sid"], str(data.get("status") or "queued"))
        code = str(data.get("code") or data.get("error_code") or "")
        message = str(data.get("message") or "").replace(self.auth_token, "<hidden>")[:250]
        if status == 429 or status >= 500:
            return SendResult(
                "transient", error_code=code, error=f"The text service is busy (HTTP {status})."
            )
        if status in (401, 403):
            # Our credentials, not the customer: a person must fix it, and no message will go until then.
            return SendResult(
                "transient", error_code=code, error=f"The text service refused our login (HTTP {status})."
            )
        return SendResult("permanent", error_code=code, error=error_text(code, message or f"HTTP {status}"))

    async def find_sent(
        self, session: aiohttp.ClientSession, to: str, body: str, since: datetime
    ) -> SendResult | None:
        """The message already sent to ``to`` with ``body`` since ``since``, as the provider's answer
        to its send (its sid, and when it was created), or None: a sender that died between the
        provider's answer and its own commit must not text twice.
        ``GET …/Messages.json?To=…&DateSent>=YYYY-MM-DD``."""
        params = {"To": to, "DateSent>": (since - timedelta(days=1)).strftime("%Y-%m-%d"), "PageSize": "1000"}
        url = self.messages_url()
        try:
            async with session.get(
                url, params=params, headers=self._auth(), timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                if response.status != 200:
                    raise LookupError(f"HTTP {response.status}")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise LookupError(str(exc) or type(exc).__name__) from exc
        for message in (data or {}).get("messages") or []:
            if message.get("body") == body and message.get("to") == to and message.get("sid"):
                try:  # RFC 2822, to the second: "Sat, 05 Dec 2026 14:02:11 +0000"
                    at = email.utils.parsedate_to_datetime(str(message.get("date_created") or ""))
                except (TypeError, ValueError):
                    at = None
                return SendResult("accepted", str(message["sid"]), "sent", at=at)
        return None


@dataclass(frozen=True)
class SmtpEmail:
    """Emails through an SMTP server: STARTTLS when it offers it (required with ``require_tls``), then
    AUTH when a user is given. The stdlib client runs on a worker thread. With ``bounce_domain`` the
    envelope sender (MAIL FROM) is the message's own bounce address, ``bounces+<id>@<bounce_domain>``
    (VERP, models/notify_bounces.py); the From header stays ``from_address``."""

    host: str
    port: int = 587
    from_address: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    require_tls: bool = True
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    timeout: float = TIMEOUT_SECONDS
    bounce_domain: str = ""

    async def send(self, to: str, subject: str, body: str, message_id: str) -> SendResult:
        return await asyncio.to_thread(self._send, to, subject, body, message_id)

    def _send(self, to: str, subject: str, body: str, message_id: str) -> SendResult:
        msg = EmailMessage()
        msg["From"] = self.from_address
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = email.utils.formatdate(localtime=False)
        domain = self.from_address.rpartition("@")[2].strip("> ") or "localhost"
        msg["Message-ID"] = f"<{message_id}@{domain}>"
        msg.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                    smtp.ehlo()
                elif self.require_tls:
                    return SendResult(
                        "transient", error="The mail server offers no STARTTLS; not sent in clear."
                    )
                if self.username:
                    smtp.login(self.username, self.password)
                envelope_from = bounce_address(message_id, self.bounce_domain) if self.bounce_domain else None
                refused = smtp.send_message(msg, from_addr=envelope_from)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (550, b""))
            return _smtp_result(code, text)
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult(
                "transient", error_code=str(exc.smtp_code), error="The mail server refused our login."
            )
        except smtplib.SMTPResponseException as exc:
            return _smtp_result(exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult("transient", error=f"The mail server didn't answer ({type(exc).__name__}).")
        if refused:
            code, text = next(iter(refused.values()))
            return _smtp_result(code, text)
        return SendResult("accepted", msg["Message-ID"].strip("<>"), "sent")


def _smtp_result(code: int, text: bytes | str) -> SendResult:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    if 400 <= code < 500:
        return SendResult(
            "transient", error_code=str(code), error=f"The mail server said try later: {said[:200]}"
        )
    return SendResult("permanent", error_code=str(code), error=f"The address bounced: {said[:200]}")
