"""Users managed by an admin over the protocol (issue 19 part 3): the ``manage_user`` request.

The endpoint lets only admins send it (sync/server_auth.py ``MESSAGE_ROLES``); who did it comes from
the session, never from the message. Each change is one transaction that also writes an ``audit`` row
(who, when, before/after — never a password) and publishes the user row to every console. The last
active admin can't be deactivated or demoted: the active admins' rows are locked first, so two admins
demoting each other at once can't both succeed.

A password reset sets the password the admin typed as a temporary one and marks the user
``must_change_password``: their next sign-in is answered ``password_change_required`` until they
log in with a new password (sync/auth.py ``Accounts.login``). ``csr-server user …`` stays for scripts.

``set_seat`` / ``clear_seat`` give a user a SIP phone seat or take it away through the very functions
``csr-server phone-seat`` uses (sync/phone_seats.py ``store_seat`` / ``remove_seat``), in the same
transaction as the audit row (the seat before/after: there is no SIP password on the server).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models.journal import AuditEntry
from models.setup import Role, User

from .auth import Accounts, AuthError, _publish_user, check_password_policy, hash_password, normalize_username
from .phone_seats import SeatRefused, remove_seat, store_seat

ACTIONS = ("add", "deactivate", "reactivate", "reset_password", "set_role", "set_seat", "clear_seat")
SEAT_ACTIONS = ("set_seat", "clear_seat")
# manage_user's flat seat fields (sync/protocol.py ManageUser) → the seat's keys (sync/phone_seats.py)
SEAT_MESSAGE_FIELDS = {
    "sip_address": "sip_address",
    "registrar": "registrar",
    "sip_user": "user",
    "transport": "transport",
    "proxy": "proxy",
    "input_device": "input_device",
    "output_device": "output_device",
    "ring_device": "ring_device",
}


def seat_from_message(message: Any) -> dict[str, Any]:
    """The seat fields of a ``manage_user`` message, keyed as sync/phone_seats.check_seat reads them."""
    return {key: getattr(message, field, None) for field, key in SEAT_MESSAGE_FIELDS.items()}


def user_view(user: User) -> dict[str, Any]:
    role = user.role.value if hasattr(user.role, "value") else str(user.role)
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": role,
        "active": bool(user.active),
        "must_change_password": bool(user.must_change_password),
    }


def _role(value: Any) -> Role:
    try:
        return Role(str(value or ""))
    except ValueError:
        raise AuthError(
            "invalid_role", f"The role must be one of: {', '.join(r.value for r in Role)}."
        ) from None


def _audit(session: Any, actor: dict[str, Any], user: User, action: str, before: dict, after: dict) -> None:
    session.add(
        AuditEntry(
            actor=str(actor.get("display_name") or actor.get("username") or "")[:60],
            entity="users",
            entity_id=user.id,
            action=f"user_{action}",
            details={"by_user_id": str(actor.get("id") or ""), "before": before, "after": after},
        )
    )


def manage_user(
    accounts: Accounts,
    actor: dict[str, Any],
    action: str,
    username: str,
    *,
    display_name: str | None = None,
    role: str | None = None,
    password: str | None = None,
    seat: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply one admin action; the user as consoles see it. ``AuthError`` (code, sentence) refuses it
    and changes nothing."""
    if action not in ACTIONS:
        raise AuthError("user_refused", f"Unknown action {action!r}.")
    if action == "add":
        if not password:
            raise AuthError("weak_password", "Give the new user a first password.")
        user = accounts.add_user(username, display_name or username, _role(role or Role.CSR.value), password)
        with accounts.sessions.begin() as s:
            stored = s.get(User, user.id)
            stored.must_change_password = True  # a first password an admin typed: the user picks their own
            _publish_user(s, stored)
            _audit(s, actor, stored, action, {}, user_view(stored))
            return user_view(stored)
    name = normalize_username(username)
    with accounts.sessions.begin() as s:
        # The active admins first, locked (PostgreSQL; SQLite serializes writers): the last-admin rule.
        admins = list(
            s.scalars(select(User.id).where(User.role == Role.ADMIN, User.active).with_for_update())
        )
        user = s.scalars(select(User).where(User.username == name)).one_or_none()
        if user is None:
            raise AuthError("unknown_user", f"There is no user named {name}.")
        if action in SEAT_ACTIONS:
            return _manage_seat(s, actor, user, action, seat or {})
        before = user_view(user)
        last_admin = before["role"] == Role.ADMIN.value and before["active"] and admins == [user.id]
        if action == "deactivate":
            if last_admin:
                raise AuthError(
                    "last_admin", f"{user.display_name} is the last active admin — make another admin first."
                )
            user.active = False
        elif action == "reactivate":
            user.active = True
        elif action == "set_role":
            new_role = _role(role)
            if last_admin and new_role != Role.ADMIN:
                raise AuthError(
                    "last_admin",
                    f"{user.display_name} is the last active admin — make another admin before changing this role.",
                )
            user.role = new_role
        elif action == "reset_password":
            if not password:
                raise AuthError("weak_password", "Type a temporary password for the user.")
            check_password_policy(password, name)
            user.password_hash = hash_password(password, accounts.hasher)  # their old tokens stop working
            user.must_change_password = True
        if display_name is not None and action != "reset_password" and display_name.strip():
            user.display_name = display_name.strip()[:80]
        s.flush()
        after = user_view(user)
        _publish_user(s, user)
        _audit(s, actor, user, action, before, after)
        return after


def _manage_seat(session: Any, actor: dict[str, Any], user: User, action: str, seat: dict[str, Any]) -> dict:
    """Set or clear ``user``'s phone seat in the caller's transaction, audited; the user with
    ``phone_seat`` (the seat now, or None). The users row itself is unchanged: nothing is published."""
    if action == "set_seat":
        try:
            before, after = store_seat(session, user, seat)
        except SeatRefused as exc:
            raise AuthError("seat_refused", str(exc)) from None
    else:
        before, after = remove_seat(session, user), None
        if before is None:
            raise AuthError("no_seat", f"{user.display_name} has no phone seat.")
    session.flush()
    _audit(session, actor, user, action, {"phone_seat": before}, {"phone_seat": after})
    return {**user_view(user), "phone_seat": after}
