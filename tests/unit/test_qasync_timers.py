"""Guards the PySide6 pin: 6.12.0 crashes the interpreter ("none_dealloc") when qasync creates and
kills many QTimers. The work runs in a child process so a crash fails this test instead of the run."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import asyncio, os
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QT_API"] = "pyside6"
from PySide6.QtWidgets import QApplication
import qasync

app = QApplication([])
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)

async def ticker(n):
    for _ in range(n):
        await asyncio.sleep(0)
    return n

async def sleepers(n):
    await asyncio.gather(*(asyncio.sleep(0.001 * (i % 5)) for i in range(n)))
    return n

async def main():
    total = sum(await asyncio.gather(*(ticker(500) for _ in range(10))))
    total += await sleepers(3000)
    for i in range(2000):                       # call_later timers created and cancelled
        loop.call_later(10, lambda: None).cancel()
    return total

with loop:
    print(loop.run_until_complete(main()))
"""


def test_thousands_of_qasync_timers_do_not_crash() -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"qasync timer storm crashed (PySide6 bug?):\n{proc.stderr[-2000:]}"
    assert proc.stdout.strip().endswith("8000")


def test_pyside6_is_below_the_broken_release() -> None:
    import PySide6

    major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12), "PySide6 6.12 crashes under qasync; see pyproject.toml"
