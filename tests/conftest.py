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


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL URL; skips when absent, fails instead when CSR_REQUIRE_POSTGRES=1 (CI)."""
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("CSR_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"CSR_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)
    return PG_URL
