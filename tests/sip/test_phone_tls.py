"""The phone over TLS through Kamailio's TLS listener (tests/sip/kamailio.cfg's WITH_TLS variant, a
throw-away certificate for 127.0.0.1 made by trustme): it checks the registrar's certificate against a
CA file, registers and takes a call; an untrusted certificate is told, never a silent failure."""

from __future__ import annotations

import asyncio

import pytest

from tests.sip.seats import Seat, seats

pytestmark = pytest.mark.usefixtures("phone_tools")


async def _register_tls(seat: Seat, kamailio, ca_file: str | None) -> dict:
    await seat.start(register=False)
    told = seat.next("registration", timeout=15)
    command = {"registrar": kamailio.tls_registrar, "transport": "tls", "user": seat.user,
               "password": seat.password}  # fmt: skip
    if ca_file is not None:
        command["ca_file"] = ca_file
    seat.link.register(command)
    return await told


def test_a_seat_registers_over_tls_and_takes_a_call(kamailio_tls, tmp_path):
    kamailio, ca_file = kamailio_tls

    async def scenario():
        csr = Seat(kamailio, "1001", tmp_path)
        (caller,) = await seats(kamailio, tmp_path, "5550110")  # the caller over UDP
        try:
            registered = await _register_tls(csr, kamailio, str(ca_file))
            assert registered["state"] == "registered", (registered, csr.events)
            assert kamailio.count("REGISTER 1001") >= 1
            # Kamailio reaches the seat over its TLS connection (the contact is ;transport=tls).
            ringing = csr.next("incoming", timeout=10)
            placed = await caller.do("call", to=csr.uri)
            incoming = await ringing
            assert incoming["remote"].endswith("5550110@127.0.0.1>")
            answered = caller.next("call", call=placed["call"], state="confirmed", timeout=10)
            await csr.do("answer", call=incoming["call"])
            assert (await answered)["code"] == 200
            over = csr.next("call", call=incoming["call"], state="disconnected", timeout=10)
            await caller.do("hangup", call=placed["call"])
            await over
        except BaseException:
            print("CSR", csr.events, "\nCALLER", caller.events)
            raise
        finally:
            await csr.stop()
            await caller.stop()

    asyncio.run(scenario())


def test_a_certificate_from_another_ca_is_refused_with_a_reason(kamailio_tls, tmp_path):
    """The phone trusts a CA file that did not sign the registrar's certificate: it says so, does not
    sign in, and lives on."""
    import trustme

    kamailio, _ = kamailio_tls
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))

    async def scenario():
        seat = Seat(kamailio, "1001", tmp_path)
        try:
            refused = await _register_tls(seat, kamailio, str(other_ca))
            assert refused["state"] == "untrusted", (refused, seat.events)
            assert f"The registrar {kamailio.tls_registrar} did not prove who it is" in refused["message"]
            assert "certificate was refused" in refused["message"]
            assert kamailio.count("REGISTER 1001") == 0  # nothing was sent to an unproven server
            assert (await seat.do("stats"))["calls"] == 0  # the phone lives on
        finally:
            await seat.stop()

    asyncio.run(scenario())


def test_without_a_ca_file_the_system_bundle_does_not_trust_a_private_certificate(kamailio_tls, tmp_path):
    """No CA file given: the phone checks against the system's CAs, which never signed this throw-away
    certificate — refused with the reason (the phone never registers unverified)."""
    from sync.softphone import system_ca_file

    kamailio, _ = kamailio_tls
    if not system_ca_file():
        pytest.skip("this machine has no system CA bundle (ca-certificates)")

    async def scenario():
        seat = Seat(kamailio, "1001", tmp_path)
        try:
            refused = await _register_tls(seat, kamailio, None)
            assert refused["state"] == "untrusted", (refused, seat.events)
            assert "did not prove who it is" in refused["message"]
        finally:
            await seat.stop()

    asyncio.run(scenario())


def test_a_ca_file_that_is_not_there_is_told(kamailio_tls, tmp_path):
    kamailio, _ = kamailio_tls

    async def scenario():
        seat = Seat(kamailio, "1001", tmp_path)
        try:
            await seat.start(register=False)
            answer = await seat.link.request(
                {
                    "cmd": "register",
                    "registrar": kamailio.tls_registrar,
                    "transport": "tls",
                    "user": "1001",
                    "password": "pw-1001",
                    "ca_file": str(tmp_path / "missing.pem"),
                }  # fmt: skip
            )
            assert answer["event"] == "error"
            assert (
                f"The CA file “{tmp_path / 'missing.pem'}” for the TLS registrar is not there"
                in answer["message"]
            )
            told = [e for e in seat.events if e["event"] == "registration"]
            assert told and told[-1]["state"] == "failed" and told[-1]["message"] == answer["message"]
        finally:
            await seat.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("kamailio_tls", [("sip.example.net",)], indirect=True)
def test_a_certificate_for_another_name_is_refused(kamailio_tls, tmp_path):
    """The right CA, but the certificate names another host than the registrar's 127.0.0.1: refused."""
    kamailio, ca_file = kamailio_tls

    async def scenario():
        seat = Seat(kamailio, "1001", tmp_path)
        try:
            refused = await _register_tls(seat, kamailio, str(ca_file))
            assert refused["state"] == "untrusted", (refused, seat.events)
            assert "did not prove who it is" in refused["message"]
            assert kamailio.count("REGISTER 1001") == 0
        finally:
            await seat.stop()

    asyncio.run(scenario())
