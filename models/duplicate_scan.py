"""Possible duplicates over the whole cache (issue 19): pairs of customers with the same phone, the same
service address or a similar name — the duplicate check's rules (models/duplicates.py: the same name
score and threshold, the same address key) applied to every customer at once.

Runs on a plain ``sqlite3.Connection`` owned by a worker thread, never on the UI thread. Each rule is
one ordered pass: equal phones and equal address keys sit next to each other, and names are compared
only inside blocks of the same last name and first initial (and of the same first name and last
initial: "Smith"/"Smyth"), with rapidfuzz's C++ scorer — so a 1M-customer cache costs seconds, not
hours. A number or an address shared by more than ``MAX_GROUP`` customers (an office line, an
apartment block) is no evidence and is skipped.
"""

from __future__ import annotations

import heapq
import multiprocessing
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.process import extract
from rapidfuzz.utils import default_process

from .duplicates import NAME_THRESHOLD
from .phone import format_phone

MAX_GROUP = 10  # customers sharing one phone or address: more is a shared line, not a duplicate
BLOCK = 1500  # names compared at once inside one block (a longer block is cut in sorted slices)
DEFAULT_LIMIT = 5000


@dataclass(slots=True)
class DuplicatePair:
    """Two customers that may be one, and why (``a`` < ``b``)."""

    a: str
    b: str
    phones: list[str] = field(default_factory=list)  # E.164 numbers both have
    same_address: bool = False
    name_score: int = 0

    def sort_key(self) -> tuple[int, int, str, str]:
        """Strongest first: more kinds of evidence, then a shared phone, an address, the name score."""
        kinds = bool(self.phones) + self.same_address + bool(self.name_score)
        strength = kinds * 1000 + bool(self.phones) * 200 + self.same_address * 100 + self.name_score
        return -strength, 0, self.a, self.b

    def reasons(self) -> list[str]:
        out = [f"Same phone {format_phone(p)}" for p in self.phones]
        if self.same_address:
            out.append("Same address")
        if self.name_score:
            out.append("Same name" if self.name_score == 100 else f"Similar name ({self.name_score}%)")
        return out


class Stopped(Exception):
    """The scan was cancelled (the window closed, a newer scan started)."""


def _pairs(ids: list[str]) -> list[tuple[str, str]]:
    ids = sorted(set(ids))
    return [(x, y) for i, x in enumerate(ids) for y in ids[i + 1 :]]


def scan_duplicates(
    conn: sqlite3.Connection,
    *,
    limit: int = DEFAULT_LIMIT,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> list[DuplicatePair]:
    """Every possible duplicate pair in the cache, strongest first (at most ``limit``)."""
    merged = {r[0] for r in conn.execute("SELECT id FROM customers WHERE merged_into_id IS NOT NULL")}
    evidence: dict[tuple[str, str], DuplicatePair] = {}

    def grouped(rows: Iterator[tuple[str, str]], apply: Callable[[DuplicatePair, str], None]) -> None:
        key, members = None, []
        for n, (value, cid) in enumerate(rows):
            if n % 50_000 == 0 and should_stop():
                raise Stopped
            if value != key:
                _flush(key, members, apply)
                key, members = value, []
            if cid not in merged:
                members.append(cid)
        _flush(key, members, apply)

    def _flush(key: str | None, members: list[str], apply: Callable[[DuplicatePair, str], None]) -> None:
        distinct = set(members)
        if key is None or not (2 <= len(distinct) <= MAX_GROUP):
            return
        for a, b in _pairs(list(distinct)):
            apply(evidence.setdefault((a, b), DuplicatePair(a, b)), key)

    def phone(pair: DuplicatePair, value: str) -> None:
        if value not in pair.phones:
            pair.phones.append(value)

    def address(pair: DuplicatePair, _key: str) -> None:
        pair.same_address = True

    grouped(
        conn.execute(
            "SELECT value, customer_id FROM contact_methods INDEXED BY ix_contact_methods_value "
            "WHERE value LIKE '+%' ORDER BY value"
        ),
        phone,
    )
    progress(0.2)
    # "+address_key": a sequential read sorted by SQLite (with the GIL released), not the index —
    # in index order each row's ``active`` and customer would be a random table read.
    grouped(
        conn.execute(
            "SELECT address_key, customer_id FROM locations WHERE address_key != '' AND active "
            "ORDER BY +address_key"
        ),
        address,
    )
    progress(0.35)
    weak: list[tuple[int, str, str]] = []  # name-only pairs, the best ``limit`` kept (a min-heap)

    def note(a: str, b: str, score: int) -> None:
        a, b = (a, b) if a < b else (b, a)
        pair = evidence.get((a, b))
        if pair is not None:
            pair.name_score = max(pair.name_score, score)
        elif len(weak) < limit:
            heapq.heappush(weak, (score, a, b))
        elif score > weak[0][0]:
            heapq.heapreplace(weak, (score, a, b))

    # One entry per distinct folded name: a name shared by more than MAX_GROUP customers is a common
    # name, no evidence (as a shared office line is none).
    # Values are an id, or a tuple of ids: no million lists for the (UI thread's) garbage collector.
    by_name: dict[str, str | tuple[str, ...]] = {}
    for cid, key in conn.execute("SELECT customer_id, name_key FROM customer_search"):
        if key and cid not in merged:
            had = by_name.get(key)
            by_name[key] = cid if had is None else (*_ids(had), cid)
    if should_stop():
        raise Stopped
    distinct = [k for k, ids in by_name.items() if len(_ids(ids)) <= MAX_GROUP]
    for key in distinct:
        for a, b in _pairs(list(_ids(by_name[key]))):
            note(a, b, 100)
    for i, block_of in enumerate((_last_first, _first_last)):
        distinct = _gentle_sort(distinct, block_of)
        start = 0
        while start < len(distinct):
            block = block_of(distinct[start])
            end = start + 1
            while end < len(distinct) and block_of(distinct[end]) == block:
                end += 1
            if end - start >= 2 and block:
                for lo in range(start, end, BLOCK):
                    if should_stop():
                        raise Stopped
                    _compare(distinct[lo : min(end, lo + BLOCK)], by_name, note, second=i == 1)
            start = end
        progress(0.35 + 0.3 * (i + 1))
    for score, a, b in weak:
        evidence.setdefault((a, b), DuplicatePair(a, b, name_score=score))
    out = sorted(evidence.values(), key=DuplicatePair.sort_key)[:limit]
    progress(1.0)
    return out


def _ids(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def _gentle_sort(items: list[str], key: Callable[[str], str], slice_size: int = 20_000) -> list[str]:
    """``sorted(items, key=key)`` in slices merged lazily: one C-level sort of a million strings would
    hold the GIL (and so the UI thread) for a second or more."""
    runs = [sorted(items[i : i + slice_size], key=key) for i in range(0, len(items), slice_size)]
    return list(heapq.merge(*runs, key=key))


def _last_first(name_key: str) -> str:
    """The last name and the first initial: "smith j" for "john smith" (one word: no block)."""
    words = name_key.split()
    return f"{words[-1]} {words[0][0]}" if len(words) > 1 else ""


def _first_last(name_key: str) -> str:
    """The first name and the last initial: "john s" for "john smith" (one word: no block)."""
    words = name_key.split()
    return f"{words[0]} {words[-1][0]}" if len(words) > 1 else ""


def _compare(
    names: list[str],
    by_name: dict[str, str | tuple[str, ...]],
    note: Callable[[str, str, int], None],
    *,
    second: bool,
) -> None:
    """Score every pair of distinct names in one block (the duplicate check's scorer and threshold).
    In the second pass a pair whose last name and first initial agree was already scored in the first."""
    # token_sort_ratio is the ratio of the sorted tokens: sorted once here, not in every comparison.
    texts = [" ".join(sorted(default_process(n).split())) for n in names]
    for i in range(len(names) - 1):
        for _text, score, offset in extract(
            texts[i],
            texts[i + 1 :],
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=NAME_THRESHOLD,
            limit=None,
        ):
            j = i + 1 + offset
            if second and _last_first(names[i]) == _last_first(names[j]):
                continue
            rounded = round(score)
            for a in _ids(by_name[names[i]]):
                for b in _ids(by_name[names[j]]):
                    if a != b:
                        note(a, b, rounded)


# -- in a process of its own ------------------------------------------------------------------------------
def pair_rows(conn: sqlite3.Connection, pairs: list[DuplicatePair]) -> list[tuple[str, str, str, str, str]]:
    """(a id, a name, b id, b name, why) for each pair: what the list shows."""
    ids = list({i for p in pairs for i in (p.a, p.b)})
    names: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        names.update(conn.execute(f"SELECT id, name FROM customers WHERE id IN ({marks})", chunk).fetchall())
    return [(p.a, names.get(p.a, ""), p.b, names.get(p.b, ""), " · ".join(p.reasons())) for p in pairs]


def _child(path: str, limit: int, out: Any) -> None:
    """The scan process: progress, then the rows (or the error), through ``out``."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            pairs = scan_duplicates(conn, limit=limit, progress=lambda f: out.send(("progress", f)))
            out.send(("done", pair_rows(conn, pairs)))
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - told to the parent, which tells the manager
        out.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        out.close()


def scan_in_process(
    path: str | Path,
    *,
    limit: int = DEFAULT_LIMIT,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> list[tuple[str, str, str, str, str]]:
    """:func:`scan_duplicates` (and the names) in a process of its own, reading the cache file read-only:
    tens of seconds of Python work that never competes with the console's UI thread for the GIL. The
    caller waits here (a worker thread); ``should_stop`` ends the process at once."""
    ctx = multiprocessing.get_context("spawn")  # no fork of a Qt process
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(str(path), limit, send), name="csr-dupscan", daemon=True)
    proc.start()
    send.close()
    try:
        while True:
            if should_stop():
                raise Stopped
            if receive.poll(0.1):
                try:
                    kind, value = receive.recv()
                except EOFError:
                    raise RuntimeError("The duplicate scan stopped unexpectedly.") from None
                if kind == "progress":
                    progress(value)
                elif kind == "done":
                    return value
                else:
                    raise RuntimeError(f"The duplicate scan failed: {value}")
            elif not proc.is_alive() and not receive.poll():
                raise RuntimeError("The duplicate scan stopped unexpectedly.")
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(5)
        receive.close()
