"""The server owns the company setup: `csr-server setup import` writes through the change log, so a
console pulling by cursor receives the business units, job types, windows …; re-importing the same
file writes nothing; a refused file or a dry run writes nothing; export/import round-trips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models.db import open_cache, open_server_db
from models.journal import AuditEntry
from models.setup import (
    BusinessUnit,
    CompanySetting,
    JobType,
    Service,
    arrival_window_business_units,
    job_type_business_units,
)
from models.setup_data import load_setup
from models.setup_file import demo_setup_path, parse_setup, read_setup_text
from models.sync_tables import ChangeRow
from sync.apply import Applier
from sync.changes import apply_change
from sync.setup_sync import import_setup_logged

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def console(tmp_path):
    cache = open_cache(tmp_path / "console.sqlite3")
    yield cache
    cache.close()


def _demo():
    return parse_setup(read_setup_text(demo_setup_path()))


def _pull_into(store, cache, cursor: int = 0) -> int:
    """What SyncClient._pull does with each page: apply every change, keep the cursor."""
    applier = Applier(store)
    while True:
        rows, cursor, more = applier.changes_since(cursor, 50)
        with cache.sessions.begin() as s:
            for r in rows:
                apply_change(s, r.entity, r.entity_id, r.op, r.data)
        if not more:
            return cursor


def _count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_server_import_reaches_a_console_through_the_change_log(store, console):
    result = import_setup_logged(store, _demo())
    assert result.summary.changed and result.changes > 0
    assert result.server_version == _count(store, ChangeRow)
    cursor = _pull_into(store, console)
    assert cursor == result.server_version
    with store() as srv, console.sessions() as con:
        assert sorted(con.scalars(select(BusinessUnit.id))) == sorted(srv.scalars(select(BusinessUnit.id)))
        assert sorted(con.scalars(select(JobType.name))) == sorted(srv.scalars(select(JobType.name)))
        # The new setup version travels too, so the console reloads its setup data.
        assert (
            con.get(CompanySetting, "setup_version").value == srv.get(CompanySetting, "setup_version").value
        )
        assert {u.name for u in load_setup(con).business_units} == {
            u.name for u in srv.scalars(select(BusinessUnit)) if u.active
        }
        assert srv.scalar(select(AuditEntry.action).where(AuditEntry.entity == "setup")) == "import_setup"


def test_reimport_writes_nothing_and_an_edit_travels(store, console):
    first = import_setup_logged(store, _demo())
    again = import_setup_logged(store, _demo())
    assert not again.summary.changed and again.changes == 0
    assert again.server_version == first.server_version
    cursor = _pull_into(store, console)
    text = read_setup_text(demo_setup_path())
    edited = text.replace(
        "{code: HV-DIAG, name: HVAC diagnostic, price: 89.00",
        "{code: HV-DIAG, name: HVAC diagnostic, price: 99.00",
        1,
    )
    assert edited != text, "the demo file's HV-DIAG line changed; pick another service"
    third = import_setup_logged(store, parse_setup(edited))
    assert third.summary["services"].updated == 1
    # The edited service and the new setup version: nothing else.
    with store() as s:
        entities = sorted(s.scalars(select(ChangeRow.entity).where(ChangeRow.version > cursor)))
    assert entities == ["company_settings", "services"]
    assert _pull_into(store, console, cursor) == third.server_version
    with console.sessions() as s:
        assert float(s.scalar(select(Service.price).where(Service.code == "HV-DIAG"))) == 99.0


def test_dry_run_writes_nothing(store):
    result = import_setup_logged(store, _demo(), dry_run=True)
    assert result.summary.changed and result.changes > 0 and result.server_version == 0
    assert _count(store, ChangeRow) == 0 and _count(store, BusinessUnit) == 0


def test_setup_link_tables_reach_the_console(store, console):
    import_setup_logged(store, _demo())
    _pull_into(store, console)
    for link in (job_type_business_units, arrival_window_business_units):
        assert _count(console.sessions, link) == _count(store, link) > 0, link.name


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sync.server_cli", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_csr_server_setup_import_and_export(tmp_path):
    db = str(tmp_path / "server.sqlite3")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncompany: [not, a, mapping]\n", encoding="utf-8")
    refused = _cli("--db", db, "setup", "import", str(bad))
    assert (
        refused.returncode == 1 and "refused" in refused.stderr and "nothing was imported" in refused.stderr
    )
    dry = _cli("--db", db, "setup", "import", "--dry-run", str(demo_setup_path()))
    assert dry.returncode == 0 and "dry run" in dry.stdout, dry.stderr
    done = _cli("--db", db, "setup", "import", str(demo_setup_path()))
    assert done.returncode == 0, done.stderr
    assert "imported setup" in done.stdout and "changes for the consoles" in done.stdout
    out = tmp_path / "exported.yaml"
    exported = _cli("--db", db, "setup", "export", str(out))
    assert exported.returncode == 0 and out.exists(), exported.stderr
    again = _cli("--db", db, "setup", "import", str(out))
    assert again.returncode == 0 and "nothing to change" in again.stdout, again.stdout + again.stderr
    engine = open_server_db(db)
    try:
        sessions = sessionmaker(engine)
        assert _count(sessions, BusinessUnit) > 0
        with sessions() as s:
            versions = list(s.scalars(select(ChangeRow.version).order_by(ChangeRow.version)))
        assert versions == list(range(1, len(versions) + 1))
    finally:
        engine.dispose()
