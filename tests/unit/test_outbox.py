"""Every local write is an intent: the change, its search document, its audit row and its outbox
row commit together or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from models import intent_kit
from models.customers import ContactMethod, Customer
from models.journal import AuditEntry, ClientState, OutboxEntry
from models.validation import ValidationFailed
from models.writer import LocalWriter

from .conftest import customer_args


def _count(cache, model) -> int:
    with cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_write_appends_numbered_outbox_row(cache, writer):
    first = writer.execute("create_customer", customer_args())
    second = writer.execute(
        "add_note", {"note": {"customer_id": first.applied.entity_id, "text": "Gate 1234"}}
    )
    with cache.sessions() as s:
        rows = s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)).all()
        client = s.scalar(select(ClientState))
    assert [r.seq for r in rows] == [1, 2] == [first.seq, second.seq]
    assert {r.client_id for r in rows} == {client.client_id}
    assert [r.name for r in rows] == ["create_customer", "add_note"]
    assert rows[0].mutation_id == first.mutation_id and len(set(r.mutation_id for r in rows)) == 2
    assert rows[0].args["customer"]["name"] == "Maria Garcia"
    assert client.next_seq == 3
    assert writer.pending_count() == 2 == _count(cache, AuditEntry)


def test_sequence_survives_reopen(tmp_path):
    from models.db import open_cache

    path = tmp_path / "c.sqlite3"
    c1 = open_cache(path)
    LocalWriter(c1.sessions).execute("create_customer", customer_args())
    c1.close()
    c2 = open_cache(path)
    result = LocalWriter(c2.sessions).execute(
        "create_customer", customer_args(name="Second", phone="2145550100")
    )
    assert result.seq == 2
    assert LocalWriter(c2.sessions).pending_count() == 2
    c2.close()


def test_validation_failure_leaves_nothing(cache, writer):
    with pytest.raises(ValidationFailed) as err:
        writer.execute("create_customer", customer_args(phone="555-12"))
    assert "contacts.0.value" in err.value.errors
    assert _count(cache, Customer) == 0 and writer.pending_count() == 0


def test_failure_after_partial_apply_rolls_back_everything(cache, writer, monkeypatch):
    """A crash between the change and the outbox row must leave neither."""
    writer.execute("create_customer", customer_args())
    before = (_count(cache, Customer), _count(cache, ContactMethod), writer.pending_count())

    import models.writer as writer_module

    def boom(*_a, **_k):
        raise RuntimeError("disk vanished")

    monkeypatch.setattr(writer_module, "OutboxEntry", boom)
    with pytest.raises(RuntimeError):
        writer.execute("create_customer", customer_args(name="Half Written", phone="2145550111"))
    monkeypatch.undo()
    assert (_count(cache, Customer), _count(cache, ContactMethod), writer.pending_count()) == before
    with cache.sessions() as s:  # and the search index did not keep the half-written customer
        assert s.scalar(text("SELECT count(*) FROM customer_search WHERE name = 'half written'")) == 0
        assert s.scalar(select(ClientState.next_seq)) == 2


def test_failing_handler_rolls_back(cache, writer, monkeypatch):
    def handler(session, args):
        session.add(Customer(id="x" * 32, name="Ghost"))
        session.flush()
        raise ValidationFailed({"name": "no"})

    monkeypatch.setitem(intent_kit.HANDLERS, "ghost", handler)
    with pytest.raises(ValidationFailed):
        writer.execute("ghost", {})
    assert _count(cache, Customer) == 0 and writer.pending_count() == 0


def test_unknown_intent_is_refused(writer):
    with pytest.raises(ValidationFailed, match="Unknown action"):
        writer.execute("drop_everything", {})
    assert writer.pending_count() == 0


def test_args_are_copied_not_aliased(cache, writer):
    args = customer_args()
    writer.execute("create_customer", args)
    args["customer"]["name"] = "Changed After"
    with cache.sessions() as s:
        assert s.scalar(select(OutboxEntry.args))["customer"]["name"] == "Maria Garcia"


@pytest.mark.parametrize(
    "name,args,field",
    [
        ("update_customer", {"customer_id": "nope", "changes": {"name": ["a", "b"]}}, "id"),
        ("update_customer", {"customer_id": None, "changes": {}}, "customer_id"),
        ("add_note", {"note": {"customer_id": "nope", "text": "x"}}, "id"),
    ],
)
def test_bad_references_are_clear_errors(writer, name, args, field):
    with pytest.raises(ValidationFailed) as err:
        writer.execute(name, args)
    assert field in err.value.errors
    assert writer.pending_count() == 0


def test_update_only_changes_named_fields_and_keeps_old_values(cache, writer):
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    writer.execute(
        "update_customer",
        {
            "customer_id": cid,
            "changes": {"do_not_service": [False, True], "do_not_service_reason": ["", "Unpaid"]},
        },
    )
    with cache.sessions() as s:
        c = s.get(Customer, cid)
        assert c.do_not_service and c.do_not_service_reason == "Unpaid" and c.name == "Maria Garcia"
        last = s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq.desc())).first()
        assert last.args["changes"]["do_not_service"] == [False, True]


def test_too_long_field_is_refused(writer):
    with pytest.raises(ValidationFailed) as err:
        writer.execute("create_customer", customer_args(name="x" * 101))
    assert "too long" in err.value.errors["name"]
    assert writer.pending_count() == 0


def test_minted_ids_are_written_into_the_outbox_args(cache, writer):
    """The server must create the very same ids the console did."""
    args = customer_args(email="m@example.com")
    args["locations"][0]["contacts"] = [{"kind": "Phone", "value": "2145550177", "memo": "Tenant"}]
    args["note"] = "Gate code 4411"
    result = writer.execute("create_customer", args)
    with cache.sessions() as s:
        queued = s.scalar(select(OutboxEntry.args))
        ids = {
            r[0]
            for r in s.execute(
                text(
                    "SELECT id FROM contact_methods UNION ALL SELECT id FROM locations "
                    "UNION ALL SELECT id FROM notes"
                )
            )
        }
    assert queued["customer"]["id"] == result.applied.entity_id
    queued_ids = {
        queued["locations"][0]["id"],
        queued["locations"][0]["contacts"][0]["id"],
        queued["note_id"],
        *(c["id"] for c in queued["contacts"]),
    }
    assert queued_ids == ids and len(ids) == 5


@pytest.mark.parametrize(
    "name,args",
    [
        ("create_customer", {"customer": "not a dict"}),
        (
            "create_customer",
            {"customer": {"name": 42}, "contacts": [{"kind": "Phone", "value": "2145550100"}]},
        ),
        (
            "create_customer",
            {
                "customer": {"name": "A", "do_not_service": "yes"},
                "contacts": [{"kind": "Phone", "value": "2145550100"}],
            },
        ),
        ("create_customer", {"customer": {"name": "A"}, "contacts": "2145550100"}),
        (
            "create_customer",
            {
                "customer": {"name": "A"},
                "contacts": [{"kind": "Phone", "value": "2145550100"}],
                "tags": "VIP",
            },
        ),
        (
            "create_customer",
            {
                "customer": {"name": "A"},
                "contacts": [{"kind": "Phone", "value": "2145550100"}],
                "note": ["x"],
            },
        ),
        ("add_note", {"note": {"customer_id": "x", "text": 5}}),
        ("add_location", {"location": None}),
    ],
)
def test_wrong_types_are_clear_errors_and_change_nothing(cache, writer, name, args):
    with pytest.raises(ValidationFailed):
        writer.execute(name, args)
    assert writer.pending_count() == 0 and _count(cache, Customer) == 0


def test_update_with_wrong_type_is_refused(cache, writer):
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with pytest.raises(ValidationFailed):
        writer.execute("update_customer", {"customer_id": cid, "changes": {"name": ["Maria Garcia", ["x"]]}})
    assert writer.pending_count() == 1


def test_last_phone_cannot_be_removed_and_notes_stay_on_their_customer(cache, writer):
    from models.customers import Location

    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    other = writer.execute(
        "create_customer", customer_args(name="Other", phone="2145550166")
    ).applied.entity_id
    with cache.sessions() as s:
        phone = s.scalar(select(ContactMethod.id).where(ContactMethod.customer_id == cid))
        foreign_loc = s.scalar(select(Location.id).where(Location.customer_id == other))
    with pytest.raises(ValidationFailed, match="at least one phone"):
        writer.execute("remove_contact", {"contact_id": phone})
    with pytest.raises(ValidationFailed, match="isn't one of this customer's"):
        writer.execute("add_note", {"note": {"customer_id": cid, "location_id": foreign_loc, "text": "x"}})


@pytest.mark.parametrize(
    "args",
    [
        {"customer": {"name": "A\x00B"}, "contacts": [{"kind": "Phone", "value": "2145550100"}]},
        {"customer": {"name": "A\ud800"}, "contacts": [{"kind": "Phone", "value": "2145550100"}]},
        {"customer": {"name": "A"}, "contacts": [{"kind": "Phone", "value": "2145550100"}], "tags": [1.5]},
        {
            "customer": {"name": "A"},
            "contacts": [{"kind": "Phone", "value": "2145550100"}],
            "x": float("inf"),
        },
    ],
)
def test_text_and_numbers_a_server_could_not_store_are_refused(writer, args):
    with pytest.raises(ValidationFailed):
        writer.execute("create_customer", args)
    assert writer.pending_count() == 0
