"""``rss_mb`` is the console process's own peak, not its parent's: a bench that seeded a 1M cache (and so
grew to ≈600 MB) before starting the console must not see that peak reported as the console's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_child_does_not_report_its_parents_peak():
    ballast = bytearray(256 * 2**20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1  # resident, not just reserved
    out = subprocess.run(
        [sys.executable, "-c", "from bench.uiprobe import rss_mb; print(rss_mb())"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    del ballast
    assert 5 < float(out.stdout) < 150, out.stdout  # Python + PySide6's core: tens of MB
