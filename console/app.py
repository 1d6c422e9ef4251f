"""Entry point of `csr-console`: builds every service once, assembles the window, runs the qasync loop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("csr.console")

DEMO_CUSTOMERS = 20_000
CHILD_CHECK_MS = 2_000  # how often the demo's server and phone simulator are checked on


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="csr-console", description="Call-desk console for home-service companies."
    )
    p.add_argument(
        "--demo", action="store_true", help="open over a freshly generated demo cache in a throw-away profile"
    )
    p.add_argument(
        "--join",
        nargs="?",
        const="lee",
        default=None,
        metavar="USER",
        help="with --demo: another window on the demo server of a demo window already open, signed in "
        "as USER (lee, the default; sam, the supervisor, for the floor board; admin)",
    )
    p.add_argument(
        "--sound",
        action="store_true",
        help="with --demo: the demo's phone seat uses this PC's sound devices (PortAudio) instead of the "
        "null device, so its calls ring on the speakers (the simulated callers are silent)",
    )
    p.add_argument("--no-server", action="store_true", help=argparse.SUPPRESS)  # demo without a server
    p.add_argument("--demo-customers", type=int, default=DEMO_CUSTOMERS, help=argparse.SUPPRESS)
    p.add_argument("--cache", type=Path, help="the local cache file (default: in the user's data folder)")
    p.add_argument("--profile", type=Path, help="keep settings in this folder instead of the user's")
    p.add_argument("--region", default="US", help="default phone region for numbers typed without +")
    p.add_argument(
        "--self-test",
        action="store_true",
        help="open offscreen, run a lookup against a tiny generated cache and exit 0 on success",
    )
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


@dataclass
class Profile:
    cache_path: Path
    settings_dir: Path | None
    throwaway: Path | None  # removed on exit


def _profile(args: argparse.Namespace) -> Profile:
    from .settings import default_cache_path

    if args.demo or args.self_test:
        tmp = Path(tempfile.mkdtemp(prefix="csr-demo-"))
        return Profile(tmp / "cache.sqlite3", tmp, tmp)
    return Profile(args.cache or default_cache_path(), args.profile, None)


def configure_runtime() -> None:
    """Process-wide settings of the console: hand the GIL between the UI thread and the search
    worker every 1 ms instead of 5 ms, so a keystroke is never queued behind a worker's time slice."""
    sys.setswitchinterval(0.001)


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # the duplicate scan's process in a frozen (PyInstaller) build
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["setup"]:  # csr-console setup import|export FILE: no window, no Qt
        from .setup_cli import run_setup_command

        return run_setup_command(argv[1:])
    if argv[:1] == ["server"]:  # the bundle's way to run csr-server (the demo starts one)
        from sync.server_cli import main as server_main

        return server_main(argv[1:])
    if argv[:1] == ["msgsim"]:  # the bundle's way to run csr-msgsim (the demo's text service stand-in)
        from sync.msgsim import main as msgsim_main

        return msgsim_main(argv[1:])
    if argv[:1] == ["scsim"]:  # the bundle's way to run csr-scsim (the demo's ServiceChannel stand-in)
        from sync.scsim import main as scsim_main

        return scsim_main(argv[1:])
    if argv[:1] == ["callsim"]:  # the bundle's way to run csr-callsim (the demo's phone calls)
        from sync.callsim import main as callsim_main

        return callsim_main(argv[1:])
    if argv[:1] == ["phone"]:  # the softphone process the console starts and watches (no Qt)
        from sync.softphone import main as phone_main

        return phone_main(argv[1:])
    args = parse_args(argv)
    if args.join and not args.demo:
        print("csr-console: --join goes with --demo (a second CSR on the demo server)", file=sys.stderr)
        return 2
    configure_runtime()
    from models.phone import set_default_region

    try:
        set_default_region(args.region)
    except ValueError as exc:
        print(f"csr-console: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.self_test:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("QT_API", "pyside6")
    profile = _profile(args)
    server = None
    try:
        if args.demo and args.join:
            from .demo_server import DEMO_USERS, find_running

            names = {u[0]: u for u in DEMO_USERS}
            if args.join not in names or args.join == DEMO_USERS[0][0]:
                print(
                    f"csr-console: --join takes one of {', '.join(n for n in names if n != DEMO_USERS[0][0])}",
                    file=sys.stderr,
                )
                return 2
            server = find_running()
            if server is None:
                print(
                    "csr-console: no demo window is open on this machine; start `csr-console --demo` first",
                    file=sys.stderr,
                )
                return 2
            print(
                f"Joining the demo server at {server.url} as {names[args.join][1]} "
                f"(profile {profile.cache_path.parent}) …",
                flush=True,
            )
            return _run(args, profile, demo_login=(server.url, args.join))
        if args.demo or args.self_test:
            from models.demo import generate

            n = 300 if args.self_test else args.demo_customers
            print(f"Preparing {n:,} demo customers in {profile.cache_path.parent} …", flush=True)
            generate(profile.cache_path, customers=n, seed=2024)
            _import_demo_setup(profile.cache_path)
            from models.demo_jobs import generate_jobs

            generate_jobs(profile.cache_path, jobs=max(50, n // 5))
        if args.demo and not args.no_server:
            from .demo_server import DEMO_USERS, add_demo_seat, prepare_store, start_server

            store = profile.cache_path.parent / "server.sqlite3"
            prepare_store(profile.cache_path, store)
            seat, no_seat = add_demo_seat(store)
            server = start_server(store, profile.cache_path.parent / "server.log", seat=seat)
            print(f"Demo server running at {server.url}; a second CSR: csr-console --demo --join", flush=True)
            if seat:
                print(
                    f"Phone seat: Dana's softphone listens at {seat} (no registrar); simulated calls ring "
                    "it for real — F2 answers, F3 hold, F4 mute, F9 hang up",
                    flush=True,
                )
            else:
                print(f"No phone seat in this demo: {no_seat}.", flush=True)
            print(f"Web Scheduler (book online as a customer would): {server.web}", flush=True)
            if server.scsim is not None:
                print(
                    "ServiceChannel work orders: a local stand-in (csr-scsim, not ServiceChannel) sends one "
                    "now and then; they arrive in the Bookings inbox (Ctrl+Shift+I)",
                    flush=True,
                )
            return _run(args, profile, demo_login=(server.url, DEMO_USERS[0][0]), children=server)
        return _run(args, profile)
    finally:
        if server is not None and server.process is not None:
            server.stop()
        if profile.throwaway is not None:
            shutil.rmtree(profile.throwaway, ignore_errors=True)


def _import_demo_setup(cache_path: Path) -> None:
    """The demo company: HVAC, Plumbing and Electrical units, job types, campaigns, technicians."""
    from models.db import open_cache
    from models.setup_file import demo_setup_path, import_setup_file

    cache = open_cache(cache_path)
    try:
        import_setup_file(cache, demo_setup_path())
    finally:
        cache.close()


def _run(
    args: argparse.Namespace,
    profile: Profile,
    demo_login: tuple[str, str] | None = None,
    children: Any = None,
) -> int:
    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from models.db import CacheError

    from .composition import Console
    from .settings import open_settings
    from .theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CSR Console")
    app.setOrganizationName("CSR Console")
    app.setApplicationDisplayName("CSR Console")
    settings = open_settings(profile.settings_dir)
    apply_theme(app, str(settings.value("theme", "system")))
    try:
        suffix = (f"Demo — {args.join}" if args.join else "Demo") if args.demo else ""
        console = Console.build(profile.cache_path, settings, region=args.region, title_suffix=suffix)
    except CacheError as exc:
        _cache_error_dialog(exc)
        return 2
    from .gc_guard import install as collect_on_ui_thread

    collect_on_ui_thread(app)  # never a collection in a worker thread (see console/gc_guard.py)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    if args.demo and console.phone is not None:
        # The demo's seat: no sound card needed (null audio, unless --sound), SIP and media on the
        # loopback only.
        from sync.phone_link import phone_command

        console.phone.command = phone_command(null_audio=not args.sound, bind="127.0.0.1")
        console.phone.stderr_path = str(profile.cache_path.parent / "phone.log")
    console.window.show()
    if args.self_test:
        from .self_test import run_self_test

        code = loop.run_until_complete(run_self_test(console))
        console.shutdown()
        loop.close()  # its executor threads end before the interpreter does
        return code
    _quit_on_signals(console.window)  # before saying "running": a signal may follow at once
    if children is not None:
        watch_children(children, console.window)
        if getattr(children, "sent_log", None) is not None:
            from .sent_messages import install as show_sent_messages

            console.sent_messages = show_sent_messages(console.window, children.sent_log)
    if args.demo:
        print("CSR Console is running on the demo profile; it is removed when the window closes.", flush=True)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    console.window.closing.connect(closed.set)
    with loop:
        if demo_login is not None:
            from .demo_server import DEMO_PASSWORD

            console.sync.sign_in_with(demo_login[0], demo_login[1], DEMO_PASSWORD)
        elif console.sync.remembered()[0]:
            # A console that was signed in before asks again (the password is never remembered).
            QTimer.singleShot(0, console.sync.open_sign_in)
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(console.aclose())
    console.shutdown()
    return 0


def cache_error_box(exc: Exception):  # noqa: ANN201 - QMessageBox, imported lazily
    """The dialog for a cache that can't be opened: what happened, which file, what to do."""
    from PySide6.QtWidgets import QMessageBox

    from models.db import CacheError

    assert isinstance(exc, CacheError)
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "CSR Console can't open its customer cache",
        f"<b>{exc.message}</b><br><br>File: <code>{exc.path}</code><br><br>{exc.advice}",
        QMessageBox.StandardButton.Close,
    )
    box.setObjectName("cacheErrorDialog")
    box.setAccessibleName("Cache error")
    return box


def watch_children(server: Any, window: Any) -> Any:
    """Every 2 s: a child process the demo started (``DemoServer``) that has died is reaped at once — no
    zombie — and the CSR is told in the status bar. Returns the timer (a child of the window)."""
    from PySide6.QtCore import QTimer

    timer = QTimer(window)
    timer.setObjectName("demoChildrenTimer")
    timer.setInterval(CHILD_CHECK_MS)

    def check() -> None:
        for name in server.reap():
            code = server.ended[name]
            log.warning("the demo's %s exited with code %s", name, code)
            window.statusBar().showMessage(
                f"The demo's {name} stopped (exit code {code}) — restart the demo to bring it back.", 30_000
            )

    timer.timeout.connect(check)
    timer.start()
    return timer


def _quit_on_signals(window) -> None:  # noqa: ANN001
    """SIGTERM (logout, a service manager) and Ctrl+C close the window the normal way: drafts saved,
    threads stopped, a throw-away demo profile removed."""
    import signal

    from PySide6.QtCore import QTimer

    def close(_signum, _frame) -> None:  # noqa: ANN001
        QTimer.singleShot(0, window.close)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, close)
    # Python runs signal handlers only when it gets control; Qt's loop is C++: wake it up regularly.
    heartbeat = QTimer(window)
    heartbeat.setInterval(300)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start()


def _cache_error_dialog(exc: Exception) -> None:
    from models.db import CacheError

    assert isinstance(exc, CacheError)
    print(f"csr-console: {exc.message} ({exc.path})\n{exc.advice}", file=sys.stderr)
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        return  # nobody to click Close: the message above is the report
    cache_error_box(exc).exec()  # before the event loop runs: nothing async to disturb


if __name__ == "__main__":
    raise SystemExit(main())
