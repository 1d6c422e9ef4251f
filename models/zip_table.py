"""The US postal list the address checks use: ZIP → (state, acceptable city names), read from a small
resource shipped with the package (``models/data/zip_codes.tsv.gz``, ≈300 kB, one line per ZIP).

Why not ask the ``zipcodes`` package at run time: its compiled index builds itself on the first lookup
in ≈0.4 s of native code holding the GIL, and the console's UI thread stood still for as long (the
255–397 ms stalls of ``csr-bench lookup`` / ``booking``). Reading this file is plain Python, ≈30 ms
once, and a thread doing it gives the GIL back every few milliseconds, so the window never waits on it.
The file is made from the ``zipcodes`` data set (MIT) by ``python -m models.zip_table --write``.
"""

from __future__ import annotations

import gzip
import sys
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

RESOURCE = "zip_codes.tsv.gz"
_lock = threading.Lock()
_table: dict[str, str] | None = None  # ZIP → "ST\tcity|other city|…" (cities casefolded)


def _load() -> dict[str, str]:
    global _table
    with _lock:
        if _table is None:
            raw = resources.files("models").joinpath("data", RESOURCE).read_bytes()
            table: dict[str, str] = {}
            for line in gzip.decompress(raw).decode("utf-8").splitlines():
                zip5, _, rest = line.partition("\t")
                table[zip5] = rest
            _table = table
        return _table


@lru_cache(maxsize=4096)
def zip_info(zip5: str) -> tuple[str, frozenset[str]] | None:
    """(state, acceptable city names, casefolded) of a 5-digit ZIP, or None when it isn't a US ZIP."""
    row = _load().get(zip5)
    if row is None:
        return None
    state, _, cities = row.partition("\t")
    return state, frozenset(cities.split("|"))


def preload() -> threading.Thread:
    """Read the table on a thread of its own, so the first address check finds it ready."""
    thread = threading.Thread(target=_load, name="zip-preload", daemon=True)
    thread.start()
    return thread


def build_lines() -> list[str]:
    """The resource's lines from the ``zipcodes`` data set (needed only to regenerate the file)."""
    import zipcodes

    lines = []
    for z in sorted(zipcodes.list_all(), key=lambda z: z["zip_code"]):
        cities = dict.fromkeys(c.casefold() for c in (z["city"], *(z.get("acceptable_cities") or [])))
        if any(("\t" in c or "|" in c) for c in cities):
            raise ValueError(f"ZIP {z['zip_code']}: a city name holds a separator")
        lines.append(f"{z['zip_code']}\t{z['state']}\t{'|'.join(cities)}")
    return lines


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print("usage: python -m models.zip_table --write", file=sys.stderr)
        return 2
    path = Path(__file__).resolve().parent / "data" / RESOURCE
    path.parent.mkdir(exist_ok=True)
    data = ("\n".join(build_lines()) + "\n").encode("utf-8")
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{path}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
