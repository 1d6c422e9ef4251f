"""The local search index (SQLite only): one denormalized document per customer, indexed by
FTS5 words (with prefix indexes) for "a word starts with" search and by B-tree keys for
"the name starts with" search.

Phones are not in the document: ``contact_methods`` carries indexed digit keys for them.
The index is derived data; :func:`refresh` rebuilds the documents of the customers a write
touched, inside the same transaction as the write.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

# One statement per entry so both alembic (op.execute) and sqlite3 (execute) can run them.
TABLE_DDL = [
    """CREATE TABLE IF NOT EXISTS customer_search (
        doc_id INTEGER PRIMARY KEY,
        customer_id VARCHAR(32) NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        address TEXT NOT NULL DEFAULT '',
        contact TEXT NOT NULL DEFAULT '',
        name_key TEXT NOT NULL DEFAULT '',
        name_rev_key TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS ix_customer_search_name_key ON customer_search(name_key)",
    "CREATE INDEX IF NOT EXISTS ix_customer_search_name_rev_key ON customer_search(name_rev_key)",
    """CREATE VIRTUAL TABLE IF NOT EXISTS customer_fts USING fts5(
        name, address, contact, content='customer_search', content_rowid='doc_id',
        tokenize="unicode61 remove_diacritics 2", prefix='1 2 3')""",
]

TRIGGER_DDL = [
    """CREATE TRIGGER IF NOT EXISTS customer_search_ai AFTER INSERT ON customer_search BEGIN
        INSERT INTO customer_fts(rowid, name, address, contact)
        VALUES (new.doc_id, new.name, new.address, new.contact);
    END""",
    """CREATE TRIGGER IF NOT EXISTS customer_search_ad AFTER DELETE ON customer_search BEGIN
        INSERT INTO customer_fts(customer_fts, rowid, name, address, contact)
        VALUES ('delete', old.doc_id, old.name, old.address, old.contact);
    END""",
    """CREATE TRIGGER IF NOT EXISTS customer_search_au AFTER UPDATE ON customer_search BEGIN
        INSERT INTO customer_fts(customer_fts, rowid, name, address, contact)
        VALUES ('delete', old.doc_id, old.name, old.address, old.contact);
        INSERT INTO customer_fts(rowid, name, address, contact)
        VALUES (new.doc_id, new.name, new.address, new.contact);
    END""",
]

_WORD = re.compile(r"\w+", re.UNICODE)

DROP_TRIGGERS = [f"DROP TRIGGER IF EXISTS customer_search_{s}" for s in ("ai", "ad", "au")]
DROP_DDL = [*DROP_TRIGGERS, "DROP TABLE IF EXISTS customer_fts", "DROP TABLE IF EXISTS customer_search"]


def fold(text: str) -> str:
    """Lower-case and strip accents, so "José" is found by "jose"."""
    if text.isascii():
        return text.lower()  # the same answer, ~20× faster: most names and addresses
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """Folded words, split like the FTS tokenizer (unicode61) splits: on anything not a letter or digit."""
    return _WORD.findall(fold(text))


def name_keys(name: str) -> tuple[str, str]:
    """("john smith", "smith john"): prefix keys for the first word and for the last word."""
    words_ = words(name)
    if not words_:
        return "", ""
    return " ".join(words_), " ".join([words_[-1], *words_[:-1]])


def address_text(street: str, unit: str, city: str, state: str, zip_: str) -> str:
    parts = [f"{street} {unit}".strip(), city, f"{state} {zip_}".strip()]
    return ", ".join(p for p in parts if p)


def document(name: str, addresses: Iterable[str], emails: Iterable[str]) -> tuple[str, str, str, str, str]:
    """The searchable columns of one customer: (name, address, contact, name_key, name_rev_key)."""
    seen: list[str] = []
    for a in addresses:
        if a and a not in seen:
            seen.append(a)
    key, rev = name_keys(name)
    return fold(name), fold(" | ".join(seen)), fold(" ".join(e for e in emails if e)), key, rev


_DOC_SQL = """
SELECT c.id, c.name, c.street, c.unit, c.city, c.state, c.zip
FROM customers c WHERE c.id IN ({marks})
"""
_LOC_SQL = "SELECT customer_id, street, unit, city, state, zip FROM locations WHERE customer_id IN ({marks})"
_MAIL_SQL = "SELECT customer_id, value FROM contact_methods WHERE kind = 'Email' AND customer_id IN ({marks})"


def refresh(execute: Any, customer_ids: Sequence[str], *, fresh: Any = None) -> None:
    """Rebuild the search documents of these customers.

    ``execute(sql, params)`` runs one statement on the caller's connection and returns rows,
    so the same code serves a SQLAlchemy session and a raw sqlite3 connection. ``fresh``: the
    customers have no document yet (a bulk build into an emptied index): ``fresh(sql, rows)`` inserts
    them all at once.
    """
    ids = list(dict.fromkeys(customer_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        addresses: dict[str, list[str]] = {i: [] for i in chunk}
        emails: dict[str, list[str]] = {i: [] for i in chunk}
        names: dict[str, str] = {}
        for cid, name, street, unit, city, state, zip_ in execute(_DOC_SQL.format(marks=marks), chunk):
            names[cid] = name
            addresses[cid].append(address_text(street, unit, city, state, zip_))
        for cid, street, unit, city, state, zip_ in execute(_LOC_SQL.format(marks=marks), chunk):
            addresses[cid].append(address_text(street, unit, city, state, zip_))
        for cid, value in execute(_MAIL_SQL.format(marks=marks), chunk):
            emails[cid].append(value)
        if fresh is not None:
            fresh(
                "INSERT INTO customer_search(customer_id, name, address, contact, name_key, name_rev_key) "
                "VALUES (?,?,?,?,?,?)",
                [(cid, *document(names[cid], addresses[cid], emails[cid])) for cid in chunk if cid in names],
            )
            continue
        for cid in chunk:
            if cid not in names:
                execute("DELETE FROM customer_search WHERE customer_id = ?", [cid])
                continue
            doc = document(names[cid], addresses[cid], emails[cid])
            updated = execute(
                "UPDATE customer_search SET name=?, address=?, contact=?, name_key=?, name_rev_key=? "
                "WHERE customer_id=? RETURNING doc_id",
                [*doc, cid],
            )
            if not list(updated):
                execute(
                    "INSERT INTO customer_search(customer_id, name, address, contact, name_key, "
                    "name_rev_key) VALUES (?,?,?,?,?,?)",
                    [cid, *doc],
                )
