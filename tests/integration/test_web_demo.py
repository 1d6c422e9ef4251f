"""`csr-console --demo` prints the Web Scheduler's local URL; a booking made there (real HTTP, the page's
own forms) reaches the demo console's cache — its Bookings inbox — through the ordinary sync."""

from __future__ import annotations

import re
import signal
import time

import pytest
import requests

from tests.integration.test_demo_process import _count, _wait_for, start_demo

pytestmark = pytest.mark.timeout(300)


def _radio(page: str, name: str) -> str:
    found = re.search(rf'type="radio" name="{name}" id="[^"]+" value="([^"]+)"', page)
    assert found, page[-1500:]
    return found.group(1).replace("&#x27;", "'").replace("&amp;", "&")


def book_online(url: str, *, phone: str = "(214) 555-0188", wait: float = 3.2) -> requests.Response:
    """The page's steps as a browser without JavaScript takes them."""
    http = requests.Session()
    services = http.get(url, params={"zip": "75201"})
    assert services.status_code == 200, services.text[:500]
    service = _radio(services.text, "service")
    times = http.get(url + "times", params={"zip": "75201", "service": service})
    slot = _radio(times.text, "slot")
    held = http.post(url + "hold", data={"zip": "75201", "service": service, "slot": slot})
    assert held.status_code == 200 and 'id="submit-request"' in held.text, held.text[:800]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', held.text))
    time.sleep(wait)  # the minimum fill time: a person takes longer than a bot
    return http.post(
        url + "submit",
        data={
            **fields,
            "name": "Web Customer",
            "phone": phone,
            "email": "web@example.com",
            "street": "1 Main St",
            "unit": "",
            "city": "Dallas",
            "state": "TX",
            "zip": "75201",
            "notes": "Booked from the demo's page",
            "website": "",
        },
    )


def test_a_booking_on_the_demo_scheduler_reaches_the_demo_console(tmp_path):
    proc, profile = start_demo()
    try:
        web = _wait_for(proc, "Web Scheduler").split(": ", 1)[1].strip()
        assert web.startswith("http://127.0.0.1:") and web.endswith("/")
        _wait_for(proc, "is running")
        done = book_online(web)
        assert done.status_code == 200 and "Request received" in done.text, done.text[-1500:]
        cache = profile / "cache.sqlite3"
        deadline = time.monotonic() + 30
        while _count(cache, "SELECT count(*) FROM online_bookings WHERE name = 'Web Customer'") != 1:
            assert time.monotonic() < deadline, "the request never reached the demo console"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
