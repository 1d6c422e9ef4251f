"""External tools a test needs (chromium, chromedriver, kamailio, sipp, the pjsua2 wheel, …): skip with the
reason on a developer's machine, fail under CI (CI=true), as tests/conftest.py does for PostgreSQL.
The one helper for every such test (tests/sip re-exports it)."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

# How to get what is missing, said in the skip / failure.
INSTALL_HINTS = {
    "kamailio": "apt-get install kamailio",
    "kamailio-tls": "apt-get install kamailio-tls-modules",
    "sipp": "apt-get install sip-tester",
    "py:pjsua2": "pip install pjsua2-python",
}


def require_tool(name: str, path: str | None = None) -> str:
    """The tool's path (for ``py:NAME``, the importable module's name); skips (or, with CI=true,
    fails) when it is missing. ``path``: where to look first. Kamailio is also found outside PATH
    (/usr/sbin)."""
    if name.startswith("py:"):
        found = name[3:] if importlib.util.find_spec(name[3:]) else None
    elif path and os.path.exists(path):
        found = path
    elif name == "kamailio":
        from bench.sip_lab import find_kamailio

        found = find_kamailio()
    elif name == "kamailio-tls":
        from bench.sip_lab import find_kamailio_tls

        found = find_kamailio_tls()
    else:
        found = shutil.which(name)
    if found:
        return found
    shown = name.removeprefix("py:")
    problem = f"{shown} is not installed" + (
        f" (looked for {path} and on PATH)" if path else " (not on PATH)"
    )
    if name in INSTALL_HINTS:
        problem += f"; {INSTALL_HINTS[name]}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {problem}")
    pytest.skip(problem)
