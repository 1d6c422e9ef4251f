"""The README's screenshots, from the real demo: ``xvfb-run -s "-screen 0 1366x768x24" python -m
bench.screenshots 1366 768`` (and 1920 1080) writes docs/images/desk-<width>-<scene>.png for: idle with
search results, a customer open with the booking form bound, availability listed, a ringing call, the
call claimed, and the classify dialog. Needs ImageMagick's ``import`` (the whole screen, dialogs too)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def snap(width: int, scene: str) -> None:
    path = IMAGES / f"desk-{width}-{scene}.png"
    subprocess.run(["import", "-window", "root", "-depth", "8", str(path)], check=True)
    print(f"saved {path}", flush=True)


async def settle(seconds: float = 0.6) -> None:
    await asyncio.sleep(seconds)


async def until(predicate, timeout: float = 60.0) -> None:  # noqa: ANN001
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the demo didn't get there in time")
        await asyncio.sleep(0.1)


async def scenes(console, width: int, height: int) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QApplication

    window = console.window
    window.setGeometry(0, 0, width, height)
    window.show()
    await until(lambda: window.sync_status.state == "online")
    await until(lambda: console.booking.form.business_unit.count() > 1)
    window.lookup.search.setText("Smith")
    await until(lambda: window.lookup.model.total() > 0)
    await settle()
    snap(width, "idle")
    window.lookup.results.focus_first()
    conn = console.cache.raw_connection()
    customer_id = conn.execute(
        "SELECT customer_id FROM jobs GROUP BY customer_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    conn.close()
    opened: list = []
    console.customers.open_customer(customer_id, then=opened.append)  # read on its worker
    await until(lambda: bool(opened))
    console.new_job()
    form = console.booking.form
    form.business_unit.setCurrentIndex(form.business_unit.findText("HVAC Service"))
    form.job_type.setCurrentIndex(1)
    form.campaign.setCurrentIndex(form.campaign.findText("Google Local Services"))
    await settle()
    snap(width, "customer")
    console.booking.show_availability()
    await until(lambda: form.availability.rowCount() > 0)
    await settle()
    snap(width, "availability")
    strip = window.bubble_strip
    await until(lambda: strip.claim_action.isEnabled(), 90)  # the simulated phone system rings
    await settle(1.2)
    snap(width, "ringing")
    ringing = {i for i, c in console.calls.cards.items() if not c.claimed_by_id and not c.ended}
    strip.claim_action.trigger()
    await until(
        lambda: any(console.calls.cards[i].claimed_by_id for i in ringing if i in console.calls.cards), 20
    )
    await settle(1.2)
    snap(width, "claimed")
    call_id = next(i for i in ringing if i in console.calls.cards and console.calls.cards[i].claimed_by_id)
    console.calls.classify(call_id)  # opens once the call reasons are read on the worker
    await until(lambda: console.calls.dialog is not None, 20)
    await settle()
    snap(width, "classify")
    if console.calls.dialog is not None:
        console.calls.dialog.reject()
    QApplication.instance().processEvents()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    width, height = (int(args[0]), int(args[1])) if len(args) >= 2 else (1366, 768)
    os.environ.setdefault("QT_API", "pyside6")
    import qasync
    from PySide6.QtWidgets import QApplication

    from console.app import _import_demo_setup
    from console.composition import Console
    from console.demo_server import DEMO_PASSWORD, DEMO_USERS, prepare_store, start_server
    from console.settings import open_settings
    from console.theme import apply_theme
    from models.demo import generate
    from models.demo_jobs import generate_jobs

    folder = Path(tempfile.mkdtemp(prefix="csr-shots-"))
    cache = folder / "cache.sqlite3"
    server = None
    try:
        generate(cache, customers=2000, seed=2024)
        _import_demo_setup(cache)
        generate_jobs(cache, jobs=400)
        prepare_store(cache, folder / "server.sqlite3")
        server = start_server(folder / "server.sqlite3", folder / "server.log")
        app = QApplication.instance() or QApplication(sys.argv[:1])
        apply_theme(app, "light")
        console = Console.build(cache, open_settings(folder), title_suffix="Demo")
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        with loop:
            console.sync.sign_in_with(server.url, DEMO_USERS[0][0], DEMO_PASSWORD)
            loop.run_until_complete(scenes(console, width, height))
            loop.run_until_complete(console.aclose())
        console.shutdown()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
