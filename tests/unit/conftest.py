from __future__ import annotations

import pytest

from models.db import Cache, open_cache
from models.writer import LocalWriter


@pytest.fixture
def cache(tmp_path) -> Cache:
    c = open_cache(tmp_path / "cache.sqlite3")
    yield c
    c.close()


@pytest.fixture
def writer(cache: Cache) -> LocalWriter:
    from .booking_setup import NOW

    return LocalWriter(cache.sessions, actor="test", clock=lambda: NOW)   # bookings judged at a fixed time


def customer_args(name="Maria Garcia", phone="(214) 555-0134", email="", street="12 Main St", city="Dallas",
                  state="TX", zip_="75201", **extra) -> dict:
    contacts = [{"kind": "MobilePhone", "value": phone}]
    if email:
        contacts.append({"kind": "Email", "value": email})
    address = {"street": street, "city": city, "state": state, "zip": zip_}
    return {"customer": {"name": name, **address, **extra}, "locations": [dict(address)], "contacts": contacts}
