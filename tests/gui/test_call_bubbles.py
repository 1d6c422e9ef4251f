"""Call bubbles in the bubble strip as a pure view: CallCards in, claim / takeover / activate /
classify requests out. Timers are driven with a fake clock, never by sleeping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QVBoxLayout, QWidget

from console.theme import apply_theme
from models.calls import CallCard, CallDirection, CallState
from tests.gui.helpers import show_active
from widgets.bubble_strip import (
    NO_CALL_TO_CLAIM,
    OFFLINE_CLAIM,
    STILL_ON_THE_LINE,
    BubbleStrip,
    CallBubble,
    CallExtras,
)
from widgets.call_bubble import duration_text

T0 = datetime(2026, 3, 13, 15, 0, 0, tzinfo=UTC)
ME, DANA, LEE = "u-me", "u-dana", "u-lee"


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


def card(
    call_id: str,
    *,
    name: str = "Maria Lopez",
    number: str = "+12145550177",
    display: str = "(214) 555-0177",
    campaign: str = "Google Ads",
    started: float = 0,
    state: CallState = CallState.RINGING,
    **more,
) -> CallCard:
    return CallCard(
        call_id,
        state,
        CallDirection.INBOUND,
        number,
        display,
        name,
        (),
        campaign,
        T0 + timedelta(seconds=started),
        **more,
    )


def claimed(c: CallCard, user_id: str, user_name: str, answered: float = 5) -> CallCard:
    return replace(
        c,
        state=CallState.TALKING,
        answered_at=T0 + timedelta(seconds=answered),
        claimed_by_id=user_id,
        claimed_by_name=user_name,
    )


def ended(c: CallCard, at: float = 100) -> CallCard:
    return replace(c, state=CallState.ENDED, ended_at=T0 + timedelta(seconds=at))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def window(qtbot, clock):
    """A window holding the strip, as the main window does (F2 is a window shortcut)."""
    w = QWidget()
    w.setObjectName("testWindow")
    layout = QVBoxLayout(w)
    w.strip = BubbleStrip(w, clock=clock)
    w.strip.set_me(ME)
    layout.addWidget(w.strip)
    qtbot.addWidget(w)
    w.resize(1400, 200)
    show_active(qtbot, w)
    return w


@pytest.fixture
def strip(window) -> BubbleStrip:
    return window.strip


def texts(bubble: CallBubble) -> tuple[str, str, str, str]:
    return (
        bubble.caller_label.full,
        bubble.detail_label.full,
        bubble.status_label.full,
        bubble.timer_label.text(),
    )


# -- what a bubble shows ----------------------------------------------------------------------------------
def test_bubble_shows_name_number_campaign_and_unknown_caller(strip):
    known = strip.show_call(card("c1"))
    assert known.objectName() == "callBubble"
    assert texts(known)[:2] == ("Maria Lopez", "(214) 555-0177 · Google Ads")
    no_match = strip.show_call(card("c2", name="", campaign="Yard signs"))
    assert texts(no_match)[:2] == ("Unknown caller", "(214) 555-0177 · Yard signs")
    anonymous = strip.show_call(
        card("c3", name="", number="", display="Unknown caller", campaign="Unknown campaign")
    )
    assert texts(anonymous)[:2] == ("Unknown caller", "No caller ID · Unknown campaign")
    several = strip.show_call(card("c4", name="3 customers"))
    assert texts(several)[0] == "3 customers"
    assert known.property("callState") == "ringing"
    assert texts(known)[2] == "Click or F2 to claim"
    assert known.caller_label.isVisible() and not known.close_button.isVisible()


def test_a_long_campaign_is_cut_short_on_screen_but_complete_in_the_tooltip(strip):
    long = "Google Local Services Ads — North Dallas spring promotion"
    bubble = strip.show_call(card("c1", campaign=long))
    assert bubble.detail_label.text().endswith("…")
    assert long in bubble.toolTip()


def test_the_timer_counts_the_call_from_its_first_ring_and_freezes_at_its_end(strip, clock):
    c = card("c1")
    bubble = strip.show_call(c)
    assert bubble.timer_label.text() == "0:00"
    strip.tick(clock.at(12))
    assert bubble.timer_label.text() == "0:12"
    strip.tick(clock.at(75))
    assert bubble.timer_label.text() == "1:15"
    strip.show_call(claimed(c, ME, "Sam Reed", answered=15))  # answering doesn't restart it
    strip.tick(clock.at(76))
    assert bubble.timer_label.text() == "1:16"
    assert "Rang 0:15 before it was answered." in bubble.toolTip()
    strip.show_call(ended(claimed(c, ME, "Sam Reed", answered=15), at=100))
    strip.tick(clock.at(500))
    assert bubble.timer_label.text() == "1:40"  # frozen at the end
    assert duration_text(3723) == "1:02:03" and duration_text(-4) == "0:00"


def test_the_timer_never_runs_backwards(strip, clock):
    """Answered at 0:08 (the old bubble restarted at the answer: 0:11 → 0:03), and an update that
    moves the call's start later (a skewed stamp) don't take the timer back."""
    c = card("c1")
    bubble = strip.show_call(c)
    strip.tick(clock.at(11))
    assert bubble.timer_label.text() == "0:11"
    strip.show_call(replace(c, state=CallState.TALKING, answered_at=T0 + timedelta(seconds=8)))
    assert bubble.timer_label.text() == "0:11"
    strip.show_call(replace(c, started_at=T0 + timedelta(seconds=9)))
    strip.tick(clock.at(12))
    assert bubble.timer_label.text() == "0:11"  # held, then counts on
    strip.tick(clock.at(30))
    assert bubble.timer_label.text() == "0:21"


def test_one_timer_runs_only_while_a_call_is_live(strip, clock):
    assert not strip._timer.isActive()
    c = strip.show_call(card("c1")).card
    assert strip._timer.isActive() and strip._timer.interval() == 1000
    strip.show_call(ended(c))
    assert not strip._timer.isActive()
    strip.show_call(card("c2"))
    strip.remove_call("c2")
    assert not strip._timer.isActive()


def test_a_booked_call_says_so_and_its_timer_keeps_running(qtbot, strip, clock):
    c = claimed(card("c1"), ME, "Sam Reed")
    bubble = strip.show_call(c)
    strip.show_call(c, CallExtras(booked=True, job_number="ABC-1001"))
    assert texts(bubble)[2] == "Booked — job ABC-1001"
    assert bubble.accessibleName().endswith("claimed by you, booked, job ABC-1001")
    assert strip._timer.isActive()
    strip.tick(clock.at(42))
    assert bubble.timer_label.text() == "0:42"
    strip.show_call(replace(c, state=CallState.HELD))  # what the console knew stays
    assert texts(bubble)[2] == "Booked — job ABC-1001 · on hold"
    assert not bubble.close_button.isVisible()  # nothing to classify, it goes on
    with qtbot.assertNotEmitted(strip.classifyRequested), qtbot.waitSignal(strip.noticeShown) as sig:
        strip.close_call("c1")
    assert sig.args == [STILL_ON_THE_LINE]


def test_answered_by_and_claimed_by_are_told_apart(qtbot, strip):
    answered = strip.show_call(card("c1", state=CallState.TALKING), CallExtras(answered_by="Lee Park"))
    assert answered.property("callState") == "ringing"  # nobody claimed it: still claimable
    assert texts(answered)[2] == "Answered by Lee Park — not claimed"
    assert answered.accessibleDescription() == "Answered by Lee Park — not claimed. Click or F2 to claim"
    assert "answered by Lee Park, not claimed" in answered.accessibleName()
    assert "claimed by" not in answered.accessibleName().replace("not claimed", "")
    mine = strip.show_call(card("c2", state=CallState.TALKING), CallExtras(answered_by_me=True))
    assert texts(mine)[2] == "Answered by you — not claimed"
    with qtbot.waitSignal(strip.claimRequested) as sig:
        mine.click()
    assert sig.args == ["c2"]
    strip.show_call(claimed(card("c2"), ME, "Sam Reed"), CallExtras())
    assert texts(mine)[2] == "✓ Claimed by Sam Reed (you)"
    other = strip.show_call(claimed(card("c3"), LEE, "Lee Park"))
    assert texts(other)[2] == "Claimed by Lee Park — click to take over"


def test_my_outgoing_call_is_not_called_claimed_and_has_no_empty_campaign(strip):
    out = CallCard(
        "o1",
        CallState.TALKING,
        CallDirection.OUTBOUND,
        "+12145550177",
        "(214) 555-0177",
        "Maria Lopez",
        (),
        "",
        T0,
        answered_at=T0,
        claimed_by_id=ME,
        claimed_by_name="Sam Reed",
    )
    bubble = strip.show_call(out)
    assert texts(bubble)[1:3] == ("(214) 555-0177", "✓ Your outgoing call")
    assert (
        bubble.accessibleName()
        == "Outgoing call to Maria Lopez, (214) 555-0177, talking 0:00, claimed by you"
    )


# -- claiming --------------------------------------------------------------------------------------------------
def test_a_click_on_a_ringing_bubble_claims_it_and_mine_comes_back_active(qtbot, strip, clock):
    bubble = strip.show_call(card("c1"))
    with qtbot.waitSignal(strip.claimRequested) as sig:
        qtbot.mouseClick(bubble, Qt.MouseButton.LeftButton)
    assert sig.args == ["c1"]
    assert texts(bubble)[2] == "Claiming…"
    with qtbot.assertNotEmitted(strip.claimRequested):
        qtbot.mouseClick(bubble, Qt.MouseButton.LeftButton)  # once is enough
    with qtbot.waitSignal(strip.callActivated) as sig:  # the server says it is mine
        strip.show_call(claimed(bubble.card, ME, "Sam Reed"))
    assert sig.args == ["c1"]
    assert bubble.property("callState") == "mine"
    assert texts(bubble)[2] == "✓ Claimed by Sam Reed (you)"
    with qtbot.waitSignal(strip.callActivated) as sig:  # a click on mine switches to it
        qtbot.mouseClick(bubble, Qt.MouseButton.LeftButton)
    assert sig.args == ["c1"]


def test_a_claim_the_server_never_answers_can_be_tried_again(qtbot, strip, clock):
    bubble = strip.show_call(card("c1"))
    bubble.click()
    strip.tick(clock.at(11))
    assert texts(bubble)[2] == "Click or F2 to claim"
    with qtbot.waitSignal(strip.claimRequested):
        bubble.click()


def test_a_refused_claim_says_why(qtbot, strip):
    bubble = strip.show_call(card("c1"))
    bubble.click()
    strip.claim_refused("c1", "Lee Chen claimed this call first.")
    assert texts(bubble)[2] == "Click or F2 to claim"
    assert strip.notice.isVisible() and strip.notice.text() == "Lee Chen claimed this call first."


def test_f2_claims_the_oldest_ringing_call_nobody_has(qtbot, window, strip, clock):
    assert strip.claim_action.objectName() == "claimCallAction"
    assert strip.claim_action.shortcut().toString() == "F2"
    strip.show_call(claimed(card("c0", started=-60), DANA, "Dana Park"))  # oldest, but Dana has it
    strip.show_call(card("c2", started=-5))
    strip.show_call(card("c1", started=-20))
    strip.show_call(ended(card("c9", started=-90), at=-30))
    clock.at(0)
    with qtbot.waitSignal(strip.claimRequested) as sig:
        qtbot.keyClick(window, Qt.Key.Key_F2)
    assert sig.args == ["c1"]
    with qtbot.waitSignal(strip.claimRequested) as sig:
        qtbot.keyClick(window, Qt.Key.Key_F2)
    assert sig.args == ["c2"]
    assert not strip.claim_action.isEnabled()  # both claims are on their way: nothing left to claim
    with qtbot.assertNotEmitted(strip.claimRequested):
        qtbot.keyClick(window, Qt.Key.Key_F2)


def test_f2_is_free_for_other_uses_while_nothing_can_be_claimed(qtbot, window, strip):
    """A disabled action takes no part in Qt's shortcut matching, so the views' own F2 (edit the
    highlighted contact, the lead's follow-up) keeps working between calls."""
    assert not strip.claim_action.isEnabled()
    c = strip.show_call(card("c1")).card
    assert strip.claim_action.isEnabled()
    strip.show_call(claimed(c, DANA, "Dana"))
    assert not strip.claim_action.isEnabled()
    with qtbot.assertNotEmitted(strip.noticeShown):
        qtbot.keyClick(window, Qt.Key.Key_F2)
    with qtbot.waitSignal(strip.noticeShown) as sig:  # asked directly (say from a menu), it answers
        strip.claim_oldest()
    assert sig.args == [NO_CALL_TO_CLAIM]


# -- takeover ---------------------------------------------------------------------------------------------------
def _takeover_box(qtbot, strip) -> QMessageBox:
    qtbot.waitUntil(lambda: strip.confirm is not None and strip.confirm.isVisible())
    box = strip.confirm
    assert box.objectName() == "takeoverConfirm" and box.isModal()
    return box


def test_taking_over_another_csrs_call_asks_first(qtbot, strip):
    bubble = strip.show_call(claimed(card("c1"), DANA, "Dana"))
    assert bubble.property("callState") == "other"
    assert texts(bubble)[2] == "Claimed by Dana — click to take over"
    with qtbot.assertNotEmitted(strip.takeoverRequested):
        qtbot.mouseClick(bubble, Qt.MouseButton.LeftButton)
        box = _takeover_box(qtbot, strip)
        assert box.text() == "Take this call over from Dana?"
    with qtbot.waitSignal(strip.takeoverRequested) as sig:
        box.findChild(QWidget, "takeoverConfirmButton").click()
    assert sig.args == ["c1"]
    assert strip.confirm is None
    with qtbot.waitSignal(strip.callActivated):  # it came back as mine
        strip.show_call(claimed(card("c1"), ME, "Sam Reed"))


def test_cancelling_the_takeover_question_does_nothing(qtbot, strip):
    bubble = strip.show_call(claimed(card("c1"), DANA, "Dana"))
    with qtbot.assertNotEmitted(strip.takeoverRequested), qtbot.assertNotEmitted(strip.claimRequested):
        bubble.click()
        box = _takeover_box(qtbot, strip)
        box.button(QMessageBox.StandardButton.Cancel).click()
        qtbot.waitUntil(lambda: strip.confirm is None)
    assert bubble.property("callState") == "other"


def test_escape_cancels_the_takeover_question(qtbot, strip):
    bubble = strip.show_call(claimed(card("c1"), DANA, "Dana"))
    with qtbot.assertNotEmitted(strip.takeoverRequested):
        bubble.click()
        box = _takeover_box(qtbot, strip)
        qtbot.keyClick(box, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: strip.confirm is None)


def test_a_call_that_ends_while_the_question_is_open_is_not_taken_over(qtbot, strip):
    c = claimed(card("c1"), DANA, "Dana")
    bubble = strip.show_call(c)
    with qtbot.assertNotEmitted(strip.takeoverRequested):
        bubble.click()
        box = _takeover_box(qtbot, strip)
        strip.show_call(ended(c))
        box.findChild(QWidget, "takeoverConfirmButton").click()


def test_i_am_told_when_someone_takes_my_call_over(qtbot, strip):
    mine = claimed(card("c1"), ME, "Sam Reed")
    strip.show_call(mine)
    with qtbot.waitSignal(strip.callTakenOver) as sig:
        strip.show_call(claimed(card("c1"), LEE, "Lee Chen"))
    assert sig.args == ["c1", "Lee Chen"]
    assert strip.notice.isVisible()
    assert strip.notice.text() == "Lee Chen took over your call from Maria Lopez."
    assert strip.call_bubble("c1").property("callState") == "other"


# -- ending and classifying ----------------------------------------------------------------------------------
def test_an_ended_call_turns_gray_and_its_x_asks_to_classify(qtbot, strip):
    c = claimed(card("c1"), ME, "Sam Reed")
    bubble = strip.show_call(c)
    x = bubble.findChild(QWidget, "callBubbleClose")
    assert not x.isVisible() and not x.isEnabled()
    strip.show_call(ended(c))
    assert bubble.property("callState") == "ended"
    assert texts(bubble)[2] == "Ended — ✕ to classify"
    assert x.isVisible() and x.isEnabled()
    assert x.accessibleName() == "Close and classify the call from Maria Lopez"
    with qtbot.waitSignal(strip.classifyRequested) as sig:
        qtbot.mouseClick(x, Qt.MouseButton.LeftButton)
    assert sig.args == ["c1"]
    with qtbot.waitSignal(strip.callActivated):  # the caller hung up; the booking may go on
        bubble.click()


def test_an_ended_call_nobody_claimed_cannot_be_claimed(qtbot, strip):
    bubble = strip.show_call(ended(card("c1")))
    assert texts(bubble)[2] == "Ended — nobody claimed it"
    with qtbot.assertNotEmitted(strip.claimRequested), qtbot.assertNotEmitted(strip.callActivated):
        bubble.click()


# -- offline ------------------------------------------------------------------------------------------------------
def test_offline_a_click_or_f2_says_claiming_needs_the_server(qtbot, window, strip):
    ringing = strip.show_call(card("c1"))
    other = strip.show_call(claimed(card("c2"), DANA, "Dana"))
    strip.set_online(False)
    assert texts(ringing)[2] == "Offline — claiming needs the server"
    assert OFFLINE_CLAIM in ringing.toolTip() and OFFLINE_CLAIM in other.toolTip()
    with qtbot.assertNotEmitted(strip.claimRequested), qtbot.assertNotEmitted(strip.takeoverRequested):
        with qtbot.waitSignal(strip.noticeShown) as sig:
            qtbot.mouseClick(ringing, Qt.MouseButton.LeftButton)
        assert sig.args == [OFFLINE_CLAIM]
        assert strip.notice.isVisible() and strip.notice.text() == OFFLINE_CLAIM
        other.click()
        assert strip.confirm is None  # no question it could not act on
        qtbot.keyClick(window, Qt.Key.Key_F2)
    strip.set_online(True)
    assert texts(ringing)[2] == "Click or F2 to claim"
    with qtbot.waitSignal(strip.claimRequested):
        ringing.click()


def test_going_offline_drops_a_claim_on_its_way(strip):
    bubble = strip.show_call(card("c1"))
    bubble.click()
    strip.set_online(False)
    assert texts(bubble)[2] == "Offline — claiming needs the server"


def test_the_notice_goes_away_by_itself(qtbot, strip):
    strip.tell("Lee Chen took over your call.", msec=50)
    assert strip.notice.isVisible()
    qtbot.waitUntil(lambda: not strip.notice.isVisible())


# -- call and manual bubbles together -----------------------------------------------------------------------
def test_call_and_manual_bubbles_share_the_strip_in_arrival_order(qtbot, strip):
    assert strip.empty.isVisible()
    strip.add_bubble("m1", "Ana Lopez")
    strip.show_call(card("c1"))
    strip.add_bubble("m2", "New booking")
    strip.show_call(card("c2", name="Ben Ortiz"))
    strip.show_call(claimed(card("c1"), ME, "Sam Reed"))  # an update keeps its place
    assert strip.all_ids() == ["m1", "c1", "m2", "c2"]
    assert strip.ids() == ["m1", "m2"] and strip.call_ids() == ["c1", "c2"]
    assert not strip.empty.isVisible()
    strip.set_active("c1")
    assert strip.call_bubble("c1").property("active") is True
    assert strip.bubble("m1").property("active") is False
    strip.set_active("m2")
    assert strip.call_bubble("c1").property("active") is False
    assert strip.bubble("m2").property("active") is True
    strip.remove_call("c1")
    assert strip.all_ids() == ["m1", "m2", "c2"] and strip.call_bubble("c1") is None
    assert strip.neighbour("m1", 1) == "m2"  # Ctrl+PgDown still walks drafts
    for bid in ("m1", "m2"):
        strip.remove_bubble(bid)
    strip.remove_call("c2")
    assert strip.empty.isVisible() and strip.all_ids() == []


def test_many_bubbles_scroll_instead_of_widening_the_window(qtbot, window, strip):
    width = window.width()
    for i in range(12):
        strip.show_call(card(f"c{i}"))
    qtbot.wait(1)
    assert window.width() == width
    assert strip.scroll.horizontalScrollBar().maximum() > 0
    assert strip.scroll.height() >= strip.call_bubble("c0").height()


def test_the_strip_keeps_its_height_when_a_call_rings(qtbot, strip):
    before = strip.sizeHint().height()
    strip.show_call(card("c1"))
    assert strip.sizeHint().height() == before


# -- keyboard and accessibility ---------------------------------------------------------------------------
def test_accessible_names_describe_each_call(strip, clock):
    strip.show_call(card("c1", started=-12))
    strip.show_call(card("c2", name="", number="", display="Unknown caller", campaign="Unknown campaign"))
    strip.show_call(
        claimed(card("c3", name="Ben Ortiz", campaign="Radio", started=-65), LEE, "Lee Chen", answered=-60)
    )
    assert (
        strip.call_bubble("c1").accessibleName()
        == "Incoming call from Maria Lopez, (214) 555-0177, Google Ads, ringing 0:12"
    )
    assert (
        strip.call_bubble("c2").accessibleName()
        == "Incoming call from an unknown caller, Unknown campaign, ringing 0:00"
    )
    assert (
        strip.call_bubble("c3").accessibleName()
        == "Incoming call from Ben Ortiz, (214) 555-0177, Radio, talking 1:05, claimed by Lee Chen"
    )
    strip.tick(clock.at(3))
    assert strip.call_bubble("c1").accessibleName().endswith("ringing 0:15")
    assert strip.accessibleName() == "Calls and bookings in progress"
    assert strip.call_bubble("c1").accessibleDescription() == "Click or F2 to claim"
    assert strip.call_bubble("c3").accessibleDescription() == "Claimed by Lee Chen — click to take over"


def test_bubbles_are_reached_by_tab_and_arrows_and_clicked_by_enter_or_space(qtbot, window, strip):
    strip.add_bubble("m1", "Ana Lopez")
    first = strip.show_call(card("c1"))
    second = strip.show_call(card("c2", name="Ben Ortiz"))
    first.setFocus(Qt.FocusReason.TabFocusReason)
    assert first.focusPolicy() == Qt.FocusPolicy.StrongFocus
    qtbot.keyClick(first, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is second
    qtbot.keyClick(second, Qt.Key.Key_Right)
    assert QApplication.focusWidget() is strip.bubble("m1").button  # wraps around to the first bubble
    qtbot.keyClick(strip.bubble("m1").button, Qt.Key.Key_Right)
    assert QApplication.focusWidget() is first
    qtbot.keyClick(first, Qt.Key.Key_Left)
    assert QApplication.focusWidget() is strip.bubble("m1").button
    with qtbot.waitSignal(strip.claimRequested) as sig:
        qtbot.keyClick(second, Qt.Key.Key_Return)
    assert sig.args == ["c2"]
    with qtbot.waitSignal(strip.claimRequested) as sig:
        qtbot.keyClick(first, Qt.Key.Key_Space)
    assert sig.args == ["c1"]


def test_ended_and_my_calls_are_reached_by_ctrl_pgdown_and_closed_with_a_key(qtbot, window, strip):
    """Ctrl+PgDown / Ctrl+PgUp (the drafts controller asks ``neighbour`` and ``activate``) land on manual
    bubbles, my calls and ended calls — never on a ringing or someone else's call — and Delete (or the
    window's Ctrl+W through ``close_call``) on an ended one asks to classify it."""
    strip.add_bubble("m1", "Ana Lopez")
    strip.show_call(card("ring"))
    gone = strip.show_call(ended(claimed(card("gone"), ME, "Sam Reed")))
    strip.show_call(claimed(card("lee"), LEE, "Lee Chen"))
    strip.show_call(claimed(card("mine"), ME, "Sam Reed"))
    assert strip.neighbour("m1", 1) == "gone"
    assert strip.neighbour("gone", 1) == "mine"
    assert strip.neighbour("mine", 1) == "m1" and strip.neighbour("m1", -1) == "mine"
    with qtbot.waitSignal(strip.callActivated) as sig:
        strip.activate("gone")
    assert sig.args == ["gone"]
    with qtbot.waitSignal(strip.bubbleActivated) as sig:
        strip.activate("m1")
    assert sig.args == ["m1"]
    with qtbot.assertNotEmitted(strip.callActivated), qtbot.assertNotEmitted(strip.claimRequested):
        strip.activate("ring")
    gone.setFocus(Qt.FocusReason.TabFocusReason)
    assert strip.focused_bubble() == "gone"
    with qtbot.waitSignal(strip.classifyRequested) as sig:
        qtbot.keyClick(gone, Qt.Key.Key_Delete)
    assert sig.args == ["gone"]
    with qtbot.waitSignal(strip.classifyRequested) as sig:
        strip.close_call("gone")
    assert sig.args == ["gone"]
    live = strip.call_bubble("mine")
    with qtbot.assertNotEmitted(strip.classifyRequested), qtbot.waitSignal(strip.noticeShown) as sig:
        qtbot.keyClick(live, Qt.Key.Key_Delete)
    assert sig.args == [STILL_ON_THE_LINE]
    assert "Delete" in gone.close_button.toolTip()


def test_the_theme_styles_every_state_without_complaint(qtbot, strip):
    apply_theme(QApplication.instance(), "light")
    strip.add_bubble("m1", "Ana Lopez")
    strip.show_call(card("c1"))
    strip.show_call(claimed(card("c2"), ME, "Sam Reed"))
    strip.show_call(claimed(card("c3"), DANA, "Dana"))
    strip.show_call(ended(card("c4")))
    strip.set_active("c2")
    strip.tell(OFFLINE_CLAIM)
    image = strip.grab().toImage()
    ringing = strip.call_bubble("c1")
    # Solid green while ringing: a pixel inside its border, above the text, is green.
    ratio = image.devicePixelRatio()
    colour = image.pixelColor(ringing.mapTo(strip, QPoint(ringing.width() // 2, 3)) * ratio)
    assert colour.green() > 100 > colour.red() and colour.green() > colour.blue()
