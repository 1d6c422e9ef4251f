"""Which messages a job event queues (models/notify_rules.py), through the server's real write path."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models.customers import ContactMethod
from models.notifications import Channel, NoticeKind, NoticeStatus
from models.notify_outcomes import quiet_until
from models.notify_templates import NotifySettings, check_template, render
from models.sync_tables import ChangeRow

from .booking_setup import NOW
from .notify_setup import NOTIFY, make_store


@pytest.fixture
def store(cache):
    return make_store(cache.sessions)


def test_booking_queues_one_confirmation_and_a_reminder_the_day_before(store):
    cid, loc = store.customer(email="maria@example.com")
    job = store.book(cid, loc)
    msgs = store.messages(job_id=job)
    # By text only: one channel when the customer can be texted (email is for those who can't).
    kinds = sorted((m.kind.value, m.channel.value) for m in msgs)
    assert kinds == [("confirmation", "sms"), ("reminder", "sms")]
    sms = next(m for m in msgs if m.kind is NoticeKind.CONFIRMATION and m.channel is Channel.SMS)
    # The window in the customer's local time (Dallas), the company's phone, the job number.
    assert sms.body.startswith("Hi Maria Garcia: Tue Dec 1 between 8 AM and 12 PM, job ")
    assert sms.body.endswith("(972) 555-0100") and sms.to_address == "+12145550134"
    reminder = next(m for m in msgs if m.kind is NoticeKind.REMINDER and m.channel is Channel.SMS)
    # 17:00 the day before in Dallas = 23:00 UTC Monday.
    assert reminder.due_at.replace(tzinfo=UTC) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    with store.sessions() as s:  # consoles receive them through the change log
        logged = set(s.scalars(select(ChangeRow.entity_id).where(ChangeRow.entity == "notifications")))
    assert {m.id for m in msgs} <= logged


def test_customer_local_time_comes_from_the_location_zip(store):
    cid, loc = store.customer(
        phone="(602) 555-0111", street="1 Camelback Rd", city="Phoenix", state="AZ", zip_="85001"
    )
    job = store.book(cid, loc)
    sms = store.messages(job_id=job, kind=NoticeKind.CONFIRMATION)[0]
    # 8–12 Dallas (CST, UTC-6) is 7–11 in Phoenix (MST, no DST).
    assert "between 7 AM and 11 AM" in sms.body


def test_reschedule_cancels_the_old_reminder_sends_a_notice_and_no_second_confirmation(store):
    cid, loc = store.customer()
    job = store.book(cid, loc)
    store.push(
        "reschedule_job",
        {"job_id": job, "appointment": {"day": "2026-12-02", "arrival_window_id": store.ids.w12_4}},
    )
    msgs = store.messages(job_id=job)
    by_kind = {}
    for m in msgs:
        by_kind.setdefault(m.kind, []).append(m)
    assert len(by_kind[NoticeKind.CONFIRMATION]) == 1
    assert [m.status for m in by_kind[NoticeKind.REMINDER]] == [NoticeStatus.CANCELED, NoticeStatus.PENDING]
    assert "Wed Dec 2 between 12 PM and 4 PM" in by_kind[NoticeKind.RESCHEDULE][0].body
    store.push("cancel_job", {"job_id": job, "reason": "Customer fixed it"})
    msgs = store.messages(job_id=job)
    assert all(m.status is NoticeStatus.CANCELED for m in msgs if m.kind is NoticeKind.REMINDER)
    assert [m.kind for m in msgs if m.kind is NoticeKind.CANCEL] == [NoticeKind.CANCEL]


def test_no_reminder_when_booked_after_its_time(cache):
    store = make_store(cache.sessions, notify={**NOTIFY, "reminder": {"hours_before": 24}})
    cid, loc = store.customer()
    job = store.book(cid, loc)  # Tue 8 AM, booked Mon 8 AM: 24 h before is now — too late
    assert [m.kind for m in store.messages(job_id=job)] == [NoticeKind.CONFIRMATION]


def test_email_when_no_number_can_be_texted(store):
    cid, loc = store.customer(email="maria@example.com")
    with store.sessions.begin() as s:
        s.scalar(select(ContactMethod).where(ContactMethod.kind == "MobilePhone")).do_not_text = True
    job = store.book(cid, loc)
    msgs = store.messages(job_id=job, kind=NoticeKind.CONFIRMATION)
    assert [(m.channel, m.to_address) for m in msgs] == [(Channel.EMAIL, "maria@example.com")]
    assert msgs[0].subject == "Your appointment with Test Co on Tue Dec 1"
    assert "Tue Dec 1 between 8 AM and 12 PM" in msgs[0].body


def test_only_contacts_with_notifications_on_and_never_texts_to_do_not_text(store):
    cid, loc = store.customer(email="maria@example.com")
    with store.sessions.begin() as s:
        for cm in s.scalars(select(ContactMethod).where(ContactMethod.customer_id == cid)):
            if cm.kind.value == "MobilePhone":
                cm.do_not_text = True
            else:
                cm.notifications = False
    job = store.book(cid, loc)
    assert store.messages(job_id=job) == []


def test_a_replayed_booking_queues_nothing_twice(store):
    cid, loc = store.customer()
    store.book(cid, loc)
    before = len(store.messages())
    from models.jobs import Appointment, Job
    from models.notify_rules import on_job_event

    with store.sessions.begin() as s:
        job = s.scalar(select(Job))
        on_job_event(s, "book_job", {}, job.id, NOW)  # as if applied again
        assert s.scalar(select(Appointment).where(Appointment.job_id == job.id)) is not None
    assert len(store.messages()) == before


def test_notifications_off_queues_nothing(cache):
    store = make_store(cache.sessions, notify=None)
    cid, loc = store.customer()
    store.book(cid, loc)
    assert store.messages() == []


def test_on_the_way_is_a_job_action(store):
    cid, loc = store.customer()
    job = store.book(cid, loc)
    store.push("notify_on_the_way", {"job_id": job})
    store.push("notify_on_the_way", {"job_id": job})  # pressed again: another message
    assert len(store.messages(job_id=job, kind=NoticeKind.ON_THE_WAY)) == 2


def test_a_hold_cancels_the_reminder_and_its_release_queues_it_again_once(store):
    cid, loc = store.customer()
    job = store.book(cid, loc)

    def reminders() -> list:
        return [m.status for m in store.messages(job_id=job, kind=NoticeKind.REMINDER)]

    assert reminders() == [NoticeStatus.PENDING]
    store.push("hold_job", {"job_id": job, "reason": "Waiting for parts"})
    assert reminders() == [NoticeStatus.CANCELED]
    released = store.push("release_hold", {"job_id": job})
    assert sorted(reminders()) == sorted([NoticeStatus.CANCELED, NoticeStatus.PENDING])
    again = [
        m for m in store.messages(job_id=job, kind=NoticeKind.REMINDER) if m.status is NoticeStatus.PENDING
    ]
    assert released.mutation_id in again[0].key  # a replay of that release finds its key taken
    # A second hold and release: one pending reminder again, never two.
    store.push("hold_job", {"job_id": job, "reason": "Customer away"})
    store.push("release_hold", {"job_id": job})
    assert reminders().count(NoticeStatus.PENDING) == 1 and len(reminders()) == 3


def test_templates_refuse_unknown_placeholders_and_render_known_ones():
    assert check_template("Hi {customer}, {window}") is None
    assert "unknown placeholder {tech}" in check_template("Hi {tech}")
    assert "braces" in check_template("Hi {customer")
    assert (
        render("{customer} {job_number}", {"customer": "Ann {window}", "job_number": "7"}) == "Ann {window} 7"
    )


def test_quiet_hours_in_the_customers_zone():
    settings = NotifySettings(enabled=True, quiet_start=time(21), quiet_end=time(8))
    la = ZoneInfo("America/Los_Angeles")
    # 05:00 UTC = 21:00 in LA (inside) → 08:00 LA = 16:00 UTC.
    assert quiet_until(settings, la, datetime(2026, 12, 1, 5, 0, tzinfo=UTC)) == datetime(
        2026, 12, 1, 16, 0, tzinfo=UTC
    )
    assert quiet_until(settings, la, datetime(2026, 12, 1, 18, 0, tzinfo=UTC)) is None  # 10:00 LA
    # 12:30 UTC is 07:30 in New York: held until 08:00 there.
    ny = ZoneInfo("America/New_York")
    assert quiet_until(settings, ny, datetime(2026, 12, 1, 12, 30, tzinfo=UTC)) == datetime(
        2026, 12, 1, 13, 0, tzinfo=UTC
    )


def _with(store, **changes):
    from models.setup import CompanySetting

    with store.sessions.begin() as s:
        row = s.get(CompanySetting, "notifications")
        row.value = {**row.value, **changes}


def test_no_confirmation_for_a_window_starting_within_the_last_minute_setting(cache):
    store = make_store(cache.sessions, notify={**NOTIFY, "skip_confirmation_within_minutes": 300})
    cid, loc = store.customer()
    # Booked Monday 08:00 Dallas (NOW) for Monday 12–4: the window starts in 4 hours, within 300 minutes.
    soon = store.book(cid, loc, day=NOW.date(), window=store.ids.w12_4)
    assert store.messages(job_id=soon, kind=NoticeKind.CONFIRMATION) == []
    # Tuesday 8–12 starts in 24 hours: confirmed as usual.
    later = store.book(cid, loc)
    assert [m.kind for m in store.messages(job_id=later, kind=NoticeKind.CONFIRMATION)] == [
        NoticeKind.CONFIRMATION
    ]


def test_the_last_minute_boundary_is_the_setting_and_zero_always_confirms(cache):
    store = make_store(cache.sessions, notify={**NOTIFY, "skip_confirmation_within_minutes": 239})
    cid, loc = store.customer()
    job = store.book(cid, loc, day=NOW.date(), window=store.ids.w12_4)  # 240 minutes away: confirmed
    assert len(store.messages(job_id=job, kind=NoticeKind.CONFIRMATION)) == 1
    _with(store, skip_confirmation_within_minutes=0)
    job = store.book(cid, loc, day=NOW.date(), window=store.ids.w12_4)
    assert len(store.messages(job_id=job, kind=NoticeKind.CONFIRMATION)) == 1


@pytest.mark.parametrize(
    ("exclusion", "excluded"),
    [
        ({"exclude_business_units": ["hvac service"]}, True),
        ({"exclude_job_types": ["AC Not Cooling"]}, True),
        ({"exclude_business_units": ["Plumbing Service"], "exclude_job_types": ["Drain Clog"]}, False),
    ],
)
def test_reminder_exclusions_by_business_unit_or_job_type(cache, exclusion, excluded):
    store = make_store(cache.sessions, notify={**NOTIFY, "reminder": {"day_before_at": "17:00", **exclusion}})
    cid, loc = store.customer()
    job = store.book(cid, loc)  # HVAC Service, AC Not Cooling
    kinds = sorted(m.kind.value for m in store.messages(job_id=job))
    assert kinds == (["confirmation"] if excluded else ["confirmation", "reminder"])
