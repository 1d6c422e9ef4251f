"""Real SIP over loopback: Kamailio as registrar/proxy (tests/sip/kamailio.cfg, started by
bench/sip_lab.py), phone processes, SIPp.

Every tool these tests need skips the test with the reason when it is missing, and fails it under
CI=true (.ci/run installs kamailio and sip-tester; pjsua2-python is a dependency of the package).
"""

from __future__ import annotations

import pytest

from bench.sip_lab import Kamailio, free_port, start_kamailio
from tests.tools import require_tool

__all__ = ["Kamailio", "free_port", "kamailio", "phone_tools", "require_tool", "start_kamailio"]


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
