"""`csr-console --demo` as a real process: it starts, and SIGTERM closes it cleanly, removing the
throw-away profile (no demo data left behind on a CSR's PC)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_starts_and_sigterm_closes_it_cleanly():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    proc = subprocess.Popen([sys.executable, "-m", "console.app", "--demo", "--demo-customers", "300"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        profile = Path(re.search(r"customers in (\S+) ", first).group(1))
        assert profile.exists()
        deadline = time.monotonic() + 120
        line = ""
        while "is running" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "is running" in line, proc.stderr.read()[-2000:]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not profile.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
