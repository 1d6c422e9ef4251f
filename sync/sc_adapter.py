"""The ServiceChannel adapter inside csr-server (docs/servicechannel.md): the webhook receiver on a port
of its own, the catch-up poll and the outbound worker, around one API client and its rate budget.

At start it reads the platform's signing key (``GET /NotificationSubscriptions/SigningKey``) and, when a
public URL is set, subscribes the receiver (``POST /NotificationWebHooks``, WorkOrderCreated and the
changes the inbox shows).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from .sc_config import ScConfig
from .sc_inbound import WEBHOOK_PATH, Poller, Receiver, WorkOrderDesk, make_app
from .sc_outbound import OutboundWorker
from .servicechannel import Budget, ScClient, ScError, ScUnavailable

log = logging.getLogger("csr.server.servicechannel")
EVENTS = [
    "WorkOrderCreated",
    "WorkOrderStatusChanged",
    "WorkOrderScheduledDateChanged",
    "WorkOrderPriorityChanged",
    "WorkOrderTradeChanged",
    "WorkOrderNteChanged",
    "WorkOrderCategoryChanged",
    "WorkOrderDescriptionChanged",
    "WorkOrderCheckIn",
    "WorkOrderCheckOut",
]


class ServiceChannelAdapter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: ScConfig,
        *,
        on_committed: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config
        self.client = ScClient(config.credentials, Budget(config.rate_limit, config.rate_window))
        self.desk = WorkOrderDesk(sessions, config.mapping, on_committed=on_committed)
        self.receiver = Receiver(self.desk, [])
        self.poller = Poller(
            self.client,
            self.desk,
            self.receiver,
            interval=config.poll_seconds,
            lookback=timedelta(hours=config.lookback_hours),
        )
        self.worker = OutboundWorker(
            sessions,
            self.client,
            config.mapping,
            lease=timedelta(seconds=config.lease_seconds),
            on_committed=on_committed,
        )
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = 0
        self.url = ""  # where the receiver listens (set by whoever started it)

    async def start(self) -> int:
        """Listen for deliveries, learn the signing key, subscribe, and start polling and sending; the port."""
        self._runner = web.AppRunner(make_app(self.receiver), access_log=None)
        await self._runner.setup()
        await web.TCPSite(
            self._runner, self.config.webhook_host, self.config.webhook_port, backlog=1024
        ).start()
        self.port = int(self._runner.addresses[0][1])
        self._tasks = [
            asyncio.create_task(self._prepare()),
            asyncio.create_task(self.poller.run()),
            asyncio.create_task(self.worker.run()),
        ]
        log.info("event=sc_listening port=%d", self.port)
        return self.port

    async def _prepare(self) -> None:
        """The signing key, then the subscription; retried until the platform answers (deliveries meanwhile
        are refused with 403 and delivered again by the platform, or found by the poll)."""
        delay = 5.0
        while True:
            try:
                answer = await self.client.call("GET", "/NotificationSubscriptions/SigningKey")
                key = str((answer or {}).get("Key") or "")
                if key:
                    self.receiver.keys[:] = [key]
                if self.config.public_url:
                    url = self.config.public_url.rstrip("/")
                    if url == "auto":  # platform and server on one machine (the demo): the receiver itself
                        url = f"http://{self.config.webhook_host}:{self.port}"
                    url = url if url.endswith(WEBHOOK_PATH) else url + WEBHOOK_PATH
                    await self.client.call(
                        "POST",
                        "/NotificationWebHooks",
                        body={
                            "Name": "CSR Console",
                            "Url": url,
                            "Enabled": True,
                            "Description": "Work orders into the Bookings inbox",
                            "Subscriptions": [{"Name": "Work orders", "EventTypes": EVENTS, "Rules": {}}],
                        },
                    )
                return
            except (ScError, ScUnavailable) as exc:
                log.warning("event=sc_prepare_failed error=%s", exc)
            await asyncio.sleep(delay)
            delay = min(300.0, delay * 2)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()
        await self.client.close()
