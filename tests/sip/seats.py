"""A phone process per seat for the SIP tests, driven through the console's own PhoneLink."""

from __future__ import annotations

import asyncio
from typing import Any

from sync.phone_link import PhoneLink, phone_command


class Seat:
    """One phone process registered as ``user`` at the test Kamailio; events kept in order."""

    def __init__(self, kamailio: Any, user: str, tmp_path: Any, *, password: str | None = None) -> None:
        self.kamailio = kamailio
        self.user = user
        self.password = password if password is not None else f"pw-{user}"
        self.events: list[dict[str, Any]] = []
        self.states: list[tuple[str, str]] = []
        self.link = PhoneLink(
            phone_command(null_audio=True, bind="127.0.0.1"),
            on_event=self.events.append,
            on_state=lambda s, m: self.states.append((s, m)),
            backoff=(0.2, 0.5, 1.0),
            stderr_path=str(tmp_path / f"phone-{user}.log"),
        )

    @property
    def uri(self) -> str:
        return self.kamailio.seat_uri(self.user)

    async def start(self, *, register: bool = True) -> dict[str, Any] | None:
        ready = self.link.wait_for(lambda e: e["event"] == "ready", 15)
        self.link.start()
        await ready
        if not register:
            return None
        done = self.link.wait_for(lambda e: e["event"] == "registration", 10)
        self.link.register(
            {"registrar": self.kamailio.registrar, "user": self.user, "password": self.password}
        )
        return await done

    def next(self, event: str, timeout: float = 5.0, **fields: Any) -> asyncio.Future[dict[str, Any]]:
        """The next event named ``event`` whose fields match."""
        return self.link.wait_for(
            lambda e: e["event"] == event and all(e.get(k) == v for k, v in fields.items()), timeout
        )

    async def do(self, cmd: str, **fields: Any) -> dict[str, Any]:
        answer = await self.link.request({"cmd": cmd, **fields})
        assert answer["event"] == "ok", answer
        return answer

    async def stop(self) -> None:
        await self.link.stop()


async def seats(kamailio: Any, tmp_path: Any, *users: str) -> list[Seat]:
    out = [Seat(kamailio, u, tmp_path) for u in users]
    regs = await asyncio.gather(*(s.start() for s in out))
    assert all(r and r["state"] == "registered" for r in regs), regs
    return out
