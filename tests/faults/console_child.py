"""A headless console in its own process, for kill -9 tests (tests/faults/test_kill.py).

    python -m tests.faults.console_child CACHE URL TOKEN book N [--skew-hours H] [--sync]
        create a customer, book N jobs (printing "booked <job id> <summary>" after each commit),
        print "done", then wait to be killed; with --sync the sync client runs meanwhile.
    python -m tests.faults.console_child CACHE URL TOKEN sync [--skew-hours H]
        sync until the outbox is empty and the cursor has reached the server, print "synced <cursor>".

--skew-hours moves the console's whole wall clock (models.base.utcnow: the writer's "now", outbox
and audit timestamps) by H hours, as a PC with a wrong clock would.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from datetime import timedelta
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("cache", type=Path)
    p.add_argument("url")
    p.add_argument("token")
    p.add_argument("mode", choices=["book", "sync"])
    p.add_argument("n", type=int, nargs="?", default=0)
    p.add_argument("--skew-hours", type=float, default=0.0)
    p.add_argument("--sync", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prefix", default="KQ7")
    args = p.parse_args()

    import models.base

    real = models.base.utcnow
    skew = timedelta(hours=args.skew_hours)
    models.base.utcnow = lambda: real() + skew  # before any model module binds it

    from bench.headless import HeadlessConsole

    async def run() -> int:
        console = HeadlessConsole(args.cache, args.url, args.token, prefix=args.prefix)
        rng = random.Random(args.seed)
        if args.mode == "book":
            if args.sync:
                console.start()
            cid = console.create_customer(rng, f"child-{args.seed}")
            print(f"customer {cid}", flush=True)
            for k in range(args.n):
                booked = console.book(rng, cid, f"child {args.seed}-{k}")
                if booked:
                    print(f"booked {booked.job_id} {booked.summary}", flush=True)
                await asyncio.sleep(rng.uniform(0, 0.02))
            print("done", flush=True)
            await asyncio.sleep(3600)
            return 0
        console.start()
        while True:
            await asyncio.sleep(0.05)
            if console.outbox() == 0 and console.client.status.state == "online":
                break
        await console.stop()
        print(f"synced {console.cursor()} pending {console.client.status.pending}", flush=True)
        console.close()
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
