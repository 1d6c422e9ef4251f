"""Reading bounces (sync/dsn.py) and the bounce address both ways (models/notify_bounces.py)."""

from __future__ import annotations

import pytest

from models.notify_bounces import BadBounceAddress, bounce_address, message_id_of
from sync.dsn import NotABounce, read_bounce
from tests.integration.test_notify_bounces import dsn

ID = "01a24986" + "0" * 24
ADDR = bounce_address(ID, "b.example")


def test_the_bounce_address_both_ways():
    assert ADDR == f"bounces+{ID}@b.example"
    assert message_id_of(f"<BOUNCES+{ID.upper()}@B.Example.>", "b.example") == ID
    for bad in (
        f"bounces+{ID}@other.example",
        f"bounce+{ID}@b.example",
        "bounces+xyz@b.example",
        "x@b.example",
    ):
        with pytest.raises(BadBounceAddress):
            message_id_of(bad, "b.example")


def test_the_recipient_block_naming_our_address_is_read():
    raw = dsn(ADDR, recipient="someone-else@example.com")
    # two recipient blocks: the other one first
    two = raw.replace(
        b"Final-Recipient: rfc822; someone-else@example.com",
        b"Final-Recipient: rfc822; someone-else@example.com\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n"
        b"Final-Recipient: rfc822; Ann@Example.com",
        1,
    )
    bounce = read_bounce(two, ADDR, "ann@example.com")
    assert (bounce.action, bounce.status, bounce.recipient) == ("failed", "5.1.1", "ann@example.com")
    assert bounce.diagnostic.startswith("550 5.1.1 <ann@example.com>: Recipient address rejected")


def test_plain_bounces_best_effort_and_what_is_not_one():
    exim = (
        f"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\nTo: {ADDR}\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n\r\n"
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        "  ann@example.com\r\n    host mail.example.com [192.0.2.1]\r\n"
        "    SMTP error from remote mail server after RCPT TO:<ann@example.com>:\r\n"
        "    550 No such user here\r\n\r\n"
        f"------ This is a copy of the message, including all the headers. ------\r\nReturn-path: <{ADDR}>\r\n"
    ).encode()
    bounce = read_bounce(exim, ADDR)
    assert (bounce.action, bounce.status) == (
        "failed",
        "5.0.0",
    ) and "550 No such user here" in bounce.diagnostic
    vacation = (
        f"From: ann@example.com\r\nTo: {ADDR}\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\n"
        "I'm away until Monday. For anything urgent call (972) 555-0100.\r\n"
        f"> Return-Path: <{ADDR}>\r\n> Hi Ann, see you Tue Dec 1 between 8 AM and 12 PM.\r\n"
    ).encode()
    with pytest.raises(NotABounce, match="reports no failure or delay"):
        read_bounce(vacation, ADDR)
    with pytest.raises(NotABounce, match="doesn't name the message's bounce address"):
        read_bounce(exim.replace(ADDR.encode(), b"someone@else.example"), ADDR)
    for junk in (b"", b"\x00\xff garbage", b"Subject: hi\r\n\r\nhello"):
        with pytest.raises(NotABounce):
            read_bounce(junk, ADDR)
