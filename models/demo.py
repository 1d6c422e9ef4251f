"""Deterministic demo and benchmark data: realistic customers, locations, contacts, tags, notes,
memberships, Do Not Service flags and shared phone numbers.

Names come from Faker pools (fixed seed) and addresses from the offline ZIP data set, so every
ZIP, city, state and area code in the data is real. Rows go in through plain sqlite3 in large
batches — fast enough for a 1M-customer cache in well under three minutes.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from . import search_index
from .address import address_key
from .db import open_cache

TAGS = [
    "VIP",
    "Warranty",
    "Senior discount",
    "Landlord",
    "Property manager",
    "Pets on site",
    "Gate code",
    "Spanish speaking",
    "Key on file",
    "Slow payer",
]
MEMBERSHIPS = ["Comfort Club", "Plumbing Protection Plan", "Electrical Safety Plan"]
NOTES = [
    "Prefers a call 30 minutes before arrival.",
    "Dog in the back yard — keep the gate closed.",
    "Water heater in the garage, tankless.",
    "Tenant occupied; owner pays.",
    "Park on the street.",
    "Asked for the same tech as last time.",
    "Basement access through the side door.",
    "Customer works nights; mornings after 11 only.",
]
DNS_REASONS = ["Unpaid balance", "Threatened a technician", "Outside service area", "Requested no service"]
COMPANY_WORDS = [
    "Properties",
    "Holdings",
    "Management",
    "Apartments",
    "Dental",
    "Restaurant Group",
    "Realty",
    "Storage",
    "Church",
    "Academy",
    "Auto Repair",
    "Medical Center",
]
STREET_TYPES = ["St", "Ave", "Rd", "Dr", "Ln", "Blvd", "Ct", "Way", "Pl", "Cir", "Pkwy", "Trl"]
STAMP = "%Y-%m-%d %H:%M:%S.%f"


@dataclass
class Pools:
    first: list[str]
    last: list[str]
    streets: list[str]
    zips: list[tuple[str, str, str, list[str]]]  # zip, city, state, area codes
    domains: list[str]


def build_pools(seed: int) -> Pools:
    import zipcodes
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    first = sorted({fake.first_name() for _ in range(6000)})
    last = sorted({fake.last_name() for _ in range(6000)})
    streets = sorted({fake.street_name().rsplit(" ", 1)[0] for _ in range(4000)})
    zips = [
        (z["zip_code"], z["city"], z["state"], z["area_codes"])
        for z in zipcodes.list_all()
        if z["zip_code_type"] == "STANDARD"
        and z["active"]
        and z["area_codes"]
        and z["state"] not in {"PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP"}
    ]
    # zipcodes keeps the 42k dicts of list_all() cached (~150 MB); the demo needs them once.
    if hasattr(zipcodes, "_zips_cache"):
        zipcodes._zips_cache = None
    domains = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "aol.com", "comcast.net"]
    return Pools(first, last, streets, zips, domains)


class _Gen:
    def __init__(self, seed: int, pools: Pools, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.p = pools
        self.now = now
        self.recent_phones: list[str] = []
        self.clock = int(now.timestamp() * 1000) - 10_000_000_000
        # A company works a metro area: most customers share a handful of ZIP regions.
        metro = self.rng.sample(pools.zips, min(400, len(pools.zips)))
        self.metro = metro

    def uid(self) -> str:
        # UUIDv7 layout like models.base.new_id, on a synthetic clock so the output is reproducible.
        self.clock += 1
        r = self.rng
        return (
            f"{self.clock << 80 | 0x7 << 76 | r.getrandbits(12) << 64 | 0b10 << 62 | r.getrandbits(62):032x}"
        )

    def stamp(self) -> str:
        return (self.now - timedelta(seconds=self.rng.randrange(0, 6 * 365 * 86400))).strftime(STAMP)

    def phone(self, area_codes: list[str]) -> tuple[str, str]:
        r = self.rng
        if self.recent_phones and r.random() < 0.03:
            digits = r.choice(self.recent_phones)  # a shared number (family, landlord, office)
        else:
            exchange = r.randrange(200, 1000)
            if exchange % 100 == 11:
                exchange += 1
            digits = f"{r.choice(area_codes)}{exchange:03d}{r.randrange(0, 10000):04d}"
            self.recent_phones.append(digits)
            if len(self.recent_phones) > 500:
                self.recent_phones.pop(0)
        return "+1" + digits, digits

    def address(self) -> tuple[str, str, str, str, str, list[str]]:
        r = self.rng
        zip_, city, state, areas = r.choice(self.metro) if r.random() < 0.9 else r.choice(self.p.zips)
        street = f"{r.randrange(1, 20000)} {r.choice(self.p.streets)} {r.choice(STREET_TYPES)}"
        unit = f"Apt {r.randrange(1, 400)}" if r.random() < 0.08 else ""
        return street, unit, city.title(), state, zip_, areas


def generate(
    path: Path | str,
    customers: int,
    seed: int = 2024,
    progress: Callable[[int], None] | None = None,
    batch: int = 25_000,
) -> dict[str, float]:
    """Create (or extend) a cache at ``path`` with ``customers`` generated customers."""
    t0 = time.perf_counter()
    cache = open_cache(path)  # schema via alembic, so demo data matches production exactly
    cache.close()
    pools = build_pools(seed)
    gen = _Gen(seed, pools, datetime(2026, 11, 1, 12, 0, 0))
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")  # bulk load of throw-away data; see docs/data.md
    conn.execute("PRAGMA cache_size = -200000")
    conn.execute("PRAGMA foreign_keys = OFF")
    for ddl in search_index.DROP_TRIGGERS:
        conn.execute(ddl)
    # Secondary indexes are rebuilt by sorting once at the end: far cheaper than keeping random-key
    # indexes (phone digits, names) up to date row by row.
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name IN ('customers', 'locations', 'contact_methods', 'customer_search', "
        "'notes', 'memberships')"
    ).fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    tag_ids = _ensure_tags(conn, gen)
    counts = {"customers": 0, "locations": 0, "contacts": 0}
    done = 0
    try:
        while done < customers:
            n = min(batch, customers - done)
            _insert(conn, _batch(gen, n, tag_ids), counts)
            done += n
            if progress:
                progress(done)
    finally:
        # Even if interrupted, leave a usable cache: indexes, FTS and triggers restored.
        t_rows = time.perf_counter()
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        for _name, sql in indexes:
            conn.execute(sql)
        t_index = time.perf_counter()
        conn.execute("INSERT INTO customer_fts(customer_fts) VALUES ('rebuild')")
        for ddl in search_index.TRIGGER_DDL:
            conn.execute(ddl)
    conn.execute("PRAGMA optimize")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    t_end = time.perf_counter()
    return {
        **counts,
        "rows_s": round(t_rows - t0, 2),
        "index_s": round(t_index - t_rows, 2),
        "fts_s": round(t_end - t_index, 2),
        "total_s": round(t_end - t0, 2),
    }


def _insert(conn: sqlite3.Connection, rows: dict[str, list[tuple]], counts: dict[str, int]) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO customers (id, name, type, street, unit, city, state, zip, country, "
        "do_not_service, do_not_service_reason, do_not_mail, active, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?,'US',?,?,?,1,?,?)",
        rows["customers"],
    )
    conn.executemany(
        "INSERT INTO locations (id, customer_id, name, street, unit, city, state, zip, country, "
        "access_notes, address_key, active, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?,'US',?,?,1,?,?)",
        rows["locations"],
    )
    conn.executemany(
        "INSERT INTO contact_methods (id, customer_id, location_id, kind, value, memo, "
        "notifications, do_not_text, digits, digits_rev, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows["contacts"],
    )
    conn.executemany("INSERT INTO customer_tags (customer_id, tag_type_id) VALUES (?,?)", rows["tags"])
    conn.executemany(
        "INSERT INTO notes (id, customer_id, text, pinned, author, created_at) VALUES (?,?,?,0,'Demo',?)",
        rows["notes"],
    )
    conn.executemany(
        "INSERT INTO memberships (id, customer_id, name, status, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?)",
        rows["memberships"],
    )
    conn.executemany(
        "INSERT INTO customer_search (customer_id, name, address, contact, name_key, "
        "name_rev_key) VALUES (?,?,?,?,?,?)",
        rows["search"],
    )
    conn.execute("COMMIT")
    for k in counts:
        counts[k] += len(rows[k])


def _ensure_tags(conn: sqlite3.Connection, gen: _Gen) -> list[str]:
    ids = []
    for name in TAGS:
        row = conn.execute("SELECT id FROM tag_types WHERE name = ?", (name,)).fetchone()
        if row is None:
            tid = gen.uid()
            conn.execute(
                "INSERT INTO tag_types (id, name, color, active) VALUES (?,?,?,1)", (tid, name, "#607d8b")
            )
            ids.append(tid)
        else:
            ids.append(row[0])
    return ids


def _batch(gen: _Gen, n: int, tag_ids: list[str]) -> dict[str, list[tuple]]:
    r = gen.rng
    p = gen.p
    out: dict[str, list[tuple]] = {
        k: [] for k in ("customers", "locations", "contacts", "tags", "notes", "memberships", "search")
    }
    for _ in range(n):
        cid = gen.uid()
        stamp = gen.stamp()
        first, last = r.choice(p.first), r.choice(p.last)
        commercial = r.random() < 0.12
        name = (
            (f"{last} {r.choice(COMPANY_WORDS)}" if r.random() < 0.7 else f"{last} & {r.choice(p.last)} LLC")
            if commercial
            else f"{first} {last}"
        )
        street, unit, city, state, zip_, areas = gen.address()
        dns = r.random() < 0.01
        out["customers"].append(
            (
                cid,
                name,
                "Commercial" if commercial else "Residential",
                street,
                unit,
                city,
                state,
                zip_,
                int(dns),
                r.choice(DNS_REASONS) if dns else "",
                int(r.random() < 0.05),
                stamp,
                stamp,
            )
        )
        addresses = [search_index.address_text(street, unit, city, state, zip_)]
        # Locations: most homes are their own service location; landlords and companies have many.
        if commercial and r.random() < 0.3:
            n_loc = r.randrange(3, 30)
        elif r.random() < 0.08:
            n_loc = r.randrange(2, 4)
        else:
            n_loc = 1
        for i in range(n_loc):
            if i == 0:
                lst, lun, lci, lsa, lzi = street, unit, city, state, zip_
            else:
                lst, lun, lci, lsa, lzi, _ = gen.address()
                addresses.append(search_index.address_text(lst, lun, lci, lsa, lzi))
            lname = "" if n_loc == 1 else (f"Unit {i + 1}" if not commercial else f"Site {i + 1}")
            access = r.choice(NOTES) if r.random() < 0.1 else ""
            lid = gen.uid()
            out["locations"].append(
                (lid, cid, lname, lst, lun, lci, lsa, lzi, access, address_key(lst, lun, lzi), stamp, stamp)
            )
            if n_loc > 1 and r.random() < 0.3:  # a tenant's own number on the location
                e164, digits = gen.phone(areas)
                out["contacts"].append(
                    (gen.uid(), cid, lid, "Phone", e164, "Tenant", 1, 0, digits, digits[::-1], stamp, stamp)
                )
        e164, digits = gen.phone(areas)
        out["contacts"].append(
            (
                gen.uid(),
                cid,
                None,
                "MobilePhone" if r.random() < 0.6 else "Phone",
                e164,
                "",
                1,
                int(r.random() < 0.05),
                digits,
                digits[::-1],
                stamp,
                stamp,
            )
        )
        if r.random() < 0.25:
            e164, digits = gen.phone(areas)
            out["contacts"].append(
                (
                    gen.uid(),
                    cid,
                    None,
                    "Phone",
                    e164,
                    r.choice(["Work", "Home", "Spouse", ""]),
                    int(r.random() < 0.7),
                    0,
                    digits,
                    digits[::-1],
                    stamp,
                    stamp,
                )
            )
        emails = []
        if r.random() < 0.6:
            email = f"{first[0]}{last}{r.randrange(1, 999)}@{r.choice(p.domains)}".lower().replace(" ", "")
            emails.append(email)
            out["contacts"].append(
                (gen.uid(), cid, None, "Email", email, "", int(r.random() < 0.9), 0, "", "", stamp, stamp)
            )
        if r.random() < 0.2:
            for tid in r.sample(tag_ids, r.randrange(1, 3)):
                out["tags"].append((cid, tid))
        if r.random() < 0.1:
            out["notes"].append((gen.uid(), cid, r.choice(NOTES), stamp))
        if r.random() < 0.08:
            out["memberships"].append(
                (
                    gen.uid(),
                    cid,
                    r.choice(MEMBERSHIPS),
                    "Active" if r.random() < 0.8 else "Expired",
                    stamp,
                    stamp,
                )
            )
        out["search"].append((cid, *search_index.document(name, addresses, emails)))
    return out
