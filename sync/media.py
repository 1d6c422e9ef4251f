"""Recordings and voicemails reach consoles only through the server (docs/phone.md, "Locking down the
phone company's media URLs").

The phone company's media URLs answer only with the account's credentials (Twilio: *HTTP Basic
Authentication for media access* on). A console never opens them: it asks the server over its signed-in
websocket (``get_recording``), the server checks that the staff member may hear that call (a CSR their
own calls and the voicemails of callbacks they took; supervisors, managers and admins all), fetches the
file with the account's credentials and sends it back in pieces (``recording``). The credentials go
only to the provider's own media host, never to a host a webhook happened to name.
"""

from __future__ import annotations

import base64
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.callbacks import Callback
from models.calls import Call

log = logging.getLogger("csr.server.media")
CHUNK_BYTES = 256 * 1024  # base64 makes it ~350 kB: well inside the protocol's 1 MiB frame
MAX_MEDIA_BYTES = 32 * 1024 * 1024  # a 2-hour call as MP3 is ~60 MB at most; voicemails are far smaller
CACHE_BYTES = 64 * 1024 * 1024  # the last files sent, so the pieces of one file are fetched once
TIMEOUT_SECONDS = 20.0
SUPERVISING_ROLES = frozenset({"supervisor", "manager", "admin"})

NOT_ALLOWED = "You may only listen to your own calls and the voicemails of callbacks you took."
NO_RECORDING = "This call has no recording (yet)."
UNKNOWN_CALL = "That call is not known to the server."


class MediaRefused(Exception):
    """A recording that can't be sent; ``code`` is the protocol's error code, the message is for staff."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def may_hear(role: str, user_id: str, agent_id: str | None, callback_claimed_by: str | None) -> bool:
    """Whether this staff member may hear a call's recording (the issue's rule): supervisors, managers and
    admins every call; a CSR the calls attached to them, and the voicemail of a callback they took."""
    if role in SUPERVISING_ROLES:
        return True
    return bool(user_id) and user_id in (agent_id, callback_claimed_by)


def recording_of(session: Session, call_id: str, user: dict[str, Any]) -> str:
    """The recording URL of a call this user may hear, or MediaRefused saying why not."""
    row = session.execute(
        select(Call.recording_url, Call.agent_id, Callback.claimed_by)
        .outerjoin(Callback, Callback.call_id == Call.id)
        .where(Call.id == call_id)
    ).first()
    if row is None:
        raise MediaRefused("recording_refused", UNKNOWN_CALL)
    url, agent_id, claimed_by = row
    if not may_hear(str(user.get("role") or ""), str(user.get("id") or ""), agent_id, claimed_by):
        raise MediaRefused("recording_refused", NOT_ALLOWED)
    if not url:
        raise MediaRefused("recording_unavailable", NO_RECORDING)
    return str(url)


@dataclass
class MediaFetcher:
    """Fetches the phone company's media with the account's credentials (HTTP basic AccountSid:AuthToken),
    only from ``media_hosts``; keeps the last files in memory so a file's pieces are fetched once."""

    account_sid: str
    auth_token: str = field(repr=False)
    media_hosts: frozenset[str] = frozenset({"api.twilio.com"})
    timeout: float = TIMEOUT_SECONDS
    _cache: OrderedDict[str, tuple[bytes, str]] = field(default_factory=OrderedDict, repr=False)

    def __repr__(self) -> str:
        return f"MediaFetcher(account_sid={self.account_sid!r}, auth_token=<hidden>, hosts={sorted(self.media_hosts)})"

    def _basic(self) -> str:
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    async def fetch(self, url: str) -> tuple[bytes, str]:
        """The file and its content type, or MediaRefused in plain words."""
        if url in self._cache:
            self._cache.move_to_end(url)
            return self._cache[url]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or (parts.hostname or "") not in self.media_hosts:
            # The account's token goes to the phone company only.
            log.warning("event=recording_host_refused host=%s", parts.hostname or "")
            raise MediaRefused(
                "recording_unavailable", "The recording is kept somewhere this server doesn't fetch from."
            )
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session,
                session.get(url, headers={"Authorization": self._basic()}, allow_redirects=False) as response,
            ):
                if response.status != 200:
                    log.warning("event=recording_fetch_failed status=%d", response.status)
                    raise MediaRefused(
                        "recording_unavailable",
                        f"The phone company didn't hand over the recording ({response.status}). Try again later.",
                    )
                if (response.content_length or 0) > MAX_MEDIA_BYTES:
                    raise MediaRefused("recording_unavailable", "The recording is too large to send.")
                pieces, size = [], 0
                async for piece in response.content.iter_chunked(CHUNK_BYTES):
                    size += len(piece)
                    if size > MAX_MEDIA_BYTES:
                        raise MediaRefused("recording_unavailable", "The recording is too large to send.")
                    pieces.append(piece)
                body = b"".join(pieces)
                kind = response.headers.get("Content-Type", "audio/wav").split(";")[0].strip()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("event=recording_fetch_failed error=%s", type(exc).__name__)
            raise MediaRefused(
                "recording_unavailable",
                "The phone company could not be reached for the recording. Try again.",
            ) from exc
        self._cache[url] = (body, kind)
        while sum(len(b) for b, _k in self._cache.values()) > CACHE_BYTES and len(self._cache) > 1:
            self._cache.popitem(last=False)
        return body, kind


def chunk(body: bytes, offset: int) -> tuple[str, int, bool]:
    """The piece of ``body`` from ``offset`` as base64, the next offset, and whether it is the last."""
    if offset < 0 or offset > len(body):
        raise MediaRefused("recording_unavailable", "That part of the recording doesn't exist.")
    end = min(len(body), offset + CHUNK_BYTES)
    return base64.b64encode(body[offset:end]).decode("ascii"), end, end >= len(body)
