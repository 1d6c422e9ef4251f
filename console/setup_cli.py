"""`csr-console setup import|export FILE [--cache PATH]`: load a setup file into the cache, or write
the cache's setup to a file (format: docs/setup-file.md).

No Qt here: the command must start quickly and run over SSH or in a script on a PC without a display.
Exit codes: 0 done, 1 the file was refused (or can't be read/written), 2 the cache can't be used or
the command line is wrong.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from models.db import CacheError, classify_sqlite_error, open_cache
from models.setup_doc import SetupFileError
from models.setup_export import NoSetupError, export_setup
from models.setup_file import ImportSummary, import_setup, parse_setup, read_setup_text

from .settings import default_cache_path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="csr-console setup",
        description="Load or save the company's setup (business units, job types, "
        "campaigns, arrival windows, technicians …) as a YAML file.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="{import,export}")
    imp = sub.add_parser("import", help="check a setup file and load it into the cache")
    imp.add_argument("file", type=Path, help="the setup file (YAML)")
    imp.add_argument(
        "--dry-run",
        action="store_true",
        help="check the file against the cache and show what would change, without saving",
    )
    exp = sub.add_parser("export", help="write the cache's setup to a file ('-' for the screen)")
    exp.add_argument("file", help="where to write the setup file, or '-'")
    for sp in (imp, exp):
        sp.add_argument(
            "--cache", type=Path, default=None, help=f"the local cache file (default: {default_cache_path()})"
        )
    return p


def run_setup_command(argv: list[str]) -> int:
    """Run `setup import|export …` (argv without the leading "setup"); returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage or the help
        return int(exc.code or 0)
    cache_path: Path = args.cache or default_cache_path()
    if args.action == "import":
        return _import(args.file, cache_path, dry_run=args.dry_run)
    return _export(args.file, cache_path)


def _refused(name: str, exc: SetupFileError, doing: str) -> int:
    for line in exc.lines(name):
        print(line, file=sys.stderr)
    count = len(exc.problems)
    print(f"{name}: refused ({count} problem{'s' * (count != 1)}); nothing was {doing}.", file=sys.stderr)
    return 1


def _cache_failed(exc: CacheError) -> int:
    print(f"csr-console: {exc.message} ({exc.path})\n{exc.advice}", file=sys.stderr)
    return 2


def _import(file: Path, cache_path: Path, *, dry_run: bool) -> int:
    name = str(file)
    try:
        doc = parse_setup(read_setup_text(file))  # before the cache: a bad file must not create one
    except SetupFileError as exc:
        return _refused(name, exc, "imported")
    except OSError as exc:
        print(f"csr-console: can't read {name}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        cache = open_cache(cache_path)
    except CacheError as exc:
        return _cache_failed(exc)
    try:
        with cache.sessions() as session:
            try:
                summary = import_setup(session, doc)
            except SetupFileError as exc:
                session.rollback()
                return _refused(name, exc, "imported")
            if dry_run:
                session.rollback()
            else:
                session.commit()
    except CacheError as exc:
        return _cache_failed(exc)
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:  # locked or damaged mid-import
        return _cache_failed(classify_sqlite_error(cache_path, exc))
    finally:
        cache.close()
    _report(name, doc.company.name, summary, dry_run, sys.stdout)
    return 0


def _report(name: str, company: str, summary: ImportSummary, dry_run: bool, out: TextIO) -> None:
    for line, message in summary.warnings:
        print(f"{name}:{line}: warning: {message}", file=sys.stderr)
    if not summary.changed:
        print(f"{name}: nothing to change; the cache already has this setup for {company}.", file=out)
        return
    head = "would import (dry run, nothing saved)" if dry_run else "imported"
    print(f"{name}: {head} setup for {company}:", file=out)
    for line in summary.lines():
        print(f"  {line}", file=out)
    for note in summary.notes:
        print(f"note: {note}", file=out)


def _export(file: str, cache_path: Path) -> int:
    if not cache_path.exists():
        print(
            f"csr-console: there is no customer cache at {cache_path}.\n"
            "Give the right file with --cache, or start the console once to create it.",
            file=sys.stderr,
        )
        return 2
    try:
        cache = open_cache(cache_path)
    except CacheError as exc:
        return _cache_failed(exc)
    try:
        with cache.sessions() as session:
            text = export_setup(session)
    except NoSetupError as exc:
        print(f"csr-console: {exc}", file=sys.stderr)
        return 1
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        return _cache_failed(classify_sqlite_error(cache_path, exc))
    finally:
        cache.close()
    if file == "-":
        sys.stdout.write(text)
        return 0
    target = Path(file)
    try:
        _write_atomically(target, text)
    except OSError as exc:
        print(f"csr-console: can't write {target}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{target}: wrote the setup ({len(text.splitlines())} lines).")
    return 0


def _write_atomically(target: Path, text: str) -> None:
    # A half-written setup file would be refused on the next import; replace the old one in one step.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
