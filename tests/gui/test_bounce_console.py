"""A bounce reaches the CSR (docs/notifications.md, "Bounces"): the server's sender emails a customer
through a real SMTP relay (aiosmtpd) with the message's own envelope sender; a signed-in console shows
the email Sent on the customer's Texts tab; a DSN sent with smtplib to the server's bounce receiver turns
it Failed with the reason on that tab — the change pulled through the real sync server and its poke."""

from __future__ import annotations

import asyncio
import smtplib

from aiosmtpd.controller import Controller
from sqlalchemy import select

from models.customers import ContactMethod
from models.notifications import Channel, NoticeKind
from sync.apply import Applier
from sync.auth import token_secret
from sync.bounce_receiver import BounceStore, start_bounce_receiver
from sync.messaging import SmtpEmail
from sync.notify_sender import NotifySender
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.gui.helpers import opened, show_active, until
from tests.gui.served import sign_in
from tests.integration.test_notify_bounces import DOMAIN, Relay, _free_port, dsn
from tests.servers import server_db
from tests.unit.booking_setup import NOW
from tests.unit.notify_setup import NOTIFY, make_store

pytest_plugins = ["tests.gui.conftest_sync"]


def test_a_bounce_turns_the_email_failed_on_the_consoles_texts_tab(qtbot, loop, tmp_path, desks):
    relay = Relay()
    relay_port = _free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    with server_db(str(tmp_path / "server.sqlite3"), [("dana", "Dana Reyes", "csr")], setup=False) as db:
        store = make_store(db.sessions, notify={**NOTIFY, "quiet_hours": {}}, clock=lambda: NOW)
        cid, loc = store.customer(email="ann@example.com")
        with store.sessions.begin() as s:
            s.scalar(select(ContactMethod).where(ContactMethod.kind == "MobilePhone")).do_not_text = True
        store.book(cid, loc)
        srv = SyncServer(
            Applier(db.sessions, clock=lambda: NOW),
            AccountsAuthenticator(db.accounts, token_secret(db.sessions), clock=lambda: NOW),
        )
        endpoint = loop.run_until_complete(srv.serve("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"
        email = SmtpEmail(
            "127.0.0.1",
            relay_port,
            from_address="Test Co <service@example.com>",
            require_tls=False,
            bounce_domain=DOMAIN,
        )

        async def scenario() -> None:
            sender = NotifySender(db.sessions, email=email, clock=lambda: NOW, on_committed=srv.poke_all)
            assert await sender.drain_once() == 1
            ((mail_from, _rcpts, _msg),) = relay.mail
            (mail,) = store.messages(kind=NoticeKind.CONFIRMATION, channel=Channel.EMAIL)
            assert mail_from == f"bounces+{mail.id}@{DOMAIN}"
            receiver = await start_bounce_receiver(
                BounceStore(db.sessions, DOMAIN, clock=lambda: NOW, on_committed=srv.poke_all), "127.0.0.1", 0
            )
            try:
                console = desks("a")
                show_active(qtbot, console.window)
                await sign_in(console, url, "dana")
                assert await opened(console.customers, cid)
                tab = console.messages.tab

                def shown():  # the confirmation's row (the reminder waits for its time)
                    return next((r for r in tab.model.rows() if r.id == mail.id), None)

                await until(lambda: shown() is not None, 20)
                assert (shown().channel, shown().state, shown().why) == ("Email", "Sent", "")

                def bounce() -> dict:
                    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
                        return client.sendmail("", [mail_from], dsn(mail_from))

                assert await asyncio.to_thread(bounce) == {}
                await until(lambda: shown().state == "Failed", 20)
                row = shown()
                assert row.why.startswith("The address bounced (5.1.1): 550 5.1.1 <ann@example.com>")
                assert "User unknown" in row.why and row.can_resend
            finally:
                await receiver.stop()

        try:
            loop.run_until_complete(scenario())
        finally:
            endpoint.close()
            loop.run_until_complete(endpoint.wait_closed())
            loop.run_until_complete(srv.aclose())
            controller.stop()
