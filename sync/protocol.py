"""The wire protocol between consoles and `csr-server` (docs/protocol.md): JSON text frames over a
websocket, one message per frame, each validated against a schema before anything acts on it.

Every message is an object with a ``type``; requests may carry an ``id`` that the answer repeats.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

# 2: the change log may hold ``patch`` entries (Change.op): some columns of many rows in one entry. A
# console that says 1 in its hello gets each patch as one partial ``upsert`` per row instead.
PROTOCOL_VERSION = 2
MIN_PROTOCOL_VERSION = 1
PATCH_PROTOCOL = 2  # the first protocol whose consoles apply ``patch`` entries
MAX_FRAME_BYTES = 1_048_576  # 1 MiB: a push of 200 bookings is ~150 kB
MAX_MUTATIONS_PER_PUSH = 500
MAX_CHANGES_PER_PULL = 5_000
# The intent name an outbox entry travels under when it can never fit a frame (queued by an older console):
# sent without arguments and refused with a receipt, so the console's sequence advances and it is told.
OVERSIZE = "oversize_change"

Id = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=60)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Annotated[str, Field(max_length=64)] | None = None


# -- console → server ----------------------------------------------------------------------------------
class Hello(_Message):
    type: Literal["hello"]
    protocol: int
    client_id: Id
    app_version: Annotated[str, Field(max_length=40)] = ""
    token: Annotated[str, Field(max_length=2048)] | None = None
    # Push this user's own agent state (``agent_state`` without id) on this connection. Consoles ask for
    # it; other clients (scripts, older consoles) keep a plain request/answer sequence.
    agent_state: bool = False
    # A job-number prefix this console minted while it had never reached the server (provisional): the
    # server registers it if it is free, or issues another in ``welcome`` (docs/job-numbers.md).
    job_prefix: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,8}$")] | None = None


class Login(_Message):
    type: Literal["login"]
    username: Annotated[str, Field(min_length=1, max_length=60)]
    password: Annotated[str, Field(min_length=1, max_length=200)]
    # After an admin's password reset the server answers ``password_change_required``: the console
    # asks for a new password and logs in again with both (the old one proves who it is).
    new_password: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class Mutation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    seq: Annotated[int, Field(ge=1)]
    mutation_id: Id
    name: Name
    args: dict[str, Any]
    created_at: Annotated[str, Field(max_length=40)] = ""


class Push(_Message):
    type: Literal["push"]
    mutations: Annotated[list[Mutation], Field(min_length=1, max_length=MAX_MUTATIONS_PER_PUSH)]


class Pull(_Message):
    type: Literal["pull"]
    cursor: Annotated[int, Field(ge=0)]
    limit: Annotated[int, Field(ge=1, le=MAX_CHANGES_PER_PULL)] = 1000


class Ping(_Message):
    type: Literal["ping"]


MAX_FETCH_KEYS = 500
MAX_SNAPSHOT_ROWS = 5_000


class Fetch(_Message):
    """The server's current version of these rows (after a refused change, to undo it locally)."""

    type: Literal["fetch"]
    keys: Annotated[
        list[Annotated[list[Annotated[str, Field(max_length=200)]], Field(min_length=2, max_length=2)]],
        Field(min_length=1, max_length=MAX_FETCH_KEYS),
    ]


class Snapshot(_Message):
    """One page of a table for a new console's initial sync, by primary key order."""

    type: Literal["snapshot"]
    table: Annotated[str, Field(min_length=1, max_length=60)]
    after: Annotated[str, Field(max_length=200)] = ""
    limit: Annotated[int, Field(ge=1, le=MAX_SNAPSHOT_ROWS)] = 2000


class ClaimCall(_Message):
    """The CSR clicked a call's bubble (``takeover``: they confirmed taking it from someone else)."""

    type: Literal["claim_call"]
    call_id: Id
    takeover: bool = False


class Dial(_Message):
    """Click-to-call: ring my softphone, then this number (E.164 or as typed; the server checks it).
    ``customer_id``: whose contact it is (the call is linked by the number)."""

    type: Literal["dial"]
    number: Annotated[str, Field(min_length=1, max_length=40)]
    customer_id: Id | None = None


class SetAgentState(_Message):
    """The CSR's own state: Available, Away (with one of the company's ``away_reasons``) or Wrap-up."""

    type: Literal["set_agent_state"]
    state: Literal["Available", "Away", "Wrap-up"]
    reason: Annotated[str, Field(max_length=60)] = ""


class SubscribeFloor(_Message):
    """Supervisors: the floor's snapshot now, then its deltas and KPIs until the connection closes."""

    type: Literal["subscribe_floor"]


class UnsubscribeFloor(_Message):
    type: Literal["unsubscribe_floor"]


class CloseStaleCall(_Message):
    """Supervisors: end a call the phone system never ended (its last event is older than the server's
    --stale-call-minutes)."""

    type: Literal["close_stale_call"]
    call_id: Id


SeatText = Annotated[str, Field(max_length=200)]


class ManageUser(_Message):
    """Admins: add a user, deactivate or reactivate one, reset a password (the user must choose a new
    one at the next sign-in), change a role, or set / clear their SIP phone seat (``set_seat`` with
    ``sip_address``, ``registrar``, ``sip_user`` and optionally ``transport``, ``proxy`` and devices — as
    `csr-server phone-seat set`; never a SIP password). The last active admin can't be deactivated or
    demoted. Never queued in the outbox (a password must not be stored there): sent while online,
    answered by ``user_managed`` or an error."""

    type: Literal["manage_user"]
    action: Literal["add", "deactivate", "reactivate", "reset_password", "set_role", "set_seat", "clear_seat"]
    username: Annotated[str, Field(min_length=1, max_length=60)]
    display_name: Annotated[str, Field(max_length=80)] | None = None
    role: Annotated[str, Field(max_length=20)] | None = None
    password: Annotated[str, Field(min_length=1, max_length=200)] | None = None  # add, reset_password
    sip_address: SeatText | None = None  # set_seat: what the phone company dials (sip:…)
    registrar: SeatText | None = None  # set_seat: where the softphone signs in (sip:…)
    sip_user: Annotated[str, Field(max_length=80)] | None = None  # set_seat: the SIP user name
    transport: Annotated[str, Field(max_length=4)] | None = None  # set_seat: udp (default), tcp, tls
    proxy: SeatText | None = None  # set_seat: an outbound proxy (sip:…), if any
    input_device: Annotated[str, Field(max_length=120)] | None = None  # set_seat: microphone
    output_device: Annotated[str, Field(max_length=120)] | None = None  # set_seat: headset
    ring_device: Annotated[str, Field(max_length=120)] | None = None  # set_seat: where it rings


DeviceName = Annotated[str, Field(max_length=1000)]  # the server says "longer than 120" in a sentence


class SetMyDevices(_Message):
    """Anyone signed in: the sound devices of **their own** phone seat, by the names their PC's phone
    lists (``""``: the system's default; for ``ring_device``, the headset). The user is the session's;
    nothing else of the seat changes. Answered by ``my_devices_set`` with the seat, or
    ``devices_refused`` (``details.reason``: ``no_seat``, ``bad_device``) with the sentence; the user's
    consoles hear the seat as for any seat change (``phone_seat``)."""

    type: Literal["set_my_devices"]
    input_device: DeviceName = ""  # microphone
    output_device: DeviceName = ""  # headset
    ring_device: DeviceName = ""  # where it rings


class ListPhoneSeats(_Message):
    """Admins: every user's SIP phone seat (the Users window's list), answered by ``phone_seats``."""

    type: Literal["list_phone_seats"]


DayText = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class ScorecardRequest(_Message):
    """Scorecards of a period (company-local days). A CSR may ask only for their own (``user_id`` = theirs)."""

    type: Literal["scorecard"]
    period: Literal["today", "yesterday", "week", "month", "custom"]
    first: DayText | None = None
    last: DayText | None = None
    user_id: Id | None = None


class PhoneState(_Message):
    """The console's softphone, for the supervisors' floor board: ``registered`` (ready to ring),
    ``offline`` (crashed, unregistered, refused; ``message`` says why, as the CSR reads it) or ``none``
    (no seat). Sent when it changes and after every reconnect; answered by ``phone_state_set``."""

    type: Literal["phone_state"]
    state: Literal["registered", "offline", "none"]
    message: Annotated[str, Field(max_length=300)] = ""


class GetRecording(_Message):
    """A call's recording (or voicemail), sent by the server in pieces from ``offset`` (bytes): the
    console never opens the phone company's URL itself. Refused unless the user may hear the call."""

    type: Literal["get_recording"]
    call_id: Id
    offset: Annotated[int, Field(ge=0)] = 0


ClientMessage = Annotated[
    Hello
    | Login
    | Push
    | Pull
    | Ping
    | Fetch
    | Snapshot
    | ClaimCall
    | Dial
    | SetAgentState
    | SubscribeFloor
    | UnsubscribeFloor
    | CloseStaleCall
    | ScorecardRequest
    | ManageUser
    | ListPhoneSeats
    | SetMyDevices
    | PhoneState
    | GetRecording,
    Field(discriminator="type"),
]
_client_adapter: TypeAdapter[Any] = TypeAdapter(ClientMessage)


# -- server → console ----------------------------------------------------------------------------------
class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    protocol: int = PROTOCOL_VERSION
    server_version: int
    user: dict[str, Any] | None = None  # set when the hello carried a valid token
    next_seq: int = 1  # the server's next expected seq for this client
    job_prefix: str | None = None  # this console's registered job-number prefix (signed in)


class LoggedIn(_Message):
    type: Literal["logged_in"] = "logged_in"
    token: str
    expires_at: str
    user: dict[str, Any]


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    seq: int
    mutation_id: str
    status: Literal["applied", "rejected"]
    errors: dict[str, str] = {}
    result: dict[str, Any] = {}
    server_version: int = 0


class Receipts(_Message):
    type: Literal["receipts"] = "receipts"
    receipts: list[Receipt]


class Change(BaseModel):
    """One change-log entry. ``upsert``: ``data`` is the whole row (or, for a protocol-1 console, the
    columns a ``patch`` set: the rest of the row is unchanged); ``delete``: the row is gone. ``patch``
    (protocol 2): ``entity_id`` is empty and ``data`` is ``{"columns": [names], "rows": [[id, value,
    …], …]}`` — set those columns of each listed row that exists (the notifications sender and the text
    service's status callbacks log a group of messages' state moves as one entry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    entity: str
    entity_id: str
    op: Literal["upsert", "delete", "patch"]
    data: dict[str, Any] = {}


class CallUpdate(_Message):
    """A call changed (rang, was claimed, ended, …): sent to every console connected to this server
    instance right after the commit; consoles on other instances get the same row by pulling."""

    type: Literal["call"] = "call"
    call: dict[str, Any]
    taken_from: str | None = None  # the user who had it, when this change is a takeover


class LiveCalls(_Message):
    """Sent after ``welcome`` to a signed-in console: the calls a bubble strip should show now."""

    type: Literal["live_calls"] = "live_calls"
    calls: list[dict[str, Any]]


class Claimed(_Message):
    type: Literal["claimed"] = "claimed"
    call: dict[str, Any]


class Dialing(_Message):
    """The phone system took the click-to-call: the CSR's softphone rings first."""

    type: Literal["dialing"] = "dialing"
    provider_call_id: str


class AgentStateSet(_Message):
    """The CSR's agent row as the floor shows it now: the answer to ``set_agent_state`` (with ``id`` and the
    away reasons), and pushed to their own consoles when it changes (no ``id``; the reasons on connect)."""

    type: Literal["agent_state"] = "agent_state"
    agent: dict[str, Any]
    away_reasons: list[str] | None = None


class FloorSnapshot(_Message):
    """The whole floor (answer to ``subscribe_floor``; again after every reconnect's subscribe)."""

    type: Literal["floor_snapshot"] = "floor_snapshot"
    calls: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    kpis: dict[str, Any]


class FloorDelta(_Message):
    """What changed on the floor: calls added or changed, agents changed, calls gone (ended)."""

    type: Literal["floor_delta"] = "floor_delta"
    calls: list[dict[str, Any]] | None = None
    agents: list[dict[str, Any]] | None = None
    removed_calls: list[str] | None = None


class FloorKpis(_Message):
    type: Literal["floor_kpis"] = "floor_kpis"
    kpis: dict[str, Any]


class Unsubscribed(_Message):
    type: Literal["floor_unsubscribed"] = "floor_unsubscribed"


class UserManaged(_Message):
    type: Literal["user_managed"] = "user_managed"
    action: str
    user: dict[str, Any]  # id, username, display_name, role, active, must_change_password


class PhoneSeats(_Message):
    """The answer to ``list_phone_seats``: user id → seat, for the users who have one."""

    type: Literal["phone_seats"] = "phone_seats"
    seats: dict[str, dict[str, Any]]


class PhoneSeatChanged(_Message):
    """Sent (without id) to a user's connected consoles when an admin sets or clears their seat: the
    seat as the sign-in answer's ``user.phone_seat`` has it, absent when cleared. The softphone signs in
    there (or stops)."""

    type: Literal["phone_seat"] = "phone_seat"
    seat: dict[str, Any] | None = None


class MyDevicesSet(_Message):
    """The answer to ``set_my_devices``: the user's seat as stored now."""

    type: Literal["my_devices_set"] = "my_devices_set"
    seat: dict[str, Any]


class PhoneStateSet(_Message):
    """The answer to ``phone_state``: the CSR's agent row as the floor shows it now."""

    type: Literal["phone_state_set"] = "phone_state_set"
    agent: dict[str, Any]


class RecordingPiece(_Message):
    """The answer to ``get_recording``: ``data`` (base64) is the file from ``offset``; ask again from
    ``next_offset`` until ``done``. ``content_type``: e.g. audio/wav, audio/mpeg."""

    type: Literal["recording"] = "recording"
    call_id: str
    content_type: str
    offset: int
    next_offset: int
    total: int
    done: bool
    data: str


class StaleClosed(_Message):
    type: Literal["stale_closed"] = "stale_closed"
    call: dict[str, Any]


class ScorecardResult(_Message):
    type: Literal["scorecard_result"] = "scorecard_result"
    period: str
    first: str
    last: str
    rows: list[dict[str, Any]]
    abandoned: dict[str, Any]
    campaigns: list[dict[str, Any]]
    calls_per_hour: list[int]
    booking_rate_by_day: list[dict[str, Any]]


class Changes(_Message):
    type: Literal["changes"] = "changes"
    changes: list[Change]
    cursor: int
    more: bool


class Rows(_Message):
    """The answer to ``fetch``: each key's current row (``upsert``) or ``delete`` if it no longer exists."""

    type: Literal["rows"] = "rows"
    changes: list[Change]


class SnapshotPage(_Message):
    type: Literal["snapshot_page"] = "snapshot_page"
    table: str
    columns: list[str]
    rows: list[list[Any]]  # values in ``columns`` order, JSON-encoded like change data
    after: str  # the last primary key of this page: the next request's ``after``
    done: bool
    server_version: int


class Poke(_Message):
    """Something committed: pull from your cursor (sent to every connected console). When the commit's
    changes are few, they come along: a console whose cursor is ``after`` applies ``changes`` and moves
    its cursor to ``server_version`` without pulling; any other console pulls."""

    type: Literal["poke"] = "poke"
    server_version: int
    after: int | None = None
    changes: list[Change] | None = None


class Pong(_Message):
    type: Literal["pong"] = "pong"


ERROR_CODES = {
    "bad_json": "The message is not valid JSON.",
    "bad_message": "The message does not match the protocol.",
    "too_large": "The message is larger than the server accepts.",
    "rate_limited": "Too many messages; slow down.",
    "upgrade_required": "This console is too old or too new for the server; update it.",
    "not_authenticated": "Log in first.",
    "auth_failed": "Wrong user name or password.",
    "retry_later": "Wait a moment before trying to log in again.",
    "token_revoked": "Your account changed since you logged in; log in again.",
    "account_locked": "Too many failed log-ins; try again later.",
    "token_expired": "Your session expired; log in again.",
    "token_invalid": "Your session is not valid; log in again.",
    "forbidden": "Your role may not do that.",
    "foreign_client": "This console id belongs to another user.",
    "client_changed": "This connection already belongs to another console id; open a new connection.",
    "gap": "Changes are missing before this one; send from the expected sequence.",
    "claim_refused": "The call can't be claimed.",
    "no_telephony": "This server takes no calls (no phone system is connected).",
    "dial_failed": "The call couldn't be placed.",
    "bad_state": "That state can't be chosen.",
    "close_refused": "The call can't be closed as stale.",
    "bad_period": "That period can't be shown.",
    "password_change_required": "Your password was reset; choose a new one to sign in.",
    "user_refused": "That change to the user can't be made.",
    "devices_refused": "Those sound devices can't be saved.",
    "recording_refused": "You may not listen to that recording.",
    "recording_unavailable": "The recording can't be fetched now.",
    "internal": "The server could not process the message.",
}


class Error(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str
    details: dict[str, Any] = {}


class ProtocolError(Exception):
    """A message that must be answered with an error (the connection stays open unless ``fatal``)."""

    def __init__(
        self,
        code: str,
        message: str = "",
        details: dict[str, Any] | None = None,
        fatal: bool = False,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message or ERROR_CODES.get(code, code))
        self.code, self.message = code, message or ERROR_CODES.get(code, code)
        self.details, self.fatal = details or {}, fatal
        # The ``id`` of a request refused before it was understood (a wrong type, an unknown field):
        # the answer still repeats it, so the client knows which request failed.
        self.request_id = request_id

    def to_message(self, request_id: str | None = None) -> Error:
        return Error(
            id=request_id or self.request_id, code=self.code, message=self.message, details=self.details
        )


def parse_client_message(raw: str | bytes) -> Any:
    """Decode and validate one frame from a console; ProtocolError explains what is wrong."""
    if len(raw) > MAX_FRAME_BYTES:
        raise ProtocolError("too_large", details={"limit": MAX_FRAME_BYTES})
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json") from exc
    try:
        # Strict: JSON types are never coerced ("protocol": "1" is refused, not read as 1).
        return _client_adapter.validate_python(data, strict=True)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
        raise ProtocolError(
            "bad_message",
            details={"problems": problems},
            request_id=_request_id(data),
            message=f"The message does not match the protocol ({problems[0] if problems else ''}).",
        ) from exc


def _request_id(data: Any) -> str | None:
    """The ``id`` of a frame that failed validation, when it is one an answer may repeat."""
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


def encode(message: BaseModel) -> str:
    return message.model_dump_json(exclude_none=True)
