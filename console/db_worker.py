"""One background thread for the console's database writes and heavier reads (STYLE #9): the UI thread
hands it a function, goes on with the CSR's typing, and gets the result back by signal. A newer request
of the same ``key`` makes an older one's result stale: it is dropped, never shown over the newer one."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)


class DbWorker(QObject):
    _finished = Signal(object, object, object, object)  # (key, ticket), done, failed, future

    def __init__(self, parent: QObject | None = None, name: str = "csr-db") -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._tickets = itertools.count(1)
        self._latest: dict[str, int] = {}
        self.pending = 0  # handed over and not yet answered on the UI thread
        self._closed = False
        # Always queued: a future already done when submit() adds its callback runs that callback right here,
        # on the UI thread, and a direct delivery would then answer inside submit() — before a newer
        # request could make it stale, and before the caller has even kept the future.
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None],
        key: str = "",
    ) -> Future:
        """Run ``fn(*args)`` on the worker; ``done(result)`` or ``failed(exception)`` on the UI thread."""
        if self._closed:
            # The console is closing (the cache is about to be closed): a late read has no one to show to.
            log.info("%s asked of a worker already shut down: not run", getattr(fn, "__name__", fn))
            future: Future = Future()
            future.cancel()
            return future
        ticket = next(self._tickets)
        self.pending += 1
        if key:
            self._latest[key] = ticket
        future = self._pool.submit(fn, *args)
        future.add_done_callback(lambda f: self._finished.emit((key, ticket), done, failed, f))
        return future

    def forget(self, key: str) -> None:
        """Whatever of this ``key`` is still on its way is stale: it will be dropped, not shown."""
        self._latest[key] = next(self._tickets)

    def _deliver(
        self,
        tag: tuple[str, int],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None],
        future: Future,
    ) -> None:
        key, ticket = tag
        self.pending -= 1
        if key and self._latest.get(key) != ticket:
            return  # a newer request of this kind is on its way
        exc = future.exception()
        if exc is None:
            done(future.result())
        else:
            failed(exc)

    def shutdown(self) -> None:
        """Finish what was handed over (a booking being saved is saved), then stop the thread."""
        self._closed = True
        self._pool.shutdown(wait=True)
