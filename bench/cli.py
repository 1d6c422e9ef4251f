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
    lookup.add_argument("--keystrokes", type=int, default=300)

    booking = sub.add_parser("booking", help="booking save, availability and form-ready latencies")
    booking.add_argument("--customers", type=int, default=1_000_000)
    booking.add_argument("--jobs", type=int, default=200_000)
    booking.add_argument("--bookings", type=int, default=200)
    booking.add_argument("--cache", type=Path, help="use this cache (default: the benchmark cache for N)")

    args = p.parse_args(argv)
    if args.command == "seed":
        from .seed import run_seed

        out = run_seed(args.out or bench_cache_path(args.customers), args.customers, args.seed, args.force)
    elif args.command == "booking":
        from .booking import run_booking

        out = run_booking(args.cache or bench_cache_path(args.customers), args.customers, args.jobs, args.bookings)
    else:
        from .lookup import run_lookup

        path = args.cache or bench_cache_path(args.customers)
        out = run_lookup(path, args.customers, args.queries, args.keystrokes)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
