"""A cache file that is locked, read-only or corrupt gives a clear error naming the file and what to
do — and the file (with its outbox) is left exactly as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import text

from models.db import CacheError, open_cache
from models.writer import LocalWriter

from .conftest import customer_args


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def saved_cache(tmp_path):
    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    LocalWriter(cache.sessions).execute("create_customer", customer_args())
    cache.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def test_corrupt_file(tmp_path):
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    before = _digest(path)
    with pytest.raises(CacheError) as err:
        open_cache(path)
    assert err.value.kind == "corrupt" and err.value.path == path
    assert "damaged" in err.value.message and "move the file aside" in err.value.advice
    assert str(path) in str(err.value)
    assert _digest(path) == before


def test_damaged_pages(saved_cache):
    data = bytearray(saved_cache.read_bytes())
    for i in range(200, len(data), 37):  # keep the header, scramble the pages
        data[i] = (data[i] * 7 + 13) % 256
    saved_cache.write_bytes(bytes(data))
    before = _digest(saved_cache)
    with pytest.raises(CacheError) as err:
        open_cache(saved_cache)
    assert err.value.kind in {"corrupt", "other"}
    assert _digest(saved_cache) == before


def test_locked_by_another_program(saved_cache):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys,time\n"
            f"c=sqlite3.connect({str(saved_cache)!r}, isolation_level=None)\n"
            "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True); time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CacheError) as err:
            open_cache(saved_cache)
        assert err.value.kind == "locked"
        assert "in use by another program" in err.value.message
    finally:
        holder.kill()
        holder.wait()
    cache = open_cache(saved_cache)  # and once released, nothing was lost
    assert LocalWriter(cache.sessions).pending_count() == 1
    cache.close()


def _make_read_only(path) -> None:
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
            pytest.skip("running as root without chattr: cannot make a file read-only")
    else:
        path.chmod(0o444)
        path.parent.chmod(0o555)


def _undo_read_only(path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)])
    else:
        path.parent.chmod(0o755)
        path.chmod(0o644)


def test_read_only_file(saved_cache):
    for suffix in ("-wal", "-shm"):
        saved_cache.with_name(saved_cache.name + suffix).unlink(missing_ok=True)
    before = _digest(saved_cache)
    _make_read_only(saved_cache)
    try:
        with pytest.raises(CacheError) as err:
            open_cache(saved_cache)
        assert err.value.kind == "readonly"
        assert "can't be written" in err.value.message
    finally:
        _undo_read_only(saved_cache)
    assert _digest(saved_cache) == before


def test_a_second_console_on_the_same_cache_is_refused(saved_cache):
    first = open_cache(saved_cache)
    try:
        with pytest.raises(CacheError) as err:
            open_cache(saved_cache)
        assert err.value.kind == "locked" and "already open" in err.value.advice
        code = (
            "import sys\nfrom models.db import open_cache, CacheError\n"
            f"try:\n    open_cache({str(saved_cache)!r})\nexcept CacheError as e:\n    print(e.kind)\n"
        )
        other = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        )
        assert other.stdout.strip() == "locked", other.stderr
    finally:
        first.close()
    open_cache(saved_cache).close()  # released with the first one


def test_a_write_transaction_holds_the_lock_from_its_first_read(saved_cache):
    """A handler's checks (capacity, Do Not Service, the job-number counter) run inside its transaction:
    nobody can write between its reads and its writes."""
    cache = open_cache(saved_cache)
    try:
        with cache.sessions.begin() as session:
            session.execute(text("SELECT count(*) FROM customers")).scalar()
            other = sqlite3.connect(saved_cache, timeout=0.2)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO tag_types (id, name, color, active) VALUES ('x', 'x', '#000', 1)")
            other.close()
    finally:
        cache.close()
