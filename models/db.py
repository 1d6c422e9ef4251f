"""Opening databases: the console's SQLite cache (pragmas, migrations, clear errors) and the
server's SQLite or PostgreSQL store."""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
HEAD_REVISION = "0020_notify_online"
WRITE_GATE_TIMEOUT = 10.0


class CacheError(RuntimeError):
    """The cache file can't be used; ``message`` and ``advice`` are for the CSR."""

    def __init__(self, path: Path | str, kind: str, message: str, advice: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.kind, self.message, self.advice = Path(path), kind, message, advice


def sqlite_pragmas(dbapi_conn: sqlite3.Connection, *, read_only: bool = False) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 3000")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA cache_size = -16000")  # 16 MB page cache per connection
    cur.execute("PRAGMA temp_store = MEMORY")
    if not read_only:
        # WAL lets the search worker read while the UI thread writes; FULL makes every commit
        # (and so every outbox row) durable before the CSR is told "Saved on this PC".
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
    cur.close()


def classify_sqlite_error(path: Path | str, exc: BaseException) -> CacheError:
    """Turn a low-level SQLite failure into what a CSR (or the office IT person) should do."""
    msg = str(getattr(exc, "orig", exc) or exc).lower()
    if "locked" in msg or "busy" in msg:
        return CacheError(
            path,
            "locked",
            "The customer cache is in use by another program.",
            "Close the other CSR Console window (or any tool that has the file open) and try again.",
        )
    if "readonly" in msg or "read-only" in msg or "permission" in msg or "unable to open" in msg:
        return CacheError(
            path,
            "readonly",
            "The customer cache can't be written.",
            "Check that your Windows/Linux account may write to this folder and that "
            "the disk isn't full or read-only, then start the console again.",
        )
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return CacheError(
            path,
            "corrupt",
            "The customer cache file is damaged.",
            "Quit, then move the file aside (keep it: changes not yet sent are inside "
            "and support can recover them) and start again; the console will rebuild "
            "the cache.",
        )
    return CacheError(
        path,
        "other",
        f"The customer cache could not be opened ({msg}).",
        "Restart the console; if it keeps happening, call support with this message.",
    )


@dataclass
class Cache:
    """An open local cache: an engine for the domain services and the file's path."""

    path: Path
    engine: Engine
    sessions: sessionmaker[Session]
    _checkpointer: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: InstanceLock | None = None

    def start_checkpointer(self, interval: float = 5.0) -> None:
        """Move WAL pages into the database file every few seconds, off the UI thread.

        A checkpoint copies the WAL into a multi-GB file and fsyncs it (~200 ms). Left to SQLite's
        automatic checkpoint it runs inside whichever commit crosses 1000 pages — a random Book Job.
        """
        if self._checkpointer is not None:
            return

        def run() -> None:
            conn = sqlite3.connect(str(self.path), check_same_thread=False)
            sqlite_pragmas(conn)
            try:
                while not self._stop.wait(interval):
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:
                        log.warning("WAL checkpoint failed", exc_info=True)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                conn.close()

        # From now on the domain connections' commits leave checkpoints alone (pooled ones reopen).
        event.listen(self.engine, "connect", lambda c, _r: c.execute("PRAGMA wal_autocheckpoint = 0"))
        self.engine.dispose()
        self._checkpointer = threading.Thread(target=run, name="wal-checkpoint", daemon=True)
        self._checkpointer.start()

    def raw_connection(self, *, read_only: bool = True) -> sqlite3.Connection:
        """A plain sqlite3 connection for a worker thread (search) — one per thread."""
        uri = f"file:{self.path}?mode={'ro' if read_only else 'rw'}"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        sqlite_pragmas(conn, read_only=True)
        return conn

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(10)
            self._checkpointer = None
        self.engine.dispose()
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def make_sqlite_engine(path: Path | str) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        sqlite_pragmas(dbapi_conn)
        # pysqlite would only send BEGIN at the first write, so a handler's reads (Do Not Service,
        # capacity, the job-number counter) would run outside its transaction. Take the write lock
        # when the transaction starts instead (SQLAlchemy's documented pysqlite recipe).
        dbapi_conn.isolation_level = None

    # Writers of this process queue here, in order, instead of polling SQLite's busy handler: a
    # CSR's save never loses the race (and fails after busy_timeout) to the sync client applying
    # pulled changes chunk after chunk in another thread. Other processes still meet busy_timeout.
    gate = threading.RLock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        if not gate.acquire(timeout=WRITE_GATE_TIMEOUT):
            raise sqlite3.OperationalError("database is locked (another write of this console is stuck)")
        conn.info["write_gate"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            conn.info.pop("write_gate", None)
            gate.release()
            raise

    def _release(conn) -> None:  # noqa: ANN001
        if conn.info.pop("write_gate", None) and gate._is_owned():
            gate.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record) -> None:  # noqa: ANN001
        # A connection returned mid-transaction (invalidated, errors): never keep the gate shut.
        if record.info.pop("write_gate", None) and gate._is_owned():
            gate.release()

    return engine


class InstanceLock:
    """One console per cache file: a second one (same profile, or a copy started by mistake) would
    restore and overwrite the first one's drafts. An OS file lock, released when the process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._fh = None

    def acquire(self) -> bool:
        self._fh = open(self.path, "a+b")  # noqa: SIM115 - held open for the cache's lifetime
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(self._fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            self._fh = None
            return False
        return True

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the descriptor releases the lock
            self._fh = None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        has = conn.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'alembic_version'")
            if engine.dialect.name == "sqlite"
            else text("SELECT to_regclass('alembic_version')")
        ).scalar()
        if not has:
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to head with alembic (skipped cheaply when already there)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_cache(path: Path | str) -> Cache:
    """Open (creating if needed) and migrate the cache; raise CacheError with advice on failure."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, "rb") as fh:
                head = fh.read(16)
            if head and not head.startswith(b"SQLite format 3"):
                raise CacheError(
                    path,
                    "corrupt",
                    "The customer cache file is damaged.",
                    classify_sqlite_error(path, Exception("not a database")).advice,
                )
        lock = InstanceLock(path)
        if not lock.acquire():
            raise CacheError(
                path,
                "locked",
                "The customer cache is in use by another program.",
                "Another CSR Console is already open on this computer with the same profile. "
                "Switch to it, or close it and try again.",
            )
        try:
            engine = make_sqlite_engine(path)
            migrate(engine)
            with engine.connect() as conn:
                # Cheap probe: take the write lock and give it back, so a locked or read-only file fails
                # now, with a clear message, rather than in the middle of a booking. Nothing is written.
                trans = conn.begin()
                try:
                    conn.exec_driver_sql("DELETE FROM outbox WHERE 0")  # a write statement, deleting nothing
                finally:
                    trans.rollback()
        except BaseException:
            lock.release()
            raise
    except CacheError:
        raise
    except (OperationalError, SADatabaseError, sqlite3.Error, OSError) as exc:
        raise classify_sqlite_error(path, exc) from exc
    except UnicodeDecodeError as exc:  # garbage where SQLite expected text: damaged pages
        raise classify_sqlite_error(path, Exception("malformed text")) from exc
    except Exception as exc:  # noqa: BLE001 - whatever else a damaged file provokes, say so plainly
        raise classify_sqlite_error(path, exc) from exc
    cache = Cache(path=path, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
    cache._lock = lock
    return cache


def open_server_db(url: str) -> Engine:
    """The server's store: a SQLite path/URL or a postgresql:// URL, migrated to head."""
    if "://" not in url:
        engine = make_sqlite_engine(url)
    else:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine = create_engine(url)
    migrate(engine)
    return engine
