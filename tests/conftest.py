"""Shared test setup: Qt offscreen, qasync agreeing with pytest-qt, PostgreSQL discovery."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import pytest  # noqa: E402

PG_URL = os.environ.get("CSR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL not reachable at {PG_URL}: {exc}"


@pytest.fixture(scope="session", autouse=True)
def _collect_on_the_main_thread():
    """As in the console (console/gc_guard.py): no garbage collection in worker threads, where it could
    delete a Qt object of the main thread and crash the next timer pass. Collected after each test."""
    import gc

    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def _collect_after_each_test():
    from console.gc_guard import collect_due

    yield
    collect_due()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL URL; skips when absent, fails instead when CSR_REQUIRE_POSTGRES=1 (CI)."""
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("CSR_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"CSR_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)
    return PG_URL


@pytest.fixture(scope="session")
def postal_list() -> None:
    """The offline postal list loads once per process (about 30 ms): pay it in setup, not in a test."""
    from models.validation import zip_info

    zip_info("10001")


@pytest.fixture
def cache(tmp_path, postal_list):
    """A fresh, migrated cache file."""
    from models.db import open_cache

    c = open_cache(tmp_path / "cache.sqlite3")
    yield c
    c.close()


@pytest.fixture
def writer(cache):
    """The real write path; bookings are judged at the fixed NOW of tests/unit/booking_setup.py."""
    from models.writer import LocalWriter
    from tests.unit.booking_setup import NOW

    return LocalWriter(cache.sessions, actor="test", clock=lambda: NOW)
