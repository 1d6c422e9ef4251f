"""A sign-in flood must not delay call handling: argon2 work is bounded, a queue past its limit is told
to come back, a slot is held until its hash really stops, and the log-in throttle table is purged."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
import websockets
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from models.accounts import LoginThrottle
from models.base import utcnow
from models.db import open_server_db
from models.setup import Role, User
from sync.apply import Applier
from sync.auth import Accounts, AuthError, token_secret
from sync.protocol import ProtocolError
from sync.server import SyncServer
from sync.server_auth import BUSY_RETRY_SECONDS, AccountsAuthenticator, default_login_concurrency

SECRET = bytes(range(32))
PASSWORD = "correct horse battery"


class SlowAccounts:
    """Accounts whose log-in holds a thread for ``seconds`` (an argon2 verification) and counts how many
    run at once."""

    def __init__(self, seconds: float = 0.1) -> None:
        self.seconds = seconds
        self.running = self.most = self.calls = 0
        self._lock = threading.Lock()

    def login(self, username: str, password: str, now) -> User:
        with self._lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.seconds)
            if password != PASSWORD:
                raise AuthError("auth_failed", "Wrong user name or password.")
            return User(
                id="u-" + username,
                username=username,
                display_name=username,
                role=Role.CSR,
                password_hash="$argon2id$x",
                active=True,
            )
        finally:
            with self._lock:
                self.running -= 1


def test_default_concurrency_leaves_cores_for_calls(monkeypatch) -> None:
    for cores, expected in [(None, 1), (1, 1), (2, 1), (4, 2), (16, 8)]:
        monkeypatch.setattr("os.cpu_count", lambda c=cores: c)
        assert default_login_concurrency() == expected
    with pytest.raises(ValueError):
        AccountsAuthenticator(SlowAccounts(), SECRET, login_concurrency=0)


@pytest.mark.parametrize("limit", [1, 2])
def test_a_flood_of_logins_never_hashes_more_than_the_limit_at_once(limit) -> None:
    accounts = SlowAccounts(0.05)
    auth = AccountsAuthenticator(accounts, SECRET, login_concurrency=limit)

    async def flood() -> list:
        return await asyncio.gather(
            *(auth.login(f"csr{i}", PASSWORD) for i in range(12)), return_exceptions=True
        )

    answers = asyncio.run(flood())
    assert all(isinstance(a, tuple) for a in answers), answers
    assert accounts.calls == 12 and accounts.most == limit


def test_call_handling_keeps_its_threads_and_loop_during_a_flood() -> None:
    # A screen pop's database work runs in the same default thread pool as the log-ins: it must not
    # queue behind the flood, and the event loop itself must keep answering.
    accounts = SlowAccounts(0.3)
    auth = AccountsAuthenticator(accounts, SECRET, login_concurrency=1, max_waiting=1000)

    async def scenario() -> tuple[float, float]:
        flood = [asyncio.create_task(auth.login(f"csr{i}", PASSWORD)) for i in range(40)]
        await asyncio.sleep(0.05)  # the flood is under way
        started = time.perf_counter()
        await asyncio.to_thread(lambda: None)  # the screen pop's lookup
        pop = time.perf_counter() - started
        started = time.perf_counter()
        await asyncio.sleep(0)
        loop = time.perf_counter() - started
        for task in flood:
            task.cancel()
        await asyncio.gather(*flood, return_exceptions=True)
        while accounts.running:  # let the hash in flight finish
            await asyncio.sleep(0.05)
        return pop, loop

    pop, loop = asyncio.run(scenario())
    assert pop < 0.2, f"a screen pop waited {pop:.2f} s behind sign-ins"
    assert loop < 0.05
    assert accounts.most == 1


def test_past_the_queue_limit_sign_ins_are_told_to_come_back() -> None:
    accounts = SlowAccounts(0.05)
    auth = AccountsAuthenticator(accounts, SECRET, login_concurrency=1, max_waiting=3)

    async def flood() -> list:
        return await asyncio.gather(
            *(auth.login(f"csr{i}", PASSWORD) for i in range(10)), return_exceptions=True
        )

    answers = asyncio.run(flood())
    busy = [a for a in answers if isinstance(a, ProtocolError)]
    assert busy and all(
        a.code == "retry_later" and a.details == {"retry_after": BUSY_RETRY_SECONDS} and "busy" in a.message
        for a in busy
    )
    assert accounts.calls == 10 - len(busy) and accounts.calls >= 4  # 1 hashing + 3 waiting


def test_a_login_abandoned_mid_hash_keeps_its_slot_until_the_hash_ends() -> None:
    accounts = SlowAccounts(0.2)
    auth = AccountsAuthenticator(accounts, SECRET, login_concurrency=1)

    async def scenario() -> None:
        first = asyncio.create_task(auth.login("csr1", PASSWORD))
        await asyncio.sleep(0.05)
        first.cancel()  # the console hung up; its thread hashes on
        with pytest.raises(asyncio.CancelledError):
            await first
        await auth.login("csr2", PASSWORD)

    asyncio.run(scenario())
    assert accounts.most == 1 and accounts.calls == 2


def test_a_failed_login_frees_its_slot_before_the_throttle_delay() -> None:
    accounts = SlowAccounts(0.01)

    class Delayed(SlowAccounts):
        def login(self, username, password, now):
            super().login(username, password, now)
            raise AuthError("auth_failed", "Wrong user name or password.", retry_after=0.5)

    delayed = Delayed(0.01)
    auth = AccountsAuthenticator(delayed, SECRET, login_concurrency=1)

    async def scenario() -> float:
        failing = asyncio.create_task(auth.login("csr1", "wrong password!"))
        await asyncio.sleep(0.05)  # hashed; now serving its delay
        started = time.perf_counter()
        auth.accounts = accounts
        await auth.login("csr2", PASSWORD)
        took = time.perf_counter() - started
        with pytest.raises(ProtocolError):
            await failing
        return took

    assert asyncio.run(scenario()) < 0.3


# -- a real server ---------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    yield sessions
    engine.dispose()


def test_pings_are_answered_promptly_during_a_real_argon2_flood(store) -> None:
    # Real argon2id (default parameters) for unknown names: each costs a full verification.
    accounts = Accounts(store, hasher=PasswordHasher())
    accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD)
    hashing = {"now": 0, "most": 0}
    lock = threading.Lock()
    real_login = accounts.login

    def login(username, password, now):
        with lock:
            hashing["now"] += 1
            hashing["most"] = max(hashing["most"], hashing["now"])
        try:
            return real_login(username, password, now)
        finally:
            with lock:
                hashing["now"] -= 1

    accounts.login = login
    auth = AccountsAuthenticator(accounts, token_secret(store), login_concurrency=1)

    async def scenario() -> list[float]:
        server = SyncServer(Applier(store), auth)
        endpoint = await server.serve("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"

        async def hello(ws) -> None:
            await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": str(uuid.uuid4())}))
            assert json.loads(await ws.recv())["type"] == "welcome"

        async def attacker(i: int) -> None:
            async with websockets.connect(url) as ws:
                await hello(ws)
                await ws.send(
                    json.dumps({"type": "login", "username": f"nobody{i}", "password": "guess guess 1"})
                )
                await ws.recv()

        try:
            async with websockets.connect(url) as csr:
                await hello(csr)
                await csr.send(json.dumps({"type": "login", "username": "dana", "password": PASSWORD}))
                assert json.loads(await csr.recv())["type"] == "logged_in"
                flood = [asyncio.create_task(attacker(i)) for i in range(16)]
                await asyncio.sleep(0.1)
                rtts = []
                for n in range(10):
                    started = time.perf_counter()
                    await csr.send(json.dumps({"type": "ping", "id": f"p{n}"}))
                    answer = json.loads(await csr.recv())
                    assert answer["type"] == "pong", answer
                    rtts.append(time.perf_counter() - started)
                    await asyncio.sleep(0.02)
                await asyncio.gather(*flood)
        finally:
            endpoint.close()
            await endpoint.wait_closed()
            await server.aclose()
        return rtts

    rtts = asyncio.run(scenario())
    assert max(rtts) < 0.25, rtts
    assert hashing["most"] == 1


def test_the_throttle_table_is_purged_now_and_periodically(store) -> None:
    accounts = Accounts(store)
    now = utcnow()
    clock = {"now": now}
    auth = AccountsAuthenticator(accounts, SECRET, clock=lambda: clock["now"])
    old = now - timedelta(hours=1)
    with store.begin() as s:
        s.add(LoginThrottle(username="typo1", failures=[old.timestamp()], updated_at=old))
        s.add(LoginThrottle(username="recent", failures=[now.timestamp()], updated_at=now))
        s.add(
            LoginThrottle(
                username="locked", failures=[], updated_at=old, locked_until=now + timedelta(minutes=5)
            )
        )

    def names() -> set[str]:
        with store() as s:
            return set(s.scalars(select(LoginThrottle.username)))

    async def scenario() -> None:
        task = asyncio.create_task(auth.purge_throttle(every=0.05))
        for _ in range(100):
            if "typo1" not in names():
                break
            await asyncio.sleep(0.02)
        assert names() == {"recent", "locked"}  # at once, on start
        clock["now"] = now + timedelta(minutes=30)  # time passes: both are stale now
        for _ in range(100):
            if not names():
                break
            await asyncio.sleep(0.02)
        assert names() == set()  # and again, every interval
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
