"""Entry point of `csr-bench`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from platformdirs import user_cache_dir


def bench_cache_path(customers: int) -> Path:
    return Path(user_cache_dir("csr-console", "CSR Console")) / f"bench-{customers}.sqlite3"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="csr-bench", description="CSR Console benchmarks (JSON on stdout).")
    sub = p.add_subparsers(dest="command", required=True)

    seed = sub.add_parser("seed", help="build a large generated cache")
    seed.add_argument("--customers", type=int, default=1_000_000)
    seed.add_argument("--out", type=Path, help="cache file (default: the benchmark cache for N)")
    seed.add_argument("--seed", type=int, default=2024)
    seed.add_argument("--force", action="store_true", help="replace an existing file")

    lookup = sub.add_parser("lookup", help="customer lookup latencies, keystroke-to-paint, start-up, memory")
    lookup.add_argument("--customers", type=int, default=1_000_000)
    lookup.add_argument("--cache", type=Path, help="use this cache (default: seeded on first use)")
    lookup.add_argument("--queries", type=int, default=1000, help="queries per kind")
    lookup.add_argument("--keystrokes", type=int, default=1000)

    booking = sub.add_parser("booking", help="booking save, availability and form-ready latencies")
    booking.add_argument("--customers", type=int, default=1_000_000)
    booking.add_argument("--jobs", type=int, default=200_000)
    booking.add_argument("--bookings", type=int, default=1000, help="bookings timed (≥ 1,000 for a p99)")
    booking.add_argument("--cache", type=Path, help="use this cache (default: the benchmark cache for N)")

    sync = sub.add_parser(
        "sync", help="offline catch-up (SQLite and PostgreSQL servers) and fan-out to 300 clients"
    )
    sync.add_argument("--bookings", type=int, default=1000, help="queued bookings to catch up")
    sync.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=[300, 1000],
        help="connected consoles for each fan-out run (10 of them real headless consoles)",
    )
    sync.add_argument("--commits", type=int, default=200, help="commits whose pokes are timed")
    sync.add_argument("--listener-procs", type=int, default=1, help="processes holding the clients")
    sync.add_argument(
        "--postgres",
        default=None,
        help="PostgreSQL server URL (a scratch database is created and dropped); "
        "default $CSR_TEST_POSTGRES or postgresql://postgres@127.0.0.1:5432/test",
    )
    sync.add_argument("--no-postgres", action="store_true")
    sync.add_argument(
        "--initial-customers",
        type=int,
        default=1_000_000,
        help="customers on the server for the initial-sync figure (0: skip it; the store is "
        "the seeded benchmark cache, made on first use)",
    )

    web = sub.add_parser(
        "web", help="the Web Scheduler: page TTFB, availability, submit → inbox, last-slot race"
    )
    web.add_argument("--customers", type=int, default=1_000_000)
    web.add_argument("--jobs", type=int, default=200_000)
    web.add_argument("--cache", type=Path, help="use this cache (default: the benchmark cache for N)")
    web.add_argument(
        "--clients", type=int, default=50, help="concurrent browsers for the page and availability"
    )
    web.add_argument("--pages", type=int, default=2000, help="page loads timed")
    web.add_argument("--checks", type=int, default=1000, help="availability reads timed")
    web.add_argument("--submits", type=int, default=1000, help="requests timed to the console's inbox")
    web.add_argument("--racers", type=int, default=200, help="customers racing for the last free window")

    calls = sub.add_parser(
        "calls", help="screen pop (webhook → bubble in a real console) and webhook throughput"
    )
    calls.add_argument("--customers", type=int, default=1_000_000)
    calls.add_argument("--cache", type=Path, help="source cache (default: the benchmark cache for N)")
    calls.add_argument(
        "--calls", type=int, default=1000, help="calls timed for the screen pop (≥ 1,000 for a p99)"
    )
    calls.add_argument("--listeners", type=int, default=50, help="other consoles signed in (headless)")
    calls.add_argument("--seconds", type=float, default=15.0, help="length of the throughput run")
    calls.add_argument("--concurrency", type=int, default=100, help="simulated calls at once (throughput)")
    calls.add_argument(
        "--ring", type=float, default=0.5, help="seconds a call rings after its bubble is shown"
    )
    calls.add_argument(
        "--flood-without-listeners",
        action="store_true",
        help="disconnect the listeners before the throughput run",
    )
    calls.add_argument("--keep", type=Path, help="keep the work folder (stores, logs, trace) here")
    calls.add_argument(
        "--server-stages",
        action="store_true",
        help="stamp the server's stages (bench/timed_server.py) and split the screen pop's time",
    )

    floor = sub.add_parser(
        "floor", help="the supervisors' floor board: call event → board repainted, KPI CPU"
    )
    floor.add_argument("--customers", type=int, default=100_000)
    floor.add_argument("--cache", type=Path, help="source cache (default: the benchmark cache for N)")
    floor.add_argument("--agents", type=int, default=300, help="CSR clients signed in (headless)")
    floor.add_argument("--rate", type=float, default=20.0, help="call events per second")
    floor.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="length of the run (60 s at 20 events/s: 1,200 measured events, enough for a p99)",
    )
    floor.add_argument("--keep", type=Path, help="keep the work folder (stores, logs) here")

    chaos = sub.add_parser("chaos", help="seeded randomized sync runs under network faults")
    chaos.add_argument("--runs", type=int, default=100)
    chaos.add_argument("--seed", type=int, default=1, help="first seed (runs use seed, seed+1, …)")
    chaos.add_argument("--consoles", type=int, nargs=2, metavar=("MIN", "MAX"), default=(2, 3))
    chaos.add_argument(
        "--ops", type=int, nargs=2, metavar=("MIN", "MAX"), default=(3, 7), help="writes per console"
    )
    chaos.add_argument(
        "--conflicts", action="store_true", help="also edit one shared customer's name from every console"
    )
    chaos.add_argument("--verbose", action="store_true", help="one line per run on stderr (failures always)")
    chaos.add_argument(
        "--sim",
        action="store_true",
        help="deterministic simulation (virtual time, simulated network; bench/sim): "
        "thousands of seeds, each replayable exactly",
    )
    chaos.add_argument(
        "--jobs", type=int, default=None, help="--sim: processes sharing the seeds (default: one per CPU)"
    )

    notify = sub.add_parser(
        "notify", help="notifications: reminders due at once, booking → confirmation sent"
    )
    notify.add_argument("--reminders", type=int, default=10_000)
    notify.add_argument("--instances", type=int, default=2, help="csr-server processes sending")
    notify.add_argument("--bookings", type=int, default=1000)
    notify.add_argument("--no-kill", action="store_true", help="don't kill an instance mid-run")
    notify.add_argument("--rate", type=float, default=None, help="texts per second per sender (default: off)")
    notify.add_argument("--postgres", default=None, help="PostgreSQL URL (default: $CSR_TEST_POSTGRES)")
    notify.add_argument("--no-postgres", action="store_true", help="skip the reminders part")
    phone = sub.add_parser(
        "phone", help="softphone through Kamailio: INVITE → ringing painted, answer key → 200 OK, RSS"
    )
    phone.add_argument("--calls", type=int, default=1000, help="sequential calls (≥ 1,000 for a p99)")
    sound = sub.add_parser(
        "phone-sound",
        help="the softphone's sound bridge on a long call (private PulseAudio): ring fill, gaps, CPU",
    )
    sound.add_argument("--seconds", type=float, default=60.0, help="the measured call's length")
    sound.add_argument(
        "--interval", type=float, default=0.04, help="seconds between samples (≥ 1,000 for a p99)"
    )
    sc = sub.add_parser(
        "servicechannel",
        help="work orders by signed webhook → painted in a console's inbox; accepts pushed back",
    )
    sc.add_argument("--orders", type=int, default=1000, help="work orders delivered (≥ 1,000 for a p99)")
    sc.add_argument("--rate", type=float, default=50.0, help="deliveries per second")
    sc.add_argument("--repeat", type=float, default=0.10, help="share of deliveries sent again")
    sc.add_argument("--pushes", type=int, default=1000, help="accepts pushed back (≥ 1,000 for a p99)")
    sc.add_argument("--push-rate", type=float, default=25.0, help="accepts committed per second")
    sc.add_argument("--rate-limit", type=int, default=40, help="the stand-in's calls per second")
    sc.add_argument("--poll", type=float, default=5.0, help="seconds between the server's catch-up polls")
    sc.add_argument("--keep", type=Path, help="keep the work folder here")
    setup = sub.add_parser("setup", help="manager's tools: the whole-cache duplicate scan, merges")
    setup.add_argument("--customers", type=int, default=1_000_000)
    setup.add_argument(
        "--cache", type=Path, help="cache to scan, read only (default: the benchmark cache for N)"
    )
    setup.add_argument("--merges", type=int, default=1000, help="merges timed (≥ 1,000 for a p99)")
    setup.add_argument("--saves", type=int, default=1000, help="setup saves timed to another console")

    args = p.parse_args(argv)
    if args.command == "notify":
        from .notify_bench import PG_DEFAULT, run_notify

        out = run_notify(
            None if args.no_postgres else (args.postgres or PG_DEFAULT),
            args.reminders,
            args.instances,
            args.bookings,
            not args.no_kill,
            args.rate,
        )
    elif args.command == "sync":
        from .sync_bench import PG_DEFAULT, run_sync

        out = run_sync(
            args.bookings,
            args.clients,
            args.commits,
            None if args.no_postgres else (args.postgres or PG_DEFAULT),
            args.listener_procs,
            args.initial_customers,
        )
    elif args.command == "calls":
        from .calls_bench import run_calls

        out = run_calls(
            args.customers,
            args.calls,
            args.listeners,
            args.seconds,
            cache=args.cache,
            concurrency=args.concurrency,
            ring=args.ring,
            flood_listeners=not args.flood_without_listeners,
            keep=args.keep,
            server_stages=args.server_stages,
        )
    elif args.command == "phone":
        from .phone_bench import run_phone

        out = run_phone(args.calls)
    elif args.command == "phone-sound":
        from .phone_sound_bench import run_phone_sound

        out = run_phone_sound(args.seconds, args.interval)
    elif args.command == "servicechannel":
        from .servicechannel_bench import run_servicechannel

        out = run_servicechannel(
            args.orders,
            args.rate,
            args.repeat,
            args.pushes,
            args.push_rate,
            args.rate_limit,
            args.poll,
            keep=args.keep,
        )
    elif args.command == "floor":
        from .floor_bench import run_floor

        out = run_floor(
            args.customers, args.agents, args.rate, args.seconds, cache=args.cache, keep=args.keep
        )
    elif args.command == "chaos" and args.sim:
        from .sim import run_sim

        out = run_sim(args.runs, args.seed, verbose=args.verbose, jobs=args.jobs)
    elif args.command == "chaos":
        from .chaos import Params, run_chaos

        out = run_chaos(
            args.runs,
            args.seed,
            Params(consoles=tuple(args.consoles), ops=tuple(args.ops), conflicts=args.conflicts),
            verbose=args.verbose,
        )
    elif args.command == "setup":
        from .seed import ensure_cache
        from .setup_bench import run_setup

        path = args.cache or bench_cache_path(args.customers)
        if args.cache is None:
            ensure_cache(path, args.customers)
        from .setup_save_bench import run_setup_saves

        out = {**run_setup(path, args.merges), **run_setup_saves(args.saves)}
    elif args.command == "seed":
        from .seed import run_seed

        out = run_seed(args.out or bench_cache_path(args.customers), args.customers, args.seed, args.force)
    elif args.command == "web":
        from .web_bench import run_web

        out = run_web(
            args.cache or bench_cache_path(args.customers),
            args.customers,
            args.jobs,
            clients=args.clients,
            pages=args.pages,
            checks=args.checks,
            submits=args.submits,
            racers=args.racers,
        )
    elif args.command == "booking":
        from .booking import run_booking

        out = run_booking(
            args.cache or bench_cache_path(args.customers), args.customers, args.jobs, args.bookings
        )
    else:
        from .lookup import run_lookup

        path = args.cache or bench_cache_path(args.customers)
        out = run_lookup(path, args.customers, args.queries, args.keystrokes)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
