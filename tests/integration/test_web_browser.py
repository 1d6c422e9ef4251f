"""The Web Scheduler in real headless Chromium (Selenium): the whole flow by keyboard, a window that fills
between load and submit, two browsers racing, the honeypot and the rate limit, the embed snippet on a page
of another origin, and an axe-core scan of every step with no serious violation. Screenshots of each step
go to docs/images/web-*.png."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from models.jobs import OnlineBooking
from tests.tools import require_tool
from tests.web_setup import WEDNESDAY, RunningScheduler, build_store

pytestmark = pytest.mark.timeout(300)
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
CONTACT = {
    "name": "Maria Lopez",
    "phone": "(214) 555-0142",
    "email": "maria@example.com",
    "street": "100 Elm St",
    "city": "Dallas",
    "state": "TX",
    "zip": "75201",
}


@pytest.fixture(scope="module")
def tools() -> tuple[str, str]:
    return require_tool("chromium", "/usr/bin/chromium"), require_tool(
        "chromedriver", "/usr/bin/chromedriver"
    )


@pytest.fixture
def browsers(tools) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    made = []

    def make(width: int = 412, height: int = 915):
        options = webdriver.ChromeOptions()
        options.binary_location = tools[0]
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
            options.add_argument(arg)
        options.add_argument(f"--window-size={width},{height}")
        driver = webdriver.Chrome(service=Service(tools[1]), options=options)
        driver.set_page_load_timeout(30)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.quit()


@pytest.fixture
def store(tmp_path):
    return build_store(str(tmp_path / "server.sqlite3"))


@pytest.fixture
def web(store):
    with RunningScheduler(store) as running:
        yield running


def _wait_id(driver, element_id: str, timeout: float = 10):
    """The element once the page that has it has loaded (a key press doesn't wait for navigation)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.ID, element_id)))


def _active(driver):
    return driver.switch_to.active_element


def _keys(driver, *keys) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def _tab_to(driver, element_id: str, limit: int = 40) -> None:
    """Press Tab until the focus is on that element (the page's own focus order)."""
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        if _active(driver).get_attribute("id") == element_id:
            return
        _keys(driver, Keys.TAB)
    raise AssertionError(f"Tab never reached #{element_id}; focus order broken")


def _shot(driver, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(IMAGES / f"web-{name}.png"))


def _axe(driver, where: str) -> None:
    from axe_selenium_python import Axe

    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    serious = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
    assert not serious, f"{where}: " + "; ".join(f"{v['id']}: {v['help']}" for v in serious)


def _count(store) -> int:
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(OnlineBooking))


def _to_details(driver, web, store, *, shots: bool = False, scan: bool = False) -> None:
    """ZIP → service → time → the details form, by keyboard only."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(web.url)
    assert "America/Chicago" not in driver.page_source  # no time shown yet
    if shots:
        _shot(driver, "1-zip")
    if scan:
        _axe(driver, "ZIP step")
    _tab_to(driver, "zip")
    _keys(driver, "75201", Keys.ENTER)
    _wait_id(driver, "service")
    assert _active(driver).get_attribute("id") == "title"  # the script announces the new step
    if shots:
        _shot(driver, "2-service")
    if scan:
        _axe(driver, "service step")
    _tab_to(driver, "service-0")
    _keys(driver, Keys.SPACE)
    _tab_to(driver, "service-next")
    _keys(driver, Keys.ENTER)
    _wait_id(driver, "slots")
    assert "America/Chicago" in _wait_id(driver, "tz").text
    if shots:
        _shot(driver, "3-time")
    if scan:
        _axe(driver, "time step")
    slot = f"{WEDNESDAY.isoformat()}|{store.ids.w8_12}"
    radio = next(r for r in driver.find_elements(By.NAME, "slot") if r.get_attribute("value") == slot)
    _tab_to(driver, "slot-0")
    while _active(driver).get_attribute("value") != slot:
        _keys(driver, Keys.ARROW_DOWN)  # arrows move within the radio group
    _keys(driver, Keys.SPACE)
    assert radio.is_selected()
    _tab_to(driver, "time-next")
    _keys(driver, Keys.ENTER)
    _wait_id(driver, "submit-request")


def _retype(driver, value: str) -> None:
    """Replace what the focused field holds, typing key by key."""
    field = _active(driver)
    field.clear()
    field.send_keys(value)


def _fill(driver, **values: str) -> None:
    for name, value in {**CONTACT, **values}.items():
        _tab_to(driver, name)
        _retype(driver, value)


def test_the_whole_flow_by_keyboard_with_screenshots_and_an_accessibility_scan(browsers, web, store):
    from selenium.webdriver.common.keys import Keys

    driver = browsers()
    _to_details(driver, web, store, shots=True, scan=True)
    _shot(driver, "4-details")
    _axe(driver, "details step")
    store.clock.advance(20)
    _fill(driver, phone="555-01")  # a bad phone first: explained next to the field
    _tab_to(driver, "submit-request")
    _keys(driver, Keys.ENTER)
    summary = _wait_id(driver, "error-summary")
    assert _active(driver) == summary  # the focus goes to the list of problems
    phone = _wait_id(driver, "phone")
    assert phone.get_attribute("aria-invalid") == "true" and "err-phone" in phone.get_attribute(
        "aria-describedby"
    )
    _shot(driver, "4b-error")
    _axe(driver, "details with an error")
    _keys(driver, Keys.TAB, Keys.ENTER)  # the summary's link takes the focus to the field
    assert _active(driver).get_attribute("id") == "phone"
    _retype(driver, "(214) 555-0142")
    _tab_to(driver, "sms_consent")
    _keys(driver, Keys.SPACE)
    _tab_to(driver, "submit-request")
    _keys(driver, Keys.ENTER)
    confirmation = _wait_id(driver, "confirmation")
    assert "not a confirmed appointment" in confirmation.text and "Wednesday, December 2" in confirmation.text
    _shot(driver, "5-received")
    _axe(driver, "confirmation")
    with store.sessions() as s:
        row = s.scalars(select(OnlineBooking)).one()
        assert row.phone == "+12145550142" and row.sms_consent


def test_a_window_that_fills_while_the_customer_types_offers_the_nearest(browsers, web, store):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browsers()
    _to_details(driver, web, store)
    store.clock.advance(11 * 60)  # the hold runs out while they type, and someone else books the window
    other = requests.Session()
    held = other.post(
        web.url + "hold",
        data={
            "zip": "75201",
            "service": store.ids.ac_repair,
            "slot": f"{WEDNESDAY.isoformat()}|{store.ids.w8_12}",
        },
    )
    import re

    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', held.text))
    store.clock.advance(20)
    assert (
        other.post(web.url + "submit", data={**fields, **CONTACT, "phone": "2145550177"}).status_code == 200
    )
    _fill(driver)
    _tab_to(driver, "submit-request")
    _keys(driver, Keys.ENTER)
    note = _wait_id(driver, "filled")
    assert "That window just filled" in note.text and _active(driver) == note
    assert driver.find_elements(By.NAME, "slot")  # the nearest free windows, ready to pick
    _shot(driver, "6-window-filled")
    _axe(driver, "window filled")
    assert _count(store) == 1


def test_two_browsers_racing_for_the_last_window_get_one_hold(browsers, web, store):
    from selenium.webdriver.common.by import By

    drivers = [browsers(), browsers()]
    slot = f"{WEDNESDAY.isoformat()}|{store.ids.w8_12}"
    for d in drivers:
        d.get(f"{web.url}times?zip=75201&service={store.ids.ac_repair}")
        next(r for r in d.find_elements(By.NAME, "slot") if r.get_attribute("value") == slot).click()
    gate = threading.Barrier(2)

    def go(d) -> None:
        gate.wait()
        _wait_id(d, "time-next").click()

    threads = [threading.Thread(target=go, args=(d,)) for d in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    from selenium.webdriver.support.ui import WebDriverWait

    for d in drivers:  # each page has answered: a details form, or "that window just filled"
        WebDriverWait(d, 10).until(
            lambda d: d.find_elements(By.ID, "submit-request") or d.find_elements(By.ID, "filled")
        )
    outcomes = sorted(
        "held"
        if d.find_elements(By.ID, "submit-request")
        else "filled"
        if d.find_elements(By.ID, "filled")
        else "?"
        for d in drivers
    )
    assert outcomes == ["filled", "held"]


def test_the_honeypot_stores_nothing_and_the_rate_limit_says_so(browsers, web, store):
    from selenium.webdriver.common.by import By

    driver = browsers()
    _to_details(driver, web, store)
    store.clock.advance(20)
    for name, value in CONTACT.items():
        field = driver.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    # A bot fills every field it finds, the hidden one too.
    driver.execute_script("document.getElementById('website').value = 'http://spam.example';")
    _wait_id(driver, "submit-request").click()
    assert _wait_id(driver, "confirmation")  # the bot learns nothing…
    assert _count(store) == 0  # …and nothing is stored
    store.configure(requests_per_address_per_hour=1)
    store.clock.advance(11 * 60)
    driver.get(f"{web.url}times?zip=75201&service={store.ids.ac_repair}")
    driver.find_elements(By.NAME, "slot")[0].click()
    _wait_id(driver, "time-next").click()
    assert "Too many requests" in _wait_id(driver, "message").text
    _shot(driver, "7-rate-limited")


class _Site(http.server.ThreadingHTTPServer):
    """Another origin (a company's website) serving one page that embeds the scheduler."""

    page = b""

    def __init__(self) -> None:
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(site.page)

            def log_message(self, *_args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def test_the_embed_snippet_on_another_origin_opens_the_overlay_and_an_unlisted_site_is_refused(
    browsers, web, store
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    site = _Site()
    try:
        site.page = (
            "<!doctype html><html lang=en><head><title>Lone Star Home Services</title></head><body>"
            "<main><h1>Lone Star Home Services</h1>"
            f'<script src="{web.url}embed.js" async></script>'
            '<button type="button" id="book" data-csr-scheduler>Book online</button>'
            f'<iframe id="plain" title="Book online" src="{web.url}" width="400" height="600"></iframe>'
            "</main></body></html>"
        ).encode()
        store.configure(allowed_origins=(site.origin,))
        driver = browsers(1280, 900)
        driver.get(site.origin + "/")
        _tab_to(driver, "book")
        _keys(driver, Keys.ENTER)
        overlay = _wait_id(driver, "csr-scheduler-overlay")
        assert overlay.get_attribute("role") == "dialog"
        frame = _wait_id(driver, "csr-scheduler-frame")
        driver.switch_to.frame(frame)
        assert _wait_id(driver, "zip")  # the scheduler, framed by an allowed origin
        driver.switch_to.default_content()
        _shot(driver, "8-embedded-overlay")
        _keys(driver, Keys.ESCAPE)
        assert not driver.find_elements(By.ID, "csr-scheduler-overlay")
        assert _active(driver).get_attribute("id") == "book"  # the focus returns to the button
        driver.switch_to.frame(_wait_id(driver, "plain"))
        assert _wait_id(driver, "zip")  # the plain iframe snippet too
        driver.switch_to.default_content()
        # A site not on the list: CSP frame-ancestors keeps the page out of its frames.
        store.configure(allowed_origins=())
        driver.get(site.origin + "/")
        driver.switch_to.frame(_wait_id(driver, "plain"))
        assert not driver.find_elements(By.ID, "zip")
    finally:
        site.shutdown()
        site.server_close()
