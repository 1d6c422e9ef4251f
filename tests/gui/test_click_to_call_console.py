"""Click-to-call and recordings in the assembled console, against a real in-process server: the Call
action on a contact's phone sends ``dial`` (the server's phone-system account is a stand-in here; the
REST call itself is tested in tests/integration/test_click_to_call.py), the status bar says the
softphone rings first; offline it says calling needs the server. Play recording opens the URL with the
system's player."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from models.db import open_server_db
from models.setup import User
from models.writer import LocalWriter
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.call_desk import CallDesk
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from sync.telephony.twilio_rest import DialFailed
from tests.gui.helpers import opened, until
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args

pytest_plugins = ["tests.gui.conftest_sync"]
PASSWORD = "correct horse battery"


class StandInDialer:
    """The server's phone-system account: remembers who asked to call which number."""

    def __init__(self) -> None:
        self.placed: list[tuple[str, str]] = []
        self.refuse = ""

    async def place_call(self, username: str, number: str) -> str:
        if self.refuse:
            raise DialFailed(self.refuse)
        self.placed.append((username, number))
        return "CA" + "7" * 32


@pytest.fixture
def server(loop, tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    customer_id = LocalWriter(sessions).execute("create_customer", customer_args()).applied.entity_id
    Accounts(sessions).add_user("dana", "Dana Reyes", "csr", PASSWORD)
    srv = SyncServer(
        Applier(sessions, clock=lambda: NOW),
        AccountsAuthenticator(Accounts(sessions), token_secret(sessions), clock=lambda: NOW),
    )
    srv.attach_calls(CallDesk(sessions, agents=srv.signed_in_agents))
    srv.dialer = StandInDialer()
    endpoint = loop.run_until_complete(srv.serve("127.0.0.1", 0))
    srv.dialer.sessions, srv.dialer.server = sessions, srv  # for tests that add calls or a media host
    yield f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}", srv.dialer, customer_id
    endpoint.close()
    loop.run_until_complete(endpoint.wait_closed())
    loop.run_until_complete(srv.aclose())
    engine.dispose()


def test_the_call_action_asks_the_server_to_dial_and_offline_says_so(qtbot, loop, server, desks):
    url, dialer, customer_id = server

    async def scenario() -> None:
        a = desks("a")
        a.window.show()
        await a.sync.sign_in_with(url, "dana", PASSWORD)
        await until(lambda: a.window.sync_status.state == "online", 20)
        assert await opened(a.customers, customer_id)
        panel = a.window.customer_panel
        panel.contacts_view.setCurrentIndex(panel.contacts_model.index(0, 0))
        qtbot.mouseClick(panel.call_contact_button, Qt.MouseButton.LeftButton)
        await until(lambda: dialer.placed)
        assert dialer.placed == [("dana", "+12145550134")]
        await until(lambda: "softphone" in a.window.statusBar().currentMessage())
        assert a.window.statusBar().currentMessage() == "Calling (214) 555-0134 — your softphone rings first."

        dialer.refuse = "The phone system refused the call: Account suspended."
        panel.call_contact_action.trigger()
        await until(lambda: "refused" in a.window.statusBar().currentMessage())
        assert a.window.statusBar().currentMessage() == dialer.refuse

        a.sync.stop()  # offline: nothing is asked
        panel.call_contact_action.trigger()
        await until(lambda: "offline" in a.window.statusBar().currentMessage())
        assert a.window.statusBar().currentMessage() == "Calling out needs the server — you're offline."
        assert len(dialer.placed) == 1

    loop.run_until_complete(scenario())


def test_play_recording_comes_through_the_server_by_role(qtbot, loop, server, desks, monkeypatch, tmp_path):
    """The console asks the server for the file (it never opens the phone company's URL): Dana's own
    call plays; a call that isn't hers is refused with a sentence; offline says so."""
    import console.recordings as recordings_module
    from models.calls import Call, CallState
    from sync.media import NOT_ALLOWED

    url, dialer, _customer_id = server
    sessions, srv = dialer.sessions, dialer.server
    played: list[str] = []
    monkeypatch.setattr(
        recordings_module.QDesktopServices,
        "openUrl",
        staticmethod(lambda u: played.append(u.toLocalFile()) or True),
    )
    fetched: list[str] = []

    class StandInMedia:  # the phone company's media host, as sync/media.MediaFetcher reaches it
        async def fetch(self, media_url: str) -> tuple[bytes, str]:
            fetched.append(media_url)
            return b"ID3-the-recording", "audio/mpeg"

    srv.media = StandInMedia()
    with sessions.begin() as s:
        dana = s.scalar(select(User.id).where(User.username == "dana"))
        mine = Call(provider_call_id="CAmine", from_number="+12145550134", state=CallState.ENDED,
                    started_at=NOW, agent_id=dana, recording_url="https://api.twilio.com/x/RE1")  # fmt: skip
        other = Call(provider_call_id="CAother", from_number="+12145550135", state=CallState.ENDED,
                     started_at=NOW, recording_url="https://api.twilio.com/x/RE2")  # fmt: skip
        s.add_all([mine, other])
        s.flush()
        mine_id, other_id = mine.id, other.id

    async def scenario() -> None:
        a = desks("a")
        a.window.show()
        await a.sync.sign_in_with(url, "dana", PASSWORD)
        await until(lambda: a.window.sync_status.state == "online", 20)
        a.window.customer_panel.playRecordingRequested.emit(mine_id)
        await until(lambda: played)
        assert played[0].endswith(".mp3") and open(played[0], "rb").read() == b"ID3-the-recording"
        assert fetched == ["https://api.twilio.com/x/RE1"]
        a.window.customer_panel.playRecordingRequested.emit(other_id)
        await until(lambda: a.window.statusBar().currentMessage() == NOT_ALLOWED)
        assert len(played) == 1 and len(fetched) == 1
        a.sync.stop()
        a.window.customer_panel.playRecordingRequested.emit(mine_id)
        await until(lambda: "offline" in a.window.statusBar().currentMessage())
        assert "recording needs the server" in a.window.statusBar().currentMessage()

    loop.run_until_complete(scenario())
