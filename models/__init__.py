"""The domain, free of Qt: ORM tables, pure rules, search and the local write path.

Nothing in this package may import PySide6 (tests/unit/test_layering.py proves it), so the
server can run where Qt is not installed.
"""
