"""Sync failures that must never be silent (issue 12), reproduced with a scripted server: a refusal
that survives a drop between its receipt and the restore of the rows it touched, a session the
server no longer accepts, and an oversized change queued by an older console.

Each scenario failed on the client before the fix: the refused outbox row was deleted before
anything was stored (the refusal lived in memory only), an expired token looked like a network
failure (Offline, retried forever), and a too-large entry was resent forever.
"""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select
from websockets.asyncio.server import serve

from models.customers import Customer
from models.journal import ClientState, OutboxEntry
from models.sync_tables import SyncProblem
from models.writer import LocalWriter
from sync.client import Outcome, SyncClient, acknowledge, unacknowledged
from tests.unit.conftest import customer_args

WELCOME = {"type": "welcome", "protocol": 1, "server_version": 0, "next_seq": 1}
EMPTY_PLAN = {
    "type": "snapshot_page",
    "server_version": 0,
    "rows": [],
    "table": "*",
    "columns": [],
    "after": "",
    "done": True,
}


def _count(cache, model) -> int:
    with cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


async def _until(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


def _refusing_server(fetches: list[list], drop_first_fetch: bool):
    """Refuses every pushed change; answers ``fetch`` with deletes (the rows don't exist on the server),
    except that it drops the connection at the first fetch when ``drop_first_fetch``."""

    async def handler(ws) -> None:
        async for frame in ws:
            msg = json.loads(frame)
            if msg["type"] == "hello":
                await ws.send(json.dumps(WELCOME))
            elif msg["type"] == "snapshot":
                await ws.send(json.dumps(EMPTY_PLAN))
            elif msg["type"] == "push":
                await ws.send(
                    json.dumps(
                        {
                            "type": "receipts",
                            "receipts": [
                                {
                                    "seq": m["seq"],
                                    "mutation_id": m["mutation_id"],
                                    "status": "rejected",
                                    "errors": {"name": "This customer already exists."},
                                }
                                for m in msg["mutations"]
                            ],
                        }
                    )
                )
            elif msg["type"] == "fetch":
                fetches.append(msg["keys"])
                if drop_first_fetch and len(fetches) == 1:
                    await ws.close()
                    return
                await ws.send(
                    json.dumps(
                        {
                            "type": "rows",
                            "changes": [
                                {"version": 0, "entity": t, "entity_id": k, "op": "delete"}
                                for t, k in msg["keys"]
                            ],
                        }
                    )
                )
            elif msg["type"] == "pull":
                await ws.send(json.dumps({"type": "changes", "changes": [], "cursor": 0, "more": False}))

    return handler


def test_a_refusal_survives_a_drop_before_the_restore_and_is_shown_once(cache):
    writer = LocalWriter(cache.sessions)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    told: list[Outcome] = []
    fetches: list[list] = []

    async def scenario() -> None:
        async with serve(_refusing_server(fetches, drop_first_fetch=True), "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            client = SyncClient(cache, url, token=lambda: "t", backoff=(0.05, 0.1), on_outcomes=told.extend)
            task = asyncio.create_task(client.run())
            await _until(lambda: len(fetches) >= 2 and client.status.state == "online")
            client.stop()
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    # The receipt's transaction stored the refusal with the rows to restore; the drop came before the
    # restore; the next session restored them first and told the CSR — once.
    assert _count(cache, OutboxEntry) == 0
    with cache.sessions() as s:
        assert s.get(Customer, cid) is None  # the server's copy: it doesn't exist
        problems = list(s.scalars(select(SyncProblem)))
    assert len(problems) == 1 and problems[0].kind == "rejected" and problems[0].restore == []
    assert [o.mutation_id for o in told] == [problems[0].mutation_id]
    assert [o.receipt["errors"] for o in unacknowledged(cache)] == [{"name": "This customer already exists."}]
    # Acknowledged, it leaves the list for good (also after a restart: it is stored).
    assert acknowledge(cache, problems[0].mutation_id)
    assert unacknowledged(cache) == []


def test_a_refusal_stored_before_a_crash_is_restored_at_the_next_start(cache):
    """The console died between the receipt and the restore: the next start restores the rows first."""
    writer = LocalWriter(cache.sessions)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with cache.sessions.begin() as s:
        entry = s.scalar(select(OutboxEntry))
        s.add(
            SyncProblem(
                mutation_id=entry.mutation_id,
                seq=entry.seq,
                kind="rejected",
                name=entry.name,
                args=entry.args,
                receipt={
                    "mutation_id": entry.mutation_id,
                    "status": "rejected",
                    "errors": {"form": "Refused."},
                },
                restore=entry.touched,
            )
        )
        s.delete(entry)
    told: list[Outcome] = []
    fetches: list[list] = []

    async def scenario() -> None:
        async with serve(_refusing_server(fetches, drop_first_fetch=False), "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            client = SyncClient(cache, url, token=lambda: "t", backoff=(0.05, 0.1), on_outcomes=told.extend)
            task = asyncio.create_task(client.run())
            await _until(lambda: client.status.state == "online")
            client.stop()
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert fetches and ["customers", cid] in fetches[0]
    with cache.sessions() as s:
        assert s.get(Customer, cid) is None
    assert len(told) == 1


def test_an_expired_session_asks_to_sign_in_again_and_keeps_the_queue(cache):
    writer = LocalWriter(cache.sessions)
    writer.execute("create_customer", customer_args())
    hellos: list[str] = []
    states: list[str] = []

    async def scenario() -> None:
        async def handler(ws) -> None:
            async for frame in ws:
                msg = json.loads(frame)
                if msg["type"] == "hello":
                    hellos.append(msg.get("token"))
                    await ws.send(
                        json.dumps(
                            {
                                "type": "error",
                                "code": "token_expired",
                                "message": "Your session expired; log in again.",
                            }
                        )
                    )

        async with serve(handler, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            client = SyncClient(
                cache,
                url,
                token=lambda: "old",
                backoff=(0.01, 0.02),
                on_status=lambda st: states.append(st.state),
            )
            await asyncio.wait_for(client.run(), 5)  # it stops asking: it needs a new sign-in
            assert client.status.state == "signed_out"
            assert "expired" in client.status.message and client.status.pending == 1

    asyncio.run(scenario())
    assert hellos == ["old"]  # not retried as if the network had failed
    assert "offline" not in states
    assert _count(cache, OutboxEntry) == 1


def test_an_oversized_queued_change_is_refused_and_the_queue_moves_on(cache):
    """An entry queued by an older console that can never fit a frame: sent without its arguments,
    refused by the server with a receipt, stored as a problem; the next change goes through."""
    writer = LocalWriter(cache.sessions)
    writer.execute("create_customer", customer_args())
    with cache.sessions.begin() as s:
        state = s.scalar(select(ClientState))
        first = s.scalar(select(OutboxEntry))
        s.add(
            OutboxEntry(
                client_id=state.client_id,
                seq=first.seq + 1,
                mutation_id="big" * 8,
                name="add_note",
                args={"customer_id": "x", "text": "x" * 1_200_000},
            )
        )
        state.next_seq = first.seq + 2
    writer.execute("create_customer", customer_args(name="Bo Kim", phone="(214) 555-0199"))
    frames: list[int] = []
    names: list[str] = []

    async def scenario() -> None:
        async def handler(ws) -> None:
            async for frame in ws:
                msg = json.loads(frame)
                if msg["type"] == "hello":
                    await ws.send(json.dumps(WELCOME))
                elif msg["type"] == "snapshot":
                    await ws.send(json.dumps(EMPTY_PLAN))
                elif msg["type"] == "push":
                    frames.append(len(frame))
                    names.extend(m["name"] for m in msg["mutations"])
                    await ws.send(
                        json.dumps(
                            {
                                "type": "receipts",
                                "receipts": [
                                    {
                                        "seq": m["seq"],
                                        "mutation_id": m["mutation_id"],
                                        "status": "rejected" if m["name"] == "oversize_change" else "applied",
                                        "errors": {"size": "too large"}
                                        if m["name"] == "oversize_change"
                                        else {},
                                    }
                                    for m in msg["mutations"]
                                ],
                            }
                        )
                    )
                elif msg["type"] == "fetch":
                    await ws.send(json.dumps({"type": "rows", "changes": []}))
                elif msg["type"] == "pull":
                    await ws.send(json.dumps({"type": "changes", "changes": [], "cursor": 0, "more": False}))

        async with serve(handler, "127.0.0.1", 0, max_size=2**20) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            client = SyncClient(cache, url, token=lambda: "t", backoff=(0.05, 0.1))
            task = asyncio.create_task(client.run())
            await _until(lambda: client.status.state == "online" and client.pending() == 0)
            client.stop()
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert names == ["create_customer", "oversize_change", "create_customer"]
    assert max(frames) < 2**20
    problems = unacknowledged(cache)
    assert len(problems) == 1 and problems[0].name == "add_note"
    assert "too large" in problems[0].receipt["errors"]["size"]


def test_a_change_too_large_to_send_is_refused_before_it_is_queued(cache, monkeypatch):
    import pytest

    import models.writer
    from models.validation import ValidationFailed

    monkeypatch.setattr(models.writer, "MAX_MUTATION_BYTES", 2_000)
    writer = LocalWriter(cache.sessions)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with pytest.raises(ValidationFailed) as refused:
        writer.execute("add_note", {"note": {"customer_id": cid, "text": "x" * 3_000}})
    assert "too large to send" in refused.value.errors["size"]
    assert _count(cache, OutboxEntry) == 1
