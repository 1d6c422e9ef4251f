"""A notifications rig on loopback for tests, the bench and the demo: the server's webhook ingress with the
messaging routes (real aiohttp, real signature checks) and the Messages API stand-in (sync/msgsim.py)
posting signed callbacks to it. Everything real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from sync.call_desk import CallDesk
from sync.ingress import make_app, set_public_url, start_ingress
from sync.messaging import TwilioSms
from sync.msgsim import MessagesSim, serve
from sync.notify_webhooks import INBOUND_PATH, STATUS_PATH, MessagingHooks, add_routes

ACCOUNT = "AC" + "5" * 32
TOKEN = "notify-rig-auth-token-0123456789"
COMPANY_NUMBER = "+19725550100"


@dataclass
class Rig:
    sim: MessagesSim
    hooks: MessagingHooks
    base: str  # the ingress's URL (also its public URL)
    sim_url: str
    _runners: list[web.AppRunner]

    def sms(self, **kw: Any) -> TwilioSms:
        """A text channel to the stand-in, its status callbacks coming back to our ingress."""
        return TwilioSms(
            ACCOUNT,
            TOKEN,
            from_number=COMPANY_NUMBER,
            status_callback=self.base + STATUS_PATH,
            api_base=self.sim_url,
            **kw,
        )

    async def close(self) -> None:
        for runner in self._runners:
            await runner.cleanup()


async def start_rig(
    sessions: sessionmaker[Session],
    *,
    callback_delay: float = 0.01,
    log_path: str = "",
    clock: Callable[[], datetime] = utcnow,
) -> Rig:
    hooks = MessagingHooks(sessions, clock=clock)
    app = make_app(CallDesk(sessions), TOKEN, "http://127.0.0.1")
    add_routes(app, hooks)
    ingress, port = await start_ingress(app, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    set_public_url(app, base)
    sim = MessagesSim(
        ACCOUNT, TOKEN, inbound_url=base + INBOUND_PATH, callback_delay=callback_delay, log_path=log_path
    )
    sim_runner, sim_port = await serve(sim)
    return Rig(sim, hooks, base, f"http://127.0.0.1:{sim_port}", [sim_runner, ingress])
