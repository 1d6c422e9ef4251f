"""Accounts: argon2 hashes, password policy, signed tokens, log-in throttling and lockout shared
through the database (SQLite file and PostgreSQL), role checks."""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, select, text, update
from sqlalchemy.orm import sessionmaker

from models.accounts import LoginThrottle, ServerSecret
from models.base import Base
from models.db import make_sqlite_engine
from models.setup import Role, User
from sync.auth import (
    AUTH_FAILED_MESSAGE,
    Accounts,
    AuthError,
    TokenClaims,
    check_password_policy,
    hash_password,
    issue_token,
    login_delay,
    needs_rehash,
    require_role,
    rotate_token_secret,
    token_secret,
    verify_password,
    verify_token,
)

# Cheap parameters keep the suite fast; the default hasher is exercised once on its own.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SECRET = bytes(range(32))
PASSWORD = "correct horse battery"
from models.sync_tables import ChangeRow  # noqa: E402

TABLES = [User.__table__, LoginThrottle.__table__, ServerSecret.__table__, ChangeRow.__table__]
DELAYS = [0, 0, 1, 2, 4, 8, 16, 32, 60]  # retry_after after failures 1..9; the 10th locks


# -- databases -------------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_engine(request, tmp_path) -> Iterator[Callable[[], Engine]]:
    """A factory of independent engines on one fresh database: each is like another server instance."""
    engines: list[Engine] = []
    if request.param == "sqlite":
        path = tmp_path / "server.sqlite3"

        def make() -> Engine:
            engines.append(make_sqlite_engine(path))
            return engines[-1]

        Base.metadata.create_all(make(), tables=TABLES)
        yield make
        for e in engines:
            e.dispose()
        return

    url = request.getfixturevalue("postgres_url").replace("postgresql://", "postgresql+psycopg://")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def make_pg() -> Engine:
        engines.append(create_engine(url, connect_args={"options": f"-csearch_path={schema}"}))
        return engines[-1]

    try:
        Base.metadata.create_all(make_pg(), tables=TABLES)
        yield make_pg
    finally:
        for e in engines:
            e.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:
    engine = make_sqlite_engine(tmp_path / "server.sqlite3")
    Base.metadata.create_all(engine, tables=TABLES)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(sqlite_engine) -> sessionmaker:
    # Default expire_on_commit=True: proves the users handed back stay readable after their session.
    return sessionmaker(sqlite_engine)


@pytest.fixture
def accounts(sessions) -> Accounts:
    acc = Accounts(sessions, hasher=FAST)
    acc.add_user("dana", "Dana Reyes", Role.CSR, PASSWORD)
    return acc


def refusal(accounts: Accounts, username: str, password: str, now: datetime) -> AuthError:
    with pytest.raises(AuthError) as info:
        accounts.login(username, password, now)
    return info.value


def fail_n(
    accounts: Accounts, username, n: int, start: datetime, password="wrong password!"
) -> tuple[list[AuthError], datetime]:
    """``n`` wrong passwords, each once the previous one's delay ran out; returns the errors and the
    time of the last one once locked, else the time the next attempt may come."""
    errors, now = [], start
    for _ in range(n):
        errors.append(refusal(accounts, username, password, now))
        if errors[-1].code != "account_locked":
            now += timedelta(seconds=errors[-1].retry_after)
    return errors, now


# -- passwords -------------------------------------------------------------------------------------------
def test_hash_verifies_only_the_same_password_and_is_salted() -> None:
    h = hash_password(PASSWORD, FAST)
    assert h.startswith("$argon2id$")
    assert verify_password(h, PASSWORD, FAST)
    assert not verify_password(h, PASSWORD + "!", FAST)
    assert not verify_password(h, "", FAST)
    assert hash_password(PASSWORD, FAST) != h


def test_default_hasher_is_argon2id_with_rfc9106_parameters() -> None:
    h = hash_password(PASSWORD)
    assert h.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(h, PASSWORD) and not needs_rehash(h)


@pytest.mark.parametrize("stored", ["", "plain-text", "$argon2id$v=19$m=1024,t=1,p=1$broken", None])
def test_verify_is_false_for_empty_or_damaged_hashes(stored) -> None:
    assert verify_password(stored, PASSWORD, FAST) is False


def test_passwords_are_compared_after_unicode_normalization() -> None:
    composed, decomposed = "caf\u00e9 au lait 42", "cafe\u0301 au lait 42"
    assert verify_password(hash_password(composed, FAST), decomposed, FAST)


def test_needs_rehash_when_parameters_differ() -> None:
    h = hash_password(PASSWORD, FAST)
    assert not needs_rehash(h, FAST)
    assert needs_rehash(h, PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1))
    assert needs_rehash("", FAST) and needs_rehash("not a hash", FAST)


@pytest.mark.parametrize(
    ("password", "username", "says"),
    [
        ("short1!", "dana", "at least 10 characters"),
        ("", "dana", "at least 10 characters"),
        ("aaaaaaaaaaaa", "dana", "must not repeat a single character"),
        ("Dana.Reyes2024", "dana.reyes2024", "must not be the user name"),
        ("ab" * 101, "dana", "at most 200 characters"),
        # digits only (a phone number, a date, a counting run)
        ("1234567890", "dana", "only digits"),
        ("5551234567", "dana", "only digits"),
        ("2024-03-03 !", "dana", "only digits"),
        # a short pattern or too few different characters
        ("aaaaaaaaab", "dana", "short pattern"),
        ("abcabcabcabc", "dana", "short pattern"),
        ("abcdeabcde", "dana", "short pattern"),
        # runs along the alphabet or the keyboard, either way
        ("abcdefghijk", "dana", "run of letters"),
        ("kjihgfedcba", "dana", "run of letters"),
        ("qwertyuiop", "dana", "run of letters"),
        ("1qaz2wsx3edc", "dana", "run of letters"),
        # well-known passwords, however decorated
        ("Password2024!", "dana", "first a guesser tries"),
        ("P@ssw0rd123", "dana", "first a guesser tries"),
        ("iloveyou!!", "dana", "first a guesser tries"),
        ("Letmein 2025", "dana", "first a guesser tries"),
        # the user name with a little added
        ("dana1234567", "dana", "user name with a few characters"),
        ("Dana Dana 2024!", "dana", "user name with a few characters"),
        ("!!dana.reyes!!", "dana.reyes", "user name with a few characters"),
    ],
)
def test_policy_refuses_weak_passwords_with_a_reason(password, username, says) -> None:
    with pytest.raises(AuthError) as info:
        check_password_policy(password, username)
    assert info.value.code == "weak_password" and says in info.value.message
    assert info.value.message.endswith(".")  # a sentence for the admin, not a rule id


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("correct horse", "dana"),
        ("dana-reyes!", "dana"),
        ("Dana.Reyes2024", "dana"),
        ("P4ssage vert", "dana"),
        # passwords the demo, the fixtures and the benchmarks use must stay valid
        ("demo password", "demo"),
        ("correct horse battery", "dana"),
        ("lee password 1", "lee"),
        ("dana password 1", "dana"),
        ("another good pass", "dana"),
        ("brand new password", "dana"),
        ("chaos password 1", "chaos"),
        ("bench calls password 1", "admin"),
    ],
)
def test_policy_accepts_reasonable_passwords(password, username) -> None:
    check_password_policy(password, username)


# -- user administration ---------------------------------------------------------------------------------
def test_add_user_stores_an_argon2_hash_and_returns_a_usable_user(sessions) -> None:
    user = Accounts(sessions, hasher=FAST).add_user("  Sam.Lee ", "", "supervisor", PASSWORD)
    assert (user.username, user.display_name, user.role, user.active) == (
        "sam.lee",
        "sam.lee",
        Role.SUPERVISOR,
        True,
    )
    with sessions() as s:
        stored = s.scalars(select(User).where(User.username == "sam.lee")).one()
    assert stored.id == user.id and stored.password_hash != PASSWORD
    assert verify_password(stored.password_hash, PASSWORD, FAST)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"username": ""}, "invalid_username"),
        ({"username": "two words"}, "invalid_username"),
        ({"username": "-dash"}, "invalid_username"),
        ({"username": "x" * 61}, "invalid_username"),
        ({"display_name": "D" * 81}, "invalid_display_name"),
        ({"role": "owner"}, "invalid_role"),
        ({"password": "tooshort"}, "weak_password"),
        ({"username": "DANA"}, "user_exists"),
    ],
)
def test_add_user_refusals(accounts, sessions, kwargs, code) -> None:
    args = {"username": "newbie", "display_name": "New Bie", "role": Role.CSR, "password": PASSWORD} | kwargs
    with pytest.raises(AuthError) as info:
        accounts.add_user(**args)
    assert info.value.code == code and info.value.message
    with sessions() as s:
        assert s.scalars(select(User.username)).all() == ["dana"]


def test_set_password_replaces_the_old_one(accounts) -> None:
    accounts.set_password("Dana", "a brand new secret")
    assert refusal(accounts, "dana", PASSWORD, T0).code == "auth_failed"
    assert accounts.login("dana", "a brand new secret", T0 + timedelta(minutes=1)).username == "dana"
    with pytest.raises(AuthError) as weak:
        accounts.set_password("dana", "dana")
    assert weak.value.code == "weak_password"
    with pytest.raises(AuthError) as unknown:
        accounts.set_password("nobody", "a brand new secret")
    assert unknown.value.code == "unknown_user"


def test_deactivated_user_cannot_log_in_and_gets_the_usual_answer(accounts) -> None:
    accounts.deactivate("dana")
    err = refusal(accounts, "dana", PASSWORD, T0)
    assert (err.code, err.message) == ("auth_failed", AUTH_FAILED_MESSAGE)
    accounts.reactivate("dana")
    assert accounts.login("dana", PASSWORD, T0 + timedelta(minutes=1)).active
    with pytest.raises(AuthError) as unknown:
        accounts.deactivate("nobody")
    assert unknown.value.code == "unknown_user"


def test_user_without_a_password_hash_cannot_log_in(accounts, sessions) -> None:
    with sessions.begin() as s:
        s.add(User(username="legacy", display_name="Legacy"))  # password_hash defaults to ""
    for password in ("", PASSWORD):
        assert refusal(accounts, "legacy", password, T0).code == "auth_failed"


# -- log-in ----------------------------------------------------------------------------------------------
def test_login_returns_the_detached_user(accounts) -> None:
    user = accounts.login(" DANA ", PASSWORD, T0)
    assert (user.username, user.display_name, user.role) == ("dana", "Dana Reyes", Role.CSR)


def test_unknown_user_and_wrong_password_are_answered_identically(accounts) -> None:
    def answers(name: str) -> list[tuple[str, str, float]]:
        errors, end = fail_n(accounts, name, 10, T0)
        errors.append(refusal(accounts, name, "wrong password!", end + timedelta(minutes=1)))
        return [(e.code, e.message, e.retry_after) for e in errors]

    known = answers("dana")
    assert known == answers("nobody")
    assert known[0] == ("auth_failed", AUTH_FAILED_MESSAGE, 0)
    assert [code for code, _, _ in known] == ["auth_failed"] * 9 + ["account_locked"] * 2


def test_delay_grows_with_each_failure_then_locks(accounts) -> None:
    errors, _ = fail_n(accounts, "dana", 10, T0)
    assert [e.code for e in errors] == ["auth_failed"] * 9 + ["account_locked"]
    assert [e.retry_after for e in errors[:9]] == DELAYS
    assert [login_delay(n) for n in range(1, 10)] == DELAYS
    assert errors[9].retry_after == 15 * 60 and "15 minutes" in errors[9].message


def test_an_attempt_inside_the_delay_is_refused_unchecked_and_not_counted(accounts) -> None:
    errors, now = fail_n(accounts, "dana", 3, T0)
    assert errors[-1].retry_after == 1
    early = refusal(accounts, "dana", PASSWORD, now - timedelta(milliseconds=500))  # right password, too soon
    assert early.code == "retry_later" and early.retry_after == pytest.approx(0.5)
    assert "1 second" in early.message
    assert refusal(accounts, "dana", "wrong password!", now).retry_after == DELAYS[3]  # 4th, not 5th
    assert accounts.login("dana", PASSWORD, now + timedelta(seconds=DELAYS[3])).username == "dana"


def test_lock_holds_for_15_minutes_even_for_the_right_password(accounts) -> None:
    _, locked_at = fail_n(accounts, "dana", 10, T0)
    one_min = refusal(accounts, "dana", PASSWORD, locked_at + timedelta(minutes=1))
    assert one_min.code == "account_locked" and "14 minutes" in one_min.message
    assert one_min.retry_after == 14 * 60
    last = refusal(accounts, "dana", PASSWORD, locked_at + timedelta(minutes=15, seconds=-1))
    assert last.code == "account_locked" and "1 minute." in last.message
    assert accounts.login("dana", PASSWORD, locked_at + timedelta(minutes=15)).username == "dana"


def test_serving_the_lock_starts_a_fresh_count(accounts) -> None:
    _, locked_at = fail_n(accounts, "dana", 10, T0)
    after, _ = fail_n(accounts, "dana", 3, locked_at + timedelta(minutes=15))
    assert [(e.code, e.retry_after) for e in after] == [("auth_failed", d) for d in DELAYS[:3]]


def test_failures_older_than_the_window_stop_counting(accounts) -> None:
    # Failures at T0 (x3), +1, +3, +7, +15, +31, +63 s; 15 min + 1 s later the first four are outside.
    _, _ = fail_n(accounts, "dana", 9, T0)
    err = refusal(accounts, "dana", "wrong password!", T0 + timedelta(minutes=15, seconds=1))
    assert (err.code, err.retry_after) == ("auth_failed", login_delay(6))


def test_success_resets_the_count(accounts, sessions) -> None:
    _, now = fail_n(accounts, "dana", 5, T0)
    accounts.login("dana", PASSWORD, now)
    with sessions() as s:
        assert s.get(LoginThrottle, "dana") is None
    again, _ = fail_n(accounts, "dana", 3, now)
    assert [e.retry_after for e in again] == DELAYS[:3]


def test_unlock_lets_a_locked_user_in_at_once(accounts) -> None:
    _, now = fail_n(accounts, "dana", 10, T0)
    accounts.unlock("DANA")
    assert accounts.login("dana", PASSWORD, now).username == "dana"


def test_login_upgrades_a_hash_made_with_old_parameters(sessions) -> None:
    Accounts(sessions, hasher=FAST).add_user("dana", "Dana", Role.CSR, PASSWORD)
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    accounts = Accounts(sessions, hasher=stronger)

    def stored() -> str:
        with sessions() as s:
            return s.scalars(select(User.password_hash)).one()

    before = stored()
    refusal(accounts, "dana", "wrong password!", T0)
    assert stored() == before  # a failure never rewrites the hash
    user = accounts.login("dana", PASSWORD, T0)
    after = stored()
    assert after != before and not needs_rehash(after, stronger) and user.password_hash == after
    assert accounts.login("dana", PASSWORD, T0 + timedelta(seconds=1)).password_hash == after  # once only


def test_purge_stale_keeps_recent_and_locked_names(new_engine) -> None:
    accounts = Accounts(sessionmaker(new_engine()), hasher=FAST, lock_for=timedelta(hours=1))
    refusal(accounts, "someone", "x", T0)
    _, locked = fail_n(accounts, "target", 10, T0)
    assert accounts.purge_stale(T0 + timedelta(minutes=14)) == 0
    assert accounts.purge_stale(T0 + timedelta(minutes=30)) == 1  # "someone": quiet for 15 min
    assert accounts.purge_stale(locked + timedelta(minutes=59)) == 0  # "target" is still locked
    assert accounts.purge_stale(locked + timedelta(hours=1)) == 1


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("dana\x00", PASSWORD),
        ("\x00", "x"),
        ("dana", "pass\ud800word!!"),
        ("\ud800" * 3, PASSWORD),
        ("é" * 10_000, PASSWORD),
        ("dana", "p" * 10_000),
        (None, PASSWORD),
        ("dana", None),
        ("", ""),
    ],
)
def test_hostile_log_in_input_is_an_ordinary_failure(new_engine, username, password) -> None:
    accounts = Accounts(sessionmaker(new_engine()), hasher=FAST)
    accounts.add_user("dana", "Dana", Role.CSR, PASSWORD)
    errors, _ = fail_n(accounts, username, 3, T0, password)
    assert [(e.code, e.message) for e in errors] == [("auth_failed", AUTH_FAILED_MESSAGE)] * 3
    assert accounts.login("dana", PASSWORD, T0 + timedelta(hours=1)).username == "dana"


# -- the lock is shared through the database ------------------------------------------------------------
def test_lock_is_shared_by_instances_and_survives_a_restart(new_engine) -> None:
    a = Accounts(sessionmaker(new_engine()), hasher=FAST)
    b = Accounts(sessionmaker(new_engine()), hasher=FAST)
    a.add_user("dana", "Dana", Role.CSR, PASSWORD)
    now, codes = T0, []
    for i in range(10):  # alternate instances, as a load balancer would
        err = refusal(a if i % 2 else b, "dana", "wrong password!", now)
        codes.append(err.code)
        if err.code == "auth_failed":
            now += timedelta(seconds=err.retry_after)
    assert codes == ["auth_failed"] * 9 + ["account_locked"]
    assert refusal(a, "dana", PASSWORD, now).code == "account_locked"
    restarted = Accounts(sessionmaker(new_engine()), hasher=FAST)
    assert refusal(restarted, "dana", PASSWORD, now + timedelta(minutes=5)).code == "account_locked"
    assert b.login("dana", PASSWORD, now + timedelta(minutes=15)).username == "dana"


def test_parallel_attempts_on_two_instances_are_counted_once_each(new_engine) -> None:
    """All at the same instant: the first three pass (delays 0, 0, then 1 s), the rest must wait.

    Without a row lock two attempts would read the same count and more than three would get through.
    """
    instances = [Accounts(sessionmaker(new_engine()), hasher=FAST) for _ in range(2)]
    instances[0].add_user("dana", "Dana", Role.CSR, PASSWORD)
    barrier, results, lock = threading.Barrier(16), Counter(), threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            instances[i % 2].login("dana", "wrong password!", T0)
            code = "ok"
        except AuthError as exc:
            code = exc.code
        with lock:
            results[code] += 1

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {"auth_failed": 3, "retry_later": 13}
    with instances[1]._sessions() as s:
        assert len(s.get(LoginThrottle, "dana").failures) == 3


# -- tokens ----------------------------------------------------------------------------------------------
@pytest.fixture
def dana(accounts) -> User:
    return accounts.login("dana", PASSWORD, T0)


def _forge(payload: bytes, secret: bytes = SECRET, algorithm: str = "HS256", **header) -> str:
    """A correctly signed JWT around arbitrary payload bytes (what a leaked secret would allow)."""
    return jwt.api_jws.PyJWS().encode(payload, secret, algorithm=algorithm, headers=header or None)


def _unsigned(payload: bytes, alg: str = "none") -> str:
    """A JWT whose header names another algorithm and whose signature is empty or made up."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{b64(payload)}."


def _claims(**changes) -> bytes:
    data = {"sub": "u1", "role": "csr", "iat": 1_700_000_000, "exp": 1_800_000_000, "jti": "j", "cred": "c"}
    return json.dumps({k: v for k, v in (data | changes).items() if v is not ...}).encode()


def _invalid(token, secret: bytes = SECRET, now: datetime = T0) -> str:
    with pytest.raises(AuthError) as info:
        verify_token(token, secret, now)
    return info.value.code


def test_token_round_trip(dana) -> None:
    token = issue_token(dana, SECRET, timedelta(hours=8), T0)
    claims = verify_token(token, SECRET, T0 + timedelta(hours=1))
    assert isinstance(claims, TokenClaims)
    assert (claims.user_id, claims.role, claims.issued_at, claims.expires_at) == (
        dana.id,
        Role.CSR,
        T0,
        T0 + timedelta(hours=8),
    )
    assert len(claims.token_id) == 32
    assert (
        verify_token(issue_token(dana, SECRET, timedelta(hours=8), T0), SECRET, T0).token_id
        != claims.token_id
    )


def test_token_expires_exactly_at_its_expiry(dana) -> None:
    token = issue_token(dana, SECRET, timedelta(minutes=30), T0)
    verify_token(token, SECRET, T0 + timedelta(minutes=30, seconds=-1))
    assert _invalid(token, now=T0 + timedelta(minutes=30)) == "token_expired"
    assert _invalid(token, now=T0 + timedelta(days=3)) == "token_expired"


def test_any_changed_character_invalidates_a_token(dana) -> None:
    token = issue_token(dana, SECRET, timedelta(hours=8), T0)
    for i, ch in enumerate(token):
        for other in {"A", "_", "."} - {ch}:
            tampered = token[:i] + other + token[i + 1 :]
            assert _invalid(tampered) == "token_invalid", (i, other)


def test_a_payload_promoted_to_admin_keeps_no_valid_signature(dana) -> None:
    header, body, sig = issue_token(dana, SECRET, timedelta(hours=8), T0).split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["role"] = "admin"
    forged_body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    assert _invalid(f"{header}.{forged_body}.{sig}") == "token_invalid"


def test_tokens_are_standard_hs256_jwts(dana) -> None:
    token = issue_token(dana, SECRET, timedelta(hours=8), T0)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert set(claims) == {"sub", "role", "iat", "exp", "jti", "cred"}
    assert (claims["sub"], claims["role"], claims["exp"] - claims["iat"]) == (dana.id, "csr", 8 * 3600)
    assert claims["cred"] and "argon2" not in claims["cred"]  # a keyed tag, not the hash


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS512", "RS256", "ES256"])
def test_tokens_naming_another_algorithm_are_invalid(alg) -> None:
    # "alg": "none" with no signature is the classic JWT forgery; only HS256 is ever accepted.
    assert _invalid(_unsigned(_claims(), alg)) == "token_invalid"
    assert _invalid(_unsigned(_claims(), alg) + "c2ln") == "token_invalid"


def test_a_token_signed_with_hs512_and_the_right_key_is_invalid() -> None:
    key = SECRET * 2  # 64 bytes: PyJWT's minimum for HS512
    assert verify_token(_forge(_claims(), key), key, T0).user_id == "u1"
    assert _invalid(_forge(_claims(), key, algorithm="HS512"), secret=key) == "token_invalid"


def test_a_non_canonical_spelling_of_a_valid_token_is_invalid(dana) -> None:
    # The last base64url character has spare bits: a lenient decoder accepts two spellings of one
    # signature. Ours accepts exactly the token it issued.
    token = issue_token(dana, SECRET, timedelta(hours=8), T0)
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    assert base64.urlsafe_b64decode(token.split(".")[2][:-1] + twin + "=") == base64.urlsafe_b64decode(
        token.split(".")[2] + "="
    )  # same bytes …
    assert _invalid(token[:-1] + twin) == "token_invalid"  # … still refused


def test_a_token_from_another_server_is_invalid(dana) -> None:
    token = issue_token(dana, bytes(reversed(SECRET)), timedelta(hours=8), T0)
    assert _invalid(token) == "token_invalid"


@pytest.mark.parametrize(
    "token",
    [
        None,
        42,
        1.5,
        b"v1.abc.def",
        ["v1"],
        {"token": "x"},
        "",
        ".",
        "..",
        "v1",
        "v1..",
        "v1.a.b",
        "v1.a.b.c",
        "v2.eyJ9.sig",
        "v1.a=.b",
        "v1.ab cd.ef",
        "v1.\u00e9t\u00e9.ab",
        "x" * 5000,
        "v1." + "A" * 3000 + ".b",
    ],
)
def test_malformed_tokens_are_invalid_never_a_crash(token) -> None:
    assert _invalid(token) == "token_invalid"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'"string"',
        _claims(role="owner"),
        _claims(sub=...),
        _claims(extra=1),
        _claims(iat="1700000000"),
        _claims(exp=True),
        _claims(exp=1.8e9),
        _claims(exp=10**20),
        _claims(sub=7),
    ],
)
def test_signed_but_malformed_payloads_are_invalid(payload) -> None:
    assert _invalid(_forge(payload)) == "token_invalid"


def test_forge_helper_builds_tokens_the_verifier_accepts() -> None:
    # Guards the test above: its payloads fail for their content, not for a wrong signature.
    assert verify_token(_forge(_claims()), SECRET, T0).user_id == "u1"


def test_random_garbage_only_ever_raises_auth_error(dana) -> None:
    rng = random.Random(4)
    token = issue_token(dana, SECRET, timedelta(hours=8), T0)
    alphabet = "v1.AZaz09-_=+/ \x00\u00e9"
    for _ in range(2000):
        cut = rng.randrange(len(token))
        candidate = rng.choice(
            [
                token[:cut],
                token[:cut] + "".join(rng.choices(alphabet, k=rng.randrange(1, 6))) + token[cut:],
                "".join(rng.choices(alphabet, k=rng.randrange(0, 80))),
            ]
        )
        if candidate == token:
            continue
        try:
            verify_token(candidate, SECRET, T0)
        except AuthError as exc:
            assert exc.code == "token_invalid"
        else:
            pytest.fail(f"accepted {candidate!r}")


def test_secrets_must_be_long_enough(dana) -> None:
    with pytest.raises(ValueError):
        issue_token(dana, b"short", timedelta(hours=1), T0)
    with pytest.raises(ValueError):
        verify_token("v1.a.b", b"", T0)
    with pytest.raises(ValueError):
        issue_token(dana, SECRET, timedelta(0), T0)


def test_authenticate_accepts_a_current_token(accounts, dana) -> None:
    user, claims = accounts.authenticate(issue_token(dana, SECRET, timedelta(hours=8), T0), SECRET, T0)
    assert user.id == dana.id and user.display_name == "Dana Reyes" and claims.role == Role.CSR


@pytest.mark.parametrize("change", ["password", "deactivate", "role", "delete"])
def test_authenticate_revokes_tokens_when_the_account_changed(accounts, sessions, dana, change) -> None:
    token = issue_token(dana, SECRET, timedelta(hours=8), T0)
    if change == "password":
        accounts.set_password("dana", "another good password")
    elif change == "deactivate":
        accounts.deactivate("dana")
    else:
        with sessions.begin() as s:
            if change == "role":
                s.execute(update(User).values(role=Role.ADMIN))
            else:
                s.delete(s.get(User, dana.id))
    with pytest.raises(AuthError) as info:
        accounts.authenticate(token, SECRET, T0)
    assert info.value.code == "token_revoked"


def test_authenticate_reports_expiry_and_forgery_first(accounts, dana) -> None:
    token = issue_token(dana, SECRET, timedelta(hours=8), T0)
    for bad, now, code in [
        (token, T0 + timedelta(hours=9), "token_expired"),
        (token[:-2], T0, "token_invalid"),
    ]:
        with pytest.raises(AuthError) as info:
            accounts.authenticate(bad, SECRET, now)
        assert info.value.code == code


# -- roles -----------------------------------------------------------------------------------------------
def test_require_role() -> None:
    csr = TokenClaims("u1", Role.CSR, T0, T0 + timedelta(hours=1), "j")
    require_role(csr, Role.CSR, Role.ADMIN)
    require_role(csr, "csr")
    with pytest.raises(AuthError) as info:
        require_role(csr, Role.SUPERVISOR, "manager")
    assert info.value.code == "forbidden" and "csr" in info.value.message
    with pytest.raises(ValueError):
        require_role(csr)


# -- the signing secret ----------------------------------------------------------------------------------
def test_token_secret_is_created_once_and_shared(new_engine, dana) -> None:
    first = token_secret(sessionmaker(new_engine()))
    assert len(first) == 32
    other_instance = sessionmaker(new_engine())
    assert token_secret(other_instance) == first
    token = issue_token(dana, first, timedelta(hours=1), T0)
    rotated = rotate_token_secret(other_instance)
    assert rotated != first and token_secret(sessionmaker(new_engine())) == rotated
    assert _invalid(token, secret=rotated) == "token_invalid"


def test_every_console_learns_every_user_without_the_password_hash(accounts, sessions):
    """Calls, jobs and leads name users: a new user, and one deactivated later, go to the change log."""
    user = accounts.add_user("maria", "Maria Diaz", "csr", "correct horse battery 1")
    accounts.deactivate("maria")
    with sessions() as s:
        rows = list(
            s.scalars(
                select(ChangeRow)
                .where(ChangeRow.entity == "users", ChangeRow.entity_id == user.id)
                .order_by(ChangeRow.version)
            )
        )
    assert [r.data["active"] for r in rows] == [True, False]
    assert all(r.data["password_hash"] == "" for r in rows) and rows[0].data["display_name"] == "Maria Diaz"
