"""Fixtures of the SIP tests (tests/sip/sip_fixtures.py; the GUI phone test builds its own from the same parts)."""

from tests.sip.sip_fixtures import kamailio, kamailio_tls, phone_tools  # noqa: F401
