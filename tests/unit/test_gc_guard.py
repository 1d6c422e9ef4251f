"""Garbage collection only on the UI thread (console/gc_guard.py): automatic collection is off while
the collector runs, and a due collection frees reference cycles when the UI thread asks."""

from __future__ import annotations

import gc
import weakref

from console.gc_guard import MainThreadCollector, collect_due


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_the_collector_turns_automatic_collection_off_and_back_on(qapp):
    was = gc.isenabled()
    collector = MainThreadCollector()
    collector.start()
    try:
        assert not gc.isenabled() and collector.timer.isActive()
    finally:
        collector.stop()
    assert gc.isenabled() and not collector.timer.isActive()
    if not was:
        gc.disable()  # the test session runs with it off (tests/conftest.py)


def test_a_due_collection_frees_cycles_and_nothing_is_done_before():
    gc.collect()
    node = Node()
    ref = weakref.ref(node)
    del node
    assert collect_due((10**9, 10**9, 10**9)) == 0 and ref() is not None  # not due: left alone
    assert collect_due((0, 10**9, 10**9)) >= 1 and ref() is None  # due: freed here
