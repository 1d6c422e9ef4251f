"""find_duplicates: same phone, same (normalized) address on a location or the billing address,
similar name; strongest first; and every lookup answered by an index, never a table scan."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event

from models.customers import Customer
from models.db import Cache
from models.duplicates import find_duplicates
from models.writer import LocalWriter


def add(
    writer: LocalWriter,
    name: str,
    phone: str,
    street: str,
    zip_: str,
    *,
    unit: str = "",
    location: tuple[str, str] | None = None,
) -> str:
    """A customer billed at (street, zip_) and serviced there, or at ``location`` (street, zip)."""
    loc_street, loc_zip = location or (street, zip_)
    result = writer.execute(
        "create_customer",
        {
            "customer": {
                "name": name,
                "street": street,
                "unit": unit,
                "city": "Dallas",
                "state": "TX",
                "zip": zip_,
            },
            "contacts": [{"kind": "MobilePhone", "value": phone}],
            "locations": [
                {
                    "street": loc_street,
                    "unit": unit if location is None else "",
                    "city": "Dallas",
                    "state": "TX",
                    "zip": loc_zip,
                }
            ],
        },
    )
    return result.applied.entity_id


@pytest.fixture
def people(writer: LocalWriter) -> dict[str, str]:
    return {
        "smith": add(writer, "John Smith", "+12145550134", "123 North Main Street", "75201"),
        "garcia": add(
            writer, "Maria Garcia", "+12145550199", "500 Elm St", "75202", location=("77 Oak Ave", "75204")
        ),
        "apt": add(writer, "Lee Wong", "+12145550111", "900 Ross Ave", "75202", unit="Apt 4"),
        "other": add(writer, "Bob Jones", "+14695550100", "1 Commerce St", "75201"),
    }


def find(
    cache: Cache,
    name: str = "",
    phones: list[str] | None = None,
    street: str = "",
    unit: str = "",
    zip_: str = "",
    **kw: Any,
) -> list[Any]:
    with cache.sessions() as s:
        return find_duplicates(s, name, phones or [], street, unit, zip_, **kw)


def test_same_phone(cache: Cache, people: dict[str, str]) -> None:
    (hit,) = find(cache, "Zed Nobody", ["+12145550134"])
    assert hit.customer_id == people["smith"]
    assert hit.reasons == ["Same phone (214) 555-0134"]
    assert (hit.name, hit.phone, hit.address) == (
        "John Smith",
        "(214) 555-0134",
        "123 North Main Street, Dallas, TX 75201",
    )


def test_same_address_spelled_differently(cache: Cache, people: dict[str, str]) -> None:
    (hit,) = find(cache, "Zed Nobody", street="123 N. Main St", zip_="75201-4410")
    assert (hit.customer_id, hit.reasons) == (people["smith"], ["Same address"])
    assert hit.phone == "(214) 555-0134"  # the customer's own phone, for the CSR to compare


def test_unit_is_part_of_the_address(cache: Cache, people: dict[str, str]) -> None:
    assert [
        h.customer_id for h in find(cache, "Zed", street="900 Ross Avenue", unit="Apartment 4", zip_="75202")
    ] == [people["apt"]]
    assert find(cache, "Zed", street="900 Ross Ave", unit="Apt 5", zip_="75202") == []


def test_service_location_and_billing_address_both_count(cache: Cache, people: dict[str, str]) -> None:
    assert [h.customer_id for h in find(cache, "Zed", street="77 Oak Avenue", zip_="75204")] == [
        people["garcia"]
    ]
    # Maria is billed at 500 Elm St but has no location there: the billing key is compared too.
    (hit,) = find(cache, "Zed", street="500 Elm Street", zip_="75202")
    assert (hit.customer_id, hit.reasons) == (people["garcia"], ["Same address"])


@pytest.mark.parametrize(
    ("typed", "expect"),
    [
        ("John Smith", "Same name"),
        ("Jon Smith", "Similar name"),
        ("john  SMYTH", "Similar name"),
        ("Smith, John", "Same name"),
    ],
)
def test_similar_names(cache: Cache, people: dict[str, str], typed: str, expect: str) -> None:
    (hit,) = find(cache, typed)
    assert hit.customer_id == people["smith"]
    (reason,) = hit.reasons
    assert reason.startswith(expect)
    if expect == "Similar name":
        assert 88 <= int(re.search(r"\((\d+)%\)", reason).group(1)) < 100


def test_different_people_are_not_duplicates(cache: Cache, people: dict[str, str]) -> None:
    assert find(cache, "Joan Smithers", ["+12145559999"], "124 Main St", "", "75201") == []
    assert find(cache) == []


def test_reasons_merge_and_strongest_first(cache: Cache, writer: LocalWriter, people: dict[str, str]) -> None:
    by_name = add(writer, "Jane Doe", "+12145550150", "9 Pine Rd", "75209")
    by_address = add(writer, "Someone Else", "+12145550151", "42 Cedar Ln", "75210")
    by_phone = add(writer, "Third Person", "+12145550152", "7 Birch Dr", "75211")
    everything = add(writer, "Jane Doe", "+12145550152", "42 Cedar Lane", "75210")
    hits = find(cache, "Jane Doe", ["+12145550152"], "42 Cedar Ln", "", "75210")
    assert [h.customer_id for h in hits] == [everything, by_phone, by_address, by_name]
    assert hits[0].reasons == ["Same phone (214) 555-0152", "Same address", "Same name"]
    assert find(cache, "Jane Doe", ["+12145550152"], "42 Cedar Ln", "", "75210", limit=2) == hits[:2]


def test_merged_customers_are_left_out(cache: Cache, people: dict[str, str]) -> None:
    with cache.sessions.begin() as s:
        s.get(Customer, people["smith"]).merged_into_id = people["other"]
    assert find(cache, "John Smith", ["+12145550134"]) == []


def test_shared_number_lists_every_owner(cache: Cache, writer: LocalWriter, people: dict[str, str]) -> None:
    spouse = add(writer, "Mary Smith", "+12145550134", "5 Lake Dr", "75230")
    hits = find(cache, "Tenant Nobody", ["+12145550134"])
    assert {h.customer_id for h in hits} == {people["smith"], spouse}


def test_every_lookup_uses_an_index(cache: Cache, people: dict[str, str]) -> None:
    """Full scans of the big tables would make the check O(customers): look at each query plan."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, params))

    event.listen(cache.engine, "before_cursor_execute", capture)
    try:
        assert find(cache, "John Smith", ["+12145550134"], "123 Main St", "", "75201")
    finally:
        event.remove(cache.engine, "before_cursor_execute", capture)
    selects = [(sql, p) for sql, p in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 5  # phone, location key, billing FTS, name keys, FTS, hydrate
    raw = cache.raw_connection()
    try:
        for sql, params in selects:
            plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
            # "SCAN x" without an index is a full table scan; the FTS table's "VIRTUAL TABLE INDEX" is not.
            scans = [
                line
                for line in plan
                if line.startswith("SCAN ")
                and not any(ok in line for ok in ("USING", "VIRTUAL TABLE", "CONSTANT ROW"))
            ]
            assert not scans, f"{sql}\n{plan}"
    finally:
        raw.close()
