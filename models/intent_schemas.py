"""The arguments of every intent, as pydantic models: what a client may put in a mutation's ``args``.

``check_intent_args`` runs before every handler (models/intent_kit.py ``intent``), on the console and on
the server alike: an unknown argument (a typo such as ``location`` for ``locations``) or a value of the
wrong JSON type is refused with a sentence instead of being silently ignored. Presence and domain rules
(a missing customer, a full window) stay with the handlers, which say them in the CSR's words. The same
models generate the argument tables of docs/protocol.md (sync/protocol_doc.py).
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from .validation import ValidationFailed

Number = float  # strict: an int is a number too, a bool or a string is not


def arg(description: str, *, required: bool = False, invalid: str = "") -> Any:
    """A documented argument. ``required`` is documentation: the handler refuses a missing value in its
    own words. ``invalid``: the sentence for a value of the wrong type, when the handler has a better one."""
    extra: dict[str, Any] = {}
    if required:
        extra["required"] = True
    if invalid:
        extra["invalid"] = invalid
    return Field(default=None, description=description, json_schema_extra=extra or None)


class Args(BaseModel):
    """Arguments of one intent: unknown keys are refused, JSON types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


Pair = Annotated[list[Any], Field(min_length=2, max_length=2)]
Changes = dict[StrictStr, Pair]
Names = list[StrictStr]
CHANGES = "Each changed field as [old, new]; `old` is what the CSR saw (the server's three-way merge)."
ACTOR = "Who wrote it, as people read it (the server uses the signed-in user instead)."


# -- nested sections ---------------------------------------------------------------------------------------
class ContactArgs(Args):
    """A contact: `contacts[]` of `create_customer` and of a location, `contact` of `add_contact`."""

    id: StrictStr | None = arg("The contact's id (client-minted; minted by the handler when absent).")
    customer_id: StrictStr | None = arg("The customer (`add_contact`).")
    location_id: StrictStr | None = arg("The location it belongs to, or null for the customer's own.")
    kind: StrictStr | None = arg("`Phone`, `MobilePhone`, `Email` or `Fax`.", required=True)
    value: StrictStr | None = arg("The number (E.164 or as typed) or the email address.", required=True)
    memo: StrictStr | None = arg("A short note on the contact.")
    notifications: StrictBool | None = arg("Send notifications to it (default true).")
    do_not_text: StrictBool | None = arg("Never text this number (default false).")


class LocationArgs(Args):
    """A service location: `locations[]` of `create_customer`, `location` of `add_location`."""

    id: StrictStr | None = arg("The location's id (client-minted; minted by the handler when absent).")
    customer_id: StrictStr | None = arg("The customer (`add_location`).")
    name: StrictStr | None = arg("A name for the place, e.g. `Rental`.")
    street: StrictStr | None = arg("Street address.", required=True)
    unit: StrictStr | None = arg("Apartment or suite.")
    city: StrictStr | None = arg("City.", required=True)
    state: StrictStr | None = arg("Two-letter state code.")
    zip: StrictStr | None = arg("ZIP or ZIP+4.", required=True)
    country: StrictStr | None = arg("Country code (default `US`).")
    access_notes: StrictStr | None = arg("Gate codes, pets, parking.")
    latitude: Number | None = arg("Degrees, -90..90.")
    longitude: Number | None = arg("Degrees, -180..180.")
    contacts: list[ContactArgs] | None = arg("Contacts at this location.")


class CustomerArgs(Args):
    """The customer's own fields: `customer` of `create_customer`."""

    id: StrictStr | None = arg("The customer's id (client-minted; minted by the handler when absent).")
    name: StrictStr | None = arg("The customer's name.", required=True)
    type: StrictStr | None = arg("`Residential` (default) or `Commercial`.")
    street: StrictStr | None = arg("Billing street address.")
    unit: StrictStr | None = arg("Billing apartment or suite.")
    city: StrictStr | None = arg("Billing city.")
    state: StrictStr | None = arg("Billing two-letter state code.")
    zip: StrictStr | None = arg("Billing ZIP or ZIP+4.")
    country: StrictStr | None = arg("Country code (default `US`).")
    do_not_service: StrictBool | None = arg("Do Not Service: the customer can't be booked.")
    do_not_service_reason: StrictStr | None = arg("Why (shown to the next CSR).")
    do_not_mail: StrictBool | None = arg("Send no mail.")


class NoteArgs(Args):
    """A note: `note` of `add_note`."""

    id: StrictStr | None = arg("The note's id (client-minted; minted by the handler when absent).")
    customer_id: StrictStr | None = arg("The customer.", required=True)
    location_id: StrictStr | None = arg("One of the customer's locations, or null.")
    text: StrictStr | None = arg("The note (at most 5,000 characters).", required=True)
    pinned: StrictBool | None = arg("Pin it to the top.")


class LeadArgs(Args):
    """A lead: `lead` of `create_lead` and `close_call`."""

    id: StrictStr | None = arg("The lead's id (client-minted; minted by the handler when absent).")
    customer_id: StrictStr | None = arg("The customer, when the caller is one.")
    location_id: StrictStr | None = arg("One of the customer's locations.")
    created_by_id: StrictStr | None = arg("The user who took it.")
    name: StrictStr | None = arg("The caller's name (needed without a customer).")
    phone: StrictStr | None = arg("The caller's phone (needed without a customer).")
    summary: StrictStr | None = arg("What they want.")
    follow_up_on: StrictStr | None = arg("The follow-up day, `YYYY-MM-DD`, or null.")
    call_reason_id: StrictStr | None = arg("The call reason.")
    campaign_id: StrictStr | None = arg("The campaign they called about.")
    business_unit_id: StrictStr | None = arg("The business unit.")
    job_type_id: StrictStr | None = arg("The job type.")


class LineItemArgs(Args):
    """A service line: `job.line_items[]` of `book_job`."""

    code: StrictStr | None = arg("A service code of the catalog.", required=True)
    quantity: Number | None = arg("How many (default 1).")
    price: Number | None = arg("Unit price (default: the catalog's).")


class JobArgs(Args):
    """The job: `job` of `book_job`."""

    id: StrictStr | None = arg("The job's id (client-minted; minted by the handler when absent).")
    number: StrictStr | None = arg("The job number, `PREFIX-N` (console-minted; docs/job-numbers.md).")
    customer_id: StrictStr | None = arg("The customer.", required=True)
    location_id: StrictStr | None = arg("The service location (one of the customer's).", required=True)
    business_unit_id: StrictStr | None = arg("The business unit.", required=True)
    job_type_id: StrictStr | None = arg("A job type of that business unit.", required=True)
    campaign_id: StrictStr | None = arg("The campaign the customer called about.", required=True)
    priority: StrictStr | None = arg("`Low`, `Normal`, `High` or `Urgent` (default: the job type's).")
    summary: StrictStr | None = arg("What is to be done.")
    tags: Names | None = arg("Tag names.")
    technician_ids: list[StrictStr] | None = arg("Technicians to assign.")
    line_items: list[LineItemArgs] | None = arg("Services from the catalog.")
    lead_id: StrictStr | None = arg("The open lead this booking converts.")
    booked_from: StrictStr | None = arg("`Manual` (default), `Call`, …")
    booked_by_id: StrictStr | None = arg("The user who booked it.")


class AppointmentArgs(Args):
    """An arrival window picked: `appointment` of `book_job` and `reschedule_job`."""

    id: StrictStr | None = arg("The appointment's id (client-minted; minted by the handler when absent).")
    day: StrictStr | None = arg("The day, `YYYY-MM-DD` (company-local).", required=True)
    arrival_window_id: StrictStr | None = arg("The arrival window.", required=True)


# -- intents ---------------------------------------------------------------------------------------------------
class CreateCustomer(Args):
    """A new customer with its contacts, service locations, tags and a first note."""

    customer: CustomerArgs | None = arg("The customer's fields.", required=True)
    locations: list[LocationArgs] | None = arg("Service locations, each with its contacts.")
    contacts: list[ContactArgs] | None = arg("The customer's contacts: at least one phone.", required=True)
    tags: Names | None = arg("Tag names (a new name makes a tag).")
    note: StrictStr | None = arg("A first note.")
    note_id: StrictStr | None = arg("The first note's id (minted by the handler).")
    actor: StrictStr | None = arg(ACTOR)


class UpdateCustomer(Args):
    """Change a customer's fields (merged per field on the server) and/or its tags."""

    customer_id: StrictStr | None = arg("The customer.", required=True)
    changes: Changes | None = arg(CHANGES)
    tags: Names | None = arg("The tags wanted now.")
    old_tags: Names | None = arg("The tags the CSR saw (tags merge as sets).")


class SetCustomerTags(Args):
    """Set a customer's tags (merged as sets with what others added meanwhile)."""

    customer_id: StrictStr | None = arg("The customer.", required=True)
    tags: Names | None = arg("The tags wanted now.", required=True)
    old_tags: Names | None = arg("The tags the CSR saw.")


class AddLocation(Args):
    """A new service location."""

    location: LocationArgs | None = arg("The location's fields, with `customer_id`.", required=True)


class UpdateLocation(Args):
    """Change a location's fields (merged per field on the server)."""

    location_id: StrictStr | None = arg("The location.", required=True)
    changes: Changes | None = arg(CHANGES, required=True)


class AddContact(Args):
    """A new phone, mobile, fax or email."""

    contact: ContactArgs | None = arg("The contact's fields, with `customer_id`.", required=True)


class UpdateContact(Args):
    """Change a contact's fields (merged per field on the server)."""

    contact_id: StrictStr | None = arg("The contact.", required=True)
    changes: Changes | None = arg(CHANGES, required=True)


class RemoveContact(Args):
    """Remove a contact (not the customer's last phone)."""

    contact_id: StrictStr | None = arg("The contact.", required=True)


class AddNote(Args):
    """A note on a customer."""

    note: NoteArgs | None = arg("The note.", required=True)
    actor: StrictStr | None = arg(ACTOR)


class ResolveConflict(Args):
    """Settle a same-field conflict."""

    conflict_id: StrictStr | None = arg("The conflict record.", required=True)
    choice: StrictStr | None = arg(
        "`mine` (the value that lost) or `theirs` (the stored one).", required=True
    )
    actor: StrictStr | None = arg(ACTOR)


class CreateLead(Args):
    """Capture a lead (for a customer, or a name and a phone)."""

    lead: LeadArgs | None = arg("The lead's fields.", required=True)


class UpdateLead(Args):
    """Change an open lead."""

    lead_id: StrictStr | None = arg("The lead.", required=True)
    changes: Changes | None = arg("Each changed field as [old, new].", required=True)


class DismissLead(Args):
    """Close an open lead for good."""

    lead_id: StrictStr | None = arg("The lead.", required=True)
    reason: StrictStr | None = arg("Why (at most 200 characters).", required=True)


class ClaimOnlineBooking(Args):
    """Bookings inbox: work a Web Scheduler request (one CSR at a time; a claim older than 15 minutes may be
    taken over)."""

    online_booking_id: StrictStr | None = arg("The request.", required=True)
    claimed_by_id: StrictStr | None = arg("Who claims it (the server uses the signed-in user).")


class ReleaseOnlineBooking(ClaimOnlineBooking):
    """Bookings inbox: stop working a request, so another CSR may."""


class DismissOnlineBooking(Args):
    """Bookings inbox: close a request with a reason (spam, out of area, duplicate, customer cancelled);
    its window is freed."""

    online_booking_id: StrictStr | None = arg("The request.", required=True)
    reason: StrictStr | None = arg("Why (at most 200 characters).", required=True)
    make_lead: StrictBool | None = arg("Also make a lead from it.")
    lead_id: StrictStr | None = arg("The lead's id (client-minted; minted by the handler when absent).")
    claimed_by_id: StrictStr | None = arg("Who dismissed it (the server uses the signed-in user).")


class BookJob(Args):
    """Book a job with its first appointment (capacity re-checked; on the server a lost race is kept and
    flagged)."""

    job: JobArgs | None = arg("The job.", required=True)
    appointment: AppointmentArgs | None = arg("The arrival window picked.", required=True)
    booked_at: StrictStr | None = arg("When the CSR booked it, ISO 8601 (information only).")
    call_id: StrictStr | None = arg(
        "The call it was booked on: the call is Booked (its tracking number's campaign "
        "is accepted even when retired)."
    )
    online_booking_id: StrictStr | None = arg(
        "The Web Scheduler request it accepts (Bookings inbox): the request is Accepted with this job."
    )


class RescheduleJob(Args):
    """Move a job to another arrival window (a held job is scheduled again)."""

    job_id: StrictStr | None = arg("The job.", required=True)
    appointment: AppointmentArgs | None = arg("The new arrival window.", required=True)
    booked_at: StrictStr | None = arg("When the CSR did it, ISO 8601 (information only).")


class CancelJob(Args):
    """Cancel a scheduled, dispatched or held job."""

    job_id: StrictStr | None = arg("The job.", required=True)
    reason: StrictStr | None = arg("Why (at most 200 characters).", required=True)


class HoldJob(Args):
    """Put a scheduled or dispatched job on hold."""

    job_id: StrictStr | None = arg("The job.", required=True)
    reason: StrictStr | None = arg("Why (at most 200 characters).", required=True)


class ReleaseHold(Args):
    """Schedule a held job again."""

    job_id: StrictStr | None = arg("The job.", required=True)


class CloseCall(Args):
    """Close a call's bubble with its reason (and the lead a lead reason makes)."""

    call_id: StrictStr | None = arg("The call.", required=True)
    call_reason_id: StrictStr | None = arg("The call reason (required when the company has reasons).")
    lead: LeadArgs | None = arg("With a lead reason: the lead's fields (as `create_lead`'s `lead`).")


REVIEWED_CALL = "The call (an ended inbound call)."
MALFORMED_CALL = "Malformed call id."


class ClaimCallback(Args):
    """The callback queue: the CSR takes an item; the server refuses a second CSR (docs/phone.md)."""

    callback_id: StrictStr | None = arg("The callback item.", required=True)
    user_id: StrictStr | None = arg("Who takes it; the server uses the signed-in user.")


class ReleaseCallback(Args):
    """The callback queue: a claimed item goes back for anyone to take (a supervisor any; a CSR their own)."""

    callback_id: StrictStr | None = arg("The callback item.", required=True)
    user_id: StrictStr | None = arg("Who releases it; the server uses the signed-in user.")


class RecordCallbackOutcome(Args):
    """The callback queue: how the call-back went (booked / not_booked / no_answer / wrong_number)."""

    callback_id: StrictStr | None = arg("The callback item.", required=True)
    outcome: StrictStr | None = arg("booked, not_booked, no_answer or wrong_number.", required=True)
    user_id: StrictStr | None = arg("Who records it; the server uses the signed-in user.")


class AttachAgent(Args):
    """Call review: the user who really took the call."""

    call_id: StrictStr | None = arg(REVIEWED_CALL, required=True, invalid=MALFORMED_CALL)
    agent_id: StrictStr | None = arg("The user.", required=True, invalid="Pick the CSR who took the call.")


class ReclassifyCall(Args):
    """Call review: the call's reason as the manager judges it."""

    call_id: StrictStr | None = arg(REVIEWED_CALL, required=True, invalid=MALFORMED_CALL)
    call_reason_id: StrictStr | None = arg("The call reason.", required=True, invalid="Pick the call reason.")


class ExcuseCall(Args):
    """Call review: excuse the call with a memo."""

    call_id: StrictStr | None = arg(REVIEWED_CALL, required=True, invalid=MALFORMED_CALL)
    memo: StrictStr | None = arg(
        "Why it doesn't count (at most 500 characters).",
        required=True,
        invalid="Write why the call is excused.",
    )


class UnexcuseCall(Args):
    """Call review: withdraw the excuse."""

    call_id: StrictStr | None = arg(REVIEWED_CALL, required=True, invalid=MALFORMED_CALL)


class TagCall(Args):
    """Call review: replace the call's tags (an empty list clears them)."""

    call_id: StrictStr | None = arg(REVIEWED_CALL, required=True, invalid=MALFORMED_CALL)
    tags: Names | None = arg("Tag names.", required=True, invalid="Tags must be a list of names.")


# -- customer notifications (docs/notifications.md) ------------------------------------------------------
class NotifyOnTheWay(Args):
    """Tell the customer their technician is on the way (the job becomes Dispatched)."""

    job_id: StrictStr | None = arg("The job.", required=True)


class ResendNotification(Args):
    """Send a message again, as a new message (the old one keeps its history)."""

    notification_id: StrictStr | None = arg("The message to send again.", required=True)
    id: StrictStr | None = arg("The new message's id (client-minted; minted by the handler when absent).")


class ReplyToInbound(Args):
    """Answer a customer's text from the console."""

    inbound_id: StrictStr | None = arg("The customer's text.", required=True)
    body: StrictStr | None = arg("The answer (at most 640 characters).", required=True)
    id: StrictStr | None = arg("The answer's id (client-minted; minted by the handler when absent).")


class MarkInboundRead(Args):
    """A CSR has read a customer's text (it leaves the unread count)."""

    inbound_id: StrictStr | None = arg("The customer's text.", required=True)


class AcceptWorkOrder(Args):
    """ServiceChannel: accept a work order from the Bookings inbox once its job is booked (`book_job` just
    before); the server tells the platform Dispatch Confirmed."""

    work_order_id: StrictStr | None = arg("The work order (its id in `work_orders`).", required=True)
    job_id: StrictStr | None = arg("The job booked for it.", required=True)
    accepted_by_id: StrictStr | None = arg(ACTOR)


class DeclineWorkOrder(Args):
    """ServiceChannel: decline a work order with one of the platform's reason codes."""

    work_order_id: StrictStr | None = arg("The work order (its id in `work_orders`).", required=True)
    reason_id: int | None = arg(
        "1 Can't make ETA, 2 Trade not serviced, 3 Location not serviced, 4 Not under warranty, 5 Other "
        "(a note is then required), 6 NTE too low.",
        required=True,
        invalid="Pick why the work order is declined.",
    )
    note: StrictStr | None = arg("Sent to the client with the decline.")


class CheckInWorkOrder(Args):
    """ServiceChannel: the technician is on site (the job becomes Working; the platform gets the check-in)."""

    work_order_id: StrictStr | None = arg("The work order (accepted).", required=True)


class CheckOutWorkOrder(Args):
    """ServiceChannel: the work is done (the job becomes Completed; the platform gets the check-out)."""

    work_order_id: StrictStr | None = arg("The work order (checked in).", required=True)
    resolution: StrictStr | None = arg("What was done (at most 200 characters).", required=True)


class NoteWorkOrder(Args):
    """ServiceChannel: a note to the client on the work order."""

    work_order_id: StrictStr | None = arg("The work order.", required=True)
    note: StrictStr | None = arg("The note (at most 2,000 characters).", required=True)


class MergeCustomers(Args):
    """Managers: merge a duplicate customer into the survivor (undoable with `undo_merge`)."""

    merge_id: StrictStr | None = arg("The merge's id (client-minted; minted by the handler when absent).")
    survivor_id: StrictStr | None = arg("The customer that stays.", required=True)
    merged_id: StrictStr | None = arg("The duplicate: everything of it moves to the survivor.", required=True)
    fields: dict[StrictStr, StrictStr] | None = arg(
        "Per customer field, whose value wins: `survivor` (default) or `merged`."
    )
    actor: StrictStr | None = arg(ACTOR)


class UndoMerge(Args):
    """Managers: put every row a merge wrote back as it was (refused once the records changed since)."""

    merge_id: StrictStr | None = arg("The merge.", required=True, invalid="Malformed merge id.")
    actor: StrictStr | None = arg(ACTOR)


SETUP_KIND = (
    "The kind of record: `business_unit`, `job_type`, `campaign`, `tracking_number`, `call_reason`, "
    "`arrival_window`, `business_unit_group`, `campaign_category`, `tag_type`, `technician`, `capacity`, "
    "`service`, `company` (its id: `company`), "
    "`business_hours`, `booking_preferences`, `notification_template` (its id: the message, e.g. "
    "`confirmation`), `notification_settings` (its id: `notifications`) or `online_booking` (its id: "
    "`online_booking`)."
)


class SetupSave(Args):
    """Managers: create or change one setup record (models/setup_edit.py); checked by the setup file's rules."""

    kind: StrictStr | None = arg(SETUP_KIND, required=True)
    id: StrictStr | None = arg(
        "The record's id (client-minted when creating; minted by the handler when absent)."
    )
    values: dict[StrictStr, StrictStr] | None = arg(
        "The fields as typed: text, `true`/`false`, names comma-separated for a list.", required=True
    )
    seen: dict[StrictStr, StrictStr] | None = arg(
        "The fields as the editor showed them: one changed since is a conflict (refused, nothing written)."
    )
    actor: StrictStr | None = arg(ACTOR)


class SetupRetire(Args):
    """Managers: retire (or reactivate) a setup record: kept for history, not offered for new work."""

    kind: StrictStr | None = arg(SETUP_KIND, required=True)
    id: StrictStr | None = arg("The record.", required=True)
    active: StrictBool | None = arg("false retires (default), true reactivates.")
    actor: StrictStr | None = arg(ACTOR)


class SetupDelete(Args):
    """Managers: delete a setup record nothing refers to (refused, naming what does, otherwise)."""

    kind: StrictStr | None = arg(SETUP_KIND, required=True)
    id: StrictStr | None = arg("The record.", required=True)


ENTRY_ID = "The entry's id (client-minted; minted by the handler when absent)."
DAY = "The local day, YYYY-MM-DD."
NOTE = "A note people read (at most 200 characters)."


class AddTimeOff(Args):
    """Managers: a technician is off a whole day, or from `start` to `end` (part of a day)."""

    id: StrictStr | None = arg(ENTRY_ID)
    technician_id: StrictStr | None = arg("The technician.", required=True)
    day: StrictStr | None = arg(DAY, required=True)
    start: StrictStr | None = arg("Part of a day: from (HH:MM local). Both or neither of start/end.")
    end: StrictStr | None = arg("Part of a day: until (HH:MM local).")
    note: StrictStr | None = arg(NOTE)
    actor: StrictStr | None = arg(ACTOR)


class AddHoliday(Args):
    """Managers: the company is closed that day (no window has capacity)."""

    id: StrictStr | None = arg(ENTRY_ID)
    day: StrictStr | None = arg(DAY, required=True)
    note: StrictStr | None = arg("The holiday's name.", required=True)
    actor: StrictStr | None = arg(ACTOR)


class AdjustCapacity(Args):
    """Managers: add (+) or take away (−) technician-minutes in one window of one day for a group."""

    id: StrictStr | None = arg(ENTRY_ID)
    group_id: StrictStr | None = arg("The capacity group (or give `business_unit_id`).")
    business_unit_id: StrictStr | None = arg("A business unit: its group is adjusted.")
    arrival_window_id: StrictStr | None = arg("The arrival window.", required=True)
    day: StrictStr | None = arg(DAY, required=True)
    minutes: int | None = arg("Technician-minutes, + or − (not zero).", required=True)
    note: StrictStr | None = arg(NOTE)
    actor: StrictStr | None = arg(ACTOR)


class RemoveAvailabilityEntry(Args):
    """Managers: withdraw a time off, holiday or adjustment (kept, inactive, for history)."""

    id: StrictStr | None = arg("The entry.", required=True, invalid="Malformed entry id.")
    actor: StrictStr | None = arg(ACTOR)


SCHEMAS: dict[str, type[Args]] = {
    "create_customer": CreateCustomer,
    "update_customer": UpdateCustomer,
    "set_customer_tags": SetCustomerTags,
    "add_location": AddLocation,
    "update_location": UpdateLocation,
    "add_contact": AddContact,
    "update_contact": UpdateContact,
    "remove_contact": RemoveContact,
    "add_note": AddNote,
    "resolve_conflict": ResolveConflict,
    "create_lead": CreateLead,
    "update_lead": UpdateLead,
    "dismiss_lead": DismissLead,
    "book_job": BookJob,
    "reschedule_job": RescheduleJob,
    "cancel_job": CancelJob,
    "hold_job": HoldJob,
    "release_hold": ReleaseHold,
    "close_call": CloseCall,
    "attach_agent": AttachAgent,
    "reclassify_call": ReclassifyCall,
    "excuse_call": ExcuseCall,
    "unexcuse_call": UnexcuseCall,
    "tag_call": TagCall,
    "notify_on_the_way": NotifyOnTheWay,
    "resend_notification": ResendNotification,
    "reply_to_inbound": ReplyToInbound,
    "mark_inbound_read": MarkInboundRead,
    "claim_online_booking": ClaimOnlineBooking,
    "release_online_booking": ReleaseOnlineBooking,
    "dismiss_online_booking": DismissOnlineBooking,
    "accept_work_order": AcceptWorkOrder,
    "decline_work_order": DeclineWorkOrder,
    "check_in_work_order": CheckInWorkOrder,
    "check_out_work_order": CheckOutWorkOrder,
    "note_work_order": NoteWorkOrder,
    "merge_customers": MergeCustomers,
    "undo_merge": UndoMerge,
    "setup_save": SetupSave,
    "setup_retire": SetupRetire,
    "setup_delete": SetupDelete,
    "add_time_off": AddTimeOff,
    "add_holiday": AddHoliday,
    "adjust_capacity": AdjustCapacity,
    "remove_availability_entry": RemoveAvailabilityEntry,
    "claim_callback": ClaimCallback,
    "record_callback_outcome": RecordCallbackOutcome,
    "release_callback": ReleaseCallback,
}

_UNION_TAGS = frozenset({"int", "float", "str", "bool"})
_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def check_intent_args(name: str, args: Any) -> None:
    """Refuse unknown arguments and values of the wrong JSON type ({field: sentence}); an intent
    without a schema is not checked here (tests/unit/test_intent_schemas.py makes sure there is none)."""
    schema = SCHEMAS.get(name)
    if schema is None:
        return
    if not isinstance(args, dict):
        raise ValidationFailed({"args": "The change is malformed."})
    try:
        schema.model_validate(args)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            key, sentence = _sentence(name, schema, error)
            errors.setdefault(key, sentence)
        raise ValidationFailed(errors) from None


def _sentence(intent: str, schema: type[Args], error: Any) -> tuple[str, str]:
    loc = [str(p) for p in error["loc"]]
    # A union reports each of its branches ("int", "float"): the path is the field's without them.
    loc = [p for p in loc if p not in _UNION_TAGS and "[" not in p] or loc
    key = ".".join(loc)
    field = schema.model_fields.get(loc[0])
    extra = field.json_schema_extra if field is not None and isinstance(field.json_schema_extra, dict) else {}
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known(schema, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return key, f"Unknown argument '{key}' for {intent}{hint}."
    if extra.get("invalid"):
        return loc[0], str(extra["invalid"])
    if loc[0] == "changes" and len(loc) == 2:  # {field: [old, new]}
        return key, f"'{key}' must be a pair [old, new]."
    if kind in _TYPE_WORDS:
        return key, f"'{key}' must be {_TYPE_WORDS[kind]}."
    return key, f"'{key}' is not valid ({error['msg']})."


def _known(schema: type[BaseModel], path: list[str]) -> list[str]:
    """The argument names allowed at ``path`` (for "did you mean")."""
    model: Any = schema
    for part in path:
        if part.isdigit():
            continue
        field = (
            model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        )
        if field is None:
            return []
        model = _model_of(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside ``X | None`` or ``list[X] | None``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for inner in get_args(annotation):
        found = _model_of(inner)
        if found is not None:
            return found
    return None
