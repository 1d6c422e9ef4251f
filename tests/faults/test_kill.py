"""Real process kills: a console killed with -9 while its outbox is queued (and while it is pushing)
restarts and syncs exactly once; a `csr-server` killed with -9 after it committed a push but before
the console heard the receipts replays the stored receipts; a server killed at random moments of a
stream of pushes, or restarted cleanly, loses and doubles nothing. Some consoles run with their
whole clock ±24 h off."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys

import pytest
from sqlalchemy import func, select

from bench.faultproxy import FaultProxy
from bench.headless import (
    ROOT,
    HeadlessConsole,
    InProcessServer,
    ServerProcess,
    ServerStore,
    clone,
    diff,
    init_server_db,
    make_console_cache,
    snapshot,
)
from bench.sync_bench import temporary_postgres
from models.jobs import Job
from models.sync_tables import ReceiptRow


async def _until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _summaries(sessions, prefix: str) -> dict[str, int]:
    with sessions() as s:
        return dict(
            s.execute(
                select(Job.summary, func.count()).where(Job.summary.like(f"{prefix}%")).group_by(Job.summary)
            ).all()
        )


def _server_version(store: ServerStore) -> int:
    from sync.apply import current_version

    with store.sessions() as s:
        return current_version(s)


def _assert_converged(store: ServerStore, *caches) -> None:
    server = snapshot(store.sessions)
    for cache in caches:
        assert diff(server, snapshot(cache.sessions)) == []


def _exactly_once(store: ServerStore, booked: list[str], *caches) -> None:
    for where in (store.sessions, *[c.sessions for c in caches]):
        counts = _summaries(where, "")
        assert {s: counts.get(s, 0) for s in booked} == dict.fromkeys(booked, 1)
    with store.sessions() as s:
        dup = s.execute(
            select(ReceiptRow.mutation_id).group_by(ReceiptRow.mutation_id).having(func.count() > 1)
        ).all()
    assert dup == []


async def _child(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.faults.console_child",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


# -- the console killed -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("skew", "online", "seed"), [(0, False, 1), (24, False, 2), (-24, True, 3), (0, True, 4), (24, True, 5)]
)
def test_console_killed_with_a_queued_outbox_restarts_and_syncs_exactly_once(
    templates, tmp_path, skew, online, seed
):
    """kill -9 the console mid-booking (offline: all queued; online: through a slow link, some pushed,
    some in flight), restart it on the same cache: every booking it committed reaches the server once."""
    rng = random.Random(seed)

    async def scenario() -> None:
        store = ServerStore(str(clone(templates.server_db, tmp_path / "server.sqlite3")))
        server = InProcessServer(store)
        await server.start()
        proxy = await FaultProxy("127.0.0.1", server.port).start()
        proxy.delay(40)
        cache_path = clone(templates.console_cache, tmp_path / "console.sqlite3")
        token = store.token()
        try:
            n = 12
            child = await _child(
                str(cache_path),
                proxy.url,
                token,
                "book",
                str(n),
                "--skew-hours",
                str(skew),
                "--seed",
                str(seed),
                *(["--sync"] if online else []),
            )
            kill_after = rng.randint(3, n - 2)
            printed: list[str] = []
            while len(printed) < kill_after:
                line = (await asyncio.wait_for(child.stdout.readline(), 60)).decode()
                assert line, (await child.stderr.read()).decode()[-3000:]
                if line.startswith("booked "):
                    printed.append(line.split(" ", 2)[2].strip())
            os.kill(child.pid, signal.SIGKILL)
            assert await child.wait() == -signal.SIGKILL
            # Restart the console on the same cache (its lock died with it) and let it sync.
            proxy.set_pass()
            child = await _child(str(cache_path), proxy.url, token, "sync", "--skew-hours", str(skew))
            out, err = await asyncio.wait_for(child.communicate(), 60)
            assert child.returncode == 0, err.decode()[-3000:]
            assert out.decode().startswith("synced") and out.decode().strip().endswith("pending 0")
            console = HeadlessConsole(cache_path, proxy.url, token)
            try:
                console.start()
                await _until(
                    lambda: console.cursor() >= _server_version(store) and console.outbox() == 0,
                    what="the console to catch up",
                )
                committed = list(_summaries(console.cache.sessions, f"child {seed}-"))
                # What it printed was committed; it may have committed one more before the kill.
                assert set(printed) <= set(committed) and len(committed) <= len(printed) + 1
                _exactly_once(store, committed, console.cache)
                _assert_converged(store, console.cache)
            finally:
                await console.stop()
                console.close()
        finally:
            await proxy.close()
            await server.stop()
            store.close()

    asyncio.run(scenario())


# -- the server killed ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_server_killed_between_commit_and_ack_replays_the_receipts(templates, tmp_path, backend, request):
    """The push reaches a real csr-server and commits; the receipts never reach the console (the
    proxy black-holes the way back); kill -9 the server; restart it: the resend is answered from the
    stored receipts and nothing is applied twice."""
    with contextlib.ExitStack() as stack:
        if backend == "postgres":
            db = stack.enter_context(temporary_postgres(request.getfixturevalue("postgres_url")))
            init_server_db(db)
            seed_store = ServerStore(db)
            cache_path = make_console_cache(
                seed_store.sessions, templates.empty_cache, tmp_path / "console.sqlite3"
            )
            seed_store.close()
        else:
            db = str(clone(templates.server_db, tmp_path / "server.sqlite3"))
            cache_path = clone(templates.console_cache, tmp_path / "console.sqlite3")
        _commit_then_kill(db, cache_path)


def _commit_then_kill(db: str, cache_path) -> None:
    async def scenario() -> None:
        server = ServerProcess(db)
        await server.astart()
        store = ServerStore(db)
        proxy = await FaultProxy("127.0.0.1", server.port).start()
        console = HeadlessConsole(cache_path, proxy.url, store.token(), prefix="KQ7")
        try:
            rng = random.Random(7)
            cid = console.create_customer(rng, "ack")
            booked = [console.book(rng, cid, f"ack {k}").summary for k in range(5)]
            assert console.outbox() == 6
            proxy.blackhole(direction="down", after=2)  # upgrade + welcome pass; receipts don't
            console.start()
            await _until(lambda: _receipts(store) == 6, what="the server to commit the push")
            await asyncio.sleep(0.2)
            assert console.outbox() == 6  # no receipt came back
            server.kill9()
            await server.astart()
            proxy.retarget(server.port)
            proxy.set_pass()
            await _until(lambda: console.outbox() == 0, what="the resend to be acknowledged")
            await _until(lambda: console.cursor() >= _server_version(store), what="the pull")
            assert _receipts(store) == 6
            _exactly_once(store, booked, console.cache)
            _assert_converged(store, console.cache)
            assert console.client.status.pending == 0 and console.client.problems() == []
        finally:
            await console.stop()
            console.close()
            await proxy.close()
            await server.astop()
            store.close()

    asyncio.run(scenario())


def _receipts(store: ServerStore) -> int:
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(ReceiptRow)) or 0


@pytest.mark.parametrize(("seed", "graceful"), [(11, False), (12, False), (13, True)])
def test_server_killed_or_restarted_during_a_stream_of_pushes(templates, tmp_path, seed, graceful):
    """Two consoles book and edit continuously; the server is killed with -9 (or stopped with
    SIGTERM) at random moments three times and started again on the same database."""
    rng = random.Random(seed)

    async def scenario() -> None:
        db = clone(templates.server_db, tmp_path / "server.sqlite3")
        server = ServerProcess(str(db))
        await server.astart()
        store = ServerStore(str(db))
        proxies = [await FaultProxy("127.0.0.1", server.port).start() for _ in range(2)]
        token = store.token()
        consoles = [
            HeadlessConsole(
                clone(templates.console_cache, tmp_path / f"c{i}.sqlite3"),
                proxies[i].url,
                token,
                prefix=p,
                skew=skew,
            )
            for i, (p, skew) in enumerate([("KQ7", _hours(24)), ("WX4", _hours(-24))])
        ]
        try:
            for c in consoles:
                c.start()
            stop = asyncio.Event()

            async def work(i: int, c: HeadlessConsole) -> None:
                crng = random.Random(seed * 10 + i)
                cid = c.create_customer(crng, f"{seed}-{i}")
                k = 0
                while not stop.is_set() and k < 60:
                    if crng.random() < 0.7:
                        c.book(crng, cid, f"stream {seed}-{i}-{k}")
                    else:
                        c.edit_customer(cid, {"name": f"Stream {seed}-{i}-{k}"})
                    k += 1
                    await asyncio.sleep(crng.uniform(0.03, 0.15))

            workers = [asyncio.create_task(work(i, c)) for i, c in enumerate(consoles)]
            for _ in range(3):
                await asyncio.sleep(rng.uniform(0.3, 1.2))  # pushes are flowing: kill
                if graceful:
                    await server.astop()
                else:
                    server.kill9()
                await asyncio.sleep(rng.uniform(0.0, 0.4))
                await server.astart()
                for proxy in proxies:
                    proxy.retarget(server.port)
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*workers)
            for c in consoles:
                c.client.wake()
            await _until(
                lambda: all(c.outbox() == 0 and c.cursor() >= _server_version(store) for c in consoles),
                timeout=60,
                what="quiescence",
            )
            booked = [b.summary for c in consoles for b in c.booked]
            assert len(booked) > 10
            _exactly_once(store, booked, *[c.cache for c in consoles])
            _assert_converged(store, *[c.cache for c in consoles])
            for c in consoles:
                assert c.client.status.pending == 0 and c.client.problems() == []
        finally:
            for c in consoles:
                await c.stop()
                c.close()
            for proxy in proxies:
                await proxy.close()
            await server.astop()
            store.close()

    asyncio.run(scenario())


def _hours(h: int):
    from datetime import timedelta

    return timedelta(hours=h)


@pytest.mark.slow
def test_a_silently_dead_connection_is_noticed_and_the_queue_still_goes(templates, tmp_path):
    """The path dies without a reset (a black hole that never heals for the live connection, while
    new connections pass): the client must notice on its own (keepalive) and push through a new one."""

    async def scenario() -> None:
        store = ServerStore(str(clone(templates.server_db, tmp_path / "server.sqlite3")))
        server = InProcessServer(store)
        await server.start()
        proxy = await FaultProxy("127.0.0.1", server.port).start()
        console = HeadlessConsole(
            clone(templates.console_cache, tmp_path / "console.sqlite3"),
            proxy.url,
            store.token(),
            known=True,
            prefix="KQ7",
        )
        try:
            console.start()
            await _until(lambda: console.client.status.state == "online", what="online")
            proxy.blackhole()
            rng = random.Random(3)
            cid = console.create_customer(rng, "dead path")
            booked = [console.book(rng, cid, "dead path 0").summary]
            await asyncio.sleep(0.5)
            assert console.outbox() == 2
            proxy.set_pass(reset_held=False)  # the old connection stays a black hole
            await _until(
                lambda: console.outbox() == 0, timeout=120, what="the queue through a new connection"
            )
            await _until(lambda: console.cursor() >= _server_version(store), what="the pull")
            _exactly_once(store, booked, console.cache)
            _assert_converged(store, console.cache)
        finally:
            await console.stop()
            console.close()
            await proxy.close()
            await server.stop()
            store.close()

    asyncio.run(scenario())
