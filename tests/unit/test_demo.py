"""The demo/benchmark generator: deterministic and realistic."""

from __future__ import annotations

import sqlite3

import pytest

from models.demo import generate
from models.phone import try_parse_phone
from models.search import CustomerSearch
from models.validation import zip_info


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "a.sqlite3"
    counts = generate(path, customers=3000, seed=5)
    conn = sqlite3.connect(path)
    yield path, counts, conn
    conn.close()


def test_same_seed_same_data(demo, tmp_path):
    path, _counts, conn = demo
    other = tmp_path / "b.sqlite3"
    generate(other, customers=3000, seed=5)
    with sqlite3.connect(other) as conn2:
        for table in ("customers", "locations", "contact_methods", "customer_tags", "notes", "memberships"):
            assert (
                conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                == conn2.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            ), table


def test_counts_and_variety(demo):
    _path, counts, conn = demo
    assert counts["customers"] == 3000
    q = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    assert q("SELECT count(*) FROM customers") == 3000
    assert q("SELECT count(*) FROM customers WHERE do_not_service = 1") > 5
    assert q("SELECT count(*) FROM customers WHERE type = 'Commercial'") > 100
    assert q("SELECT max(n) FROM (SELECT count(*) n FROM locations GROUP BY customer_id)") >= 5
    assert (
        q(
            "SELECT count(*) FROM (SELECT value FROM contact_methods WHERE kind != 'Email' "
            "GROUP BY value HAVING count(DISTINCT customer_id) > 1)"
        )
        > 10
    )  # shared numbers
    assert q("SELECT count(DISTINCT customer_id) FROM customer_tags") > 300
    assert q("SELECT count(*) FROM notes") > 100 and q("SELECT count(*) FROM memberships") > 100
    assert q("SELECT count(*) FROM customer_search") == 3000


def test_addresses_and_phones_are_real(demo):
    _path, _counts, conn = demo
    rows = conn.execute("SELECT zip, state, city FROM locations LIMIT 500").fetchall()
    assert all(zip_info(z) is not None and zip_info(z)[0] == s for z, s, _c in rows)
    phones = [r[0] for r in conn.execute("SELECT value FROM contact_methods WHERE kind != 'Email' LIMIT 500")]
    valid = sum(try_parse_phone(p) is not None for p in phones)
    assert valid / len(phones) > 0.9


def test_generated_cache_is_searchable(demo):
    _path, _counts, conn = demo
    cid, name = conn.execute("SELECT id, name FROM customers ORDER BY id LIMIT 1 OFFSET 100").fetchone()
    assert cid in CustomerSearch(conn).search(name).ids
    # Triggers are back after the bulk load: a later write keeps the FTS index in step.
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 3
    assert (
        conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'ix_contact_methods_digits_rev'"
        ).fetchone()[0]
        == 1
    )
