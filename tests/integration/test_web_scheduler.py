"""The Web Scheduler over real HTTP on SQLite and PostgreSQL: the whole flow, holds and races, every
field checked on the server (4xx, never 500, nothing half-stored), and the abuse guards."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from models.customers import ContactKind, ContactMethod, Customer, Location
from models.jobs import OnlineBooking
from models.sync_tables import ChangeRow
from models.web_address_limit import WebAddressHits
from models.web_booking import WebHold
from tests.web_setup import ALLOWED_ORIGIN, WEDNESDAY, RunningScheduler, build_store, fresh_postgres

pytestmark = pytest.mark.timeout(120)
CONTACT = {
    "name": "Maria Lopez",
    "phone": "(214) 555-0142",
    "email": "maria@example.com",
    "street": "100 Elm St",
    "unit": "",
    "city": "Dallas",
    "state": "tx",
    "zip": "75201",
    "notes": "Upstairs unit blows warm air",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield build_store(str(tmp_path / "server.sqlite3"))
        return
    gen = fresh_postgres(request.getfixturevalue("postgres_url"))
    url = next(gen)
    try:
        yield build_store(url)
    finally:
        gen.close()


@pytest.fixture
def web(store):
    with RunningScheduler(store) as running:
        yield running


def _count(store, model=OnlineBooking) -> int:
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def _hold(web, http, store, *, service=None, slot=None, expect=303):
    service = service or store.ids.ac_repair
    slot = slot or f"{WEDNESDAY.isoformat()}|{store.ids.w8_12}"
    r = http.post(
        web.url + "hold", data={"zip": "75201", "service": service, "slot": slot}, allow_redirects=False
    )
    assert r.status_code == expect, r.text[:500]
    return r


def _details(web, http, store, **kw):
    r = _hold(web, http, store, **kw)
    page = http.get(web.url + r.headers["Location"])
    assert page.status_code == 200
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    return page, fields


def _submit(web, http, fields, **contact):
    return http.post(web.url + "submit", data={**fields, **CONTACT, **contact, "website": ""})


def test_the_whole_flow_stores_one_request_in_the_change_log(web, store):
    http = requests.Session()
    first = http.get(web.url)
    assert first.status_code == 200 and 'id="zip"' in first.text and '<label for="zip"' in first.text
    services = http.get(web.url, params={"zip": "75201", "utm_campaign": "spring-promo"})
    assert "My AC isn&#x27;t cooling" in services.text
    times = http.get(web.url + "times", params={"zip": "75201", "service": store.ids.ac_repair})
    assert times.status_code == 200
    assert "America/Chicago" in times.text  # the company's time zone is stated
    assert f"{WEDNESDAY.isoformat()}|{store.ids.w8_12}" in times.text
    assert f"2026-11-30|{store.ids.w8_12}" not in times.text  # sooner than the lead time
    page, fields = _details(web, http, store)
    assert "We hold this window for you until" in page.text
    store.clock.advance(20)
    done = _submit(web, http, fields | {"utm_campaign": "spring-promo"}, sms_consent="1")
    assert done.status_code == 200, done.text[:800]
    assert "Request received" in done.text and "not a confirmed appointment" in done.text
    with store.sessions() as s:
        row = s.scalars(select(OnlineBooking)).one()
        assert (row.status, row.phone, row.customer_match) == ("New", "+12145550142", "new")
        assert row.address["state"] == "TX" and row.sms_consent and row.utm_campaign == "spring-promo"
        assert row.requested_window["day"] == WEDNESDAY.isoformat()
        hold = s.scalars(select(WebHold).where(WebHold.request_id == row.id)).one()
        assert hold.expires_at is None  # held until a CSR settles the request
        assert (
            s.scalar(select(func.count()).select_from(ChangeRow).where(ChangeRow.entity == "online_bookings"))
            == 1
        )
    assert web.committed  # the consoles are poked


def test_the_last_window_held_by_one_browser_is_refused_to_the_next_until_the_hold_runs_out(web, store):
    _hold(web, requests.Session(), store)
    second = _hold(web, requests.Session(), store, expect=409)
    assert "That window just filled" in second.text
    assert f"{WEDNESDAY.isoformat()}|{store.ids.w12_4}" in second.text  # the nearest free ones
    store.clock.advance(11 * 60)  # the first customer walked away: the hold runs out
    _hold(web, requests.Session(), store)


def test_a_window_that_fills_between_loading_and_submitting_is_refused_with_the_nearest(web, store):
    slow = requests.Session()
    _, slow_fields = _details(web, slow, store)
    store.clock.advance(11 * 60)  # their hold ran out while they typed…
    fast = requests.Session()
    _, fast_fields = _details(web, fast, store)
    store.clock.advance(10)
    assert _submit(web, fast, fast_fields, phone="2145550177").status_code == 200
    late = _submit(web, slow, slow_fields)
    assert late.status_code == 409 and "That window just filled" in late.text
    assert f"{WEDNESDAY.isoformat()}|{store.ids.w12_4}" in late.text
    assert _count(store) == 1


def test_concurrent_submits_for_the_last_window_book_exactly_one(store):
    """Threads with their own sessions submit at once (on PostgreSQL: separate connections that a
    second csr-server instance would use): the (group, day) row lock lets one through."""
    from models.setup_data import load_setup
    from models.web_capacity import WindowFilled, check_contact_form, submit_request

    outcomes: list[str] = []
    gate = threading.Barrier(8)

    def one(i: int) -> None:
        values, errors = check_contact_form(CONTACT | {"phone": f"214555{i:04d}"}, store.settings)
        assert not errors
        gate.wait()
        try:
            with store.sessions.begin() as session:
                submit_request(
                    session,
                    load_setup(session),
                    store.settings,
                    job_type_id=store.ids.ac_repair,
                    day=WEDNESDAY,
                    window_id=store.ids.w8_12,
                    hold_id="",
                    values=values,
                    now=store.clock(),
                )
            outcomes.append("stored")
        except WindowFilled:
            outcomes.append("filled")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["filled"] * 7 + ["stored"]
    assert _count(store) == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"phone": "555-01"}, "phone", ""),
        ({"email": "maria@"}, "email", "doesn't look right"),
        ({"zip": "7520"}, "zip", "5 digits"),
        ({"zip": "10001"}, "zip", "don't serve"),
        ({"name": ""}, "name", "your name"),
        ({"state": "Texas"}, "state", "two-letter"),
        ({"notes": "x" * 1001}, "notes", "At most 1000"),
    ],
)
def test_a_bad_field_is_explained_next_to_it_and_nothing_is_stored(web, store, changes, field, message):
    http = requests.Session()
    _, fields = _details(web, http, store)
    store.clock.advance(20)
    r = _submit(web, http, fields, **changes)
    assert r.status_code == 422
    assert (
        f'id="err-{field}"' in r.text
        and f'aria-describedby="err-{field}"' in r.text
        or (f'aria-describedby="hint-{field} err-{field}"' in r.text)
    )
    assert 'aria-invalid="true"' in r.text and 'id="error-summary"' in r.text
    assert message in html.unescape(r.text)
    assert _count(store) == 0


def test_malformed_or_oversized_requests_are_4xx_never_500(web, store):
    http = requests.Session()
    assert http.post(
        web.url + "submit",
        data=b"\xff\xfe=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).status_code in (400, 422)
    assert http.post(web.url + "submit", data={"name": "x" * 40_000}).status_code == 413
    assert http.post(web.url + "hold", data={"zip": "75201", "service": "s" * 500}).status_code == 413
    assert (
        http.post(
            web.url + "hold", data={"zip": "75201", "service": store.ids.ac_repair, "slot": "bad"}
        ).status_code
        == 422
    )
    assert (
        http.post(
            web.url + "hold", data={"zip": "75201", "service": store.ids.ac_repair, "slot": "2026-12-02|nope"}
        ).status_code
        == 422
    )
    assert (
        http.post(web.url + "submit", data={"hold": "x", "t": "1.2", "service": "x", "slot": "x"}).status_code
        == 422
    )
    assert http.get(web.url + "times", params={"zip": "75201", "service": "nope"}).status_code == 422
    assert http.get(web.url + "details", params={"hold": "0" * 32}).status_code == 410
    _, fields = _details(web, http, store)
    forged = _submit(web, http, fields | {"t": "1.deadbeef"})
    assert forged.status_code == 400
    assert _count(store) == 0


def test_the_honeypot_and_a_too_quick_form_store_nothing(web, store):
    http = requests.Session()
    _, fields = _details(web, http, store)
    quick = _submit(web, http, fields)  # 0 s after the form was served
    assert quick.status_code == 422 and "very quick" in quick.text
    store.clock.advance(20)
    bot = http.post(web.url + "submit", data={**fields, **CONTACT, "website": "http://spam.example"})
    assert bot.status_code == 200 and "Request received" in bot.text  # the bot learns nothing
    assert _count(store) == 0


def test_rate_limits_per_address_and_per_phone(web, store):
    store.configure(requests_per_phone_per_day=2)
    http = requests.Session()
    for i, slot in enumerate((store.ids.w8_12, store.ids.w12_4)):
        _, fields = _details(web, http, store, slot=f"{WEDNESDAY.isoformat()}|{slot}")
        store.clock.advance(20)
        assert _submit(web, http, fields).status_code == 200, i
    _, fields = _details(web, http, store, slot=f"2026-12-03|{store.ids.w8_12}")
    store.clock.advance(20)
    third = _submit(web, http, fields)
    assert third.status_code == 429 and "already have requests from this number" in html.unescape(third.text)
    assert _count(store) == 2
    store.configure(requests_per_address_per_hour=1)
    hammer = [http.post(web.url + "hold", data={"zip": "75201"}).status_code for _ in range(3)]
    assert 429 in hammer


def test_the_per_address_limit_is_shared_by_two_instances(web, store):
    """Two csr-server instances over one database (behind a load balancer): an address's POSTs count
    together — counted per process, each instance would let the whole limit through."""
    store.configure(requests_per_address_per_hour=4)
    http = requests.Session()
    with RunningScheduler(store) as other:
        codes = [
            http.post(instance.url + "hold", data={"zip": "75201"}).status_code
            for instance in (web, other, web, other, web, other)
        ]
        assert codes[:4] == [422] * 4 and codes[4:] == [429, 429]  # 4 in all, whichever instance
        assert _hits(store) == 4  # refused POSTs are not counted
        store.clock.advance(3600)  # an hour later the address may try again, on either
        assert http.post(other.url + "hold", data={"zip": "75201"}).status_code == 422
        assert _hits(store) == 1  # the hour's old minutes were purged


def _hits(store) -> int:
    with store.sessions() as s:
        return s.scalar(select(func.sum(WebAddressHits.hits)))


def test_a_do_not_service_customer_is_refused_neutrally_and_flagged(web, store):
    with store.sessions.begin() as s:
        c = Customer(name="Barred Person", do_not_service=True, do_not_service_reason="Threatened a tech")
        s.add(c)
        s.flush()
        s.add(ContactMethod(customer_id=c.id, kind=ContactKind.MOBILE, value="+12145550142"))
        s.add(Location(customer_id=c.id, street="9 Oak St", city="Dallas", state="TX", zip="75201"))
    http = requests.Session()
    _, fields = _details(web, http, store)
    store.clock.advance(20)
    r = _submit(web, http, fields)
    assert r.status_code == 200 and "Please call us" in r.text
    assert "Threatened" not in r.text and "Do Not Service" not in r.text
    with store.sessions() as s:
        row = s.scalars(select(OnlineBooking)).one()
        assert row.customer_match == "do_not_service" and row.customer_id is not None
        assert s.scalar(select(func.count()).select_from(WebHold).where(WebHold.request_id == row.id)) == 0


def test_an_existing_customer_is_matched_by_phone(web, store):
    with store.sessions.begin() as s:
        c = Customer(name="Maria Lopez")
        s.add(c)
        s.flush()
        s.add(ContactMethod(customer_id=c.id, kind=ContactKind.MOBILE, value="+12145550142"))
    http = requests.Session()
    _, fields = _details(web, http, store)
    store.clock.advance(20)
    assert _submit(web, http, fields).status_code == 200
    with store.sessions() as s:
        row = s.scalars(select(OnlineBooking)).one()
        assert row.customer_match == "existing" and row.customer_id == c.id


def test_out_of_area_closed_and_headers(web, store):
    http = requests.Session()
    out = http.get(web.url, params={"zip": "10001"})
    assert out.status_code == 200 and "don't serve that area" in html.unescape(out.text)
    csp = out.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {ALLOWED_ORIGIN}" in csp and "script-src 'self'" in csp
    api = http.get(
        web.url + "api/slots", params={"service": store.ids.ac_repair}, headers={"Origin": ALLOWED_ORIGIN}
    )
    assert api.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert api.json()["time_zone"] == "America/Chicago" and api.json()["slots"]
    other = http.get(
        web.url + "api/slots",
        params={"service": store.ids.ac_repair},
        headers={"Origin": "https://evil.example"},
    )
    assert "Access-Control-Allow-Origin" not in other.headers
    store.configure(enabled=False)
    assert "Online booking is closed" in html.unescape(http.get(web.url).text)


def test_holds_that_ran_out_are_cleaned_up(web, store):
    _hold(web, requests.Session(), store)
    store.clock.advance(timedelta(minutes=30).total_seconds())
    _hold(web, requests.Session(), store)
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(WebHold)) == 1


def test_auto_book_books_the_job_at_once_and_the_inbox_shows_it_booked(web, store):
    from models.customers import Customer as C
    from models.inbox import inbox_items
    from models.jobs import Job
    from models.setup import Campaign

    with store.sessions.begin() as s:
        s.add(Campaign(name="Web Scheduler"))
    store.configure(auto_book=True)
    http = requests.Session()
    _, fields = _details(web, http, store)
    store.clock.advance(20)
    done = _submit(web, http, fields)
    assert done.status_code == 200 and "You&#x27;re booked" in done.text and "booked" in done.text
    with store.sessions() as s:
        row = s.scalars(select(OnlineBooking)).one()
        job = s.get(Job, row.job_id)
        assert row.status == "Booked" and job.booked_from.value == "OnlineBooking"
        assert s.get(C, row.customer_id).name == "Maria Lopez" and job.summary == CONTACT["notes"]
        assert s.scalar(select(func.count()).select_from(WebHold)) == 0  # the job holds the window now
        assert inbox_items(s, store.clock())[0].status == "Booked"
        logged = {e for (e,) in s.execute(select(ChangeRow.entity))}
        assert {"customers", "locations", "jobs", "appointments", "online_bookings"} <= logged
    # The window is now full online too: the next customer is offered others.
    assert "That window just filled" in _hold(web, requests.Session(), store, expect=409).text


def test_a_reused_availability_read_never_double_books(store):
    """Pages reuse a capacity read for a moment; a window that filled meanwhile (another instance's hold,
    here written straight to the store) is still shown, and the hold re-checks it: 409, the nearest."""
    from models.setup_data import load_setup
    from models.web_capacity import place_hold

    with RunningScheduler(store, reuse_seconds=60) as web:
        http = requests.Session()
        slot = f"{WEDNESDAY.isoformat()}|{store.ids.w8_12}"
        params = {"zip": "75201", "service": store.ids.ac_repair}
        assert slot in http.get(web.url + "times", params=params).text
        with store.sessions.begin() as s:  # the other instance
            place_hold(
                s,
                load_setup(s),
                store.settings,
                store.ids.ac_repair,
                WEDNESDAY,
                store.ids.w8_12,
                store.clock(),
            )
        assert slot in http.get(web.url + "times", params=params).text  # reused: still offered
        refused = _hold(web, http, store, expect=409)
        assert "That window just filled" in refused.text
        assert slot not in http.get(web.url + "times", params=params).text  # its own write cleared the reuse
