"""Demo and benchmark jobs: history for the customer panel, and the next two weeks partly booked.

Jobs go in through plain sqlite3 in bulk, like the customers in models/demo.py; they follow the
setup already in the cache (job types, their business units, arrival windows, campaigns).
"""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from .timeutil import local_to_utc, zone

STAMP = "%Y-%m-%d %H:%M:%S.%f"
PAST_STATUSES = ["Completed"] * 17 + ["Canceled"] * 2 + ["Hold"]
SUMMARIES = [
    "Customer reports no cooling upstairs.",
    "Water heater leaking in garage.",
    "Kitchen sink draining slowly.",
    "Breaker keeps tripping in the kitchen.",
    "Annual maintenance visit.",
    "Estimate for a new system.",
    "Toilet running constantly.",
    "Outlets dead in the back bedroom.",
]


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(tzinfo=None).strftime(STAMP)


def generate_jobs(
    path: Path | str,
    jobs: int,
    seed: int = 7,
    today: date | None = None,
    upcoming_fill: float = 0.5,
    batch: int = 20_000,
) -> dict[str, int]:
    """Add ``jobs`` jobs (with one appointment each) to a cache that has customers and setup.

    About ``upcoming_fill`` of the next 14 days' capacity is booked; the rest is history.
    """
    rng = random.Random(seed)
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # throw-away generated data, as in models/demo.py
    tz_row = conn.execute("SELECT value FROM company_settings WHERE key = 'company'").fetchone()
    tz = zone(json.loads(tz_row[0]).get("time_zone") if tz_row else None)
    today = today or datetime.now(tz).date()
    types = [
        (
            jt_id,
            duration,
            priority,
            [
                r[0]
                for r in conn.execute(
                    "SELECT business_unit_id FROM job_type_business_units WHERE job_type_id = ?", (jt_id,)
                )
            ],
        )
        for jt_id, duration, priority in conn.execute(
            "SELECT id, duration_minutes, priority FROM job_types WHERE active = 1"
        )
    ]
    types = [t for t in types if t[3]]
    windows = [
        (w_id, time.fromisoformat(s), time.fromisoformat(e))
        for w_id, s, e in conn.execute('SELECT id, start, "end" FROM arrival_windows WHERE active = 1')
    ]
    campaigns = [r[0] for r in conn.execute("SELECT id FROM campaigns WHERE active = 1")]
    tech_minutes = conn.execute("SELECT count(*) FROM technicians WHERE active = 1").fetchone()[0] * 8 * 60
    top = conn.execute("SELECT max(rowid) FROM locations").fetchone()[0] or 0
    if not (types and windows and campaigns and top):
        conn.close()
        raise ValueError("the cache needs customers and setup (job types, windows, campaigns) first")
    avg = sum(t[1] for t in types) / len(types)
    upcoming = min(jobs, int(upcoming_fill * 14 * tech_minutes * 5 / 7 / avg))
    prefix = "DEM"
    start_no = conn.execute("SELECT count(*) FROM jobs").fetchone()[0] + 1
    made = 0
    while made < jobs:
        n = min(batch, jobs - made)
        job_rows, appt_rows = [], []
        for i in range(n):
            k = made + i
            loc = None
            while loc is None:
                loc = conn.execute(
                    "SELECT id, customer_id FROM locations WHERE rowid = ?", (rng.randrange(1, top + 1),)
                ).fetchone()
            jt_id, duration, priority, units = rng.choice(types)
            w_id, w_start, w_end = rng.choice(windows)
            if k < upcoming:
                day = today + timedelta(days=rng.randrange(0, 14))
                while day.weekday() >= 5:
                    day = today + timedelta(days=rng.randrange(0, 14))
                status = "Scheduled"
            else:
                day = today - timedelta(days=rng.randrange(1, 5 * 365))
                status = rng.choice(PAST_STATUSES)
            ws, we = local_to_utc(day, w_start, tz), local_to_utc(day, w_end, tz)
            created = ws - timedelta(days=rng.randrange(0, 10), hours=rng.randrange(0, 8))
            job_id = f"{(int(created.timestamp() * 1000) << 80) | (0x7 << 76) | rng.getrandbits(76):032x}"
            job_rows.append(
                (
                    job_id,
                    f"{prefix}-{start_no + k}",
                    loc[1],
                    loc[0],
                    jt_id,
                    rng.choice(units),
                    rng.choice(campaigns),
                    priority,
                    rng.choice(SUMMARIES),
                    status,
                    "Customer canceled" if status == "Canceled" else "",
                    rng.choice(["Call", "Manual"]),
                    _utc(created),
                    _utc(created),
                )
            )
            appt_rows.append(
                (
                    f"{rng.getrandbits(128):032x}",
                    job_id,
                    _utc(ws),
                    _utc(ws + timedelta(minutes=duration)),
                    _utc(ws),
                    _utc(we),
                    w_id,
                    _utc(created),
                    _utc(created),
                )
            )
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO jobs (id, number, customer_id, location_id, job_type_id, business_unit_id, campaign_id, "
            "priority, summary, status, status_reason, booked_from, line_items, needs_reschedule, "
            "suggested_windows, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'[]',0,'[]',?,?)",
            job_rows,
        )
        conn.executemany(
            'INSERT INTO appointments (id, job_id, start, "end", arrival_window_start, arrival_window_end, '
            "arrival_window_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            appt_rows,
        )
        conn.execute("COMMIT")
        made += n
    conn.close()
    return {"jobs": made, "upcoming": upcoming}
