"""Fixtures of the SIP tests (tests/sip/sip_fixtures.py; GUI tests load that module as a plugin)."""

from tests.sip.sip_fixtures import kamailio, phone_tools  # noqa: F401
