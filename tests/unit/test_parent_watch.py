"""The demo's helpers end with the console that started them — also when it was gone before they looked
(sync/parent_watch.py; found in CI: an orphaned phone simulator ringing a seat nobody watched)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from sync import parent_watch

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import asyncio, sys, time
from sync.parent_watch import watch_parent

async def main():
    stop = asyncio.Event()
    watched = await watch_parent(stop)
    open(sys.argv[1], "w").write("parent gone" if watched else "stopped")

time.sleep(0.5)  # the parent is surely gone before this helper first looks
asyncio.run(main())
"""

PARENT = """
import os, subprocess, sys
from sync.parent_watch import child_env
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], env=child_env())
os._exit(0)
"""


def test_a_helper_whose_console_died_before_it_looked_still_ends(tmp_path):
    out = tmp_path / "child.txt"
    subprocess.run([sys.executable, "-c", PARENT, CHILD, str(out)], cwd=ROOT, check=True, timeout=30)
    deadline = time.monotonic() + 15
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert out.exists(), "the orphaned helper lived on"
    assert out.read_text() == "parent gone"


def test_a_live_parent_is_not_taken_for_gone(monkeypatch):
    monkeypatch.setenv(parent_watch.PARENT_ENV, str(os.getppid()))
    stop = asyncio.Event()
    stop.set()  # someone else stops it: the watch ends without blaming the parent
    assert asyncio.run(parent_watch.watch_parent(stop)) is False


def test_without_the_variable_the_parent_now_is_watched(monkeypatch):
    monkeypatch.delenv(parent_watch.PARENT_ENV, raising=False)
    assert parent_watch.parent_pid() == os.getppid()
    monkeypatch.setenv(parent_watch.PARENT_ENV, "not a pid")
    assert parent_watch.parent_pid() == os.getppid()
    assert parent_watch.child_env({})[parent_watch.PARENT_ENV] == str(os.getpid())
