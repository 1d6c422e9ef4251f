"""Answers to ``pull`` read and encoded once, shared by every console that asks the same.

After a commit every connected console is poked and pulls from its cursor — and almost all of them
stand at the same cursor. Reading the change log, building the message and encoding it once per
connection cost the server ~1 ms each: 300–1,000 consoles made a commit take hundreds of milliseconds
to reach the last of them. Here the answer for ``(cursor, limit)`` is read once (concurrent askers
wait for the same read) and kept as its encoded text; each console gets the same text with its own
request id spliced in.

When a kept answer is still right:
- a page that says ``more`` is a fixed slice of the change log (rows are never changed, and versions
  commit in order — sync/apply.py lock_change_log), so it is right for good;
- a last page is right while no commit newer than its last version has been announced. Every version
  a console can learn of goes through :meth:`PullCache.seen` first (pokes, welcome, snapshots), so a
  console poked for ``v`` never gets a kept answer that stops short of ``v``. A console that pulls
  without having been told of a newer commit may get the kept answer: the same as having pulled a
  moment earlier; the poke for the newer commit follows and its pull reads again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .changes import PATCH, patch_rows
from .protocol import Change, Changes, Poke, encode

log = logging.getLogger("csr.server.pulls")

MAX_ENTRIES = 32  # distinct (cursor, limit) answers kept; almost every console asks for the newest
# A poke carries the commit's changes when they are this few and this small (else a plain poke: pull).
POKE_CHANGES = 100
POKE_BYTES = 64 * 1024


@dataclass(frozen=True)
class _Answer:
    text: str  # the encoded ``changes`` message, without an id
    last: int  # its cursor: the last version it holds (or the asked cursor when empty)
    more: bool
    changes: str  # the encoded list of changes alone (for a poke that carries them)

    def fresh(self, known: int) -> bool:
        return self.more or self.last >= known


class PullCache:
    """Encoded ``changes`` answers per (cursor, limit). ``read(cursor, limit)`` is the change-log read
    (Applier.changes_since: rows, last version, more), run in a thread."""

    def __init__(self, read: Callable[[int, int], tuple[list[Any], int, bool]]) -> None:
        self.read = read
        self.known = 0  # the newest version announced to any console
        self.reads = 0  # change-log reads done (tests, logs)
        self._answers: OrderedDict[tuple[int, int, bool], _Answer] = OrderedDict()
        self._reading: dict[tuple[int, int, bool], asyncio.Future[_Answer]] = {}

    def seen(self, version: int) -> None:
        """A version a console may now be told of (call before telling it)."""
        if version > self.known:
            self.known = version

    async def answer(self, cursor: int, limit: int, request_id: str | None, *, expand: bool = False) -> str:
        """The encoded ``changes`` message for this pull, with ``request_id``; ``expand``: for a console
        older than ``patch`` entries (protocol 1), each as one partial ``upsert`` per row."""
        return _with_id((await self._fetch(cursor, limit, expand)).text, request_id)

    async def _fetch(self, cursor: int, limit: int, expand: bool = False) -> _Answer:
        key = (cursor, limit, expand)
        while True:
            kept = self._answers.get(key)
            if kept is not None and kept.fresh(self.known):
                self._answers.move_to_end(key)
                return kept
            pending = self._reading.get(key)
            if pending is None:
                break
            # Someone is reading this page: wait for it (a failed read is this pull's to retry), then look
            # again — that read may have begun before a commit this console was told of.
            await asyncio.wait([pending])
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._reading[key] = future
        try:
            rows, last, more = await asyncio.to_thread(self.read, cursor, limit)
            self.reads += 1
            changes = [
                Change(version=r.version, entity=r.entity, entity_id=r.entity_id, op=r.op, data=r.data)
                for r in rows
            ]
            if expand:
                changes, last, more = expand_patches(changes, last, more, limit)
            text = encode(Changes(cursor=last, more=more, changes=changes))
            fresh = _Answer(text, last, more, _changes_of(text))
            self._answers[key] = fresh
            self._answers.move_to_end(key)
            while len(self._answers) > MAX_ENTRIES:
                self._answers.popitem(last=False)
            future.set_result(fresh)
        except BaseException:
            future.cancel()  # waiters look again and read for themselves
            raise
        finally:
            del self._reading[key]
        # Read after this pull arrived: it holds every commit this console had been told of.
        return fresh

    async def poke(self, after: int | None, version: int, *, expand: bool = False) -> str:
        """The ``poke`` for ``version``; with the changes since ``after`` (the version of the previous
        poke) when they are few: a console whose cursor is ``after`` applies them without pulling — one
        message per console per commit instead of a poke, a pull and its answer."""
        plain = encode(Poke(server_version=version))
        if after is None or after >= version:
            return plain
        try:
            answer = await self._fetch(after, POKE_CHANGES, expand)
        except Exception:  # noqa: BLE001 - a poke must go out: the consoles pull instead
            log.warning("event=poke_changes_unread after=%d version=%d", after, version, exc_info=True)
            return plain
        if answer.more or answer.last != version or len(answer.changes) > POKE_BYTES:
            return plain  # many changes, or the log holds more (or less) than this poke announces
        return f'{{"type":"poke","server_version":{version},"after":{after},"changes":{answer.changes}}}'


def expand_patches(
    changes: list[Change], last: int, more: bool, limit: int
) -> tuple[list[Change], int, bool]:
    """For a protocol-1 console: each ``patch`` entry as one ``upsert`` per row holding the columns it
    sets (an older console merges them into the row it has; the rest of the row stays). At most about
    ``limit`` changes a page: the page ends after the entry that reaches it (``more``, the cursor there),
    so a page of big patches can't outgrow a frame."""
    out: list[Change] = []
    for n, change in enumerate(changes):
        if change.op == PATCH:
            out += [
                Change(
                    version=change.version,
                    entity=change.entity,
                    entity_id=str(row["id"]),
                    op="upsert",
                    data=row,
                )
                for row in patch_rows(change.data)
            ]
        else:
            out.append(change)
        if len(out) >= limit and n < len(changes) - 1:
            return out, change.version, True
    return out, last, more


def _changes_of(text: str) -> str:
    """The ``changes`` array of an encoded ``changes`` message (its first field after the type)."""
    start = text.index('"changes":') + len('"changes":')
    end = text.rindex(',"cursor":')
    return text[start:end]


def _with_id(text: str, request_id: str | None) -> str:
    if request_id is None:
        return text
    return '{"id":' + json.dumps(request_id) + "," + text[1:]
