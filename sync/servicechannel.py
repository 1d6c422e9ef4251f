"""The ServiceChannel API v3 client the server's adapter uses (docs/servicechannel.md): OAuth2 tokens
fetched and refreshed before they expire, and every call through one budget that honours the platform's
rate limit, with 429 and 5xx retried after a backoff.

The platform allows a few dozen calls a minute per application, so calls queue for the budget in the
order they asked (asyncio.Lock is fair) rather than racing and collecting 429s; a 429 still happens (the
limit is shared with other tools using the same application) and then the whole queue waits until the
``Retry-After`` the platform gave.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger("csr.server.servicechannel")
REFRESH_MARGIN = 0.2  # refresh once less than this share of the token's lifetime is left
MAX_ATTEMPTS = 6


class ScError(Exception):
    """A call the platform refused (4xx other than 429) — ``message`` is the platform's own sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ScUnavailable(Exception):
    """The platform did not answer usefully after every retry (5xx, 429 storm, network): try later."""


class ScAuthError(ScError):
    """The client id, secret, user or password was refused."""


@dataclass(frozen=True)
class ScCredentials:
    api_base: str  # e.g. https://api.servicechannel.com/v3
    login_base: str  # e.g. https://login.servicechannel.com
    client_id: str
    client_secret: str
    username: str
    password: str


class Budget:
    """At most ``limit`` calls in any ``window`` seconds, granted in the order asked and spaced evenly
    (``window / limit`` apart: a burst granted at once could reach the platform inside one of its windows
    together with the calls before it); ``pause`` holds every caller until a time the platform named (its
    Retry-After)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.window = window
        self.clock = clock
        self._stamps: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._paused_until = 0.0
        self._urgent = 0  # callers other than the background ones waiting for a grant
        self._idle = asyncio.Event()
        self._idle.set()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    async def take(self, background: bool = False) -> None:
        """Wait for a grant. A ``background`` caller (the catch-up poll) lets every other caller (what the
        desk decided, going out) go first: it takes a grant only when nobody else is waiting for one."""
        if background:
            while True:
                while self._urgent:
                    await self._idle.wait()
                async with self._lock:
                    if self._urgent:
                        continue  # a send asked while this waited for the lock
                    wait = self._wait()
                    if wait <= 0:
                        self._stamps.append(self.clock())
                        return
                await asyncio.sleep(wait)  # outside the lock: a send asking meanwhile goes first
        self._urgent += 1
        self._idle.clear()
        try:
            async with self._lock:
                while (wait := self._wait()) > 0:
                    await asyncio.sleep(wait)
                self._stamps.append(self.clock())
        finally:
            self._urgent -= 1
            if not self._urgent:
                self._idle.set()

    def _wait(self) -> float:
        """Seconds until the next grant may be given (≤ 0: now)."""
        now = self.clock()
        while self._stamps and self._stamps[0] <= now - self.window:
            self._stamps.popleft()
        wait = self._paused_until - now
        if self._stamps:
            wait = max(wait, self._stamps[-1] + self.window / self.limit - now)
        if len(self._stamps) >= self.limit:
            wait = max(wait, self._stamps[0] + self.window - now)
        return wait


def retry_after_seconds(value: str | None, default: float) -> float:
    """``Retry-After`` as seconds: the platform sends an HTTP date; a number of seconds is accepted too."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


class ScClient:
    """One application's access to the platform. ``session``: an aiohttp session the caller owns (made
    here when absent, closed by ``close``)."""

    def __init__(
        self,
        credentials: ScCredentials,
        budget: Budget,
        *,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_attempts: int = MAX_ATTEMPTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.budget = budget
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.clock = clock
        self._http: aiohttp.ClientSession | None = None
        self._access = ""
        self._refresh = ""
        self._expires = 0.0
        self._lifetime = 0.0
        self._token_lock = asyncio.Lock()
        self.stats = {"calls": 0, "retries": 0, "throttled": 0, "token_fetches": 0, "token_refreshes": 0}

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # -- tokens --------------------------------------------------------------------------------------------
    async def token(self) -> str:
        """A valid access token: fetched with the password grant, refreshed before it expires."""
        async with self._token_lock:
            left = self._expires - self.clock()
            if self._access and left > self._lifetime * REFRESH_MARGIN:
                return self._access
            if self._refresh:
                try:
                    await self._grant({"grant_type": "refresh_token", "refresh_token": self._refresh})
                    self.stats["token_refreshes"] += 1
                    return self._access
                except ScAuthError:
                    log.info("event=sc_refresh_refused; signing in again")
            c = self.credentials
            await self._grant({"grant_type": "password", "username": c.username, "password": c.password})
            self.stats["token_fetches"] += 1
            return self._access

    def forget_token(self) -> None:
        """The platform said the token is no longer good (a 401): the next call gets a new one."""
        self._expires = 0.0

    async def _grant(self, form: dict[str, str]) -> None:
        c = self.credentials
        for attempt in range(self.max_attempts):
            await self.budget.take()
            try:
                async with self._session().post(
                    c.login_base.rstrip("/") + "/oauth/token",
                    data=form,
                    headers={"Authorization": _basic(c.client_id, c.client_secret)},
                    allow_redirects=False,  # a bad client gets a 302 to an HTML login page, not a 401
                ) as response:
                    status = response.status
                    body = await _json(response)
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                await self._pause(attempt, None, f"token: {exc}")
                continue
            if status == 200 and isinstance(body, dict) and body.get("access_token"):
                self._access = str(body["access_token"])
                self._refresh = str(body.get("refresh_token") or "")
                self._lifetime = float(body.get("expires_in") or 600)
                self._expires = self.clock() + self._lifetime
                return
            if status in (301, 302, 303, 307, 400, 401, 403):
                self._refresh = "" if form["grant_type"] == "refresh_token" else self._refresh
                raise ScAuthError(
                    status,
                    "AuthFailed",
                    "ServiceChannel refused the API credentials (client id and secret, or user and "
                    "password) — check the ServiceChannel setup.",
                )
            await self._pause(attempt, status == 429 and retry_after, f"token: HTTP {status}")
        raise ScUnavailable("ServiceChannel's sign-in did not answer; will try again.")

    async def _pause(self, attempt: int, retry_after: str | bool | None, why: str) -> None:
        self.stats["retries"] += 1
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
        if isinstance(retry_after, str):
            self.stats["throttled"] += 1
            delay = max(delay, retry_after_seconds(retry_after, delay))
            self.budget.pause(delay)  # every queued call waits: the limit is the application's
        log.info("event=sc_retry attempt=%d delay=%.2f why=%s", attempt + 1, delay, why)
        await asyncio.sleep(delay)

    # -- calls ---------------------------------------------------------------------------------------------
    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        background: bool = False,
    ) -> Any:
        """One API call through the budget; the decoded JSON answer. 429, 5xx and network errors are
        retried with backoff (ScUnavailable after the last); a 401 gets a fresh token once; any other
        refusal is a ScError carrying the platform's message. ``background`` (the catch-up poll): the
        budget serves every other waiting call first."""
        url = self.credentials.api_base.rstrip("/") + path
        renewed = False
        for attempt in range(self.max_attempts):
            token = await self.token()
            await self.budget.take(background)
            self.stats["calls"] += 1
            try:
                async with self._session().request(
                    method,
                    url,
                    params=params,
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    answer = await _json(response)
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                await self._pause(attempt, None, f"{method} {path}: {exc}")
                continue
            if 200 <= status < 300:
                return answer
            if status == 401 and not renewed:
                renewed = True
                self.forget_token()
                continue
            if status == 429 or status >= 500:
                await self._pause(
                    attempt, retry_after if status == 429 else None, f"{method} {path}: {status}"
                )
                continue
            raise _refusal(status, answer)
        raise ScUnavailable(f"ServiceChannel did not answer {method} {path}; will try again.")


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")


async def _json(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _refusal(status: int, answer: Any) -> ScError:
    if isinstance(answer, dict):
        message = str(answer.get("ErrorMessage") or answer.get("Message") or "").strip()
        code = str(answer.get("ErrorCode") or "")
        if message:
            return ScError(status, code, message)
    return ScError(status, "", f"ServiceChannel refused the request (HTTP {status}).")
