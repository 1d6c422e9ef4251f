"""Three quick saves of one setup record on one console (the known false conflict): the server's echo of
the first save arrives after the second is applied here. The pulled copy must not put the older value
back — a third save made then carried what the editor showed and was refused by this console as a
conflict with its own earlier save. This console's queued (and confirmed, not yet pulled) setup saves
are laid over the pulled row, as customer edits are (sync/puller.py ``rebase``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.journal import OutboxEntry
from models.setup import ArrivalWindow
from models.setup_file import demo_setup_path, import_setup_file
from models.sync_tables import AckedEdit
from sync.changes import row_data
from sync.puller import Puller


@pytest.fixture
def setup_cache(cache):
    import_setup_file(cache, demo_setup_path())
    return cache


def _window(cache) -> tuple[str, str]:
    with cache.sessions() as s:
        w = s.scalars(select(ArrivalWindow).order_by(ArrivalWindow.name)).first()
        return w.id, w.name


def _name(cache, wid: str) -> str:
    with cache.sessions() as s:
        return s.get(ArrivalWindow, wid).name


def _echo(cache, wid: str) -> dict:
    with cache.sessions() as s:
        return row_data(s, s.get(ArrivalWindow, wid))


def _save(writer, wid: str, seen: str, new: str) -> None:
    writer.execute(
        "setup_save", {"kind": "arrival_window", "id": wid, "values": {"name": new}, "seen": {"name": seen}}
    )


def _pull(cache, wid: str, data: dict, version: int = 0) -> None:
    change = {"entity": "arrival_windows", "entity_id": wid, "op": "upsert", "data": data, "version": version}
    Puller(cache, 100, lambda _c: None, lambda _t: None).apply_changes([change], None)


def test_third_quick_save_is_not_a_conflict_with_this_consoles_own_second(setup_cache, writer):
    wid, first = _window(setup_cache)
    _save(writer, wid, first, "Second")
    echo_of_first_save = _echo(setup_cache, wid)
    _save(writer, wid, "Second", "Third")
    # The server's echo of the first save arrives while the second is still queued here.
    _pull(setup_cache, wid, echo_of_first_save)
    assert _name(setup_cache, wid) == "Third"
    _save(writer, wid, "Third", "Fourth")  # before the fix: "Someone else changed … meanwhile"
    assert _name(setup_cache, wid) == "Fourth"


def test_a_confirmed_save_not_yet_pulled_is_laid_over_an_older_pulled_copy(setup_cache, writer):
    wid, first = _window(setup_cache)
    _save(writer, wid, first, "Second")
    echo_of_first_save = _echo(setup_cache, wid)
    _save(writer, wid, "Second", "Third")
    with setup_cache.sessions.begin() as s:  # the server confirmed the second save at version 9
        entry = s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq.desc())).first()
        s.add(AckedEdit(seq=entry.seq, server_version=9, name=entry.name, args=entry.args))
        s.delete(entry)
    _pull(setup_cache, wid, echo_of_first_save, version=5)
    assert _name(setup_cache, wid) == "Third"


def test_another_managers_change_of_another_field_is_kept_under_the_queued_save(setup_cache, writer):
    wid, first = _window(setup_cache)
    other = _echo(setup_cache, wid) | {"same_day": not _echo(setup_cache, wid)["same_day"]}
    _save(writer, wid, first, "Renamed")
    _pull(setup_cache, wid, other)
    with setup_cache.sessions() as s:
        row = s.get(ArrivalWindow, wid)
        assert (row.name, row.same_day) == ("Renamed", other["same_day"])


def test_a_queued_save_that_no_longer_fits_the_pulled_record_changes_nothing(setup_cache, writer):
    wid, first = _window(setup_cache)
    writer.execute(
        "setup_save",
        {"kind": "arrival_window", "id": wid, "values": {"start": "06:00"}, "seen": {}},
    )
    pulled = _echo(setup_cache, wid) | {"start": "05:00:00", "end": "05:30:00"}
    # Ending 05:30 the window can't start at 06:00 any more: the pulled record stays as the server has it.
    _pull(setup_cache, wid, pulled)
    with setup_cache.sessions() as s:
        row = s.get(ArrivalWindow, wid)
        assert (f"{row.start:%H:%M}", f"{row.end:%H:%M}") == ("05:00", "05:30")
