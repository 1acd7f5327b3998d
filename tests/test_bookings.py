"""Bookings on the real Tk window (Xvfb in CI): booking a walk-in found by search, the day's bookings
by stylist while booking, the double-booking question, the bookings list by date, moving and cancelling
future bookings (also from 来店履歴), only the transitions that apply, the amount on 退店, menus and
staff from cti.ini. Driven as tests/test_ui.py drives the window (with conftest's window kit).

CTI_SCREENSHOTS=/some/folder saves booking.png, bookings.png and walk-in.png there.
"""

from datetime import date, datetime, timedelta

import pytest

import cti
from conftest import MEMBER, overlap, press, rect, screenshot, toplevels

TODAY = date.today()
AHEAD = TODAY + timedelta(days=3)                   # a future day: booked, not yet arrived


def at(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute)


@pytest.fixture
def questions(app, monkeypatch):
    """The yes/no questions asked, with their options (default="no" is the point of some)."""
    asked, answer = [], app.boxes.box("askyesno")

    def askyesno(title=None, message=None, **options):
        asked.append((message, options))
        return answer(title, message, **options)
    monkeypatch.setattr(cti.messagebox, "askyesno", askyesno)
    return asked


def values(tree):
    return [tree.item(i, "values") for i in tree.get_children()]


def enabled(window):
    return {name for name, button in window.buttons.items() if not button.instate(["disabled"])}


def select(window, iid):
    window.bookings.selection_set(str(iid))
    window.update()                                  # <<TreeviewSelect>> sets the buttons


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# booking

def test_book_a_walk_in_found_by_search(app):
    bookings = app.window.open_today()
    assert isinstance(bookings, cti.BookingsWindow) and bookings.buttons["new"]["text"] == "新規予約"
    bookings.buttons["new"].invoke()
    [dialog] = toplevels(app, cti.ReserveDialog)
    assert dialog.title() == "予約登録" and dialog.first_focus() is dialog.search.entry
    dialog.vars["time"].set("16:00")
    dialog.button_ok.invoke()                                    # nobody chosen yet
    assert dialog.winfo_exists()
    assert dialog.errors["member"]["text"] == "予約する会員を一覧から選んでください"

    dialog.vars["query"].set("ぺんぎん")                          # by furigana, as she would ask the name
    app.root.update()
    assert dialog.search.results.get_children() == ("AC00001",)
    assert dialog.vars["member_no"].get() == "AC00001"           # the only one found is chosen
    assert dialog.vars["staff"].get() == "佐藤"                   # with her 主担当
    dialog.button_ok.invoke()
    app.root.update()
    assert not dialog.winfo_exists()
    [booked] = app.db.reservations_on(TODAY)
    assert (booked.member_no, booked.starts, booked.staff, booked.status) == ("AC00001", at(TODAY, 16), "佐藤", "予約")
    assert values(bookings.list) == [("16:00", "AC00001", "ペンギン貴子", "", "佐藤", "予約")]
    assert "予約人数 1人" in app.window.history.counts["text"] and "予約人数 1人" in bookings.counts["text"]


def test_a_search_that_finds_several_waits_for_a_choice(app):
    dialog = cti.ReserveDialog(app.window.context, _utest=True)
    dialog.vars["query"].set("こ")                                # たかこ, はなこ, まりこ
    app.root.update()
    found = dialog.search.results.get_children()
    assert len(found) > 1 and dialog.vars["member_no"].get() == ""
    dialog.search.results.selection_set(found[1])
    app.root.update()
    assert dialog.vars["member_no"].get() == found[1]


def test_the_days_bookings_by_stylist_while_booking(app):
    app.db.reserve("AC00002", at(AHEAD, 10), "カット", "鈴木")
    app.db.reserve("AC00003", at(AHEAD, 14), "カラー", "佐藤")
    cancelled = app.db.reserve("AC00002", at(AHEAD, 9), "カット", "佐藤")
    app.db.set_status(cancelled, "取消")
    app.call(MEMBER)
    dialog = app.window.open_reserve()
    assert dialog.day_label["text"].startswith(cti.day_text(TODAY)) and "この日の予約はありません" in dialog.day_label["text"]
    dialog.vars["date"].set(AHEAD.isoformat())
    app.root.update()
    assert dialog.day_label["text"] == f"{cti.day_text(AHEAD)} の予約（担当別）"
    rows = values(dialog.day_list)
    assert [r[:2] for r in rows] == [("佐藤", "14:00–15:30"), ("鈴木", "10:00–11:00")]   # カラー is 90 min
    highlighted = [dialog.day_list.item(i, "values")[0] for i in dialog.day_list.get_children()
                   if "stylist" in dialog.day_list.item(i, "tags")]
    assert highlighted == ["佐藤"]                                # hers: the member's 主担当
    dialog.vars["staff"].set("鈴木")
    app.root.update()
    assert [dialog.day_list.item(i, "values")[0] for i in dialog.day_list.get_children()
            if "stylist" in dialog.day_list.item(i, "tags")] == ["鈴木"]


def test_a_double_booking_is_warned_and_asked_with_no_as_the_default(app, questions):
    app.db.reserve("AC00003", at(AHEAD, 14), "カラー", "佐藤")
    app.call(MEMBER)
    dialog = app.window.open_reserve()
    dialog.vars["date"].set(AHEAD.isoformat())
    dialog.vars["time"].set("15:00")                              # inside 14:00–15:30
    dialog.vars["menu"].set("カット")
    app.root.update()
    assert dialog.warning["text"] == "佐藤 さんは 14:00–15:30 鈴木一郎 様（カラー）の予約と重なります"
    app.boxes.answers = [False]
    dialog.button_ok.invoke()
    [(question, options)] = questions
    assert "14:00–15:30" in question and "このまま予約しますか" in question
    assert options.get("default") == "no"                        # Enter on the question does not double-book
    assert dialog.winfo_exists() and len(app.db.reservations_on(AHEAD)) == 1

    dialog.vars["time"].set("15:30")                              # back to back: no warning, no question
    app.root.update()
    assert dialog.warning["text"] == ""
    dialog.vars["time"].set("15:00")
    dialog.vars["staff"].set("鈴木")                               # another stylist is free then
    app.root.update()
    assert dialog.warning["text"] == ""
    dialog.vars["staff"].set("佐藤")
    dialog.button_ok.invoke()                                    # はい: the salon doubles up on purpose
    assert not dialog.winfo_exists() and len(questions) == 2
    assert [r.starts for r in app.db.reservations_on(AHEAD)] == [at(AHEAD, 14), at(AHEAD, 15)]


def test_menus_slot_and_staff_come_from_the_config(make_app):
    app = make_app(menus=(("カット", 30), ("眉カット", None)), slot=20, staff=("田中", "高橋"))
    app.db.reserve("AC00001", at(AHEAD, 10), "眉カット", "田中")   # 20 minutes: the slot
    dialog = cti.ReserveDialog(app.window.context, app.members.by_no["AC00001"], _utest=True)
    assert tuple(dialog.widgets["menu"]["values"]) == ("カット", "眉カット")
    assert tuple(dialog.widgets["staff"]["values"]) == ("田中", "高橋")
    dialog.vars.update()
    dialog.vars["date"].set(AHEAD.isoformat())
    dialog.vars["staff"].set("田中")
    dialog.vars["time"].set("10:20")
    app.root.update()
    assert values(dialog.day_list)[0][:2] == ("田中", "10:00–10:20") and dialog.warning["text"] == ""
    dialog.vars["time"].set("10:10")
    app.root.update()
    assert "10:00–10:20" in dialog.warning["text"]


def test_staff_from_members_csv_when_the_config_names_none(app):
    dialog = cti.ReserveDialog(app.window.context, app.members.by_no["AC00001"], _utest=True)
    assert list(dialog.widgets["staff"]["values"]) == app.members.staff_names and "佐藤" in app.members.staff_names


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the bookings list

def test_the_bookings_list_goes_by_date(app):
    app.db.reserve("AC00001", at(AHEAD, 11), "カット", "佐藤")
    bookings = app.window.open_today()
    assert bookings.title() == "予約一覧"
    assert bookings.day_label["text"] == cti.day_text(TODAY) and bookings.counts["text"].startswith("本日  予約人数 0人")
    assert enabled(bookings) == {"new"}                           # nothing to act on
    bookings.day_entry.insert(0, f"{AHEAD.month}/{AHEAD.day}")     # typed as receptionists do
    app.root.deiconify()                                          # a transient shows only with its main window
    press(bookings.day_entry, "Return")
    assert bookings.day == AHEAD
    assert values(bookings.list) == [("11:00", "AC00001", "ペンギン貴子", "カット", "佐藤", "予約")]
    assert bookings.counts["text"].startswith(f"{cti.day_text(AHEAD, AHEAD.year != TODAY.year)}  予約人数 1人")
    assert "予約人数 0人" in app.window.history.counts["text"]               # the main window counts today
    assert bookings.nav["prev"]["text"] == "◀ 前日"
    bookings.nav["prev"].invoke()
    assert bookings.day == AHEAD - timedelta(days=1) and values(bookings.list) == []
    bookings.nav["next"].invoke()
    bookings.nav["next"].invoke()
    assert bookings.day == AHEAD + timedelta(days=1)
    bookings.nav["today"].invoke()
    assert bookings.day == TODAY and bookings.day_label["text"] == cti.day_text(TODAY)
    bookings.show_day(AHEAD)
    assert app.window.open_today() is bookings and bookings.day == TODAY     # F6 again: the same list, today


def test_a_future_booking_is_moved_from_the_list(app):
    rid = app.db.reserve("AC00001", at(AHEAD, 11), "カット", "佐藤", "初回")
    bookings = cti.BookingsWindow(app.window.context, day=AHEAD, _utest=True)
    select(bookings, rid)
    assert enabled(bookings) == {"new", "変更", "取消"}             # no 来店 before the day
    bookings.buttons["変更"].invoke()
    [dialog] = toplevels(app, cti.ReserveDialog)
    assert dialog.title() == "予約の変更"
    assert [dialog.vars[k].get() for k in ("date", "time", "menu", "staff", "memo")] == [
        cti.day_text(AHEAD, with_year=AHEAD.year != date.today().year), "11:00", "カット", "佐藤", "初回"]
    later = AHEAD + timedelta(days=1)
    dialog.vars["date"].set(f"{later:%Y/%m/%d}")
    dialog.vars["time"].set("13:30")
    dialog.button_ok.invoke()
    app.root.update()
    assert not dialog.winfo_exists()
    moved = app.db.reservation(rid)
    assert (moved.starts, moved.menu, moved.memo, moved.status) == (at(later, 13, 30), "カット", "初回", "予約")
    assert app.window.card.banner["text"] == f"ペンギン貴子 様 {cti.day_text(later)} 13:30 カット 佐藤 に変更しました"
    assert values(bookings.list) == []                           # gone from the day it left
    assert len(app.db.conn.execute("SELECT * FROM reservations").fetchall()) == 1


def test_moving_onto_itself_is_no_double_booking(app, questions):
    rid = app.db.reserve("AC00001", at(AHEAD, 11), "カラー", "佐藤")
    dialog = cti.ReserveDialog(app.window.context, reservation=app.db.reservation(rid), _utest=True)
    dialog.vars["time"].set("11:30")                              # overlaps where it was: that is itself
    app.root.update()
    assert dialog.warning["text"] == ""
    dialog.button_ok.invoke()
    assert questions == [] and app.db.reservation(rid).starts == at(AHEAD, 11, 30)


def test_only_the_transitions_that_apply_are_offered(app, questions):
    rid = app.db.reserve("AC00001", at(TODAY, 10), "カラー", "佐藤")
    bookings = app.window.open_today()
    select(bookings, rid)
    assert enabled(bookings) == {"new", "変更", "来店", "取消"}
    bookings.buttons["来店"].invoke()
    assert app.window.card.banner["text"] == "ペンギン貴子 様の来店を記録しました"     # whose visit, not the card's caller's
    assert enabled(bookings) == {"new", "退店", "取消"}
    bookings.buttons["退店"].invoke()
    [leave] = toplevels(app, cti.AmountDialog)
    assert "ペンギン貴子" in " ".join(w.cget("text") for w in leave.body.winfo_children() if isinstance(w, cti.ttk.Label))
    leave.vars["amount"].set("８千円")
    leave.button_ok.invoke()
    assert leave.winfo_exists() and "数字" in leave.errors["amount"]["text"]
    assert app.db.reservation(rid).status == "来店"                # nothing recorded until it is right
    leave.vars["amount"].set("¥8,800")
    leave.button_ok.invoke()
    assert not leave.winfo_exists()
    assert app.db.reservation(rid).status == "退店" and app.db.visits("AC00001")[0].amount == 8800
    assert app.window.card.banner["text"] == "ペンギン貴子 様の退店を記録しました（8,800円）"
    assert enabled(bookings) == {"new"} and questions == []


def test_leaving_without_an_amount(app):
    rid = app.db.reserve("AC00001", at(TODAY, 10), "カット", "佐藤")
    app.db.set_status(rid, "来店")
    bookings = app.window.open_today()
    select(bookings, rid)
    bookings.buttons["退店"].invoke()
    [leave] = toplevels(app, cti.AmountDialog)
    leave.button_ok.invoke()
    assert app.db.reservation(rid).status == "退店" and app.db.visits("AC00001")[0].amount is None


def test_cancel_asks_with_no_as_the_default(app, questions):
    rid = app.db.reserve("AC00001", at(AHEAD, 15), "カット", "佐藤")
    bookings = cti.BookingsWindow(app.window.context, day=AHEAD, _utest=True)
    select(bookings, rid)
    app.boxes.answers = [False]
    bookings.buttons["取消"].invoke()
    [(question, options)] = questions
    assert question == f"{cti.day_text(AHEAD)} 15:00 ペンギン貴子 様（カット）の予約を取り消しますか？"
    assert options == {"parent": bookings, "default": "no"}
    assert app.db.reservation(rid).status == "予約"
    bookings.buttons["取消"].invoke()
    assert app.db.reservation(rid).status == "取消" and bookings.list.item(str(rid), "values")[5] == "取消"
    assert app.window.card.banner["text"] == "ペンギン貴子 様の予約を取り消しました"


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# future bookings from 来店履歴

def test_future_bookings_from_the_visit_history(app, questions):
    first = app.db.reserve("AC00001", at(AHEAD, 14), "カット", "佐藤")
    app.db.reserve("AC00001", at(AHEAD + timedelta(days=30), 10), "カラー", "佐藤")
    app.call(MEMBER)
    history = app.window.open_visits()
    assert [v[0] for v in values(history.bookings)] == [
        f"{cti.day_text(AHEAD)} 14:00", f"{cti.day_text(AHEAD + timedelta(days=30))} 10:00"]
    assert enabled(history) == {"new"}
    select(history, first)
    assert enabled(history) == {"new", "変更", "取消"}
    history.buttons["取消"].invoke()                                # はい
    assert app.db.reservation(first).status == "取消"
    assert len(history.bookings.get_children()) == 1              # a cancelled one is no longer ahead

    history.buttons["new"].invoke()
    [dialog] = toplevels(app, cti.ReserveDialog)
    assert dialog.search is None and dialog.vars["member_no"].get() == "AC00001"
    dialog.vars["date"].set(AHEAD.isoformat())
    dialog.vars["time"].set("17:00")
    dialog.button_ok.invoke()
    assert [v[0] for v in values(history.bookings)][0] == f"{cti.day_text(AHEAD)} 17:00"   # the list follows


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# screenshots for a person to look at

def test_booking_screenshots(app):
    app.db.reserve("AC00002", at(AHEAD, 10), "カット", "鈴木")
    app.db.reserve("AC00003", at(AHEAD, 14), "カラー", "佐藤")
    app.db.reserve("AC00001", at(TODAY, 11), "パーマ", "佐藤")
    app.root.deiconify()
    app.call(MEMBER)
    dialog = app.window.open_reserve()
    dialog.vars["date"].set(AHEAD.isoformat())
    dialog.vars["time"].set("14:30")
    dialog.vars["menu"].set("カット")
    app.root.update()
    assert dialog.warning["text"]
    shot = screenshot(dialog, "booking.png")
    dialog.destroy()
    bookings = app.window.open_today()
    shot2 = screenshot(bookings, "bookings.png")
    bookings.buttons["new"].invoke()
    [walk_in] = toplevels(app, cti.ReserveDialog)
    walk_in.vars["query"].set("た")
    shot3 = screenshot(walk_in, "walk-in.png")
    assert (shot is None) == (shot2 is None) == (shot3 is None)


def test_a_call_while_booking_leaves_the_booking_as_typed(app):
    dialog = app.window.open_reserve()                            # a walk-in at the counter
    dialog.vars["query"].set("たかはし")
    dialog.vars["time"].set("17:00")
    app.call(MEMBER)                                              # the phone rings meanwhile
    assert app.root.title() == "CTI — 0596-31-0005 ペンギン貴子"
    assert dialog.winfo_exists() and dialog.vars["member_no"].get() == "AC00004"
    dialog.button_ok.invoke()
    [booked] = app.db.reservations_on(TODAY)
    assert (booked.member_no, booked.starts, booked.staff) == ("AC00004", at(TODAY, 17), "田中")


def test_enter_on_a_booking_opens_it_to_change(app):
    rid = app.db.reserve("AC00001", at(AHEAD, 11), "カット", "佐藤")
    done = app.db.reserve("AC00002", at(TODAY, 9), "カット", "鈴木")
    app.db.set_status(done, "取消")
    app.root.deiconify()
    bookings = app.window.open_today()
    select(bookings, done)
    press(bookings.list, "Return")                               # a cancelled booking: nothing to change
    assert toplevels(app, cti.ReserveDialog) == [] and app.boxes.calls == []
    bookings.show_day(AHEAD)
    select(bookings, rid)
    press(bookings.list, "Return")
    [dialog] = toplevels(app, cti.ReserveDialog)
    assert dialog.title() == "予約の変更" and dialog.reservation.id == rid


@pytest.mark.parametrize("corner", cti.CORNERS)
def test_the_walk_in_dialog_opens_beside_the_caller_card(make_app, corner):
    app = make_app(corner=corner)
    app.root.deiconify()
    press(app.root, "F4")                                         # no call yet: a walk-in
    [dialog] = toplevels(app, cti.ReserveDialog)
    dialog.vars["query"].set("た")                                 # the list fills: the dialog at its tallest
    dialog.deiconify()
    box = rect(dialog)
    assert not overlap(box, rect(app.window.card)) and not overlap(box, rect(app.root)), (corner, box)
    screen = cti.work_area(app.root)
    assert screen.left <= box.left and box.right <= screen.right and screen.top <= box.top and box.bottom <= screen.bottom


def test_a_booking_made_on_another_pc_shows_when_the_list_is_looked_at_again(app, tmp_path):
    bookings = app.window.open_today()
    other_pc = cti.Database(app.config.database)                   # the same cti.db, another connection
    try:
        rid = other_pc.reserve("AC00002", at(TODAY, 18), "カット", "鈴木")
    finally:
        other_pc.close()
    assert values(bookings.list) == []
    bookings.event_generate("<FocusIn>")
    assert bookings.list.get_children() == (str(rid),)
