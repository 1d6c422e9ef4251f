"""Manager review of calls (models/call_review.py, models/call_review_intents.py): the list by period
and kind in the company's time zone, oldest first; each review intent's checks and its effect on the
classification (re-run by the one pure function); the audit trail; the server re-applies the edits."""

from __future__ import annotations

import shutil
from datetime import UTC, date, timedelta

import pytest
from sqlalchemy import func, select

from models.call_review import (
    REVIEW_INTENTS,
    call_history,
    period_bounds,
    review_calls,
    review_choices,
    review_row,
)
from models.calls import Call, CallClass
from models.customers import TagType
from models.db import open_cache
from models.handlers import HANDLERS
from models.journal import AuditEntry, OutboxEntry
from models.validation import ValidationFailed
from models.writer import LocalWriter
from sync.apply import Applier
from sync.protocol import Mutation
from tests.unit.booking_setup import NOW
from tests.unit.review_setup import RECORDING, THURSDAY, TODAY, TZ, ReviewSetup, build_review_setup, local


@pytest.fixture
def setup(cache) -> ReviewSetup:
    with cache.sessions.begin() as s:
        return build_review_setup(s)


@pytest.fixture
def manager(cache) -> LocalWriter:
    """A manager's console: the audit names them as the console does (display name)."""
    return LocalWriter(cache.sessions, actor="Pat Morgan", clock=lambda: NOW)


def listed(cache, first=THURSDAY, last=THURSDAY, tz=TZ, **kw) -> list:
    with cache.sessions() as s:
        return review_calls(s, first=first, last=last, tz=tz, **kw)


def call(cache, call_id: str) -> Call:
    with cache.sessions() as s:
        row = s.get(Call, call_id)
        s.expunge(row)
        return row


def refused(writer, name: str, args: dict) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as err:
        writer.execute(name, args)
    return err.value.errors


# -- the list ----------------------------------------------------------------------------------------------
def test_abandoned_and_unbooked_calls_of_the_day_oldest_first(cache, setup):
    c = setup.calls
    rows = listed(cache)
    assert [r.id for r in rows] == [c["unbooked"], c["abandoned"], c["booked"], c["late"]]
    assert [r.classification for r in rows] == ["Unbooked", "Abandoned", "Abandoned", "Abandoned"]
    unbooked, abandoned = rows[0], rows[1]
    assert unbooked.caller == "(214) 555-0101" and unbooked.caller_e164 == "+12145550101"
    assert unbooked.customer_name == "Maria Garcia" and unbooked.campaign == "Google Local Services"
    assert unbooked.agent_name == "Dana Reyes" and unbooked.duration_seconds == 180 and unbooked.answered
    assert unbooked.started_at == local(THURSDAY, 8).astimezone(TZ) and unbooked.started_at.hour == 8
    assert (
        abandoned.caller == "Unknown caller" and abandoned.customer_name == "" and abandoned.agent_name == ""
    )
    assert abandoned.ring_seconds == 40 and not abandoned.answered and abandoned.duration_seconds == 0
    assert abandoned.end_reason == "caller-hangup" and abandoned.recording_url == ""
    assert not abandoned.excused and abandoned.tags == () and abandoned.kind == "Abandoned"


def test_the_kind_filter(cache, setup):
    c = setup.calls
    assert [r.id for r in listed(cache, kinds=("Abandoned",))] == [c["abandoned"], c["booked"], c["late"]]
    assert [r.id for r in listed(cache, kinds=("Unbooked",))] == [c["unbooked"]]
    assert [r.id for r in listed(cache, kinds=("Excused",))] == [c["short"]]
    with pytest.raises(ValueError):
        listed(cache, kinds=("Nonsense",))


def test_days_are_the_company_time_zone_days(cache, setup):
    c = setup.calls
    # 23:30 on Thursday in Chicago is 05:30 on Friday in UTC: the day it belongs to depends on the zone.
    assert c["late"] in [r.id for r in listed(cache)]
    assert c["late"] not in [r.id for r in listed(cache, tz=UTC)]
    assert [r.id for r in listed(cache, TODAY, TODAY, tz=UTC)] == [c["late"], c["today"]]
    assert [r.id for r in listed(cache, TODAY, TODAY)] == [c["today"]]
    assert listed(cache, TODAY, TODAY, tz="America/Chicago") == listed(cache, TODAY, TODAY)
    # A range covers both days; dates given backwards are the same range.
    both = [r.id for r in listed(cache, THURSDAY, TODAY)]
    assert both == [c["unbooked"], c["abandoned"], c["booked"], c["late"], c["today"]]
    assert [r.id for r in listed(cache, TODAY, THURSDAY)] == both
    assert listed(cache, THURSDAY - timedelta(days=1), THURSDAY - timedelta(days=1)) == []


def test_ringing_outbound_and_other_classes_are_not_listed(cache, setup):
    ids = {r.id for r in listed(cache, THURSDAY, TODAY)}
    for name in ("ringing", "outbound", "short"):
        assert setup.calls[name] not in ids


def test_the_recording_is_on_the_row(cache, setup):
    (row,) = listed(cache, TODAY, TODAY)
    assert row.recording_url == RECORDING and row.ring_seconds == 20


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        ("today", date(2026, 11, 27), date(2026, 11, 27)),
        ("yesterday", date(2026, 11, 26), date(2026, 11, 26)),
        ("week", date(2026, 11, 23), date(2026, 11, 27)),  # Monday to today
        ("month", date(2026, 11, 1), date(2026, 11, 27)),
    ],
)
def test_periods(period, first, last):
    assert period_bounds(period, TODAY) == (first, last)


def test_a_week_and_a_month_that_start_today():
    monday, first = date(2026, 11, 23), date(2026, 12, 1)
    assert period_bounds("week", monday) == (monday, monday)
    assert period_bounds("month", first) == (first, first)
    with pytest.raises(ValueError):
        period_bounds("fortnight", TODAY)


def test_choices_are_active_users_and_reasons(cache, setup):
    with cache.sessions() as s:
        choices = review_choices(s)
    assert [u.name for u in choices.users] == ["Dana Reyes", "Lee Chen", "Pat Morgan", "Sam Ortiz"]
    assert choices.users[2].role == "manager"
    assert [(r.id, r.is_lead) for r in choices.reasons] == [("quote", True), ("wrong", False)]


def test_review_intents_are_registered():
    assert REVIEW_INTENTS <= set(HANDLERS)


# -- attach the CSR -----------------------------------------------------------------------------------------
def test_an_abandoned_call_attached_to_a_csr_becomes_unbooked_excused_or_booked(cache, setup, manager):
    c = setup.calls
    manager.execute("attach_agent", {"call_id": c["late"], "agent_id": "lee"})  # talked 90 s: a lead
    assert call(cache, c["late"]).classification is CallClass.UNBOOKED
    assert call(cache, c["late"]).agent_id == "lee"
    manager.execute("attach_agent", {"call_id": c["abandoned"], "agent_id": "dana"})  # never answered: 0 s
    assert call(cache, c["abandoned"]).classification is CallClass.EXCUSED
    manager.execute("attach_agent", {"call_id": c["booked"], "agent_id": "dana"})  # its job was booked
    assert call(cache, c["booked"]).classification is CallClass.BOOKED
    rows = listed(cache)
    assert [r.id for r in rows] == [c["unbooked"], c["late"]]
    assert rows[1].agent_name == "Lee Chen" and rows[1].kind == "Unbooked"


def test_the_wrong_csr_is_replaced(cache, setup, manager):
    manager.execute("attach_agent", {"call_id": setup.calls["unbooked"], "agent_id": "sam"})
    row = listed(cache)[0]
    assert row.agent_id == "sam" and row.agent_name == "Sam Ortiz" and row.classification == "Unbooked"


@pytest.mark.parametrize(
    ("args", "key", "text"),
    [
        ({"agent_id": "dana"}, "call_id", "Missing call id."),
        ({"call_id": "nope", "agent_id": "dana"}, "call_id", "not on this PC"),
        ({"call_id": "@ringing", "agent_id": "dana"}, "call_id", "still going on"),
        ({"call_id": "@outbound", "agent_id": "dana"}, "call_id", "Outbound calls"),
        ({"call_id": "@late"}, "agent_id", "Pick the CSR who took the call."),
        ({"call_id": "@late", "agent_id": ""}, "agent_id", "Pick the CSR"),
        ({"call_id": "@late", "agent_id": 7}, "agent_id", "Pick the CSR"),
        ({"call_id": "@late", "agent_id": "x" * 40}, "agent_id", "Malformed agent id."),
        ({"call_id": "@late", "agent_id": "ghost"}, "agent_id", "not an active user"),
        ({"call_id": "@late", "agent_id": "gone"}, "agent_id", "not an active user"),
    ],
)
def test_attach_agent_checks(cache, setup, manager, args, key, text):
    args = {k: setup.calls[v[1:]] if isinstance(v, str) and v.startswith("@") else v for k, v in args.items()}
    errors = refused(manager, "attach_agent", args)
    assert list(errors) == [key] and text in errors[key]
    with cache.sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEntry)) == 0  # nothing queued
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


# -- reclassify ---------------------------------------------------------------------------------------------
def test_reclassify_decides_lead_or_not(cache, setup, manager):
    c = setup.calls
    manager.execute("reclassify_call", {"call_id": c["unbooked"], "call_reason_id": "wrong"})
    assert call(cache, c["unbooked"]).classification is CallClass.NOT_LEAD
    assert c["unbooked"] not in [r.id for r in listed(cache)]  # left the review
    manager.execute("reclassify_call", {"call_id": c["short"], "call_reason_id": "quote"})
    assert call(cache, c["short"]).classification is CallClass.UNBOOKED  # 30 s, but a lead
    manager.execute("reclassify_call", {"call_id": c["abandoned"], "call_reason_id": "quote"})
    assert call(cache, c["abandoned"]).classification is CallClass.ABANDONED  # still nobody's call
    row = next(r for r in listed(cache) if r.id == c["short"])
    assert row.reason == "Wants a quote" and row.call_reason_id == "quote"


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (None, "Pick the call reason."),
        ("", "Pick the call reason."),
        ("gone", "no longer exists"),
        ("old", "'Old reason' is no longer used"),
    ],
)
def test_reclassify_checks(cache, setup, manager, reason, text):
    errors = refused(manager, "reclassify_call", {"call_id": setup.calls["late"], "call_reason_id": reason})
    assert list(errors) == ["call_reason_id"] and text in errors["call_reason_id"]


# -- excuse --------------------------------------------------------------------------------------------------
def test_excuse_then_unexcuse(cache, setup, manager):
    cid = setup.calls["unbooked"]
    manager.execute("excuse_call", {"call_id": cid, "memo": "  Caller wanted the gas company  "})
    got = call(cache, cid)
    assert got.classification is CallClass.EXCUSED and got.excused
    assert got.excuse_memo == "Caller wanted the gas company"
    # Still listed with the Unbooked calls (what it was), so the excuse can be read and withdrawn.
    assert [r.id for r in listed(cache, kinds=("Abandoned",))] == [
        setup.calls[n] for n in ("abandoned", "booked", "late")
    ]
    (row,) = listed(cache, kinds=("Unbooked",))
    assert row.id == cid and row.classification == "Excused" and row.kind == "Unbooked" and row.excused
    assert row.excuse_memo == "Caller wanted the gas company"
    manager.execute("excuse_call", {"call_id": cid, "memo": "Gas company, not us"})  # a new memo
    assert call(cache, cid).excuse_memo == "Gas company, not us"
    manager.execute("unexcuse_call", {"call_id": cid})
    got = call(cache, cid)
    assert got.classification is CallClass.UNBOOKED and not got.excused and got.excuse_memo == ""
    manager.execute("unexcuse_call", {"call_id": cid})  # again: nothing
    assert call(cache, cid).classification is CallClass.UNBOOKED


def test_an_excused_abandoned_call_stays_excused_when_a_csr_is_attached(cache, setup, manager):
    cid = setup.calls["late"]
    manager.execute("excuse_call", {"call_id": cid, "memo": "Line test"})
    manager.execute("attach_agent", {"call_id": cid, "agent_id": "lee"})
    assert call(cache, cid).classification is CallClass.EXCUSED
    with cache.sessions() as s:
        assert review_row(s, cid, tz=TZ).kind == "Unbooked"
        assert review_row(s, cid, kinds=("Abandoned",), tz=TZ) is None
    manager.execute("unexcuse_call", {"call_id": cid})
    assert call(cache, cid).classification is CallClass.UNBOOKED


@pytest.mark.parametrize(
    ("memo", "text"),
    [
        (None, "Write why the call is excused."),
        ("", "Write why"),
        ("   ", "Write why"),
        (12, "Write why"),
        ("x" * 501, "too long (at most 500 characters)"),
        ("bad\x00memo", "can't be stored"),
    ],
)
def test_excuse_checks(cache, setup, manager, memo, text):
    errors = refused(manager, "excuse_call", {"call_id": setup.calls["late"], "memo": memo})
    assert list(errors) == ["memo"] and text in errors["memo"]
    assert not call(cache, setup.calls["late"]).excused


def test_a_memo_of_500_characters_is_kept(cache, setup, manager):
    manager.execute("excuse_call", {"call_id": setup.calls["late"], "memo": "y" * 500})
    assert len(call(cache, setup.calls["late"]).excuse_memo) == 500


# -- tags -------------------------------------------------------------------------------------------------
def test_tags_replace_the_calls_tags_and_become_tag_types(cache, setup, manager):
    cid = setup.calls["abandoned"]
    manager.execute("tag_call", {"call_id": cid, "tags": ["Call back", " After hours ", "", "call back"]})
    assert call(cache, cid).tags == ["Call back", "After hours"]
    assert listed(cache)[1].tags == ("Call back", "After hours")
    with cache.sessions() as s:
        assert set(s.scalars(select(TagType.name))) >= {"Call back", "After hours"}
    manager.execute("tag_call", {"call_id": cid, "tags": ["After hours"]})
    assert call(cache, cid).tags == ["After hours"]
    manager.execute("tag_call", {"call_id": cid, "tags": []})
    assert call(cache, cid).tags == []
    assert call(cache, cid).classification is CallClass.ABANDONED


@pytest.mark.parametrize(
    ("tags", "text"),
    [
        (None, "Tags must be a list"),
        ("Call back", "Tags must be a list"),
        ([1], "Tags must be a list"),
        ([f"t{i}" for i in range(21)], "at most 20 tags"),
        (["x" * 61], "is too long"),
    ],
)
def test_tag_checks(cache, setup, manager, tags, text):
    errors = refused(manager, "tag_call", {"call_id": setup.calls["late"], "tags": tags})
    assert list(errors) == ["tags"] and text in errors["tags"]


# -- the audit trail --------------------------------------------------------------------------------------------
def test_every_edit_is_audited_and_queued(cache, setup, manager):
    cid = setup.calls["late"]
    manager.execute("attach_agent", {"call_id": cid, "agent_id": "lee"})
    manager.execute("reclassify_call", {"call_id": cid, "call_reason_id": "quote"})
    manager.execute("excuse_call", {"call_id": cid, "memo": "Test call from the phone company"})
    manager.execute("unexcuse_call", {"call_id": cid})
    manager.execute("tag_call", {"call_id": cid, "tags": ["Call back"]})
    with cache.sessions() as s:
        audit = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        outbox = list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)))
        history = call_history(s, cid, tz=TZ)
        other = call_history(s, setup.calls["abandoned"], tz=TZ)
    assert (
        [a.action for a in audit]
        == [o.name for o in outbox]
        == ["attach_agent", "reclassify_call", "excuse_call", "unexcuse_call", "tag_call"]
    )
    assert {(a.actor, a.entity, a.entity_id) for a in audit} == {("Pat Morgan", "call", cid)}
    assert audit[2].details == {"call_id": cid, "memo": "Test call from the phone company"}
    assert [a.mutation_id for a in audit] == [o.mutation_id for o in outbox]
    assert [h.text for h in history] == [
        "Tags: Call back",
        "Excuse withdrawn",
        "Excused: Test call from the phone company",
        "Call reason set to Wants a quote",
        "Attached Lee Chen",
    ]
    assert {h.actor for h in history} == {"Pat Morgan"} and all(h.saved_locally for h in history)
    assert history[0].at.tzinfo is TZ and other == []


def test_history_names_users_by_id_and_knows_what_was_confirmed(cache, setup, manager):
    cid = setup.calls["late"]
    manager.execute("attach_agent", {"call_id": cid, "agent_id": "lee"})
    with cache.sessions.begin() as s:
        s.add(
            AuditEntry(
                actor="sam",
                entity="call",
                entity_id=cid,
                action="close_call",
                details={"call_id": cid, "call_reason_id": "wrong"},
            )
        )
        s.query(OutboxEntry).delete()  # the server confirmed the attach
    with cache.sessions() as s:
        history = call_history(s, cid, tz=TZ)
    assert [(h.actor, h.text, h.saved_locally) for h in history] == [
        ("Sam Ortiz", "Closed with reason Wrong number", False),
        ("Pat Morgan", "Attached Lee Chen", False),
    ]


# -- the server re-applies -------------------------------------------------------------------------------------
def test_the_server_re_applies_a_managers_offline_edits(tmp_path, postal_list):
    server_path, console_path = tmp_path / "server.sqlite3", tmp_path / "console.sqlite3"
    server = open_cache(server_path)
    with server.sessions.begin() as s:
        setup = build_review_setup(s)
    server.close()
    shutil.copy(server_path, console_path)  # the console's copy of the server's rows
    server, console = open_cache(server_path), open_cache(console_path)
    try:
        writer = LocalWriter(console.sessions, actor="Pat Morgan", clock=lambda: NOW)
        late, unbooked = setup.calls["late"], setup.calls["unbooked"]
        writer.execute("attach_agent", {"call_id": late, "agent_id": "lee"})
        writer.execute("excuse_call", {"call_id": unbooked, "memo": "Wrong department"})
        writer.execute("tag_call", {"call_id": late, "tags": ["Call back"]})
        with console.sessions() as s:
            mutations = [
                Mutation(seq=o.seq, mutation_id=o.mutation_id, name=o.name, args=o.args)
                for o in s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq))
            ]
        result = Applier(server.sessions, clock=lambda: NOW).push("console-1", "pat", mutations)
        assert [r.status for r in result.receipts] == ["applied"] * 3
        for cid in (late, unbooked):
            assert call(server, cid).classification is call(console, cid).classification
        assert call(server, late).classification is CallClass.UNBOOKED and call(server, late).tags == [
            "Call back"
        ]
        with server.sessions() as s:
            history = call_history(s, late, tz=TZ)
            assert {a.actor for a in s.scalars(select(AuditEntry))} == {"pat"}
        assert [(h.actor, h.text) for h in history] == [
            ("Pat Morgan", "Tags: Call back"),
            ("Pat Morgan", "Attached Lee Chen"),
        ]
    finally:
        server.close()
        console.close()
