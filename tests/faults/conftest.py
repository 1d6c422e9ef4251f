from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """A migrated server database (demo setup, one CSR account) and console cache, built once."""
    from bench.headless import build_templates

    return build_templates(tmp_path_factory.mktemp("fault-templates"))
