"""The server owns the company setup: importing a setup file on the server writes through the change log,
so every console pulls the new business units, job types, windows … like any other change.

The import runs models/setup_file.import_setup in one transaction that first takes the change-log
lock (sync/apply.py lock_change_log, as every push does), records the rows it wrote with
sync/changes.ChangeCollector, and appends them to the change log before committing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from models.journal import AuditEntry
from models.setup_doc import SetupDoc
from models.setup_file import ImportSummary, import_setup
from models.sync_tables import ChangeRow

from .apply import current_version, lock_change_log
from .changes import ChangeCollector

SETUP_ACTOR = "csr-server setup import"


@dataclass
class SetupImport:
    summary: ImportSummary
    changes: int  # change-log entries appended
    server_version: int  # the change log's version after the import


def import_setup_logged(
    sessions: sessionmaker[Session], doc: SetupDoc, *, dry_run: bool = False, actor: str = SETUP_ACTOR
) -> SetupImport:
    """Import ``doc`` into the server store and append what it wrote to the change log, atomically.

    Raises models.setup_doc.SetupFileError when the file clashes with the store (nothing is written).
    """
    with sessions() as session:
        session.begin()
        try:
            # The lock first, as in sync/apply.py: versions are then handed out in commit order, and a
            # push that wants a setup row we hold (a new tag) can't be holding the lock we wait for.
            lock_change_log(session)
            collector = ChangeCollector(session)
            summary = import_setup(session, doc)
            changes = collector.collect()
            if dry_run:
                session.rollback()
                return SetupImport(summary, len(changes), current_version(session))
            for entity, entity_id, op, data in changes:
                session.add(ChangeRow(entity=entity, entity_id=entity_id, op=op, data=data))
            if changes:
                session.add(
                    AuditEntry(
                        actor=actor[:60],
                        entity="setup",
                        entity_id="company",
                        action="import_setup",
                        details={"lines": summary.lines()},
                    )
                )
            session.flush()
            version = current_version(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return SetupImport(summary, len(changes), version)
