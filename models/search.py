"""Customer lookup over the local cache: phone (exact and partial), name, address, email, job number.

Works on a plain ``sqlite3.Connection`` so a worker thread can own one and reuse its prepared
statements. Ranking: exact phone, job number, name starting with the query, a word of the
name starting with it, anything containing it, then partial phone digits.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from enum import IntEnum

from .phone import default_region, digits_only, looks_like_phone, try_parse_phone
from .search_index import words

MAX_QUERY = 200
MAX_WORDS = 8  # a longer paste is cut here: nobody's name or street is longer
DEFAULT_LIMIT = 200


class Match(IntEnum):
    """Why a customer is in the results; lower sorts first."""

    PHONE_EXACT = 0
    JOB_NUMBER = 1
    NAME_PREFIX = 2
    NAME_WORD = 3
    TEXT = 4
    PHONE_PARTIAL = 5


@dataclass(slots=True)
class SearchResult:
    query: str
    ids: list[str] = field(default_factory=list)
    reasons: dict[str, Match] = field(default_factory=dict)

    def add(self, ids: list[str], why: Match, limit: int) -> None:
        for cid in ids:
            if len(self.ids) >= limit:
                return
            if cid not in self.reasons:
                self.reasons[cid] = why
                self.ids.append(cid)


@dataclass(slots=True)
class ResultRow:
    """What one line of the results list shows."""

    id: str
    name: str
    type: str
    address: str
    phone: str
    do_not_service: bool
    tags: list[str]
    member: bool


def _prefix_range(key: str) -> tuple[str, str]:
    # Everything that starts with key sorts in [key, key + U+10FFFF): a B-tree range, no LIKE.
    return key, key + "\U0010ffff"


def _fts_query(tokens: list[str]) -> str:
    # Every token a quoted prefix query ("smi"*): FTS5 operators typed by the CSR stay plain text.
    return " ".join('"' + t.replace('"', '""') + '"*' for t in tokens)


class CustomerSearch:
    """Runs lookups on one connection; not thread-safe, one per thread."""

    def __init__(self, conn: sqlite3.Connection, region: str | None = None) -> None:
        self.conn = conn
        self.region = region or default_region()

    def _ids(self, sql: str, params: tuple) -> list[str]:
        return [r[0] for r in self.conn.execute(sql, params)]

    def search(self, query: str, limit: int = DEFAULT_LIMIT) -> SearchResult:
        # Lone surrogates (a broken paste) can't be encoded for SQLite: drop them, search the rest.
        text = " ".join((query or "")[:MAX_QUERY].encode("utf-8", "ignore").decode("utf-8").split())
        result = SearchResult(query=query)
        if not text:
            return result
        phoneish = looks_like_phone(text)
        digits = digits_only(text) if phoneish else ""
        if len(digits) >= 7:
            self._phone(text, result, limit)
        self._job_number(text, result, limit)
        # Seven digits or more is a phone number, never a street number or ZIP: skip text search.
        if len(digits) < 7:
            self._text(text, result, limit)
        if phoneish and not (result.ids and len(digits) >= 10):
            self._phone_partial(digits, result, limit)
        return self._follow_merges(result, limit)

    def _follow_merges(self, result: SearchResult, limit: int) -> SearchResult:
        """A merged customer's name (or number, job) finds the customer it was merged into (issue 19)."""
        if not result.ids:
            return result
        marks = ",".join("?" * len(result.ids))
        moved = dict(
            self.conn.execute(
                f"SELECT id, merged_into_id FROM customers WHERE id IN ({marks}) AND merged_into_id IS NOT NULL",
                result.ids,
            ).fetchall()
        )
        if not moved:
            return result
        out = SearchResult(query=result.query)
        for cid in result.ids:
            out.add([moved.get(cid, cid)], result.reasons[cid], limit)
        return out

    # -- phones -------------------------------------------------------------------------------
    def _phone(self, text: str, result: SearchResult, limit: int) -> None:
        digits = digits_only(text)
        candidates: list[str] = []
        parsed = try_parse_phone(text, self.region)
        if parsed:
            candidates.append(parsed.e164)
        # Numbers that don't validate (a made-up area code) are still found when typed in full.
        if len(digits) == 10:
            candidates.append("+1" + digits)
        elif len(digits) == 11 and digits.startswith("1"):
            candidates.append("+" + digits)
        elif text.startswith("+") and len(digits) >= 8:
            candidates.append("+" + digits)
        for e164 in dict.fromkeys(candidates):
            result.add(
                self._ids(
                    "SELECT DISTINCT customer_id FROM contact_methods WHERE value = ? LIMIT ?", (e164, limit)
                ),
                Match.PHONE_EXACT,
                limit,
            )

    def _phone_partial(self, digits: str, result: SearchResult, limit: int) -> None:
        if len(digits) < 4 or len(result.ids) >= limit:
            return
        national = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
        lo, hi = _prefix_range(national)
        result.add(
            self._ids(
                "SELECT customer_id FROM contact_methods WHERE digits >= ? AND digits < ? LIMIT ?",
                (lo, hi, limit),
            ),
            Match.PHONE_PARTIAL,
            limit,
        )
        lo, hi = _prefix_range(digits[::-1])
        result.add(
            self._ids(
                "SELECT customer_id FROM contact_methods WHERE digits_rev >= ? AND digits_rev < ? LIMIT ?",
                (lo, hi, limit),
            ),
            Match.PHONE_PARTIAL,
            limit,
        )

    # -- job numbers ----------------------------------------------------------------------------
    def _job_number(self, text: str, result: SearchResult, limit: int) -> None:
        token = text.strip().lstrip("#")
        if not token or " " in token or len(token) > 20:
            return
        # Job numbers are upper-case by construction (models.journal): an exact match on the
        # upper-cased token uses the unique index (COLLATE NOCASE would scan every job).
        result.add(
            self._ids("SELECT customer_id FROM jobs WHERE number = ? LIMIT ?", (token.upper(), limit)),
            Match.JOB_NUMBER,
            limit,
        )

    # -- names, addresses, emails -------------------------------------------------------------------
    def _text(self, text: str, result: SearchResult, limit: int) -> None:
        tokens = words(text)[:MAX_WORDS]  # nobody's name or address needs more words than this
        if not tokens:
            return
        lo, hi = _prefix_range(" ".join(tokens))
        result.add(
            self._ids(
                "SELECT customer_id FROM customer_search WHERE name_key >= ? AND name_key < ? LIMIT ?",
                (lo, hi, limit),
            ),
            Match.NAME_PREFIX,
            limit,
        )
        result.add(
            self._ids(
                "SELECT customer_id FROM customer_search WHERE name_rev_key >= ? "
                "AND name_rev_key < ? LIMIT ?",
                (lo, hi, limit),
            ),
            Match.NAME_WORD,
            limit,
        )
        if len(result.ids) >= limit:
            return
        rows = self.conn.execute(
            "SELECT s.customer_id FROM customer_fts f JOIN customer_search s ON s.doc_id = f.rowid "
            "WHERE customer_fts MATCH ? LIMIT ?",
            (_fts_query(tokens), limit),
        )
        result.add([r[0] for r in rows], Match.TEXT, limit)


# The B-trees every lookup walks. Reading them once, in order, pulls them into the OS page cache so
# the first calls of the day are as fast as the rest (a cold 1M-customer cache is ~2 GB on disk).
_PREWARM = [
    "SELECT count(*) FROM contact_methods INDEXED BY ix_contact_methods_digits WHERE digits >= ''",
    "SELECT count(*) FROM contact_methods INDEXED BY ix_contact_methods_digits_rev WHERE digits_rev >= ''",
    "SELECT count(*) FROM contact_methods INDEXED BY ix_contact_methods_value WHERE value >= ''",
    "SELECT count(*) FROM contact_methods INDEXED BY ix_contact_methods_customer_id WHERE customer_id >= ''",
    "SELECT count(*) FROM customer_search INDEXED BY ix_customer_search_name_key WHERE name_key >= ''",
    "SELECT count(*) FROM customer_search INDEXED BY ix_customer_search_name_rev_key WHERE name_rev_key >= ''",
    "SELECT max(length(customer_id)) FROM customer_search NOT INDEXED",
    "SELECT sum(length(block)) FROM customer_fts_data",
    "SELECT count(*) FROM customers INDEXED BY sqlite_autoindex_customers_1 WHERE id >= ''",
    # The rows a result line shows (name, address, first phone) are read from these two tables.
    "SELECT max(length(name)) FROM customers NOT INDEXED",
    "SELECT max(length(value)) FROM contact_methods NOT INDEXED",
]


def prewarm(conn: sqlite3.Connection, should_stop=lambda: False) -> int:  # noqa: ANN001
    """Read the search indexes once (sequential I/O); returns how many statements ran."""
    done = 0
    for sql in _PREWARM:
        if should_stop():
            break
        try:
            conn.execute(sql).fetchall()
        except sqlite3.Error:  # an index missing on an old cache: nothing to warm there
            continue
        done += 1
    return done


_ROWS_SQL = """
SELECT c.id, c.name, c.type, c.street, c.unit, c.city, c.state, c.zip, c.do_not_service,
  (SELECT value FROM contact_methods m WHERE m.customer_id = c.id AND m.kind != 'Email'
     ORDER BY m.location_id IS NOT NULL, m.created_at LIMIT 1) AS phone,
  (SELECT group_concat(t.name, '|') FROM customer_tags ct JOIN tag_types t ON t.id = ct.tag_type_id
     WHERE ct.customer_id = c.id) AS tags,
  EXISTS (SELECT 1 FROM memberships ms WHERE ms.customer_id = c.id AND ms.status = 'Active') AS member
FROM customers c WHERE c.id IN ({marks})
"""


def load_rows(conn: sqlite3.Connection, ids: list[str]) -> dict[str, ResultRow]:
    """Hydrate result rows for these ids (any order; missing ids are simply absent)."""
    from .phone import format_phone
    from .search_index import address_text

    out: dict[str, ResultRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = _ROWS_SQL.format(marks=",".join("?" * len(chunk)))
        for cid, name, ctype, street, unit, city, state, zip_, dns, phone, tags, member in conn.execute(
            sql, chunk
        ):
            out[cid] = ResultRow(
                id=cid,
                name=name,
                type=ctype,
                address=address_text(street, unit, city, state, zip_),
                phone=format_phone(phone) if phone else "",
                do_not_service=bool(dns),
                tags=sorted(tags.split("|")) if tags else [],
                member=bool(member),
            )
    return out
