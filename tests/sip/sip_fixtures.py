"""Real SIP over loopback: Kamailio as registrar/proxy (tests/sip/kamailio.cfg, started by
bench/sip_lab.py), phone processes, SIPp.

Every tool these tests need skips the test with the reason when it is missing, and fails it under
CI=true (.ci/run installs kamailio and sip-tester; pjsua2-python is a dependency of the package).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.sip_lab import Kamailio, free_port, start_kamailio
from tests.tools import require_tool

__all__ = [
    "Kamailio",
    "free_port",
    "kamailio",
    "kamailio_tls",
    "phone_tools",
    "require_tool",
    "start_kamailio",
]


@pytest.fixture
def kamailio(tmp_path) -> Kamailio:
    """Kamailio on a free loopback port, with a private run folder; stopped after the test."""
    k = start_kamailio(require_tool("kamailio"), tmp_path / "kamailio")
    yield k
    k.stop()


@pytest.fixture
def kamailio_tls(request, tmp_path) -> tuple[Kamailio, Any]:
    """Kamailio listening for TLS too, with a throw-away certificate for 127.0.0.1 (trustme): yields
    (kamailio, the path of the CA file (PEM) that signed it: what a phone should trust)."""
    binary = require_tool("kamailio")
    require_tool("kamailio-tls")
    import trustme

    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    names = getattr(request, "param", ("127.0.0.1", "localhost"))  # indirect parametrize: other names
    cert = ca.issue_cert(*names)
    certs = tmp_path / "certs"
    certs.mkdir()
    cert.private_key_pem.write_to_path(str(certs / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(certs / "chain.pem"))
    for more in cert.cert_chain_pems[1:]:
        more.write_to_path(str(certs / "chain.pem"), append=True)
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    k = start_kamailio(binary, tmp_path / "kamailio", tls=(certs / "chain.pem", certs / "key.pem"))
    yield k, certs / "ca.pem"
    k.stop()


@pytest.fixture
def phone_tools() -> None:
    """The phone process needs the pjsua2 wheel."""
    require_tool("py:pjsua2")
