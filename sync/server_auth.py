"""The endpoint's view of accounts (sync/server.py's Authenticator): log-in with throttling, token
checks on the handshake, which message types each role may send, and which intents each role may push.

Roles are checked on every message (ARCHITECTURE.md sync rule 7), with the role of the user the
connection logged in as (or whose token it presented):

- every role: ``push``, ``pull``, ``ping``, the read-only ``fetch`` and ``snapshot``, and the calls'
  ``claim_call`` and ``dial`` (click-to-call);
- every role: ``set_agent_state`` (their own state) and ``scorecard`` (a CSR only their own row: the
  endpoint refuses a CSR's request for anyone else's, or everyone's, with ``forbidden`` —
  :func:`scorecard_allowed`);
- every role: ``set_my_devices`` — the three sound devices of their **own** phone seat (the user is the
  session's; the rest of a seat is an admin's, ``manage_user``);
- supervisor, manager, admin: ``subscribe_floor`` / ``unsubscribe_floor`` (the supervisors' live feed)
  and ``close_stale_call``;
- inside a push, an intent that changes the company setup (:data:`SETUP_INTENTS`) needs manager or
  admin; the managers' call review intents (:data:`REVIEW_INTENTS`: attach the CSR, reclassify, excuse,
  tag) need supervisor, manager or admin; merging customers and undoing a merge
  (models/merge.py :data:`MERGE_INTENTS`) and availability changes (models/availability.py
  :data:`AVAILABILITY_INTENTS`: time off, holidays, capacity adjustments) need manager or admin; every other intent is for every role (an unknown one is
  answered by a rejected receipt).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from models.availability import AVAILABILITY_INTENTS
from models.base import utcnow
from models.call_review import REVIEW_INTENTS, REVIEW_ROLES
from models.merge import MERGE_INTENTS
from models.setup import Role
from models.timeutil import utc_iso

from .auth import DEFAULT_TOKEN_TTL, Accounts, AuthError, issue_token
from .phone_seats import all_seats, phone_settings, seat_for_user
from .protocol import ProtocolError

EVERYONE = frozenset(r.value for r in Role)
SUPERVISORS = frozenset({Role.SUPERVISOR.value, Role.MANAGER.value, Role.ADMIN.value})
SETUP_ROLES = frozenset({Role.MANAGER.value, Role.ADMIN.value})

# message type -> the roles that may send it
MESSAGE_ROLES: dict[str, frozenset[str]] = {
    "push": EVERYONE,
    "pull": EVERYONE,
    "ping": EVERYONE,
    "fetch": EVERYONE,  # a console re-reading rows after a refused change
    "snapshot": EVERYONE,  # a new console's initial sync
    "claim_call": EVERYONE,  # whoever answers the phone clicks its bubble
    "dial": EVERYONE,  # click-to-call a contact's phone
    "set_agent_state": EVERYONE,  # a CSR's own Available / Away / Wrap-up
    "scorecard": EVERYONE,  # a CSR: only their own (scorecard_allowed)
    "subscribe_floor": SUPERVISORS,
    "unsubscribe_floor": SUPERVISORS,
    "close_stale_call": SUPERVISORS,
    "manage_user": frozenset({Role.ADMIN.value}),  # users and seats (issue 19): admins only
    "list_phone_seats": frozenset({Role.ADMIN.value}),  # the Users window's seat column
    "set_my_devices": EVERYONE,  # the sound devices of one's own seat (only those, only one's own)
    "phone_state": EVERYONE,  # a console's own softphone, for the floor board
    "get_recording": EVERYONE,  # a CSR: only their own calls (sync/media.may_hear)
}
ROLE_MESSAGES: dict[str, frozenset[str]] = {
    role.value: frozenset(m for m, roles in MESSAGE_ROLES.items() if role.value in roles) for role in Role
}

# Intents that write the company setup (setup tables: business units, job types, campaigns, windows,
# technicians, capacity, …). The setup screens' intents (models/setup_edit.py: setup_save, setup_retire,
# setup_delete) are covered by their "setup_" prefix; the names below are reserved so that when one is
# added, a CSR can never push it.
SETUP_INTENTS = frozenset(
    {
        "import_setup",
        "update_setup",
        "set_company",
        "upsert_business_unit",
        "retire_business_unit",
        "upsert_job_type",
        "retire_job_type",
        "upsert_campaign",
        "retire_campaign",
        "upsert_tracking_number",
        "upsert_arrival_window",
        "retire_arrival_window",
        "set_business_hours",
        "upsert_technician",
        "retire_technician",
        "set_capacity",
        "upsert_service",
        "retire_service",
        "upsert_call_reason",
        "set_booking_preferences",
        "upsert_tag_type",
        "retire_tag_type",
    }
)
MAX_LOGIN_WAIT = 60.0
log = logging.getLogger("csr.server")


def role_of(user: dict[str, Any] | None) -> str:
    return str((user or {}).get("role") or "")


def message_allowed(user: dict[str, Any] | None, message_type: str) -> bool:
    """Whether this user's role may send this message type (unknown types: nobody)."""
    return role_of(user) in MESSAGE_ROLES.get(message_type, frozenset())


def scorecard_allowed(user: dict[str, Any] | None, user_id: str | None) -> bool:
    """Supervisors and up may see every CSR's scorecard; anyone else only their own (``user_id`` = theirs;
    asking for all — no ``user_id`` — is refused too)."""
    if role_of(user) in SUPERVISORS:
        return True
    return bool(user_id) and user_id == str((user or {}).get("id") or "")


def is_setup_intent(mutation_name: str) -> bool:
    return mutation_name in SETUP_INTENTS or mutation_name.startswith("setup_")


def intent_roles(mutation_name: str) -> frozenset[str]:
    """The roles that may push this intent."""
    if is_setup_intent(mutation_name):
        return SETUP_ROLES
    if mutation_name in REVIEW_INTENTS:
        return REVIEW_ROLES
    if mutation_name in MERGE_INTENTS:
        return SETUP_ROLES  # merging customers (and undoing it): managers and admins
    if mutation_name in AVAILABILITY_INTENTS:
        return SETUP_ROLES  # time off, holidays, capacity adjustments: managers and admins
    return EVERYONE


def mutation_allowed(user: dict[str, Any] | None, mutation_name: str) -> bool:
    """Whether this user's role may push this intent: setup intents need manager or admin, call
    review intents supervisor and up, the rest any role."""
    return role_of(user) in intent_roles(mutation_name)


def _user(u: Any) -> dict[str, Any]:
    role = u.role.value if hasattr(u.role, "value") else str(u.role)
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": role}


def default_login_concurrency() -> int:
    """argon2 verifications at once: half the cores (1 on a 2-core server), so a sign-in flood leaves
    the other cores to webhooks, screen pops and pushes."""
    return max(1, (os.cpu_count() or 2) // 2)


# Sign-ins waiting for a hashing slot beyond this are told at once to come back (retry_later), rather
# than queueing minutes of argon2 work behind a flood.
MAX_LOGINS_WAITING = 64
BUSY_RETRY_SECONDS = 5.0
# How often names nobody typed for a while leave the throttle table (Accounts.purge_stale).
THROTTLE_PURGE_INTERVAL = 600.0


class AccountsAuthenticator:
    """Log-ins and handshake tokens for sync/server.py, over :class:`sync.auth.Accounts`.

    At most ``login_concurrency`` log-ins hash at once (each argon2 verification takes tens of ms of
    CPU and 64 MiB). They run in the default thread pool, which the database work of every push,
    pull and call also uses: unbounded, a flood of sign-ins would hold every thread and delay them.
    """

    def __init__(
        self,
        accounts: Accounts,
        secret: bytes,
        *,
        ttl: timedelta = DEFAULT_TOKEN_TTL,
        clock: Callable[[], datetime] = utcnow,
        login_concurrency: int | None = None,
        max_waiting: int = MAX_LOGINS_WAITING,
    ) -> None:
        if login_concurrency is not None and login_concurrency < 1:
            raise ValueError("login_concurrency must be at least 1")
        self.accounts = accounts
        self.secret = secret
        self.ttl = ttl
        self.clock = clock
        self.login_concurrency = login_concurrency or default_login_concurrency()
        self.max_waiting = max_waiting
        self._hashing = asyncio.Semaphore(self.login_concurrency)
        self._waiting = 0

    async def login(
        self, username: str, password: str, new_password: str | None = None
    ) -> tuple[str, str, dict[str, Any]]:
        if self._waiting >= self.max_waiting:
            log.warning("event=login_busy waiting=%d", self._waiting)
            raise ProtocolError(
                "retry_later",
                "The server is busy signing people in; try again in a few seconds.",
                details={"retry_after": BUSY_RETRY_SECONDS},
            )
        self._waiting += 1
        try:
            await self._hashing.acquire()
        finally:
            self._waiting -= 1
        now = self.clock()
        try:
            # argon2 and the database: off the event loop.
            user = await self._hash_slot(
                asyncio.to_thread(
                    self.accounts.login, username, password, now, *((new_password,) if new_password else ())
                )
            )
        except AuthError as exc:
            if exc.code in ("password_change_required", "weak_password"):
                raise ProtocolError(exc.code, exc.message) from exc
            # The throttle's delay is served here, after the slot is freed, so a client that retries
            # after the answer never meets retry_later (docs/drafts/accounts.md).
            await asyncio.sleep(min(exc.retry_after, MAX_LOGIN_WAIT))
            raise ProtocolError(exc.code, exc.message, details={"retry_after": exc.retry_after}) from exc
        token = issue_token(user, self.secret, self.ttl, now)
        return token, utc_iso(now + self.ttl), await self._with_seat(_user(user))

    async def _hash_slot(self, work: Coroutine[Any, Any, Any]) -> Any:
        """Run ``work`` holding the acquired slot until it is done — even when the connection goes
        away meanwhile: its thread runs on, and the slot is freed only when it stops hashing."""
        job = asyncio.ensure_future(work)

        def done(f: asyncio.Future[Any]) -> None:
            self._hashing.release()
            if not f.cancelled():
                f.exception()  # retrieved: an abandoned failure is not reported as lost

        job.add_done_callback(done)
        return await asyncio.shield(job)

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            user, _claims = await asyncio.to_thread(
                self.accounts.authenticate, token, self.secret, self.clock()
            )
        except AuthError as exc:
            raise ProtocolError(exc.code, exc.message) from exc
        return await self._with_seat(_user(user))

    async def _with_seat(self, user: dict[str, Any]) -> dict[str, Any]:
        """The user as the console gets it, with their SIP seat (or None): the softphone signs in there."""
        sessions = getattr(self.accounts, "_sessions", None)
        if sessions is not None:
            user["phone_seat"] = await asyncio.to_thread(seat_for_user, sessions, user["id"])
            settings = await asyncio.to_thread(phone_settings, sessions)
            user["phone_auto_claim"] = settings["auto_claim"]
        return user

    async def manage_user(self, actor: dict[str, Any], message: Any) -> dict[str, Any]:
        """An admin's ``manage_user`` (sync/user_admin.py); ``user_refused`` with the sentence."""
        from .user_admin import manage_user, seat_from_message

        if role_of(actor) != Role.ADMIN.value:  # the endpoint checked it too (MESSAGE_ROLES)
            raise ProtocolError("forbidden")
        try:
            # argon2 (add, reset) and the database: off the event loop, in a hashing slot.
            await self._hashing.acquire()
            work = asyncio.to_thread(
                manage_user,
                self.accounts,
                actor,
                message.action,
                message.username,
                display_name=message.display_name,
                role=message.role,
                password=message.password,
                seat=seat_from_message(message),
            )
            return await self._hash_slot(work)
        except AuthError as exc:
            raise ProtocolError("user_refused", exc.message, details={"reason": exc.code}) from exc

    async def phone_seats(self, actor: dict[str, Any]) -> dict[str, dict[str, str]]:
        """An admin's ``list_phone_seats``: user id → seat (sync/phone_seats.py ``all_seats``)."""
        if role_of(actor) != Role.ADMIN.value:  # the endpoint checked it too (MESSAGE_ROLES)
            raise ProtocolError("forbidden")
        return await asyncio.to_thread(all_seats, self.accounts.sessions)

    def allowed(self, user: dict[str, Any], message_type: str) -> bool:
        return message_allowed(user, message_type)

    def mutation_allowed(self, user: dict[str, Any], mutation_name: str) -> bool:
        return mutation_allowed(user, mutation_name)

    async def purge_throttle(self, every: float = THROTTLE_PURGE_INTERVAL) -> None:
        """Delete stale ``auth_login_throttle`` rows now and every ``every`` seconds, until cancelled.

        Names typed once and never again (typos, a scan of guessed names) would otherwise stay
        forever. Harmless when several instances do it.
        """
        while True:
            try:
                purged = await asyncio.to_thread(self.accounts.purge_stale, self.clock())
                if purged:
                    log.info("event=throttle_purged rows=%d", purged)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                log.exception("event=throttle_purge_failed")
            await asyncio.sleep(every)
