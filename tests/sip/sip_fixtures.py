"""Real SIP over loopback: Kamailio as registrar/proxy (tests/sip/kamailio.cfg, started by
bench/sip_lab.py), phone processes, SIPp.

Every tool these tests need skips the test with the reason when it is missing, and fails it under
CI=true (.ci/run installs kamailio and sip-tester; pjsua2-python is a dependency of the package).
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

from bench.sip_lab import Kamailio, find_kamailio, free_port, start_kamailio

__all__ = ["Kamailio", "free_port", "kamailio", "phone_tools", "require_tool", "start_kamailio"]


def require_tool(name: str) -> str:
    """The path of an external program (or, for ``py:NAME``, an importable module's name); skips the
    test when it is absent, fails it instead under CI=true."""
    if name.startswith("py:"):
        found = name[3:] if importlib.util.find_spec(name[3:]) else None
    elif name == "kamailio":
        found = find_kamailio()
    else:
        found = shutil.which(name)
    if found is None:
        problem = (
            f"{name.removeprefix('py:')} is not installed "
            "(apt-get install kamailio sip-tester; pip install pjsua2-python)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    return found


@pytest.fixture
def kamailio(tmp_path) -> Kamailio:
    """Kamailio on a free loopback port, with a private run folder; stopped after the test."""
    k = start_kamailio(require_tool("kamailio"), tmp_path / "kamailio")
    yield k
    k.stop()


@pytest.fixture
def phone_tools() -> None:
    """The phone process needs the pjsua2 wheel."""
    require_tool("py:pjsua2")
