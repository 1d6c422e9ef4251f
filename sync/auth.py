"""Accounts for ``csr-server``: argon2 password hashes, signed expiring bearer tokens, log-in
throttling and lockout shared by every server instance, and role checks.

Everything that can refuse a user raises :class:`AuthError` with a stable ``code`` (the wire error
code) and a sentence for the CSR. Time is always passed in (``now``) so tests and several server
instances agree on it; nothing here sleeps — a delay comes back as ``AuthError.retry_after``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.accounts import LoginThrottle, ServerSecret
from models.base import Base
from models.setup import Role, User
from models.sync_tables import ChangeRow
from models.timeutil import as_utc

# -- errors ----------------------------------------------------------------------------------------------
AUTH_FAILED_MESSAGE = "Wrong user name or password."


class AuthError(Exception):
    """A refusal with a wire error code, a sentence for the user and, when waiting helps, a delay.

    Codes: ``auth_failed``, ``account_locked``, ``retry_later``, ``token_expired``, ``token_invalid``,
    ``token_revoked``, ``forbidden``, ``weak_password``, ``invalid_username``, ``invalid_display_name``,
    ``invalid_role``, ``user_exists``, ``unknown_user``.
    """

    def __init__(self, code: str, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds the server should wait before answering

    def __repr__(self) -> str:
        return f"AuthError({self.code!r}, {self.message!r}, retry_after={self.retry_after})"


# -- passwords -------------------------------------------------------------------------------------------
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200  # the log-in message (sync/protocol.py Login) accepts no longer ones

# argon2-cffi's defaults are RFC 9106's "low memory" profile (argon2id, t=3, 64 MiB, p=4). When a
# future release raises them, log-ins upgrade stored hashes one user at a time (needs_rehash).
DEFAULT_HASHER = PasswordHasher()


def _normalize(password: str) -> bytes:
    # The same password typed on another keyboard or OS may arrive composed differently (é vs e + ´);
    # NIST SP 800-63B asks for NFKC before hashing so both verify. "surrogatepass": JSON can carry a
    # lone surrogate, which plain UTF-8 refuses to encode — it must fail to match, not crash.
    return unicodedata.normalize("NFKC", password).encode("utf-8", "surrogatepass")


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """An argon2id hash (salted, parameters embedded) of ``password``; no policy check here."""
    return (hasher or DEFAULT_HASHER).hash(_normalize(password))


def verify_password(password_hash: str, password: str, hasher: PasswordHasher | None = None) -> bool:
    """True when ``password`` matches; False for a wrong password and for an empty or damaged hash."""
    if not isinstance(password_hash, str) or not isinstance(password, str):
        return False
    try:
        return (hasher or DEFAULT_HASHER).verify(password_hash, _normalize(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, hasher: PasswordHasher | None = None) -> bool:
    """True when the hash was made with other parameters than ``hasher``'s (or is not argon2)."""
    try:
        return (hasher or DEFAULT_HASHER).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def check_password_policy(password: str, username: str = "") -> None:
    """Raise ``AuthError("weak_password")`` explaining what a new password lacks.

    Beyond length, it refuses what a guesser tries first (NIST SP 800-63B "blocklist"): digits only,
    one character or a short pattern repeated, a run along the alphabet or the keyboard, a well-known
    password, and the user name with a little added.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError("weak_password", f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AuthError("weak_password", f"The password must have at most {MAX_PASSWORD_LENGTH} characters.")
    name = username.strip().casefold()
    folded = unicodedata.normalize("NFKC", password).casefold()
    if name and folded.strip() == name:
        raise AuthError("weak_password", "The password must not be the user name.")
    problem = _guessable(folded)
    if problem:
        raise AuthError("weak_password", problem)
    if len(name) >= 3 and name in folded:
        rest = folded.replace(name, "")
        if len(rest.strip()) < 6 or _guessable(rest, common=False):
            raise AuthError(
                "weak_password",
                "The password must not be the user name with a few characters "
                "added; choose words of your own.",
            )


# The top of leaked-password lists, compared without spaces, punctuation and trailing digits
# ("P@ssw0rd123!" is "pssw0rd").
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "passwords",
        "passwordpassword",
        "mypassword",
        "newpassword",
        "changeme",
        "changeit",
        "letmein",
        "welcome",
        "iloveyou",
        "administrator",
        "admin",
        "qwerty",
        "abc",
        "secret",
        "trustno",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "starwars",
        "superman",
        "batman",
        "dragon",
        "monkey",
        "master",
        "whatever",
        "loveyou",
        "passw0rd",
        "pssw0rd",
        "pssword",
        "qwertyuiop",
        "asdfghjkl",
        "zxcvbnm",
        "qazwsx",
        "qazwsxedc",
        "1q2w3e4r",
        "1qaz2wsx",
        "zaq12wsx",
        "computer",
        "internet",
        "helloworld",
        "default",
        "login",
        "access",
        "shadow",
        "michael",
        "jennifer",
    }
)
# Runs a guesser walks: keyboard rows and columns (US layout), forwards and backwards.
_KEYBOARD_RUNS = (
    "`1234567890-=",
    "qwertyuiop[]\\",
    "asdfghjkl;'",
    "zxcvbnm,./",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
    "qwertyuiopasdfghjklzxcvbnm",
)
_SEPARATORS = re.compile(r"[\W_]+")
_TRAILING_DIGITS = re.compile(r"\d+$")


def _guessable(folded: str, *, common: bool = True) -> str:
    """Why a (case-folded) password is among a guesser's first tries, or ""."""
    compact = _SEPARATORS.sub("", folded)
    if compact.isdigit() or not compact and folded:
        return "The password must not be only digits or punctuation; use words or letters too."
    if len(set(folded)) == 1:
        return "The password must not repeat a single character."
    if len(set(folded)) < 5 or any(
        len(folded) % n == 0 and folded == folded[:n] * (len(folded) // n)
        for n in range(1, len(folded) // 2 + 1)
    ):
        return "The password must not repeat a short pattern; use more different characters."
    steps = {ord(b) - ord(a) for a, b in zip(folded, folded[1:], strict=False)}
    if len(steps) == 1 or any(folded in run or folded in run[::-1] for run in _KEYBOARD_RUNS):
        return "The password must not be a run of letters, digits or keys (like 1234567890 or qwertyuiop)."
    if common and (compact in COMMON_PASSWORDS or _TRAILING_DIGITS.sub("", compact) in COMMON_PASSWORDS):
        return "That password is one of the first a guesser tries; choose words of your own."
    return ""


# -- user names ------------------------------------------------------------------------------------------
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._@-]{0,59}")


def normalize_username(username: str) -> str:
    """The form user names are stored and looked up in: trimmed, lower-case."""
    return username.strip().lower()


# -- tokens ----------------------------------------------------------------------------------------------
# A JWT (RFC 7519) signed with HMAC-SHA256 by PyJWT. Only HS256 is ever accepted, so a token claiming
# "alg": "none" or another algorithm is refused before its payload is read.
TOKEN_ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 2048  # sync/protocol.py Hello.token
MIN_SECRET_BYTES = 32
DEFAULT_TOKEN_TTL = timedelta(hours=12)  # one long shift; the console logs in again after it
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_CLAIM_KEYS = {"sub", "role", "iat", "exp", "jti", "cred"}
# Expiry is checked here against the caller's ``now`` (the server's clock, injectable in tests), not by
# PyJWT against the wall clock; the claims must still be present.
_DECODE_OPTIONS: dict[str, Any] = {
    "require": sorted(_CLAIM_KEYS),
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}
_JWT = jwt.PyJWT({"enforce_minimum_key_length": True})


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says. ``credential`` ties it to the password hash it was issued under."""

    user_id: str
    role: Role
    issued_at: datetime
    expires_at: datetime
    token_id: str
    credential: str = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _canonical_b64(text: str) -> bool:
    # base64url's last character carries unused bits: "…E" and "…F" may decode alike. Only the
    # canonical spelling is accepted, so changing any character of a token invalidates it.
    try:
        return _b64(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == text
    except ValueError:
        return False


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes | bytearray) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the token secret must be at least {MIN_SECRET_BYTES} random bytes")


def credential_tag(secret: bytes, password_hash: str) -> str:
    """A short keyed fingerprint of the password hash: changing the password revokes older tokens.

    Keyed with the secret because token payloads are readable by whoever holds them, and nothing
    about the hash itself should leak.
    """
    return _b64(hmac.new(secret, b"credential:" + password_hash.encode(), hashlib.sha256).digest()[:9])


def issue_token(user: User, secret: bytes, ttl: timedelta, now: datetime) -> str:
    """A bearer JWT (HS256; claims sub, role, iat, exp, jti and the credential tag) valid for ``ttl``."""
    _check_secret(secret)
    if ttl <= timedelta(0):
        raise ValueError("token ttl must be positive")
    if not user.id:
        raise ValueError("the user has no id yet (not flushed)")
    now = as_utc(now)
    payload = {
        "sub": user.id,
        "role": Role(user.role).value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": secrets.token_hex(16),
        "cred": credential_tag(bytes(secret), user.password_hash or ""),
    }
    return _JWT.encode(payload, bytes(secret), algorithm=TOKEN_ALGORITHM)


def verify_token(token: Any, secret: bytes, now: datetime) -> TokenClaims:
    """Check signature and expiry; raise ``AuthError`` (``token_invalid``/``token_expired``), nothing else.

    ``token`` is typed Any on purpose: it comes straight off the wire and may be anything.
    """
    _check_secret(secret)
    invalid = AuthError("token_invalid", "Your session is not valid; log in again.")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise invalid
    parts = token.split(".")
    if len(parts) != 3 or not all(_B64URL.fullmatch(p) and _canonical_b64(p) for p in parts):
        raise invalid
    try:
        data = _JWT.decode(token, bytes(secret), algorithms=[TOKEN_ALGORITHM], options=_DECODE_OPTIONS)
    except (jwt.PyJWTError, ValueError, TypeError):
        raise invalid from None
    # Signed by us, so a bad payload means a bug or a leaked secret; still answer "invalid", never crash.
    if (
        set(data) != _CLAIM_KEYS
        or not all(isinstance(data[k], str) for k in ("sub", "role", "jti", "cred"))
        or not all(type(data[k]) is int for k in ("iat", "exp"))
        or data["role"] not in {r.value for r in Role}
    ):
        raise invalid
    try:
        issued_at = datetime.fromtimestamp(data["iat"], UTC)
        expires_at = datetime.fromtimestamp(data["exp"], UTC)
    except (OverflowError, OSError, ValueError):
        raise invalid from None
    if as_utc(now) >= expires_at:
        raise AuthError("token_expired", "Your session expired; log in again.")
    return TokenClaims(
        user_id=data["sub"],
        role=Role(data["role"]),
        issued_at=issued_at,
        expires_at=expires_at,
        token_id=data["jti"],
        credential=data["cred"],
    )


def require_role(claims: TokenClaims, *roles: Role | str) -> None:
    """Raise ``AuthError("forbidden")`` unless the token's role is one of ``roles``."""
    if not roles:
        raise ValueError("require_role needs at least one role")  # a check nobody passes is a bug
    allowed = {Role(r) for r in roles}
    if claims.role not in allowed:
        raise AuthError("forbidden", f"Your role ({claims.role.value}) may not do that.")


# -- shared secrets --------------------------------------------------------------------------------------
TOKEN_SECRET_NAME = "token"


def _insert_ignore(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """INSERT unless the primary key exists — atomic, so concurrent instances never collide."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise RuntimeError(f"csr-server supports SQLite and PostgreSQL, not {dialect}")
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


def token_secret(sessions: sessionmaker[Session]) -> bytes:
    """The token-signing key every instance on this database shares, created on first use."""
    with sessions.begin() as s:
        _insert_ignore(s, ServerSecret, {"name": TOKEN_SECRET_NAME, "value": secrets.token_hex(32)})
        return bytes.fromhex(
            s.scalars(select(ServerSecret.value).where(ServerSecret.name == TOKEN_SECRET_NAME)).one()
        )


def rotate_token_secret(sessions: sessionmaker[Session]) -> bytes:
    """Replace the signing key: every token issued so far stops working (restart all instances)."""
    new = secrets.token_bytes(32)
    with sessions.begin() as s:
        _insert_ignore(s, ServerSecret, {"name": TOKEN_SECRET_NAME, "value": new.hex()})
        s.execute(
            update(ServerSecret)
            .where(ServerSecret.name == TOKEN_SECRET_NAME)
            .values(value=new.hex(), created_at=datetime.now(UTC))
        )
    return new


# -- accounts --------------------------------------------------------------------------------------------
MAX_DELAY_SECONDS = 60.0


def login_delay(failures: int) -> float:
    """Seconds to wait after the n-th recent failure: 0, 0, 1, 2, 4, 8 … capped at a minute."""
    return 0.0 if failures <= 2 else min(2.0 ** (failures - 3), MAX_DELAY_SECONDS)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Accounts:
    """Users, passwords and log-ins over the server's database.

    Log-in state lives in ``auth_login_throttle`` (not in memory) so a lock survives a restart and
    holds across every instance on one PostgreSQL.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        hasher: PasswordHasher | None = None,
        lock_after: int = 10,
        lock_window: timedelta = timedelta(minutes=15),
        lock_for: timedelta = timedelta(minutes=15),
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher or DEFAULT_HASHER
        self.lock_after, self.lock_window, self.lock_for = lock_after, lock_window, lock_for

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._sessions

    @property
    def hasher(self) -> PasswordHasher:
        return self._hasher

    @cached_property
    def _dummy_hash(self) -> str:
        # Unknown names are checked against this so they cost the same argon2 time as real ones.
        return hash_password(secrets.token_hex(16), self._hasher)

    # -- administration ----------------------------------------------------------------------------------
    def add_user(self, username: str, display_name: str, role: Role | str, password: str) -> User:
        """Create an active user; refuses bad names, unknown roles, weak passwords and duplicates."""
        name = normalize_username(username)
        if not USERNAME_RE.fullmatch(name):
            raise AuthError(
                "invalid_username",
                "A user name has 1–60 characters: letters, digits and . _ - @, "
                "starting with a letter or digit.",
            )
        display = display_name.strip() or name
        if len(display) > 80:
            raise AuthError("invalid_display_name", "The display name must have at most 80 characters.")
        try:
            role = Role(role)
        except ValueError:
            raise AuthError(
                "invalid_role", f"The role must be one of: {', '.join(r.value for r in Role)}."
            ) from None
        check_password_policy(password, name)
        user = User(
            username=name,
            display_name=display,
            role=role,
            password_hash=hash_password(password, self._hasher),
            active=True,
        )
        exists = AuthError("user_exists", f"There is already a user named {name}.")
        try:
            with self._sessions(expire_on_commit=False) as s, s.begin():
                if s.scalar(select(User.id).where(User.username == name)) is not None:
                    raise exists
                s.add(user)
                s.flush()
                _publish_user(s, user)
        except IntegrityError:  # created by another instance between our check and insert
            raise exists from None
        return user

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password (policy-checked); tokens issued before stop working."""
        name = normalize_username(username)
        check_password_policy(password, name)
        new_hash = hash_password(password, self._hasher)
        with self._sessions.begin() as s:
            if (
                s.execute(update(User).where(User.username == name).values(password_hash=new_hash)).rowcount
                == 0
            ):
                raise AuthError("unknown_user", f"There is no user named {name}.")

    def deactivate(self, username: str) -> None:
        """Stop a user logging in; their tokens are refused at the next handshake."""
        self._set_active(username, False)

    def reactivate(self, username: str) -> None:
        self._set_active(username, True)

    def _set_active(self, username: str, active: bool) -> None:
        name = normalize_username(username)
        with self._sessions.begin() as s:
            if s.execute(update(User).where(User.username == name).values(active=active)).rowcount == 0:
                raise AuthError("unknown_user", f"There is no user named {name}.")
            user = s.scalar(select(User).where(User.username == name))
            if user is not None:
                _publish_user(s, user)

    def unlock(self, username: str) -> None:
        """Forget a name's failed log-ins and lock (an admin's way to let someone in early)."""
        with self._sessions.begin() as s:
            s.execute(delete(LoginThrottle).where(LoginThrottle.username == _throttle_key(username)))

    def purge_stale(self, now: datetime) -> int:
        """Delete throttle rows with no lock and no failure in the window (names typed once and
        forgotten would otherwise pile up); returns how many. Call it now and then."""
        now = as_utc(now)
        with self._sessions.begin() as s:
            return s.execute(
                delete(LoginThrottle).where(
                    LoginThrottle.updated_at <= now - self.lock_window,
                    or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
                )
            ).rowcount

    # -- log-in ------------------------------------------------------------------------------------------
    def login(self, username: str, password: str, now: datetime, new_password: str | None = None) -> User:
        """Return the (detached) user when name and password match an active account.

        Raises ``auth_failed`` with one message whether or not the name exists, ``account_locked``
        (lock on the name, minutes left in the message) or ``retry_later`` (an attempt before the
        previous failure's delay ran out). ``retry_after`` says how long the server should wait
        before answering.
        """
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthError("auth_failed", AUTH_FAILED_MESSAGE)
        now = as_utc(now)
        key = _throttle_key(username)
        failures = self._count_attempt(key, now)
        user = self._find(key)
        # Always one argon2 verification, against a dummy hash when there is no usable one, so the
        # answer takes as long for an unknown name as for a wrong password.
        real = user is not None and _is_argon2(user.password_hash)
        stored = user.password_hash if real else self._dummy_hash
        # Longer than any password the policy accepts: it can't match, and isn't worth hashing.
        matches = len(password) <= MAX_PASSWORD_LENGTH and verify_password(stored, password, self._hasher)
        if real and matches and user.active:
            self._succeeded(key, user, password)
            if user.must_change_password:  # an admin reset it (sync/user_admin.py)
                if new_password is None:
                    raise AuthError("password_change_required", PASSWORD_CHANGE_MESSAGE)
                self._choose_password(user, password, new_password)
            return user
        if failures >= self.lock_after:
            raise self._locked(self.lock_for.total_seconds())
        raise AuthError("auth_failed", AUTH_FAILED_MESSAGE, retry_after=login_delay(failures))

    def authenticate(self, token: Any, secret: bytes, now: datetime) -> tuple[User, TokenClaims]:
        """Verify a handshake token and that it still speaks for its user.

        ``token_revoked`` when the user is gone or inactive, changed password, or changed role since
        the token was issued (the console logs in again and gets the current role).
        """
        claims = verify_token(token, secret, now)
        with self._sessions() as s:
            user = s.get(User, claims.user_id)
            if user is not None:
                s.expunge(user)
        if (
            user is None
            or not user.active
            or Role(user.role) != claims.role
            or not hmac.compare_digest(
                claims.credential.encode("utf-8", "surrogatepass"),
                credential_tag(bytes(secret), user.password_hash).encode(),
            )
        ):
            raise AuthError("token_revoked", "Your account changed since you logged in; log in again.")
        return user, claims

    def _locked(self, seconds_left: float) -> AuthError:
        minutes = max(1, math.ceil(seconds_left / 60))
        return AuthError(
            "account_locked",
            f"Too many failed log-ins; try again in {_plural(minutes, 'minute')}.",
            retry_after=seconds_left,
        )

    def _count_attempt(self, key: str, now: datetime) -> int:
        """Count this attempt as a failure before the password is checked; return the recent count.

        Counting first (and undoing it on success) means parallel attempts on several connections or
        instances can't slip past the limit while their argon2 checks run, without holding the row
        lock — on SQLite, the whole database's write lock — for the length of a hash.
        """
        with self._sessions.begin() as s:
            # The insert takes the write lock on SQLite; FOR UPDATE takes the row lock on PostgreSQL.
            _insert_ignore(s, LoginThrottle, {"username": key, "failures": [], "updated_at": now})
            row = s.scalars(
                select(LoginThrottle).where(LoginThrottle.username == key).with_for_update()
            ).one()
            if row.locked_until is not None:
                left = (as_utc(row.locked_until) - now).total_seconds()
                if left > 0:
                    raise self._locked(left)
                row.failures, row.locked_until, row.next_attempt_at = [], None, None  # lock served
            if row.next_attempt_at is not None and now < as_utc(row.next_attempt_at):
                wait = (as_utc(row.next_attempt_at) - now).total_seconds()
                raise AuthError(
                    "retry_later",
                    f"Too many failed log-ins; try again in {_plural(math.ceil(wait), 'second')}.",
                    retry_after=wait,
                )
            horizon = (now - self.lock_window).timestamp()
            # Never longer than lock_after: reaching it locks, and serving the lock clears the list.
            recent = [t for t in row.failures if isinstance(t, int | float) and t > horizon]
            recent.append(now.timestamp())
            row.failures = recent  # a new list: JSON columns don't track mutation
            row.next_attempt_at = now + timedelta(seconds=login_delay(len(recent)))
            row.locked_until = now + self.lock_for if len(recent) >= self.lock_after else None
            row.updated_at = now
            return len(recent)

    def _find(self, key: str) -> User | None:
        if not USERNAME_RE.fullmatch(key):
            return None
        with self._sessions() as s:
            user = s.scalars(select(User).where(User.username == key)).one_or_none()
            if user is not None:
                s.expunge(user)
            return user

    def _choose_password(self, user: User, old: str, new: str) -> None:
        """The user's own new password after a reset (policy-checked, not the temporary one)."""
        if new == old:
            raise AuthError("weak_password", "Choose a new password, not the temporary one.")
        check_password_policy(new, user.username)
        new_hash = hash_password(new, self._hasher)
        with self._sessions.begin() as s:
            stored = s.get(User, user.id)
            stored.password_hash = new_hash
            stored.must_change_password = False
            s.flush()
            _publish_user(s, stored)
        user.password_hash, user.must_change_password = new_hash, False

    def _succeeded(self, key: str, user: User, password: str) -> None:
        """Clear the name's failures; upgrade the stored hash if the parameters changed."""
        old = user.password_hash
        new = hash_password(password, self._hasher) if needs_rehash(old, self._hasher) else None
        with self._sessions.begin() as s:
            s.execute(delete(LoginThrottle).where(LoginThrottle.username == key))
            if new is not None:
                # Only if unchanged: a password set meanwhile by an admin must not be overwritten.
                if s.execute(
                    update(User)
                    .where(User.id == user.id, User.password_hash == old)
                    .values(password_hash=new)
                ).rowcount:
                    user.password_hash = new


PASSWORD_CHANGE_MESSAGE = "Your password was reset by an admin — choose a new one to sign in."


def _publish_user(session: Session, user: User) -> None:
    """Every console learns every user (without the password hash): calls, jobs and leads name them,
    and a console must know a CSR before a row pointing at them arrives."""
    from .apply import lock_change_log
    from .changes import row_data

    lock_change_log(session)
    session.add(ChangeRow(entity="users", entity_id=user.id, op="upsert", data=row_data(session, user)))


def _is_argon2(password_hash: str) -> bool:
    # False for a user created without a password (the column defaults to "").
    return isinstance(password_hash, str) and password_hash.startswith("$argon2")


def _throttle_key(username: str) -> str:
    """The throttle row's name: the user name itself, or a digest of anything that can't be one.

    Whatever arrives is throttled alike, but junk (NUL, which PostgreSQL refuses in text, lone
    surrogates, thousands of characters) is stored as a fixed-length digest.
    """
    name = normalize_username(username)
    if USERNAME_RE.fullmatch(name):
        return name
    return "?" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:59]
