"""The console's side of the phone process: start it, talk JSON lines to it, restart it when it dies.

Qt-free and asyncio-only (the console runs it on the qasync loop, so nothing here ever blocks the UI
thread). console/phone_controller.py turns its callbacks into Qt signals.

States: ``starting`` → ``online`` (the process said ``ready``) → ``offline`` when it exits or crashes
(kill -9 included) → ``starting`` again after a backoff (0.5 s, 1 s, 2 s, … 30 s; back to 0.5 s once a
run lasted a minute) → ``stopped`` after ``stop()``. The last ``register`` command is replayed on every
restart, so the seat signs in again by itself (``listen`` for a direct seat, which has no registrar).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .phone_protocol import decode_event, encode

log = logging.getLogger("csr.phone")

BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_RUN_S = 60.0  # a run this long resets the backoff
STOP_GRACE_S = 3.0


def phone_command(*, null_audio: bool = False, bind: str | None = None) -> list[str]:
    """How to start the phone process: `csr-console phone` in the bundle, the module otherwise."""
    if getattr(sys, "frozen", False):
        cmd = [sys.executable, "phone"]
    else:
        cmd = [sys.executable, "-m", "sync.softphone"]
    if null_audio:
        cmd.append("--null-audio")
    if bind:
        cmd += ["--bind", bind]
    return cmd


class PhoneLink:
    """Supervises one phone process; every method runs on the asyncio loop's thread."""

    def __init__(
        self,
        command: list[str] | None = None,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        on_state: Callable[[str, str], None] | None = None,
        backoff: tuple[float, ...] = BACKOFF_S,
        stderr_path: str | None = None,
    ) -> None:
        self.command = command or phone_command()
        self.on_event = on_event or (lambda _e: None)
        self.on_state = on_state or (lambda _s, _m: None)
        self.backoff = backoff
        self.stderr_path = stderr_path
        self.state = "stopped"
        self.message = ""
        self.pid: int | None = None
        self.restarts = 0
        self.registration: dict[str, Any] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._fatal = ""
        self._refs = itertools.count(1)
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[dict[str, Any]]]] = []

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start supervising (returns at once; the process comes up in the background)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        """Ask the phone to hang up and quit; kill it if it does not within a few seconds."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self.send({"cmd": "quit"})
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._set_state("stopped", "")

    def _set_state(self, state: str, message: str) -> None:
        if (state, message) != (self.state, self.message):
            self.state, self.message = state, message
            self.on_state(state, message)

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping:
            self._set_state("starting", "Starting the phone…")
            began = time.monotonic()
            code = await self._run_once()
            if self._stopping:
                break
            failures = 0 if time.monotonic() - began >= STABLE_RUN_S else failures + 1
            delay = self.backoff[min(max(failures - 1, 0), len(self.backoff) - 1)]
            how = "it crashed" if code is None or code < 0 else f"it stopped (exit {code})"
            if self._fatal:  # it said why (e.g. pjsua2 missing): tell that, not just the exit code
                how, self._fatal = self._fatal.rstrip("."), ""
            self._set_state("offline", f"Phone offline — {how}; restarting in {delay:g} s.")
            log.warning("phone process %s; restart %d in %.1f s", how, self.restarts + 1, delay)
            await asyncio.sleep(delay)
            self.restarts += 1

    async def _run_once(self) -> int | None:
        stderr = open(self.stderr_path, "ab") if self.stderr_path else asyncio.subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        except OSError as exc:
            self._set_state("offline", f"Phone offline — it could not start: {exc}")
            return None
        finally:
            if self.stderr_path:
                stderr.close()
        self._proc, self.pid = proc, proc.pid
        assert proc.stdout is not None
        try:
            while True:
                line = await proc.stdout.readline()
                if not line:
                    break
                event = decode_event(line)
                if event is None:
                    log.warning("phone process wrote a line that is not an event: %r", line[:200])
                    continue
                self._dispatch(event)
        finally:
            code = await proc.wait()
            self._proc = None
        return code

    def _dispatch(self, event: dict[str, Any]) -> None:
        event["received"] = time.time()
        if event["event"] == "ready":
            self._set_state("online", "")
            if self.registration is not None:
                self.send(dict(self.registration))
        elif event["event"] == "fatal":
            self._fatal = str(event.get("message", ""))
        for waiter in list(self._waiters):
            predicate, future = waiter
            if future.done():  # timed out or cancelled
                self._waiters.remove(waiter)
            elif predicate(event):
                future.set_result(event)
                self._waiters.remove(waiter)
        self.on_event(event)

    # --- commands --------------------------------------------------------------------------------
    def send(self, command: dict[str, Any]) -> str | None:
        """Write one command; returns its ref, or None when the phone is not running (offline)."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            return None
        ref = str(command.get("ref") or f"r{next(self._refs)}")
        command = {**command, "ref": ref}
        if command.get("cmd") in ("register", "listen"):  # how the seat signs in: replayed on restarts
            self.registration = {k: v for k, v in command.items() if k != "ref"}
        try:
            proc.stdin.write(encode(command))
        except (BrokenPipeError, ConnectionResetError):
            return None
        return ref

    def register(self, command: dict[str, Any]) -> str | None:
        """Sign the seat in now (when online) and again after every restart."""
        self.registration = {**command, "cmd": "register"}
        return self.send(self.registration)

    def listen(self, address: str, devices: dict[str, str] | None = None) -> str | None:
        """A direct seat (no registrar): listen at ``address`` now and again after every restart;
        ``devices``: the seat's input_device / output_device / ring_device, as for ``register``."""
        self.registration = {"cmd": "listen", "address": address, **(devices or {})}
        return self.send(self.registration)

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> asyncio.Future[dict[str, Any]]:
        """A future for the next event matching ``predicate`` (times out with TimeoutError)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return asyncio.ensure_future(asyncio.wait_for(future, timeout))

    async def request(self, command: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Send a command and wait for its ``ok`` or ``error``; RuntimeError when the phone is offline."""
        ref = f"r{next(self._refs)}"
        answer = self.wait_for(lambda e: e.get("ref") == ref and e["event"] in ("ok", "error"), timeout)
        if self.send({**command, "ref": ref}) is None:
            answer.cancel()
            raise RuntimeError(self.message or "The phone is offline.")
        return await answer
