"""A group of messages' state moves (the sender's record, a group of status callbacks) is ONE compact
``patch`` entry in the change log, not a full row per message; a callback that changes nothing the CSR
sees writes nothing; a console applies the patch to the rows it has, and an older console (protocol 1)
gets the same as one partial upsert per row — both end with the server's rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from models.db import open_cache
from models.notifications import NoticeStatus, Notification
from models.sync_tables import ChangeRow
from sync.messaging import SendResult
from sync.notify_sender import NotifySender
from sync.notify_webhooks import MessagingHooks
from sync.notify_writes import PATCH_COLUMNS
from sync.protocol import Change
from sync.pull_cache import expand_patches
from sync.puller import Puller

from .notify_setup import NOTIFY, make_store

DAY = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 11:00 in Dallas: no quiet hours


@pytest.fixture
def store(cache):
    return make_store(cache.sessions, notify=NOTIFY, clock=lambda: DAY)


def _log_since(store, version: int) -> list[ChangeRow]:
    rows, _last, _more = store.applier.changes_since(version, 10_000)
    return rows


def _wire(rows: list[ChangeRow]) -> list[dict]:
    """As a console receives them (encoded and decoded)."""
    return [
        json.loads(
            Change(
                version=r.version, entity=r.entity, entity_id=r.entity_id, op=r.op, data=r.data
            ).model_dump_json()
        )
        for r in rows
    ]


def _states(sessions) -> dict[str, tuple]:
    with sessions() as s:
        return {
            n.id: tuple(getattr(n, c) for c in (*PATCH_COLUMNS, "body", "to_address"))
            for n in s.scalars(select(Notification))
        }


def test_a_group_of_state_moves_is_one_patch_and_consoles_old_and_new_end_with_the_servers_rows(
    store, tmp_path
):
    for _ in range(3):
        cid, loc = store.customer()
        store.book(cid, loc)
    queued = _log_since(store, 0)
    before = max(r.version for r in queued)
    consoles = {name: open_cache(tmp_path / f"{name}.sqlite3") for name in ("new", "old")}
    pullers = {name: Puller(c, 1000, lambda _ids: None, lambda _t: None) for name, c in consoles.items()}
    for puller in pullers.values():  # both start with the queued messages, logged whole
        puller.apply_changes(_wire(queued), before)

    sender = NotifySender(store.sessions, clock=lambda: DAY)
    claimed, version = sender._claim()
    assert claimed and version == 0  # a claim writes no change-log rows
    answered = [(c, SendResult("accepted", f"SM{n:032d}", "queued"), DAY) for n, c in enumerate(claimed)]
    recorded = sender._record(answered)
    log = _log_since(store, before)
    assert [(r.entity, r.op, r.version) for r in log] == [("notifications", "patch", recorded)]
    assert log[0].entity_id == "" and log[0].data["columns"] == list(PATCH_COLUMNS)
    assert sorted(row[0] for row in log[0].data["rows"]) == sorted(c.id for c in claimed)

    hooks = MessagingHooks(store.sessions, clock=lambda: DAY)
    callbacks = [
        ({"MessageSid": r.provider_id, "MessageStatus": status}, c.id)
        for c, r, _t in answered
        for status in ("sent", "delivered")
    ]
    delivered = hooks.statuses(callbacks)
    log = _log_since(store, recorded)
    assert [(r.op, r.version) for r in log] == [("patch", delivered)]
    # Redelivered and late callbacks change nothing a CSR sees: nothing logged.
    assert hooks.statuses(callbacks) == 0
    assert _log_since(store, delivered) == []

    changes = _wire(_log_since(store, before))
    pullers["new"].apply_changes(changes, delivered)
    old, cursor, more = expand_patches([Change(**c) for c in changes], delivered, False, 1000)
    assert not more and cursor == delivered and all(c.op == "upsert" for c in old)
    assert len(old) == 2 * len(claimed)  # one partial upsert per message per patch
    pullers["old"].apply_changes([json.loads(c.model_dump_json()) for c in old], cursor)

    server = _states(store.sessions)
    assert {m for m, s in server.items() if s[0] is NoticeStatus.DELIVERED} == {c.id for c in claimed}
    for name, console in consoles.items():
        assert _states(console.sessions) == server, name
        console.close()


def test_expanding_a_page_of_patches_for_an_old_console_stops_near_the_limit():
    def patch(version: int, n: int) -> Change:
        rows = [[f"n{version}-{i}", "sent"] for i in range(n)]
        return Change(
            version=version,
            entity="notifications",
            entity_id="",
            op="patch",
            data={"columns": ["status"], "rows": rows},
        )

    page = [
        patch(1, 3),
        Change(version=2, entity="customers", entity_id="c1", op="upsert", data={"id": "c1"}),
        patch(3, 3),
    ]
    out, cursor, more = expand_patches(page, 3, False, 4)
    assert (len(out), cursor, more) == (4, 2, True)  # the entry that reached the limit ends the page
    assert out[0].data == {"id": "n1-0", "status": "sent"} and out[0].entity_id == "n1-0"
    out, cursor, more = expand_patches(page, 3, False, 100)
    assert (len(out), cursor, more) == (7, 3, False)
