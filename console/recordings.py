"""Listening to a call's recording or voicemail: the console asks the server for the file (sync/media.py
checks the role and fetches it from the phone company) and opens it in the PC's player. The phone
company's URL is never opened here — it needs the account's credentials, which only the server holds.

The file goes to a private folder of this console's (removed when the console closes), written off the
UI thread; a refusal ("You may only listen to your own calls…") or a failure is one sentence for the
status bar, never silence.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from sync.requests import RequestFailed

from .tasks import Tasks

log = logging.getLogger(__name__)

NO_PLAYER = "The recording could not be opened — this PC has no program set up to play it."
FETCHING = "Getting the recording from the server…"
PLAYING = "The recording is open in your player."
EXTENSIONS = {"audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav",
              "audio/wave": ".wav", "audio/ogg": ".ogg"}  # fmt: skip


class RecordingPlayer(QObject):
    """``play(call_id)``: fetch through the server, then open in the system's player. ``message`` carries
    what the CSR should read (fetching, refused, no player)."""

    message = Signal(str)
    opened = Signal(str)  # the local file handed to the player

    def __init__(
        self,
        parent: QObject | None,
        fetch: Callable[[str], Awaitable[tuple[bytes, str]]],
        *,
        open_file: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._open = open_file or (lambda path: QDesktopServices.openUrl(QUrl.fromLocalFile(path)))
        self._tasks = Tasks()
        self._folder: Path | None = None

    def play(self, call_id: str) -> asyncio.Task[Any] | None:
        if not call_id:
            return None
        self.message.emit(FETCHING)
        return self._tasks.spawn(self._play(call_id))

    async def _play(self, call_id: str) -> None:
        try:
            body, kind = await self._fetch(call_id)
        except RequestFailed as exc:
            self.message.emit(str(exc))
            return
        try:
            path = await asyncio.to_thread(self._write, call_id, body, kind)
        except OSError as exc:
            log.warning("event=recording_write_failed error=%s", exc)
            self.message.emit("The recording could not be saved on this PC to play it.")
            return
        if not self._open(path):
            self.message.emit(NO_PLAYER)
            return
        self.message.emit(PLAYING)
        self.opened.emit(path)

    def _write(self, call_id: str, body: bytes, kind: str) -> str:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="csr-recordings-"))
        safe = "".join(c for c in call_id if c.isalnum())[:40] or "call"
        path = self._folder / f"recording-{safe}{EXTENSIONS.get(kind.lower(), '.wav')}"
        path.write_bytes(body)
        return str(path)

    async def aclose(self) -> None:
        """Stop fetches on their way and remove the files (the console is closing)."""
        await self._tasks.cancel_all()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
