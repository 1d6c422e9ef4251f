"""Calls on the console: the server's live calls become bubbles, a click claims (the server decides),
the claimed call pops its customer from the local cache, its X closes and classifies it, and Book Job
on it makes it Booked: the bubble says "Booked — job N" and stays while the call lasts.

What a bubble shows comes from two places: ``call`` messages (instant, from the instance this console
is connected to) and the ``calls`` rows the pull brings (the same facts, from any instance). The caller
is matched against this PC's cache — the pop needs no round trip to the server. The match (an index
lookup) and a bubble's extras (the job booked on it, who answered it) are read on a worker of their own
(console/db_worker.py), never behind a write: a new bubble shows at once with "Looking up…" and fills its
caller when the answer comes (a few milliseconds); an update keeps showing what was found until the newer
answer replaces it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from sqlalchemy import select

from models.call_store import caller_matches
from models.calls import Call, CallCard, CallDirection, CallState
from models.db import Cache
from models.jobs import Job
from models.lead_queries import lead_choices
from models.phone import format_phone
from models.setup import User
from models.validation import ValidationFailed
from models.writer import LocalWriter
from sync.client import ClaimFailed, DialFailed
from widgets.call_bubble import CallExtras
from widgets.classify_dialog import ClassifyDialog

from .db_worker import DbWorker
from .failures import describe_failure
from .recordings import RecordingPlayer
from .tasks import Tasks

log = logging.getLogger("csr.console.calls")
# A close asked for before the call's row is in the cache waits for the pull: this often, this many times.
CLOSE_WAIT_MS, CLOSE_WAIT_TRIES = 250, 40
UNKNOWN_CALLER = "Unknown caller"
UNKNOWN_CAMPAIGN = "Unknown campaign"


@dataclass(frozen=True, slots=True)
class CallerFacts:
    """What the cache says of a call's caller and bubble, read on the match worker."""

    number: str  # the number looked up
    match_ids: tuple[str, ...]
    caller_name: str
    job_number: str = ""  # the job booked on the call, when asked for
    identity: str = ""  # whose phone answered it (the phone system's name), when asked for…
    answered_by: str = ""  # …and that CSR's display name


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


class CallsController(QObject):
    outboxChanged = Signal()
    errorOccurred = Signal(str)

    def __init__(
        self,
        window: Any,
        cache: Cache,
        writer: LocalWriter,
        sync: Any,
        customers: Any,
        booking: Any,
        *,
        today_fn: Any,
        start_booking: Any = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.strip = window.bubble_strip
        self.cache = cache
        self.writer = writer
        self.sync = sync
        self.customers = customers
        self.booking = booking
        self.today_fn = today_fn
        self.start_booking = start_booking or (lambda: None)  # the booking form for the open customer
        # The call's booking draft (console/drafts_controller.py): activate → True when it had a customer.
        self.activate_draft: Any = lambda call_id: False
        self.forget_draft: Any = lambda call_id: None
        self.me = ""
        self.worker = DbWorker(self, "csr-calls")  # closing a call (with its lead): off the UI thread
        # The screen pop's reads get a worker of their own: a match never waits behind a close's fsync.
        self.match_worker = DbWorker(self, "csr-calls-match")
        self.facts: dict[str, CallerFacts] = {}  # call id → the last answer of the match worker
        self._when_matched: dict[str, Callable[[], None]] = {}  # a click on a bubble still looking up
        self.username = ""  # the phone system names this CSR's softphone so
        self.calls: dict[str, dict[str, Any]] = {}
        self.cards: dict[str, CallCard] = {}
        self.dialog: ClassifyDialog | None = None
        self._pending_new_customer: str = ""  # the call whose caller is being entered as a new customer
        self._tasks = Tasks()
        self._closed_here: set[str] = set()  # closed here (the server may not know yet)
        self._booked_here: dict[str, str] = {}  # call id → the number of the job booked on it here
        sync.callsArrived.connect(self.on_calls)
        sync.signedIn.connect(self._signed_in)
        sync.onlineChanged.connect(self.strip.set_online)
        self.strip.set_online(False)
        self.strip.claimRequested.connect(lambda call_id: self._claim(call_id, False))
        self.strip.takeoverRequested.connect(lambda call_id: self._claim(call_id, True))
        self.strip.callActivated.connect(self.screen_pop)
        self.strip.classifyRequested.connect(self.classify)
        self.strip.noticeShown.connect(lambda text: window.statusBar().showMessage(text, 10_000))
        booking.callBooked.connect(self._booked)
        customers.customerSaved.connect(self._customer_saved)
        customers.customerOpened.connect(self._customer_opened)
        window.customer_panel.callContactRequested.connect(self.dial)
        # Recordings come through the server, by role (console/recordings.py, sync/media.py).
        self.recordings = RecordingPlayer(self, lambda call_id: self.sync.recording(call_id))
        self.recordings.message.connect(lambda text: text and window.statusBar().showMessage(text, 10_000))
        window.customer_panel.playRecordingRequested.connect(self.play_recording)

    # -- what the server says ------------------------------------------------------------------------------
    def _signed_in(self, user: dict[str, Any]) -> None:
        self.me = str(user.get("id") or "")
        self.username = str(user.get("username") or "")
        self.strip.set_me(self.me)

    def on_calls(self, calls: list[dict[str, Any]], _taken_from: str = "", full: bool = False) -> None:
        if full:
            listed = {c.get("id") for c in calls}
            for call_id in [k for k in self.calls if k not in listed]:
                mine_and_open = (
                    self._visible(self.calls[call_id]) and self.calls[call_id].get("agent_id") == self.me
                )
                if not mine_and_open:
                    self._drop(call_id)
        for call in calls:
            call_id = str(call.get("id") or "")
            if not call_id:
                continue
            before = self.calls.get(call_id, {})
            merged = {**before, **call}
            for key in ("started_at", "answered_at"):  # a message without them doesn't forget them
                merged[key] = call.get(key) or before.get(key)
            self.calls[call_id] = merged
            if self._visible(merged):
                card = self._card(merged)
                self.cards[call_id] = card
                self.strip.show_call(card, self._extras(merged))
                self._look_up(merged)
            else:
                self._drop(call_id)

    def _visible(self, call: dict[str, Any]) -> bool:
        """Ringing, waiting or talking: on every console, whatever was booked on it (a bubble stays while
        its call lasts). Ended: only on the claimer's, until they close it (an ended call nobody claimed
        is Abandoned — the managers' review has it; a booked one needs no closing). Outbound calls are
        the CSR's own: only on theirs."""
        if call.get("direction") == CallDirection.OUTBOUND.value and call.get("agent_id") != self.me:
            return False
        if call.get("state") == CallState.ENDED.value:
            if (
                call.get("closed")
                or call.get("id") in self._closed_here
                or call.get("id") in self._booked_here
            ):
                return False  # closed on this PC: a later update sent before the server heard of it
            return bool(self.me) and call.get("agent_id") == self.me
        return True

    def _drop(self, call_id: str) -> None:
        self.cards.pop(call_id, None)
        self.facts.pop(call_id, None)
        self._when_matched.pop(call_id, None)
        self.match_worker.forget(f"match:{call_id}")
        self.strip.remove_call(call_id)
        if (
            call_id in self._closed_here
            or call_id in self._booked_here
            or self.calls.get(call_id, {}).get("closed")
        ):
            self.forget_draft(call_id)  # classified or booked: what was typed for it is done with

    @staticmethod
    def _number(call: dict[str, Any]) -> str:
        if call.get("direction") == CallDirection.OUTBOUND.value:
            return str(call.get("to_number") or "")
        return str(call.get("from_number") or "")

    def _card(self, call: dict[str, Any]) -> CallCard:
        number = self._number(call)
        facts = self.facts.get(str(call["id"]))
        # The last answer for this number, until the newer one comes; a number never looked up: "Looking up…".
        matching = bool(number) and (facts is None or facts.number != number)
        ids, name = ((), "") if matching or facts is None else (facts.match_ids, facts.caller_name)
        if matching and call.get("customer_id") and call.get("customer_name"):
            # The server matched exactly one customer to the number (sync/call_desk.py call_info): the
            # bubble shows it at once; the match worker's answer from this cache confirms or corrects it.
            ids, name, matching = (str(call["customer_id"]),), str(call["customer_name"]), False
        campaign = str(call.get("campaign") or "") or (
            UNKNOWN_CAMPAIGN if call.get("unknown_campaign") else ""
        )
        shown = self.cards.get(str(call["id"]))
        # No start from the server (never expected): the first sight of it, not "now" again each update.
        started = _time(call.get("started_at")) or (shown.started_at if shown else datetime.now(UTC))
        return CallCard(
            call_id=str(call["id"]),
            state=CallState(call.get("state") or CallState.RINGING.value),
            direction=CallDirection(call.get("direction") or CallDirection.INBOUND.value),
            from_number=number,
            from_display=format_phone(number) if number else UNKNOWN_CALLER,
            caller_name=name,
            match_ids=ids,
            campaign=campaign,
            started_at=started,
            answered_at=_time(call.get("answered_at")),
            ended_at=_time(call.get("ended_at")),
            claimed_by_id=call.get("agent_id"),
            claimed_by_name=str(call.get("agent_name") or ""),
            classification=str(call.get("classification") or ""),
            matching=matching,
        )

    def _booked_on(self, call: dict[str, Any]) -> bool:
        """A job was booked on the call: here, or it is closed while still going (only a booking closes a
        live call)."""
        call_id = str(call.get("id") or "")
        return (
            call_id in self._booked_here
            or bool(call.get("closed"))
            and call.get("state") != CallState.ENDED.value
        )

    def _identity(self, call: dict[str, Any]) -> str:
        """Whose phone answered the call, when nobody claimed it (the phone system's name for it)."""
        return "" if call.get("agent_id") else str(call.get("answered_by") or "")

    def _extras(self, call: dict[str, Any]) -> CallExtras:
        """The job booked on the call and whose phone answered it when nobody claimed it — from what the
        match worker last said (the job's number and the CSR's display name are read there)."""
        call_id = str(call.get("id") or "")
        facts = self.facts.get(call_id)
        booked = self._booked_on(call)
        number = self._booked_here.get(call_id, "") or (facts.job_number if facts and booked else "")
        identity = self._identity(call)
        mine = bool(identity) and identity == self.username
        answered = ""
        if identity and not mine and facts is not None and facts.identity == identity:
            answered = facts.answered_by
        return CallExtras(booked=booked, job_number=number, answered_by=answered, answered_by_me=mine)

    def _look_up(self, call: dict[str, Any]) -> None:
        """Match the caller and read the bubble's extras on the match worker; the bubble shows them when
        they come (a newer update's answer wins)."""
        call_id = str(call["id"])
        identity = self._identity(call)
        want_job = self._booked_on(call) and not self._booked_here.get(call_id)
        want_user = bool(identity) and identity != self.username
        self.match_worker.submit(
            _read_caller,
            self.cache,
            self._number(call),
            call_id,
            want_job,
            identity if want_user else "",
            done=lambda facts: self._matched(call_id, facts),
            failed=lambda exc: self._match_failed(call_id, exc),
            key=f"match:{call_id}",
        )

    def _matched(self, call_id: str, facts: CallerFacts) -> None:
        call = self.calls.get(call_id)
        if call is None or call_id not in self.cards:
            return  # gone meanwhile
        changed = self.facts.get(call_id) != facts
        self.facts[call_id] = facts
        if changed or self.cards[call_id].matching:
            card = self._card(call)
            self.cards[call_id] = card
            self.strip.show_call(card, self._extras(call))
        then = self._when_matched.pop(call_id, None)
        if then is not None:
            then()

    def _match_failed(self, call_id: str, exc: BaseException) -> None:
        """The cache could not be read: the bubble says "Unknown caller" (the call can still be claimed)."""
        log.error("the caller of call %s could not be looked up", call_id, exc_info=exc)
        self.errorOccurred.emit(describe_failure(self.cache.path, exc, what="looking up a caller"))
        call = self.calls.get(call_id)
        if call is not None and call_id in self.cards:
            self._matched(call_id, CallerFacts(self._number(call), (), ""))

    def _once_matched(self, call_id: str, then: Callable[[], None]) -> bool:
        """True when the call's caller is known; else ``then`` runs when the match worker answers."""
        card = self.cards.get(call_id)
        if card is not None and card.matching:
            self._when_matched[call_id] = then
            return False
        return True

    async def aclose(self) -> None:
        """Cancel claims still on their way (the window is closing)."""
        await self._tasks.cancel_all()
        await self.recordings.aclose()

    # -- the CSR's actions ---------------------------------------------------------------------------------
    def dial(self, number: str, customer_id: str = "") -> asyncio.Future:
        """Click-to-call a contact's phone: the server asks the phone system to ring this CSR's softphone,
        then the number. The call then arrives like any other (Outbound: only on this CSR's console)."""
        return self._tasks.spawn(self._dial_async(number, customer_id))

    async def _dial_async(self, number: str, customer_id: str) -> None:
        shown = format_phone(number) if number.startswith("+") else number
        try:
            await self.sync.dial(number, customer_id or None)
        except DialFailed as exc:
            self.window.statusBar().showMessage(str(exc), 10_000)
            return
        self.window.statusBar().showMessage(f"Calling {shown} — your softphone rings first.", 10_000)

    def play_recording(self, call_id: str) -> None:
        """A call's recording, in the system's player: fetched through the server, which checks that this
        CSR may hear it (console/recordings.py)."""
        self.recordings.play(call_id)

    def _claim(self, call_id: str, takeover: bool) -> None:
        self._tasks.spawn(self._claim_async(call_id, takeover))

    async def _claim_async(self, call_id: str, takeover: bool) -> None:
        try:
            call = await self.sync.claim(call_id, takeover)
        except ClaimFailed as exc:
            self.strip.claim_refused(call_id, str(exc))
            return
        self.on_calls([call])

    def screen_pop(self, call_id: str) -> None:
        """The claimed call's customer, from the cache at once: one match opens it, several are listed,
        none opens a new customer with the number filled in. Book Job then books on this call."""
        if not self._once_matched(call_id, lambda: self.screen_pop(call_id)):
            return  # clicked within the moment the caller is looked up: popped when the match comes
        card = self.cards.get(call_id)
        call = self.calls.get(call_id, {})
        if card is None:
            return
        campaign_id = call.get("campaign_id")
        if self.activate_draft(call_id):
            return  # back to this call's booking, as the CSR left it
        if self._booked_on(call):
            # A job is booked on it already: back to its customer; another booking is not on the call.
            if len(card.match_ids) == 1:
                self.customers.open_customer(card.match_ids[0])
            return
        if len(card.match_ids) == 1:
            customer_id = card.match_ids[0]

            def opened(ok: bool) -> None:
                if ok:
                    self.start_booking()
                    self.booking.bind_call(customer_id, call_id, campaign_id, card.from_number)

            self.customers.open_customer(customer_id, then=opened)
        elif card.match_ids:
            self.window.lookup.search.setText(card.from_display)  # the customers on this number, listed
            self.window.lookup.search.setFocus()
            self.window.statusBar().showMessage(
                f"{len(card.match_ids)} customers have {card.from_display} — open the caller's.", 10_000
            )
            self._pending_new_customer = call_id
        else:
            self._pending_new_customer = call_id
            self.customers.new_customer(prefill_phone=card.from_number)

    def _customer_opened(self, customer_id: str) -> None:
        """Several customers share the number: the one the CSR opens from the list is the caller."""
        call_id = self._pending_new_customer
        card = self.cards.get(call_id)
        if card is not None and customer_id in card.match_ids:
            self._pending_new_customer = ""
            self.booking.bind_call(
                customer_id, call_id, self.calls.get(call_id, {}).get("campaign_id"), card.from_number
            )

    def _customer_saved(self, customer_id: str) -> None:
        call_id, self._pending_new_customer = self._pending_new_customer, ""
        if call_id and call_id in self.cards:
            self._look_up(self.calls[call_id])  # the bubble names the caller now on record
            self.start_booking()
            self.booking.bind_call(
                customer_id,
                call_id,
                self.calls.get(call_id, {}).get("campaign_id"),
                self.cards[call_id].from_number,
            )

    def classify(self, call_id: str) -> None:
        """The X of an ended bubble: close and classify (a lead reason makes the lead). The dialog opens
        (``self.dialog``) when the call reasons are read on the worker."""
        if call_id not in self.cards or not self._once_matched(call_id, lambda: self.classify(call_id)):
            return

        def failed(exc: BaseException) -> None:
            self.errorOccurred.emit(describe_failure(self.cache.path, exc, what="reading the call reasons"))

        self.worker.submit(
            _read_reasons,
            self.cache,
            done=lambda reasons: self._open_classify(call_id, reasons),
            failed=failed,
            key="classify",
        )

    def _open_classify(self, call_id: str, reasons: list[tuple[str, str, bool]]) -> None:
        card = self.cards.get(call_id)
        if card is None:
            return  # closed or gone meanwhile
        if self.dialog is not None and self.dialog.isVisible():
            if self.dialog.card.call_id == call_id:
                self.dialog.raise_()
                return
            self.dialog.reject()
        today = self.today_fn()
        dialog = ClassifyDialog(
            card,
            reasons,
            self.window,
            today=today if isinstance(today, date) else date.today(),
            # One match: the caller's name is the customer's (read with the match).
            customer_name=card.caller_name if len(card.match_ids) == 1 else "",
        )
        dialog.classified.connect(lambda answer: self._close(card, answer))
        dialog.finished.connect(lambda _r: self.dialog is dialog and setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()

    def _close(self, card: CallCard, answer: dict[str, Any], tries: int = 0) -> None:
        args: dict[str, Any] = {"call_id": card.call_id, "call_reason_id": answer.get("call_reason_id")}
        if answer.get("is_lead"):
            lead: dict[str, Any] = {"summary": answer.get("summary") or ""}
            follow_up = answer.get("follow_up")
            if follow_up:
                lead["follow_up_on"] = (
                    follow_up.isoformat() if hasattr(follow_up, "isoformat") else str(follow_up)
                )
            if len(card.match_ids) == 1:
                lead["customer_id"] = card.match_ids[0]
            else:
                lead["name"], lead["phone"] = answer.get("lead_name") or "", answer.get("lead_phone") or ""
            if self.me:
                lead["created_by_id"] = self.me
            args["lead"] = lead

        def done(closed: bool) -> None:
            if closed:
                self._closed_here.add(card.call_id)
                self._drop(card.call_id)
                self.outboxChanged.emit()
                return
            # The call's row reaches this PC's cache with the pull after the call's poke (a fraction of a
            # second after its last event): ask for that pull now and close the call once the row is here.
            if tries == 0:
                self.sync.local_write()
            if tries < CLOSE_WAIT_TRIES:
                QTimer.singleShot(CLOSE_WAIT_MS, self, lambda: self._close(card, answer, tries + 1))
            else:
                self.errorOccurred.emit(
                    "This call hasn't reached this PC's records yet (is it offline?) — "
                    "close it again in a moment."
                )

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ValidationFailed):
                self.errorOccurred.emit(" ".join(exc.errors.values()))
            else:
                self.errorOccurred.emit(describe_failure(self.cache.path, exc, what="closing a call"))

        self.worker.submit(_close_call, self.cache, self.writer, args, done=done, failed=failed)

    def _booked(self, call_id: str, number: str) -> None:
        """Book Job on the call: its bubble says so and stays while the call lasts (then it goes: a
        booked call needs no classifying)."""
        self._booked_here[call_id] = number
        call = self.calls.get(call_id)
        if call is None:
            return
        if self._visible(call):
            self.strip.show_call(self.cards.get(call_id) or self._card(call), self._extras(call))
        else:
            self._drop(call_id)


def _close_call(cache: Cache, writer: LocalWriter, args: dict[str, Any]) -> bool:
    """On the worker: close and classify the call — False (nothing written) while its row isn't here yet."""
    with cache.sessions() as session:
        if session.get(Call, args["call_id"]) is None:
            return False
    writer.execute("close_call", args)
    return True


_match_conn = threading.local()  # the match worker's own read-only connection (one per worker thread)


def _raw(cache: Cache) -> sqlite3.Connection:
    conn = getattr(_match_conn, "conn", None)
    if conn is None or getattr(_match_conn, "path", None) != cache.path:
        conn = cache.raw_connection()
        _match_conn.conn, _match_conn.path = conn, cache.path
    return conn


def _read_caller(cache: Cache, number: str, call_id: str, want_job: bool, identity: str) -> CallerFacts:
    """On the match worker: the caller's customers in this PC's cache (an index lookup, one statement on
    the worker's own connection), the name the bubble shows, and — when asked — the number of the job
    booked on the call and the answering CSR's name."""
    found = caller_matches(_raw(cache), number)
    ids = tuple(cid for cid, _name in found)
    name = found[0][1] if len(found) == 1 else (f"{len(found)} customers" if found else "")
    job_number = answered = ""
    if not want_job and not identity:
        return CallerFacts(number, ids, name)
    with cache.sessions() as session:
        if want_job:
            job_number = (
                session.scalar(select(Job.number).join(Call, Call.job_id == Job.id).where(Call.id == call_id))
                or ""
            )
        if identity:
            answered = session.scalar(select(User.display_name).where(User.username == identity)) or identity
    return CallerFacts(number, ids, name, job_number, identity, answered)


def _read_reasons(cache: Cache) -> list[tuple[str, str, bool]]:
    """On the worker: the call reasons the classify dialog offers (id, name, is lead)."""
    with cache.sessions() as session:
        return [(r.id, r.name, r.is_lead) for r in lead_choices(session).call_reasons]
