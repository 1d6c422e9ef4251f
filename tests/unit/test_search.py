"""Lookup: every input format, ranking, and hostile input."""

from __future__ import annotations

import pytest

from models.search import CustomerSearch, Match, load_rows

from .conftest import customer_args


@pytest.fixture
def people(writer):
    ids = {}
    ids["maria"] = writer.execute(
        "create_customer", customer_args(email="maria.garcia@example.com")
    ).applied.entity_id
    ids["mario"] = writer.execute(
        "create_customer",
        customer_args(name="Mario Garcia-Lopez", phone="214-555-0199", street="8 Elm Street", zip_="75202"),
    ).applied.entity_id
    ids["smith"] = writer.execute(
        "create_customer",
        customer_args(
            name="Anna Smith",
            phone="(972) 555-1234",
            street="400 Oak Ave",
            city="Plano",
            zip_="75024",
            email="asmith@example.org",
        ),
    ).applied.entity_id
    # Shares Maria's number (a spouse's business on the same line).
    ids["shared"] = writer.execute(
        "create_customer",
        customer_args(
            name="Garcia Handyman LLC",
            phone="+1 214 555 0134",
            street="1 Commerce St",
            zip_="75201",
            type="Commercial",
        ),
    ).applied.entity_id
    ids["jose"] = writer.execute(
        "create_customer",
        customer_args(name="José Núñez", phone="(469) 555-0100", street="77 Peña Blvd", zip_="75203"),
    ).applied.entity_id
    return ids


@pytest.fixture
def search(cache):
    conn = cache.raw_connection()
    yield CustomerSearch(conn)
    conn.close()


@pytest.mark.parametrize(
    "query",
    ["(214) 555-0134", "214.555.0134", "+1 214 555 0134", "2145550134", "1-214-555-0134", " 214 555 0134 "],
)
def test_exact_phone_any_format_lists_every_owner_first(search, people, query):
    result = search.search(query)
    assert set(result.ids[:2]) == {people["maria"], people["shared"]}
    assert all(result.reasons[i] is Match.PHONE_EXACT for i in result.ids[:2])


@pytest.mark.parametrize(
    "query,expected",
    [
        ("0134", {"maria", "shared"}),
        ("5550134", {"maria", "shared"}),
        ("1234", {"smith"}),
        ("0199", {"mario"}),
    ],
)
def test_last_digits(search, people, query, expected):
    result = search.search(query)
    assert {people[k] for k in expected} <= set(result.ids)
    assert people["jose"] not in result.ids


def test_partial_prefix_while_typing(search, people):
    assert people["smith"] in search.search("972 55").ids
    assert people["smith"] in search.search("(972) 555-1").ids


def test_name_prefix_ranks_before_contains(search, people):
    result = search.search("mari")
    assert result.ids[:2] == sorted(result.ids[:2], key=lambda i: result.reasons[i])
    assert result.reasons[people["maria"]] is Match.NAME_PREFIX
    assert result.reasons[people["mario"]] is Match.NAME_PREFIX


def test_last_name_and_word_order(search, people):
    result = search.search("garcia")
    assert result.reasons[people["maria"]] is Match.NAME_WORD
    assert result.reasons[people["shared"]] is Match.NAME_PREFIX  # "Garcia Handyman LLC"
    assert result.ids.index(people["shared"]) < result.ids.index(people["maria"])
    assert people["maria"] in search.search("maria gar").ids


def test_accents_are_folded(search, people):
    assert people["jose"] in search.search("jose nunez").ids
    assert people["jose"] in search.search("peña").ids
    assert people["jose"] in search.search("pena blvd").ids


def test_address_email_and_zip(search, people):
    assert people["smith"] in search.search("400 oak").ids
    assert people["smith"] in search.search("plano").ids
    assert people["maria"] in search.search("maria.garcia@").ids
    assert people["smith"] in search.search("75024").ids
    assert search.search("elm st").ids[0] == people["mario"]


def test_job_number(search, people, cache):
    from models.base import new_id
    from models.jobs import Job
    from models.setup import BusinessUnit, BusinessUnitGroup, Campaign

    with cache.sessions.begin() as s:
        g = BusinessUnitGroup(id=new_id(), name="HVAC")
        bu = BusinessUnit(id=new_id(), name="HVAC Service", group_id=g.id)
        camp = Campaign(id=new_id(), name="Yard signs")
        s.add_all([g, bu, camp])
        s.flush()
        loc = s.execute(
            __import__("sqlalchemy").text("SELECT id FROM locations WHERE customer_id = :c"),
            {"c": people["smith"]},
        ).scalar()
        s.add(
            Job(
                id=new_id(),
                number="A1-10042",
                customer_id=people["smith"],
                location_id=loc,
                business_unit_id=bu.id,
                campaign_id=camp.id,
            )
        )
    result = search.search("a1-10042")
    assert result.ids[0] == people["smith"] and result.reasons[people["smith"]] is Match.JOB_NUMBER
    assert search.search("#A1-10042").ids[0] == people["smith"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "'",
        '"smith',
        'smith"',
        "NEAR(a b)",
        "a OR b",
        "AND",
        "*",
        "^smith",
        "col:smith",
        "'; DROP TABLE customers; --",
        "%",
        "_",
        "\\",
        "\x00",
        "😀",
        "😀" * 50,
        "🔧 plumber",
        "x" * 10_000,
        "١٢٣٤",
        "  ",
        "\t\n",
        "()",
        "+",
        "+++",
        "-",
        "(((",
        "a" * 3,
        "Robert'); DROP TABLE customers;--",
        "{}[]",
        "NULL",
        "\u202e",
        "\ufeffsmith",
    ],
)
def test_hostile_queries_return_results_or_none_never_raise(search, people, query):
    result = search.search(query)
    assert isinstance(result.ids, list)
    assert len(result.ids) == len(set(result.ids))


def test_nothing_found(search, people):
    assert search.search("zzzzqqq").ids == []
    assert search.search("").ids == []


def test_results_are_unique_and_limited(search, writer):
    for i in range(30):
        writer.execute(
            "create_customer",
            customer_args(name=f"Lee Customer{i}", phone=f"(214) 555-{i:04d}", street=f"{i} Lee Rd"),
        )
    result = search.search("lee", limit=10)
    assert len(result.ids) == 10 and len(set(result.ids)) == 10


def test_load_rows(search, people):
    rows = load_rows(search.conn, [people["maria"], "missing"])
    row = rows[people["maria"]]
    assert "missing" not in rows
    assert row.name == "Maria Garcia" and row.phone == "(214) 555-0134"
    assert row.address == "12 Main St, Dallas, TX 75201"
    assert row.do_not_service is False and row.tags == []


def test_index_follows_edits(search, writer, people):
    writer.execute(
        "update_customer", {"customer_id": people["smith"], "changes": {"name": ["Anna Smith", "Beth Jones"]}}
    )
    assert people["smith"] not in search.search("anna").ids
    assert people["smith"] in search.search("beth jones").ids
    # A new location makes the customer findable by its address.
    writer.execute(
        "add_location",
        {
            "location": {
                "customer_id": people["smith"],
                "street": "9 Birch Ln",
                "city": "Frisco",
                "state": "TX",
                "zip": "75034",
            }
        },
    )
    assert people["smith"] in search.search("birch").ids


def test_every_lookup_query_uses_an_index(search, people):
    """At a million customers a scan is a visible freeze: no statement of the lookup may scan a table."""
    plans = []
    original = search.conn

    class Spy:
        def execute(self, sql, params=()):
            plans.extend(row[3] for row in original.execute("EXPLAIN QUERY PLAN " + sql, params))
            return original.execute(sql, params)

    search.conn = Spy()
    try:
        for q in ("(214) 555-0134", "0134", "maria gar", "a1-10042", "12 main", "75201", "m"):
            search.search(q)
    finally:
        search.conn = original
    scans = [p for p in plans if p.startswith("SCAN") and "VIRTUAL TABLE" not in p]
    assert scans == []


def test_lone_surrogates_and_long_word_lists(search, people):
    assert people["maria"] in search.search("maria\ud800").ids
    result = search.search(" ".join("a b c d e f g h i j k l m n o p q r s t u v w x y z".split()))
    assert isinstance(result.ids, list)


def test_region_setting_reaches_saving_and_search(cache, writer):
    """--region: a number typed without + is read in the company's region everywhere."""
    from models.phone import set_default_region

    set_default_region("GB")
    try:
        cid = writer.execute(
            "create_customer", customer_args(name="Oliver Smith", phone="020 7946 0958")
        ).applied.entity_id
        conn = cache.raw_connection()
        assert CustomerSearch(conn).search("020 7946 0958").ids[0] == cid
        conn.close()
    finally:
        set_default_region("US")
    with pytest.raises(ValueError):
        set_default_region("XX")
