"""bench/sip_lab.py: Kamailio forks worker processes; stopping it must leave none of them behind (they
share its own process group, which stop() ends)."""

from __future__ import annotations

from pathlib import Path

from bench.sip_lab import _group_alive
from tests.sip.sip_fixtures import start_kamailio
from tests.tools import require_tool


def _members(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def test_stopping_kamailio_ends_its_forked_workers(tmp_path):
    k = start_kamailio(require_tool("kamailio"), tmp_path / "kamailio")
    group = k.proc.pid
    try:
        assert len(_members(group)) > 1  # the main process and its workers, in a group of their own
    finally:
        k.stop()
    assert _members(group) == [] and not _group_alive(group)
