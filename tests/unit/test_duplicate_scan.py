"""The whole-cache duplicate scan (models/duplicate_scan.py) on a real migrated cache: the duplicate
check's rules (same phone, same address, similar name) found for every customer at once, merged
customers and shared office lines left out, and cancellable."""

from __future__ import annotations

import pytest

from models.duplicate_scan import MAX_GROUP, Stopped, scan_duplicates
from models.duplicates import find_duplicates
from tests.unit.conftest import customer_args

PEOPLE = [
    ("John Smith", "(214) 555-0101", "1 Oak Ave"),
    ("Jon Smith", "(214) 555-0102", "2 Pine Rd"),  # similar name to John Smith
    ("Mary Jones", "(214) 555-0103", "3 Elm St"),
    ("Marta Perez", "(214) 555-0103", "4 Ash Ln"),  # same phone as Mary Jones
    ("Li Wei", "(214) 555-0105", "5 Birch Ct"),
    ("Kim Nguyen", "(214) 555-0106", "5 Birch Ct"),  # same address as Li Wei
    ("Zed Alpha", "(214) 555-0107", "7 Cedar Dr"),  # nobody like them
]


# Eleven customers on one office line, with names nothing like each other.
TENANTS = [
    "Ava Brook",
    "Ben Cole",
    "Cy Drake",
    "Di Evans",
    "Ed Frost",
    "Flo Grant",
    "Gus Hale",
    "Hal Irwin",
    "Ike Joyce",
    "Jo Kemp",
    "Kai Lund",
]


@pytest.fixture
def people(writer):
    out = {}
    for name, phone, street in PEOPLE:
        out[name] = writer.execute(
            "create_customer", customer_args(name=name, phone=phone, street=street)
        ).applied.entity_id
    return out


def _found(cache):
    conn = cache.raw_connection()
    try:
        return scan_duplicates(conn)
    finally:
        conn.close()


def _key(people, a, b):
    return tuple(sorted((people[a], people[b])))


def test_each_rule_finds_its_pair_and_nothing_else(cache, people):
    pairs = {(p.a, p.b): p for p in _found(cache)}
    assert set(pairs) == {
        _key(people, "John Smith", "Jon Smith"),
        _key(people, "Mary Jones", "Marta Perez"),
        _key(people, "Li Wei", "Kim Nguyen"),
    }
    assert pairs[_key(people, "John Smith", "Jon Smith")].reasons() == ["Similar name (95%)"]
    assert pairs[_key(people, "Mary Jones", "Marta Perez")].reasons() == ["Same phone (214) 555-0103"]
    assert pairs[_key(people, "Li Wei", "Kim Nguyen")].reasons() == ["Same address"]


def test_the_scan_agrees_with_the_duplicate_check(cache, people):
    found = {(p.a, p.b) for p in _found(cache)}
    with cache.sessions() as s:
        for name, phone, street in PEOPLE:
            me = people[name]
            e164 = "+1" + "".join(c for c in phone if c.isdigit())
            for candidate in find_duplicates(s, name, [e164], street, "", "75201"):
                if candidate.customer_id != me:
                    assert tuple(sorted((me, candidate.customer_id))) in found, (name, candidate.reasons)


def test_merged_customers_and_shared_lines_are_left_out(cache, writer, people):
    writer.execute("merge_customers", {"survivor_id": people["John Smith"], "merged_id": people["Jon Smith"]})
    for i in range(MAX_GROUP + 1):
        writer.execute(
            "create_customer",
            customer_args(name=TENANTS[i], phone="(214) 555-0999", street=f"{100 + i} Main St"),
        )
    pairs = {(p.a, p.b) for p in _found(cache)}
    assert _key(people, "John Smith", "Jon Smith") not in pairs
    assert len(pairs) == 2  # the same phone and the same address pairs only


def test_the_scan_stops_when_asked(cache, people):
    conn = cache.raw_connection()
    try:
        with pytest.raises(Stopped):
            scan_duplicates(conn, should_stop=lambda: True)
    finally:
        conn.close()


def test_the_scan_in_a_process_of_its_own_answers_the_same_and_stops(cache, people):
    from models.duplicate_scan import pair_rows, scan_in_process

    seen: list[float] = []
    rows = scan_in_process(cache.path, progress=seen.append)
    conn = cache.raw_connection()
    try:
        assert rows == pair_rows(conn, scan_duplicates(conn))
    finally:
        conn.close()
    assert len(rows) == 3 and seen and seen[-1] == 1.0
    with pytest.raises(Stopped):
        scan_in_process(cache.path, should_stop=lambda: True)
