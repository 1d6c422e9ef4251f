"""The callback queue (models/callbacks.py): which ended calls open an item (in the transaction that
ends them), the queue's order, and the claim — first wins, the second CSR is refused and told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models.attribution import ACTOR_ID
from models.call_store import claim_call, record_events
from models.callbacks import (
    Callback,
    CallbackStatus,
    callback_kpis,
    claim_callback,
    open_queue,
    queue_stats,
    record_callback_outcome,
)
from models.calls import Call, CallDirection, CallEventKind, NeutralEvent
from models.setup import User
from models.validation import ValidationFailed

T0 = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)
K = CallEventKind


@pytest.fixture
def store(cache):
    with cache.sessions.begin() as s:
        for uid, name in (("dana", "Dana Reyes"), ("lee", "Lee Chen")):
            s.add(User(id=uid, username=uid, display_name=name, role="csr"))
    return cache


def ev(kind, seconds, call="CA1", **kw) -> NeutralEvent:
    kw.setdefault("from_number", "+12145550101")
    kw.setdefault("to_number", "+12145550100")
    return NeutralEvent(
        "twilio", call, f"{call}:{kind}:{seconds}", kind, T0 + timedelta(seconds=seconds), **kw
    )


def record(store, *events):
    with store.sessions.begin() as s:
        record_events(s, list(events))


def items(store) -> list[Callback]:
    with store.sessions() as s:
        rows = list(s.scalars(select(Callback)))
        for r in rows:
            s.expunge(r)
        return rows


def call_id(store, provider_call_id="CA1") -> str:
    with store.sessions() as s:
        return s.scalar(select(Call.id).where(Call.provider_call_id == provider_call_id))


def test_an_unanswered_call_opens_one_item_when_it_ends(store):
    record(store, ev(K.OFFERED, 0), ev(K.QUEUED, 1))
    assert items(store) == []  # still waiting: no item yet
    record(store, ev(K.ENDED, 40, end_reason="caller_hangup"))
    [item] = items(store)
    assert item.id == call_id(store) and item.phone == "+12145550101"
    assert item.status == CallbackStatus.OPEN and not item.voicemail
    assert item.waiting_since.replace(tzinfo=UTC) == T0 + timedelta(seconds=40)
    record(store, ev(K.ENDED, 41))  # a late duplicate end: still one item
    assert len(items(store)) == 1


def test_a_voicemail_is_flagged_even_when_its_recording_comes_after_the_end(store):
    record(store, ev(K.OFFERED, 0), ev(K.VOICEMAIL, 1), ev(K.ENDED, 30))
    [item] = items(store)
    assert not item.voicemail  # sent to voicemail, no message (yet)
    record(store, ev(K.RECORDING, 31, recording_url="https://rec/1", recording_seconds=12))
    [item] = items(store)
    assert item.voicemail and not item.requested
    with store.sessions() as s:
        assert s.get(Call, item.id).routed_to == "voicemail"


def test_an_answered_call_nobody_claimed_is_not_a_voicemail_though_it_was_recorded(store):
    # A CSR's leg answered (and recorded) but the bubble was never clicked: Abandoned, owed a call back,
    # and its recording is the conversation, not a message.
    record(store, ev(K.OFFERED, 0), ev(K.ANSWERED, 3, agent="dana"), ev(K.ENDED, 90))
    record(store, ev(K.RECORDING, 91, recording_url="https://rec/2", recording_seconds=87))
    [item] = items(store)
    assert not item.voicemail and not item.requested


def test_a_caller_who_asked_for_a_callback_gets_one_item_at_once(store):
    record(store, ev(K.OFFERED, 0), ev(K.VOICEMAIL, 1), ev(K.CALLBACK_REQUESTED, 9))
    [item] = items(store)  # before the call even ends
    assert item.requested and not item.voicemail and item.status == CallbackStatus.OPEN
    assert item.waiting_since.replace(tzinfo=UTC) == T0 + timedelta(seconds=9)
    record(store, ev(K.CALLBACK_REQUESTED, 9), ev(K.ENDED, 12))  # redelivered, then the end
    [again] = items(store)
    assert again.id == item.id and again.waiting_since == item.waiting_since
    with store.sessions() as s:
        call = s.get(Call, item.id)
        assert call.routed_to == "callback" and call.classification == "Abandoned"


def test_no_item_for_an_anonymous_caller_a_claimed_call_or_an_outbound_call(store):
    record(store, ev(K.OFFERED, 0, call="ANON", from_number="anonymous"), ev(K.ENDED, 20, call="ANON"))
    record(store, ev(K.OFFERED, 0, call="TOOK"), ev(K.ANSWERED, 2, call="TOOK"))
    with store.sessions.begin() as s:
        claim_call(s, call_id(store, "TOOK"), "dana")
    record(store, ev(K.ENDED, 90, call="TOOK"))
    record(
        store,
        ev(
            K.OFFERED,
            0,
            call="OUT",
            direction=CallDirection.OUTBOUND,
            from_number="+12145550100",
            to_number="+12145550199",
        ),
        ev(K.ENDED, 5, call="OUT", direction=CallDirection.OUTBOUND),
    )
    assert items(store) == []


def test_the_queue_is_longest_waiting_first_and_done_items_leave_it(store):
    for n, ended in (("B", 300), ("A", 100), ("C", 200)):
        record(
            store,
            ev(K.OFFERED, 0, call=n, from_number=f"+1214555010{ord(n) - 64}"),
            ev(K.ENDED, ended, call=n),
        )
    with store.sessions() as s:
        queue = open_queue(s)
        assert [q.phone for q in queue] == ["+12145550101", "+12145550103", "+12145550102"]
        stats = queue_stats(queue, T0 + timedelta(seconds=400))
    assert (stats.open_count, stats.longest_wait_seconds) == (3, 300)
    with store.sessions() as s:  # the floor board's tile says the same from one query
        assert callback_kpis(s, T0 + timedelta(seconds=400)) == {
            "callbacks_open": 3,
            "callbacks_longest_wait_s": 300,
        }
    a = call_id(store, "A")
    with store.sessions.begin() as s:
        s.info[ACTOR_ID] = "dana"
        claim_callback(s, {"callback_id": a})
        # a claimed item is no longer waiting: the longest wait is the next one's
        assert queue_stats(open_queue(s), T0 + timedelta(seconds=400)).longest_wait_seconds == 200
        record_callback_outcome(s, {"callback_id": a, "outcome": "no_answer"})
    with store.sessions() as s:
        assert [q.phone for q in open_queue(s)] == ["+12145550103", "+12145550102"]
        assert s.get(Callback, a).outcome == "no_answer"


def test_the_second_claim_is_refused_and_says_who_has_it(store):
    record(store, ev(K.OFFERED, 0), ev(K.ENDED, 30))
    cid = call_id(store)
    with store.sessions.begin() as s:
        s.info[ACTOR_ID] = "dana"
        claim_callback(s, {"callback_id": cid, "user_id": "dana"})
        claim_callback(s, {"callback_id": cid})  # again: nothing changes
    with pytest.raises(ValidationFailed) as refused:
        with store.sessions.begin() as s:
            s.info[ACTOR_ID] = "lee"
            claim_callback(s, {"callback_id": cid})
    assert "Dana Reyes already took this callback" in str(refused.value.errors)
    with store.sessions() as s:
        assert s.get(Callback, cid).claimed_by == "dana"


def test_the_server_credits_the_signed_in_user_not_the_message(store):
    record(store, ev(K.OFFERED, 0), ev(K.ENDED, 30))
    with pytest.raises(ValidationFailed):
        with store.sessions.begin() as s:
            s.info[ACTOR_ID] = "lee"
            claim_callback(s, {"callback_id": call_id(store), "user_id": "dana"})
    assert items(store)[0].claimed_by is None


def test_only_the_claimer_records_a_known_outcome(store):
    record(store, ev(K.OFFERED, 0), ev(K.ENDED, 30))
    cid = call_id(store)
    with store.sessions.begin() as s:
        s.info[ACTOR_ID] = "dana"
        claim_callback(s, {"callback_id": cid})
    with pytest.raises(ValidationFailed, match="outcome"):
        with store.sessions.begin() as s:
            s.info[ACTOR_ID] = "dana"
            record_callback_outcome(s, {"callback_id": cid, "outcome": "maybe"})
    with pytest.raises(ValidationFailed) as refused:
        with store.sessions.begin() as s:
            s.info[ACTOR_ID] = "lee"
            record_callback_outcome(s, {"callback_id": cid, "outcome": "booked"})
    assert "Take this callback" in str(refused.value.errors)
    with store.sessions.begin() as s:
        s.info[ACTOR_ID] = "dana"
        record_callback_outcome(s, {"callback_id": cid, "outcome": "booked"})
    [item] = items(store)
    assert (item.status, item.outcome) == ("done", "booked")


def test_call_review_says_what_became_of_the_callback():
    from models.call_review import callback_state

    assert callback_state(None, None) == ""
    assert callback_state("open", "") == "Callback open"
    assert callback_state("claimed", "") == "Callback taken"
    assert callback_state("done", "wrong_number") == "Called back: Wrong number"
    # what routing did with the caller comes first
    assert callback_state("open", "", "voicemail", True) == "Voicemail · Callback open"
    assert callback_state("open", "", "voicemail", False) == "Voicemail, no message · Callback open"
    assert callback_state("claimed", "", "callback") == "Asked for a callback · Callback taken"


def test_review_rows_and_details_say_voicemail_not_unanswered(store):
    from models.call_review import review_row
    from models.callbacks import kind_text

    record(store, ev(K.OFFERED, 0), ev(K.VOICEMAIL, 1), ev(K.ENDED, 30))
    record(store, ev(K.RECORDING, 31, recording_url="https://rec/1", recording_seconds=12))
    with store.sessions() as s:
        row = review_row(s, call_id(store), tz="UTC")
    assert row.voicemail and row.routed_to == "voicemail" and row.recording_seconds == 12
    assert row.callback == "Voicemail · Callback open"
    assert kind_text(True, False) == "Voicemail" and kind_text(False, True) == "Asked for a callback"
    assert kind_text(False, False) == "Missed call"


def _claimed_item(store, sid: str, who: str, at) -> str:
    record(store, ev(K.OFFERED, 0, call=sid), ev(K.ENDED, 30, call=sid))
    cid = call_id(store, sid)
    with store.sessions.begin() as s:
        s.info[ACTOR_ID] = who
        s.info["now"] = at
        claim_callback(s, {"callback_id": cid})
    return cid


def test_stale_claims_go_back_to_the_queue_by_age_or_when_the_csr_left(store):
    from models.callbacks import release_stale_claims

    old = _claimed_item(store, "OLD", "dana", T0)
    fresh = _claimed_item(store, "NEW", "lee", T0 + timedelta(minutes=25))
    left = _claimed_item(store, "GONE", "lee", T0 + timedelta(minutes=28))
    now = T0 + timedelta(minutes=31)
    away = {"lee": None, "dana": None}
    with store.sessions.begin() as s:  # everyone online: only the 31-minute-old claim goes
        assert release_stale_claims(s, now, timedelta(minutes=30), away.get) == {old: "too_old"}
    with store.sessions.begin() as s:  # no limit by age; Lee has had no console for 4 min: not yet
        away["lee"] = now - timedelta(minutes=4)
        assert release_stale_claims(s, now, None, away.get) == {}
    with store.sessions.begin() as s:  # 5 minutes gone: Lee's claims go back
        away["lee"] = now - timedelta(minutes=5)
        assert release_stale_claims(s, now, None, away.get) == {fresh: "signed_out", left: "signed_out"}
    by_id = {i.id: i for i in items(store)}
    assert all(by_id[c].status == "open" and by_id[c].claimed_by is None for c in (old, fresh, left))


def test_release_your_own_claim_a_supervisor_any_a_csr_not_anothers(store):
    from models.callbacks import release_callback

    with store.sessions.begin() as s:
        s.add(User(id="sam", username="sam", display_name="Sam Ortiz", role="supervisor"))
    cid = _claimed_item(store, "CA7", "dana", T0)

    def release(who):
        with store.sessions.begin() as s:
            s.info[ACTOR_ID] = who
            release_callback(s, {"callback_id": cid})

    with pytest.raises(ValidationFailed, match="Only a supervisor can put back a callback Dana Reyes took"):
        release("lee")
    release("sam")
    [item] = items(store)
    assert item.status == "open" and item.claimed_by is None and item.claimed_at is None
    release("sam")  # already open: nothing changes
    with store.sessions.begin() as s:
        s.info[ACTOR_ID] = "dana"
        claim_callback(s, {"callback_id": cid})
    release("dana")  # one's own
    assert items(store)[0].status == "open"
    with store.sessions.begin() as s:
        s.info[ACTOR_ID] = "lee"
        claim_callback(s, {"callback_id": cid})
        record_callback_outcome(s, {"callback_id": cid, "outcome": "no_answer"})
    with pytest.raises(ValidationFailed, match="already done"):
        release("sam")
