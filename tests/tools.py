"""External tools a test needs (chromium, chromedriver, …): skip with the reason on a developer's machine,
fail under CI (CI=true), as tests/conftest.py does for PostgreSQL."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, path: str | None = None) -> str:
    """The tool's path; skips (or, with CI=true, fails) when it is missing."""
    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    problem = f"{name} is not installed" + (f" (looked for {path} and on PATH)" if path else " (not on PATH)")
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {problem}")
    pytest.skip(problem)
