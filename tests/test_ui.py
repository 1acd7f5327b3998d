"""The reception window under a real Tk (Xvfb in CI): calls arriving, every dialog, keys and mouse.

Dialogs are built with _utest=True (hidden, not modal) and driven with invoke(), var.set()
and event_generate(); the Tk loop is pumped with root.update() until a condition holds.
mainloop() and wait_window() are never called. messagebox is replaced by a recorder.

CTI_SCREENSHOTS=/some/folder makes test_screenshots save member.png and unknown.png there.
"""

import dataclasses
import logging
import os
import shutil
import sqlite3
import sys
from datetime import date, datetime, timedelta

import pytest

import cti
from conftest import (
    MEMBER, MEMBERS_BYTES, MEMBER_ROW, UNKNOWN, caller, click_row, csv_rows, first_row, modem_block, press, pump,
    right_click_row, row_for, screenshot, start_app_reader, toplevels)


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# calls through a real pseudo-terminal

def test_modem_calls_through_a_pty_reach_the_window(app, pty_pair):
    master, slave = pty_pair
    start_app_reader(app, port=slave, protocol="modem")
    window, history = app.window, app.window.history.tree

    os.write(master, modem_block(MEMBER))
    assert pump(app.root, lambda: len(history.get_children()) == 1)
    shown = caller(app)
    assert shown["name"] == "ペンギン貴子 様"
    assert shown["kana"] == "ぺんぎんたかこ"
    assert shown["number"] == "0596-31-0005"
    assert "AC00001" in shown["details"] and "佐藤" in shown["details"]
    assert shown["memo"] == "メモ: カラーは 6 トーン。ハーブティー"
    assert shown["time"].endswith("着信")
    assert first_row(app)[1:] == MEMBER_ROW
    assert app.root.title() == "CTI — 0596-31-0005 ペンギン貴子"
    assert history.selection() == (history.get_children()[0],)      # the new call is selected
    app.root.update()
    assert app.root.winfo_ismapped()                                  # brought to the front
    assert not window.card.buttons["register"].winfo_ismapped()

    os.write(master, modem_block(UNKNOWN))
    assert pump(app.root, lambda: len(history.get_children()) == 2)
    assert first_row(app)[1:] == ("090-8765-4321", "", "未登録", "", "")
    assert "unknown" in history.item(history.get_children()[0], "tags")
    assert caller(app)["name"] == "未登録の番号です"
    assert caller(app)["kana"] == caller(app)["memo"] == ""             # nothing left from the member
    assert "AC00001" not in caller(app)["details"]
    assert app.root.title() == "CTI — 090-8765-4321 未登録"
    assert pump(app.root, window.card.buttons["register"].winfo_ismapped)
    assert window.card.buttons["register"].winfo_ismapped() and window.card.buttons["link"].winfo_ismapped()
    assert window.card.buttons["register"]["text"] == "会員登録へ" and window.card.buttons["link"]["text"] == "電話番号登録へ"

    os.write(master, modem_block("P"))
    assert pump(app.root, lambda: len(history.get_children()) == 3)
    assert first_row(app)[1:] == ("非通知", "", "", "", "")
    assert caller(app)["name"] == "非通知"
    assert caller(app)["number"] == ""
    assert app.root.title() == "CTI — 非通知"
    app.root.update()
    assert not window.card.buttons["register"].winfo_ismapped()
    assert [r.number for r in app.db.calls()] == [None, UNKNOWN, MEMBER]


def test_number_display_frames_through_a_pty_reach_the_window(app, pty_pair, nd_frame):
    master, slave = pty_pair
    start_app_reader(app, port=slave, protocol="nd")
    os.write(master, nd_frame(b"\x04\x01P"))                     # 非通知
    assert pump(app.root, lambda: first_row(app) is not None)
    assert first_row(app)[1] == "非通知"
    assert app.root.title() == "CTI — 非通知"
    os.write(master, b"\x00\xff" + nd_frame(b"\x02\x0a" + MEMBER.encode()))   # line noise first
    assert pump(app.root, lambda: len(app.window.history.tree.get_children()) == 2)
    assert first_row(app)[1:] == MEMBER_ROW
    assert caller(app)["name"] == "ペンギン貴子 様"


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# 会員登録

def test_register_from_an_unknown_call(app):
    app.call(MEMBER)
    app.call(UNKNOWN)
    dialog = app.window.open_register()
    assert isinstance(dialog, cti.RegisterDialog)
    assert dialog.vars["phone"].get() == "090-8765-4321"
    assert dialog.vars["member_no"].get() == "AC00009"
    assert "佐藤" in dialog.widgets["staff"]["values"]             # staff already in the file are offered
    dialog.widgets["name"].insert(0, "新井  さくら")
    dialog.vars["kana"].set("アライ サクラ")
    dialog.vars["staff"].set("鈴木")
    dialog.button_ok.invoke()
    app.root.update()

    assert not dialog.winfo_exists()
    assert dialog.result.member_no == "AC00009"
    rows = csv_rows(app.config.members)
    assert rows[-1][:6] == ["AC00009", "新井 さくら", "アライ サクラ", "090-8765-4321", "鈴木", ""]
    assert app.config.members.read_bytes().startswith(MEMBERS_BYTES)   # the other rows untouched
    assert [m.member_no for m in app.members.lookup(UNKNOWN)] == ["AC00009"]
    assert row_for(app, "090-8765-4321")[0][1:] == ("090-8765-4321", "AC00009", "新井 さくら", "アライ サクラ", "鈴木")
    assert row_for(app, "0596-31-0005")[0][1:] == MEMBER_ROW
    assert caller(app)["name"] == "新井 さくら 様"
    assert "AC00009" in caller(app)["details"]
    assert app.root.title() == "CTI — 090-8765-4321 新井 さくら"
    assert app.window.status.members_line["text"] == "会員 9件"
    app.root.update()
    assert not app.window.card.buttons["register"].winfo_ismapped()
    assert app.boxes.calls == []                                     # nothing to tell


def test_the_panel_buttons_act_on_the_caller_shown(app):
    """The panel says 090-8765-4321 未登録 with 会員登録へ under it: that is the number it registers,
    even when the receptionist has clicked another row of the history meanwhile."""
    app.call(MEMBER)
    app.call(UNKNOWN)
    history = app.window.history.tree
    history.selection_set(history.get_children()[1])               # the member's older call
    app.root.update()
    assert caller(app)["number"] == "090-8765-4321"
    app.window.card.buttons["link"].invoke()
    [link] = toplevels(app, cti.LinkDialog)
    assert link.vars["phone"].get() == "090-8765-4321"
    link.destroy()
    app.window.card.buttons["register"].invoke()
    [dialog] = toplevels(app, cti.RegisterDialog)
    assert dialog.vars["phone"].get() == "090-8765-4321"
    dialog.vars["name"].set("新井さくら")
    dialog.button_ok.invoke()
    assert csv_rows(app.config.members)[-1][:4] == ["AC00009", "新井さくら", "", "090-8765-4321"]
    assert caller(app)["name"] == "新井さくら 様"                      # the panel shows the new member
    assert app.root.title() == "CTI — 090-8765-4321 新井さくら"
    assert row_for(app, "090-8765-4321")[0][2] == "AC00009"
    app.window.toolbar.buttons["register"].invoke()     # the bottom buttons too: the card's call, not the row selected
    assert toplevels(app, cti.RegisterDialog)[0].vars["phone"].get() == "090-8765-4321"


@pytest.mark.parametrize("field, value, words", [
    ("name", "", "名前"),
    ("name", "   ", "名前"),
    ("name", "=HYPERLINK(\"x\")", "="),
    ("kana", "貴子", "ひらがな"),
    ("kana", "Takako", "ひらがな"),
    ("phone", "12345", "電話番号"),
    ("phone", "090-8765-432１２３４５６", "電話番号"),
    ("member_no", "AC00001", "既に使われています"),
])
def test_register_bad_input_is_shown_beside_the_field(app, field, value, words):
    app.call(UNKNOWN)
    dialog = app.window.open_register()
    form = {"name": "新井さくら", "kana": "あらいさくら", field: value}
    for name, text in form.items():
        dialog.vars[name].set(text)
    dialog.button_ok.invoke()
    app.root.update()
    assert dialog.winfo_exists()
    assert words in dialog.errors[field]["text"].replace("\n", "")
    assert [n for n, label in dialog.errors.items() if label["text"]] == [field]
    assert app.config.members.read_bytes() == MEMBERS_BYTES
    assert not app.members.pending_path.exists()
    assert row_for(app, "090-8765-4321")[0][3] == "未登録"

    dialog.vars[field].set({"name": "新井さくら", "kana": "あらいさくら", "phone": "090-8765-4321",
                            "member_no": "AC00010"}[field])
    dialog.button_ok.invoke()                                         # corrected: saved, errors cleared
    app.root.update()
    assert not dialog.winfo_exists()
    assert csv_rows(app.config.members)[-1][1] == "新井さくら"


def on_screen(window):
    window.deiconify()
    window.update()
    x, y = window.winfo_rootx(), window.winfo_rooty()
    return (x >= 0 and y >= 0 and x + window.winfo_width() <= window.winfo_screenwidth()
            and y + window.winfo_height() <= window.winfo_screenheight())


@pytest.mark.parametrize("corner", ["bottom-right", "top-left"])
def test_a_dialog_and_its_errors_stay_on_screen(make_app, corner):
    """The errors beside the fields widen the form: it must not grow past the screen's edge."""
    app = make_app(corner=corner)
    app.call(UNKNOWN)
    dialog = app.window.open_register()
    assert on_screen(dialog)
    dialog.vars["kana"].set("Takako")
    dialog.vars["member_no"].set("AC00001")
    dialog.button_ok.invoke()
    assert dialog.errors["kana"]["text"] and dialog.errors["name"]["text"]
    assert on_screen(dialog)
    assert dialog.winfo_width() >= dialog.winfo_reqwidth()          # nothing cut off


def test_a_dialog_moved_by_hand_stays_where_it_was_put(app):
    app.call(UNKNOWN)
    dialog = app.window.open_register()
    dialog.deiconify()
    dialog.geometry("+100+50")
    dialog.update()
    dialog.button_ok.invoke()                                       # 名前 missing: an error, no jump
    dialog.update()
    assert dialog.errors["name"]["text"]
    assert (dialog.winfo_rootx(), dialog.winfo_rooty()) == (100, 50)


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# 電話番号登録

def test_link_an_unknown_number_to_a_member(app):
    app.call(UNKNOWN)
    dialog = app.window.open_link()
    assert isinstance(dialog, cti.LinkDialog)
    assert dialog.vars["phone"].get() == "090-8765-4321"
    dialog.vars["query"].set("こ")                                 # several members: none chosen for you
    assert len(dialog.results.get_children()) > 1
    assert dialog.results.selection() == ()
    dialog.vars["query"].set("たかこ")                              # part of the kana
    assert dialog.results.get_children() == ("AC00001",)
    dialog.vars["query"].set("タカコ")                              # katakana finds the hiragana kana
    assert dialog.results.get_children() == ("AC00001",)
    assert dialog.results.item("AC00001", "values")[:3] == ("AC00001", "ペンギン貴子", "ぺんぎんたかこ")
    dialog.results.selection_set("AC00001")
    dialog.button_ok.invoke()
    app.root.update()

    assert not dialog.winfo_exists()
    row = next(r for r in csv_rows(app.config.members) if r[0] == "AC00001")
    assert row[3] == "0596-31-0005; 090-8765-4321"
    assert [m.member_no for m in app.members.lookup(UNKNOWN)] == ["AC00001"]
    assert [m.member_no for m in cti.MemberTable(app.config.members).load().lookup(UNKNOWN)] == ["AC00001"]
    assert row_for(app, "090-8765-4321")[0][1:] == ("090-8765-4321",) + MEMBER_ROW[1:]
    assert caller(app)["name"] == "ペンギン貴子 様"


def test_link_search_by_member_no_and_phone(app):
    app.call(UNKNOWN)
    dialog = app.window.open_link()
    dialog.vars["query"].set("ac00003")
    assert dialog.results.get_children() == ("AC00003",)
    dialog.vars["query"].set("090-1234")
    assert dialog.results.get_children() == ("AC00002",)
    dialog.vars["query"].set("")
    assert dialog.results.get_children() == ()


def test_link_refuses_a_number_the_member_already_has(app):
    app.call(MEMBER)
    dialog = app.window.open_link()
    assert dialog.vars["phone"].get() == "0596-31-0005"
    dialog.vars["query"].set("ぺんぎん")
    assert dialog.results.selection() == ("AC00001",)              # the only hit is chosen
    dialog.button_ok.invoke()
    app.root.update()
    assert dialog.winfo_exists()
    assert "既に登録されています" in dialog.errors["phone"]["text"].replace("\n", "")
    assert app.config.members.read_bytes() == MEMBERS_BYTES


def test_link_without_a_member_chosen(app):
    app.call(UNKNOWN)
    dialog = app.window.open_link()
    dialog.vars["query"].set("AC0000")
    assert len(dialog.results.get_children()) == 8
    dialog.button_ok.invoke()
    app.root.update()
    assert dialog.winfo_exists()
    assert dialog.errors["member"]["text"].replace("\n", "") == "追加する会員を一覧から選んでください"
    dialog.vars["phone"].set("")
    dialog.button_ok.invoke()
    assert dialog.errors["phone"]["text"].replace("\n", "") == "電話番号を入力してください"
    assert app.config.members.read_bytes() == MEMBERS_BYTES


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# 予約登録

def today_reservations(app):
    return app.db.reservations_on(date.today())


def test_reserve_for_a_member_changes_the_count(app):
    app.call(MEMBER)
    app.call(UNKNOWN)
    member_row = app.window.history.tree.get_children()[1]
    click_row(app, member_row)                                      # she chooses the member's call: the card shows it
    assert "予約人数 0人" in app.window.history.counts["text"]
    dialog = app.window.open_reserve()
    assert isinstance(dialog, cti.ReserveDialog)
    assert dialog.vars["date"].get() == cti.day_text(date.today())                    # as every date is shown
    assert dialog.vars["staff"].get() == "佐藤"                     # the member's main staff
    dialog.widgets["time"].insert(0, "15:30")
    dialog.vars["menu"].set("カラー")
    dialog.vars["memo"].set("6トーン")
    dialog.button_ok.invoke()
    app.root.update()

    assert not dialog.winfo_exists()
    [reservation] = today_reservations(app)
    assert (reservation.member_no, reservation.starts.strftime("%H:%M"), reservation.menu,
            reservation.staff, reservation.memo, reservation.status) == ("AC00001", "15:30", "カラー", "佐藤",
                                                                         "6トーン", "予約")
    assert dialog.result["starts"] == reservation.starts             # entry_ok's value, acted on by submit
    assert "予約人数 1人" in app.window.history.counts["text"]


def test_reserve_for_an_unknown_number_says_register_first(app):
    app.call(UNKNOWN)
    assert app.window.open_reserve() is None
    [message] = app.boxes.messages("showinfo")
    assert "090-8765-4321" in message and "未登録" in message and "会員登録" in message
    assert toplevels(app, cti.ReserveDialog) == []


def test_reserve_with_no_call_at_all_finds_the_member_by_search(app):
    dialog = app.window.open_reserve()                          # a walk-in at the counter
    assert isinstance(dialog, cti.ReserveDialog) and dialog.search is not None
    assert app.boxes.messages("showinfo") == []


def test_reserve_for_a_withheld_caller_finds_the_member_by_search(app):
    app.call(None, "private")                                   # she rang 非通知: who she is, she says
    dialog = app.window.open_reserve()
    assert isinstance(dialog, cti.ReserveDialog) and dialog.search is not None


@pytest.mark.parametrize("field, value, words", [
    ("time", "", "時刻"),
    ("time", "25:00", "時刻"),
    ("time", "あとで", "時刻"),
    ("date", "2020-01-01", "過去"),
    ("date", "来週", "日付"),
    ("date", "2026-02-30", "日付"),
])
def test_reserve_bad_input_is_shown_beside_the_field(app, field, value, words):
    app.call(MEMBER)
    dialog = app.window.open_reserve()
    dialog.vars["time"].set("15:30")
    dialog.vars[field].set(value)
    dialog.button_ok.invoke()
    app.root.update()
    assert dialog.winfo_exists()
    assert words in dialog.errors[field]["text"].replace("\n", "")
    assert app.db.conn.execute("SELECT COUNT(*) FROM reservations").fetchone()[0] == 0
    assert "予約人数 0人" in app.window.history.counts["text"]


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# 本日の予約

def test_today_arrive_and_leave_change_the_counts(app):
    now = datetime.now()
    rid = app.db.reserve("AC00001", now.replace(hour=15, minute=0, second=0, microsecond=0), "カラー", "佐藤")
    app.db.reserve("AC00003", now.replace(hour=10, minute=0, second=0, microsecond=0), "カット", "佐藤")
    app.window.refresh_counts()
    assert "予約人数 2人" in app.window.history.counts["text"]
    today = app.window.open_today()
    assert isinstance(today, cti.BookingsWindow)
    assert today.list.get_children() == (str(rid + 1), str(rid))        # sorted by time: 10:00 first
    assert today.list.item(str(rid), "values")[1:3] == ("AC00001", "ペンギン貴子")

    today.list.selection_set(str(rid))
    today.buttons["来店"].invoke()
    assert "来店人数 1人" in app.window.history.counts["text"] and "退店人数 0人" in app.window.history.counts["text"]
    assert today.list.item(str(rid), "values")[5] == "来店"
    assert today.list.selection() == (str(rid),)                    # still selected for the next step
    today.buttons["退店"].invoke()
    [amount] = toplevels(app, cti.AmountDialog)
    amount.vars["amount"].set("１２，０００円")                        # as the IME types it
    amount.button_ok.invoke()
    assert not amount.winfo_exists()
    assert "来店人数 1人" in app.window.history.counts["text"] and "退店人数 1人" in app.window.history.counts["text"]
    assert "退店人数 1人" in today.counts["text"]
    [visit] = app.db.visits("AC00001")
    assert (visit.date, visit.menu, visit.staff, visit.amount) == (date.today().isoformat(), "カラー", "佐藤", 12000)

    assert all(today.buttons[name].instate(["disabled"]) for name in ("変更", "来店", "退店", "取消"))
    today.act("取消")                                                 # 退店 cannot be cancelled, even by a key
    assert app.boxes.messages("showinfo") == ["一覧から予約を選んでください"]
    assert app.db.reservation(rid).status == "退店"
    assert "予約人数 2人" in app.window.history.counts["text"]


def test_today_cancel_and_nothing_selected(app):
    rid = app.db.reserve("AC00001", datetime.now().replace(hour=16, minute=0), "カット")
    app.window.refresh_counts()
    today = app.window.open_today()
    today.list.selection_set(())                                  # the first row comes selected: unselect
    today.buttons["来店"].invoke()
    assert app.boxes.messages("showinfo") == ["一覧から予約を選んでください"]
    today.list.selection_set(str(rid))
    app.root.update()
    app.boxes.answers = [False]                                   # 取消 asks first; いいえ keeps it
    today.buttons["取消"].invoke()
    assert app.db.reservation(rid).status == "予約"
    assert "予約を取り消しますか" in app.boxes.messages("askyesno")[0]
    assert app.boxes.calls[-1][0] == "askyesno"
    today.buttons["取消"].invoke()                                  # はい
    assert "予約人数 0人" in app.window.history.counts["text"]
    assert today.list.item(str(rid), "values")[5] == "取消"
    assert all(today.buttons[name].instate(["disabled"]) for name in ("変更", "来店", "退店", "取消"))
    assert app.db.visits("AC00001") == []


def test_today_window_follows_a_reservation_booked_while_it_is_open(app):
    app.call(MEMBER)
    today = app.window.open_today()
    assert today.list.get_children() == ()
    assert app.window.open_today() is today                      # F6 again raises the open one
    dialog = app.window.open_reserve()
    dialog.vars["time"].set("18:00")
    dialog.button_ok.invoke()
    app.root.update()
    [row] = today.list.get_children()
    assert today.list.item(row, "values")[:3] == ("18:00", "AC00001", "ペンギン貴子")
    assert "予約人数 1人" in today.counts["text"]


def test_a_past_date_is_flagged_even_when_the_time_is_wrong_too(app):
    app.call(MEMBER)
    dialog = app.window.open_reserve()
    dialog.vars["date"].set("2020-01-01")
    dialog.vars["time"].set("あとで")
    dialog.button_ok.invoke()
    assert "過去" in dialog.errors["date"]["text"].replace("\n", "") and "時刻" in dialog.errors["time"]["text"].replace("\n", "")


def test_a_call_is_shown_even_when_the_history_cannot_be_written(app, monkeypatch, caplog):
    def locked(call):
        raise sqlite3.OperationalError("database is locked")
    monkeypatch.setattr(app.db, "add_call", locked)
    app.events.put(cti.Call(MEMBER, protocol="modem", received=datetime.now()))
    assert pump(app.root, lambda: caller(app)["name"] == "ペンギン貴子 様")
    assert app.root.title() == "CTI — 0596-31-0005 ペンギン貴子"
    assert "着信を履歴に保存できませんでした" in caplog.text


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# deleting a history row

def test_delete_key_with_confirmation(app):
    app.call(MEMBER)
    app.call(UNKNOWN)
    history = app.window.history.tree
    older = history.get_children()[1]
    history.selection_set(older)
    app.boxes.answers = [False]
    press(history, "Delete")
    assert app.boxes.messages("askyesno") and "0596-31-0005" in app.boxes.messages("askyesno")[0]
    assert history.exists(older) and len(app.db.calls()) == 2

    app.boxes.answers = [True]
    press(history, "Delete")
    assert not history.exists(older)
    assert [r.number for r in app.db.calls()] == [UNKNOWN]
    assert len(app.boxes.messages("askyesno")) == 2
    assert history.selection() == ()
    assert app.window.open_register().vars["phone"].get() == "090-8765-4321"   # nothing selected: the latest


def test_right_click_menu_deletes_the_row_it_was_opened_on(app):
    app.call(MEMBER)
    app.call(UNKNOWN)
    history = app.window.history.tree
    older = history.get_children()[1]
    right_click_row(app, older)
    menu = app.window.history.menu
    try:
        assert menu.winfo_ismapped()
        assert history.selection() == (older,)                       # the row under the mouse
        assert [menu.entrycget(i, "label") for i in (0, 2)] == ["来店履歴", "削除"]
        app.call("0451234567")                                          # a call while the menu is open
        assert history.selection() == (older,)
        history.selection_set(history.get_children()[0])                # even if the selection moved
        menu.invoke(2)                                                  # 削除
        app.root.update()
    finally:
        menu.unpost()
        menu.grab_release()
    assert "0596-31-0005" in app.boxes.messages("askyesno")[0]
    assert not history.exists(older)
    assert [r.number for r in app.db.calls()] == ["0451234567", UNKNOWN]


def test_right_click_outside_the_rows_does_nothing(app):
    app.call(MEMBER)
    app.root.deiconify()
    app.root.update()
    history = app.window.history.tree
    history.event_generate("<Button-3>", x=20, y=history.winfo_height() - 5)
    app.root.update()
    assert not app.window.history.menu.winfo_ismapped()


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# 来店履歴

def seed_visits(app):
    today = date.today()
    for days, menu, amount in ((90, "カット", 4400), (10, "カラー", 8800), (40, "パーマ", None)):
        app.db.conn.execute("INSERT INTO visits (member_no, date, menu, staff, amount, memo) VALUES (?,?,?,?,?,?)",
                            ("AC00001", (today - timedelta(days=days)).isoformat(), menu, "佐藤", amount, ""))
    app.db.conn.execute("INSERT INTO visits (member_no, date, menu) VALUES ('AC00002', ?, 'よその人')",
                        (today.isoformat(),))
    tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time()).replace(hour=14)
    app.db.reserve("AC00001", tomorrow, "カット＋カラー", "佐藤", "午後")


def check_visit_window(app):
    [window] = toplevels(app, cti.VisitHistoryWindow)
    call = app.window.card.shown                                    # named: the call it was opened for
    assert window.title() == f"0596-31-0005（{call.received:%H:%M} の着信）の来店履歴 — ペンギン貴子"
    assert window.heading["text"] == window.title()
    today = date.today()
    visits = [window.visits.item(i, "values") for i in window.visits.get_children()]
    days = [today - timedelta(days=d) for d in (10, 40, 90)]
    assert [v[:2] for v in visits] == [(cti.day_text(d, d.year != today.year), menu)
                                       for d, menu in zip(days, ("カラー", "パーマ", "カット"))]
    assert [v[3] for v in visits] == ["8,800円", "", "4,400円"]
    [upcoming] = [window.bookings.item(i, "values") for i in window.bookings.get_children()]
    tomorrow = today + timedelta(days=1)
    assert upcoming[:3] == (f"{tomorrow.month}/{tomorrow.day}({'月火水木金土日'[tomorrow.weekday()]}) 14:00",
                            "カット＋カラー", "佐藤")
    return window


def test_double_click_opens_the_visit_history(app):
    seed_visits(app)
    app.call(MEMBER)
    app.call(UNKNOWN)
    history = app.window.history.tree
    app.root.deiconify()
    app.root.update()
    row = history.get_children()[1]
    x, y, _, height = history.bbox(row)
    for _ in range(2):                                               # two clicks make a <Double-1>
        history.event_generate("<ButtonPress-1>", x=x + 30, y=y + height // 2)
        history.event_generate("<ButtonRelease-1>", x=x + 30, y=y + height // 2)
    app.root.update()
    check_visit_window(app)


def test_enter_opens_the_visit_history(app):
    seed_visits(app)
    app.call(MEMBER)
    press(app.window.history.tree, "Return")
    window = check_visit_window(app)
    press(window, "Escape")
    assert not window.winfo_exists()


def test_visit_history_of_a_member_who_never_came(app):
    app.call("0451234567")
    window = app.window.open_visits()
    # said by the headings, whole: as a row it was cut to the date column (「来店履歴はまだありま」)
    assert window.visits.get_children() == () and window.bookings.get_children() == ()
    assert window.visits_heading["text"] == "来店履歴はまだありません"
    assert window.upcoming_heading["text"] == "今後の予約はありません"
    window.update()
    assert window.upcoming_heading.winfo_width() >= window.upcoming_heading.winfo_reqwidth()


def test_visit_history_of_an_unknown_number(app):
    app.call(UNKNOWN)
    assert app.window.open_visits() is None
    assert "会員登録" in app.boxes.messages("showinfo")[0]


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the keyboard

@pytest.mark.parametrize("key, cls", [("F2", cti.RegisterDialog), ("F3", cti.LinkDialog),
                                      ("F4", cti.ReserveDialog), ("F5", cti.VisitHistoryWindow),
                                      ("F6", cti.BookingsWindow), ("F7", cti.LookupDialog)])
def test_function_keys_open_the_dialogs(app, key, cls):
    app.call(MEMBER)
    assert toplevels(app, cls) == []
    press(app.root, key)
    assert len(toplevels(app, cls)) == 1


def test_f1_opens_the_help(app):
    press(app.root, "F1")
    [help_window] = toplevels(app, cti.HelpWindow)
    text = help_window.text.get("1.0", "end")
    assert "会員登録へ (F2)" in text and str(app.config.members) in text
    assert all(cti.action_label(a) in text for a in cti.ACTIONS)       # one table: buttons, keys and help
    toolbar = [a for a in cti.ACTIONS if a.where == "toolbar"]
    assert [app.window.toolbar.buttons[a.name]["text"] for a in toolbar] == [a.label for a in toolbar]


def test_the_help_keeps_each_description_beside_its_key(app):
    """Seen at 1366x768: with word wrap, a Japanese description (no spaces to break at) jumped whole to
    the line below its label, and others broke at their one space: a ragged list hard to read."""
    app.root.deiconify()
    press(app.root, "F1")
    [help_window] = toplevels(app, cti.HelpWindow)
    text = help_window.text
    help_window.update()
    lines = text.get("1.0", "end").splitlines()
    for number, line in enumerate(lines, start=1):
        if "\t" in line:
            label, description = line.split("\t")
            start = f"{number}.{len(label) + 1}"
            text.see(start)
            assert text.bbox(start)[1] == text.bbox(f"{number}.0")[1], line     # on the label's line
            last = f"{number}.{len(line) - 1}"
            text.see(last)
            assert text.bbox(last)[0] >= text.bbox(start)[0], line             # wrapped lines hang under it


def test_escape_closes_an_untouched_dialog(app):
    app.call(UNKNOWN)
    press(app.root, "F2")
    [dialog] = toplevels(app, cti.RegisterDialog)
    press(dialog.widgets["name"], "Escape")
    assert not dialog.winfo_exists()
    assert app.boxes.messages("askyesno") == []


def test_escape_asks_before_losing_what_was_typed(app):
    app.call(UNKNOWN)
    dialog = app.window.open_register()
    dialog.deiconify()
    dialog.update()
    dialog.widgets["name"].focus_force()
    dialog.update()
    for char in "abc":                                               # typed on the keyboard
        dialog.widgets["name"].event_generate("<KeyPress>", keysym=char)
    dialog.update()
    assert dialog.vars["name"].get() == "abc"
    app.boxes.answers = [False]
    press(dialog.widgets["name"], "Escape")
    assert dialog.winfo_exists()
    assert app.boxes.messages("askyesno") == ["入力した内容を破棄して閉じますか？"]
    assert dialog.vars["name"].get() == "abc"
    app.boxes.answers = [True]
    dialog.button_cancel.invoke()
    assert not dialog.winfo_exists()
    assert app.config.members.read_bytes() == MEMBERS_BYTES


def test_return_in_a_dialog_is_ok(app):
    app.call(UNKNOWN)
    dialog = app.window.open_register()
    dialog.vars["name"].set("新井さくら")
    press(dialog.widgets["name"], "Return")
    assert not dialog.winfo_exists()
    assert csv_rows(app.config.members)[-1][:4] == ["AC00009", "新井さくら", "", "090-8765-4321"]


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# 着信番号参照, export, status line

def test_lookup_a_typed_number(app):
    dialog = app.window.open_lookup()
    assert isinstance(dialog, cti.LookupDialog)
    dialog.vars["phone"].set("123")
    dialog.button_ok.invoke()
    assert dialog.winfo_exists() and dialog.errors["phone"]["text"]
    assert app.db.calls() == []
    dialog.vars["phone"].set("045-123-4567")
    dialog.button_ok.invoke()
    app.root.update()
    assert not dialog.winfo_exists()
    assert caller(app)["name"] == "鈴木一郎 様"
    assert caller(app)["time"] == "番号参照（着信ではありません）"
    assert app.root.title() == "CTI — 045-123-4567 鈴木一郎"
    assert app.db.calls() == [] and first_row(app) is None              # looked up, not a call: nothing recorded


def test_export_history_as_excel_csv(app, monkeypatch, tmp_path):
    """Off Windows there is no Japanese file dialog: the CSV goes to Documents, named by the day,
    and the confirmation says where (a second export never overwrites the first)."""
    app.call(MEMBER)
    app.call(UNKNOWN)
    app.call(None, "private")
    (tmp_path / "Documents").mkdir()
    monkeypatch.setattr(cti.Path, "home", lambda: tmp_path)
    monkeypatch.setattr(cti.filedialog, "asksaveasfilename", lambda **kw: pytest.fail("Tk's English file dialog"))
    target = tmp_path / "Documents" / f"着信履歴_{date.today():%Y%m%d}.csv"
    assert app.window.history.export() == str(target)
    rows = csv_rows(target)
    assert rows[0] == list(cti.EXPORT_COLUMNS)
    calls = app.db.calls()
    assert [r[0] for r in rows[1:]] == [f"{c.received:%Y-%m-%d %H:%M:%S}" for c in calls]     # with the year
    assert [r[1:8] for r in rows[1:]] == [["", "非通知", "", "", "", "", "modem"],
                                          ["090-8765-4321", "", "", "", "", "", "modem"],       # no 未登録
                                          ["0596-31-0005", "", "AC00001", "ペンギン貴子", "ぺんぎんたかこ", "佐藤", "modem"]]
    assert b"\r\n" in target.read_bytes()
    assert app.window.card.banner["text"] == f"保存しました: {target}"
    assert app.window.history.export() == str(target.with_name(f"{target.stem}_2.csv"))


def test_export_to_a_folder_that_is_gone_shows_an_error(app, monkeypatch, tmp_path):
    app.call(MEMBER)
    monkeypatch.setattr(cti.Path, "home", lambda: tmp_path / "gone")
    assert app.window.history.export() is None
    assert "保存できませんでした" in app.boxes.messages("showerror")[0]


def test_status_line(app):
    assert app.window.status.members_line["text"] == "会員 8件"
    text = "COM3 が見つかりません。着信表示装置の USB ケーブルと、cti.ini の port = の COM 番号を確認してください"
    app.events.put(cti.Status("missing", text, "COM3"))
    assert pump(app.root, lambda: text in app.window.status.device_line["text"])
    assert str(app.window.status.device_line["foreground"]) == "#b00020"
    app.events.put(cti.Status("connected", "COM3 に接続しました。着信を待っています", "COM3"))
    assert pump(app.root, lambda: "接続しました" in app.window.status.device_line["text"])
    assert str(app.window.status.device_line["foreground"]) == "#1b7f3b"


def test_status_line_follows_members_csv_edited_elsewhere(app):
    with open(app.config.members, "ab") as f:
        f.write("AC00009,新井さくら,あらいさくら,090-8765-4321,鈴木,,,\r\n".encode("utf-8"))
    app.window.check_members()
    assert app.window.status.members_line["text"] == "会員 9件"


def test_status_line_when_members_csv_cannot_be_read(make_app, tmp_path):
    (tmp_path / "members.csv").write_bytes("会員番号,電話\r\n1,03\r\n".encode("utf-8-sig"))
    app = make_app()
    assert app.window.status.members_line["text"].startswith("会員台帳を読めません: ")
    assert "名前" in app.window.status.members_line["text"]


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# where the window goes

@pytest.mark.parametrize("corner", cti.CORNERS)
def test_window_goes_to_the_configured_corner_of_the_work_area(make_app, monkeypatch, corner):
    """Inside the work area cti.work_area() reports (here: a 48-px taskbar on the left, a panel on top)."""
    work = {}
    monkeypatch.setattr(cti, "work_area", lambda widget: work.setdefault(
        "rect", cti.Rect(48, 30, widget.winfo_screenwidth(), widget.winfo_screenheight() - 20)))
    app = make_app(corner=corner)
    root = app.root
    root.deiconify()
    root.update()
    left, top, right, bottom = work["rect"]
    x, y = root.winfo_x(), root.winfo_y()                # Xvfb has no window manager: no frame to add
    if corner.endswith("right"):
        assert right - (x + root.winfo_width()) == 8
    else:
        assert x == left + 8
    if corner.startswith("bottom"):
        assert bottom - (y + root.winfo_height()) == 8
    else:
        assert y == top + 8
    assert root.winfo_width() >= 560 and root.winfo_height() >= 420


def test_a_folder_under_onedrive_is_warned_in_the_status_line(make_app, tmp_path, monkeypatch):
    app = make_app()
    assert "注意" not in app.window.status.members_line["text"]
    monkeypatch.setenv("OneDrive", str(tmp_path))
    app.window.refresh_status()
    lines = app.window.status.members_line["text"].splitlines()
    assert lines[0].startswith("会員 8件") and lines[1:] == cti.folder_warnings(["onedrive"])


@pytest.mark.parametrize("topmost", [True, False])
def test_topmost_follows_the_config(make_app, topmost):
    app = make_app(topmost=topmost)
    app.root.deiconify()
    app.root.update()
    assert bool(app.root.attributes("-topmost")) is topmost


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# errors inside Tk callbacks

def test_an_error_in_the_poll_timer_is_logged_and_the_timer_carries_on(app, monkeypatch, caplog):
    """Timers log (a box every 50 ms would bury the screen); the next call still arrives."""
    caplog.set_level(logging.ERROR, logger="cti")

    def locked(call):
        raise sqlite3.OperationalError("database is locked")
    monkeypatch.setattr(app.db, "add_call", locked)
    app.events.put(cti.Call(MEMBER, received=datetime.now()))
    assert pump(app.root, lambda: [r for r in caplog.records if r.exc_info])
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.name == "cti" and record.exc_info[0] is sqlite3.OperationalError
    assert app.events.empty()

    monkeypatch.undo()
    app.call(UNKNOWN)
    assert app.root.winfo_exists()
    assert first_row(app)[1] == "090-8765-4321"


def test_an_exception_in_a_tk_callback_is_logged_and_shown(app, monkeypatch, caplog):
    app.crash_expected = True
    caplog.set_level(logging.ERROR, logger="cti")
    app.call(UNKNOWN)

    def broken():
        raise OSError("no ports")
    monkeypatch.setattr(cti, "list_ports", broken)
    app.window.toolbar.buttons["help"].invoke()                             # a button's command
    [message] = app.boxes.messages("showerror")
    assert "OSError" in message and "cti.log" in message
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.name == "cti" and record.exc_info[0] is OSError

    def broken_search(*args, **kw):
        raise KeyError("search index")
    monkeypatch.setattr(app.members, "search", broken_search)
    dialog = app.window.open_link()
    dialog.vars["query"].set("やま")                                  # a variable trace
    assert len(app.boxes.messages("showerror")) == 2 and "KeyError" in app.boxes.messages("showerror")[1]

    monkeypatch.undo()                                              # the window carries on
    assert app.root.winfo_exists()
    dialog.vars["query"].set("やまだ")
    assert dialog.results.get_children() == ("AC00002",)
    app.window.open_lookup().button_cancel.invoke()
    assert app.root.title() == "CTI — 090-8765-4321 未登録"


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# screenshots for a person to look at

def test_screenshots(app, monkeypatch, tmp_path):
    app.db.reserve("AC00001", datetime.now().replace(hour=15, minute=0), "カラー", "佐藤")
    app.window.refresh_counts()
    app.events.put(cti.Status("connected", "/dev/ttyUSB0 に接続しました。着信を待っています", "/dev/ttyUSB0"))
    app.call(None, "private")
    app.call(MEMBER)
    app.root.update()
    member = screenshot(app.root, "member.png")
    app.call(UNKNOWN)
    app.root.update()
    unknown = screenshot(app.root, "unknown.png")
    if not os.environ.get("CTI_SCREENSHOTS"):
        assert member is None and unknown is None
        monkeypatch.setenv("CTI_SCREENSHOTS", str(tmp_path / "shots"))   # the saving itself still works
        unknown = screenshot(app.root, "unknown.png")
    from PIL import Image
    with Image.open(unknown) as image:
        assert image.size == (app.root.winfo_width(), app.root.winfo_height())
        assert len(image.getcolors(maxcolors=1 << 16) or range(2)) > 1      # not a blank grab


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the demo

def test_demo_folder_and_device_feed_the_window(make_app):
    folder, config = cti.demo_folder()
    demo = reader = None
    try:
        assert (folder / "members.csv").read_bytes() == MEMBERS_BYTES
        db = cti.Database(config.database)
        try:
            assert [r.member_no for r in db.reservations_on(date.today())] == ["AC00003", "AC00004", "AC00001", "AC00007"]
            assert db.today_counts() == {"reserved": 4, "arrived": 2, "departed": 1}
            assert len(db.visits("AC00001")) == 2
        finally:
            db.close()

        app = make_app(folder=folder)
        assert "予約人数 4人" in app.window.history.counts["text"] and "退店人数 1人" in app.window.history.counts["text"]
        demo = cti.DemoDevice(first_delay=0.05, interval=0.2)
        reader = cti.DeviceReader(config, app.events, opener=demo.opener)
        demo.start()
        reader.start()

        def numbers():
            return [app.window.history.tree.item(i, "values")[1:4] for i in app.window.history.tree.get_children()]
        assert pump(app.root, lambda: len(numbers()) >= 3, timeout=10), numbers()
        shown = numbers()
        assert ("0596-31-0005", "AC00001", "ペンギン貴子") in shown
        assert ("090-8765-4321", "", "未登録") in shown
        assert ("非通知", "", "") in shown
        assert app.window.device_status.state == "connected"
    finally:
        if demo:
            demo.stopping.set()
            demo.join(2)
        if reader:
            reader.stop()
            assert not reader.is_alive()
        if demo:
            assert not demo.is_alive()
        shutil.rmtree(folder, ignore_errors=True)


def test_each_call_shown_is_logged_with_member_found_or_not_and_never_a_name(app, caplog):
    caplog.set_level(logging.INFO, logger="cti")
    app.call(MEMBER)
    app.call(UNKNOWN)
    app.call(None, "private")
    shown = [r.getMessage() for r in caplog.records if r.getMessage().startswith("着信を表示しました")]
    assert shown == ["着信を表示しました (modem): 会員 1名", "着信を表示しました (modem): 未登録",
                     "着信を表示しました (modem): 番号なし"]
    assert "ペンギン" not in caplog.text and "0596" not in caplog.text


def test_today_window_is_ready_for_the_keyboard(app):
    rid = app.db.reserve("AC00001", datetime.now().replace(hour=16, minute=0), "カット")
    today = app.window.open_today()
    assert today.list.selection() == (str(rid),) and today.list.focus() == str(rid)


@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX fallback")
def test_a_hidden_window_comes_back_on_a_call(app):
    app.root.withdraw()                   # Xvfb has no window manager to iconify to: hidden is the same test
    assert app.root.state() == "withdrawn"
    app.call(MEMBER)
    assert pump(app.root, lambda: app.root.state() == "normal")
    assert app.root.attributes("-topmost") in (1, True)


def test_pending_retry_says_saved_only_when_it_wrote_and_a_dialog_keeps_input_when_nothing_could_be_kept(
        app, boxes, excel_lock, monkeypatch):
    monkeypatch.setattr(cti, "REPLACE_RETRIES", ())
    app.call("08023456789")
    dialog = app.window.open_register()
    dialog.vars["name"].set("高橋美咲")
    dialog.button_ok.invoke()
    app.root.update()
    assert not dialog.winfo_exists()                           # kept pending: the dialog may close...
    assert any("失われません" in m for m in boxes.messages("showinfo"))   # ...saying so
    app.window.retry_pending()                                 # Excel still has it
    assert not any("保存しました" in m for m in boxes.messages("showinfo"))
    assert "未保存の変更 1件" in app.window.status.members_line["text"]
    excel_lock["on"] = False
    app.window.retry_pending()
    app.root.update()                                          # the note is shown once the timer has returned
    assert boxes.messages("showinfo")[-1] == "members.csv に保存待ちの変更を保存しました"
    assert "未保存" not in app.window.status.members_line["text"]
    # nowhere to keep a change (the pending file cannot be written): the dialog stays with its input
    excel_lock["on"] = True
    monkeypatch.setattr(cti.PendingFile, "write", lambda self, kept: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))                # injected: the real full disk is in test_shared_store
    dialog = app.window.open_register("0312340000")
    dialog.vars["name"].set("渡辺健")
    dialog.button_ok.invoke()
    app.root.update()
    assert dialog.winfo_exists() and dialog.vars["name"].get() == "渡辺健"
    assert "保存されていません" in dialog.message["text"].replace("\n", "")
    assert app.members.lookup("0312340000") == []


def test_a_sip_calls_end_is_stored_on_its_row_and_rings_nothing(app):
    """SIP's CANCEL reports the call again with answered set: cti.db learns missed or answered
    elsewhere (for the callback list); the card does not pop up a second time."""
    app.events.put(cti.Call(MEMBER, protocol="sip", key="k1", received=datetime.now()))
    assert pump(app.root, lambda: len(app.window.history.tree.get_children()) == 1)
    unseen = app.window.unseen
    app.events.put(cti.Call(MEMBER, protocol="sip", key="k1", answered=False, received=datetime.now()))
    assert pump(app.root, lambda: [c.answered for c in app.db.calls()] == [False])
    assert app.window.unseen == unseen and len(app.window.history.tree.get_children()) == 1


def test_a_refused_sip_extension_is_a_lost_device_in_the_banner(app):
    app.window.config = dataclasses.replace(app.window.config, port="sip://3:secret@192.168.1.1")
    text = "192.168.1.1 が内線 3 の登録を断りました（ユーザID かパスワードが違います…）。30 秒後にもう一度試します"
    app.events.put(cti.Status("refused", text, "sip://3@192.168.1.1"))
    assert pump(app.root, lambda: app.window.card.banner["text"] == "ひかり電話の内線に登録できません（cti.ini のパスワードを確認）")
    assert text in app.window.status.device_line["text"] and "secret" not in app.window.status.device_line["text"]


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# one target: every action acts on the call the card shows (issue 19 item 1)

TAKAHASHI, NEW_CALLER = "08023456789", "09033334444"


def choose_then_ring(app):
    """高橋美咲 calls; she clicks that row; an unknown number calls within the minute (the card takes it)."""
    app.call(TAKAHASHI)
    app.call(UNKNOWN)
    chosen = app.window.history.tree.get_children()[1]
    click_row(app, chosen)
    assert caller(app)["number"] == "080-2345-6789"                   # the row she chose is on the card
    app.call(NEW_CALLER)
    assert app.window.history.tree.selection() == (chosen,)          # her row stays selected ...
    assert caller(app)["number"] == "090-3333-4444"                   # ... but the card shows the new call
    return app.window.card.shown


def named(app, call, what):
    """「090-3333-4444（10:15 の着信）の会員登録」"""
    return f"{cti.format_phone(call.number)}（{call.received:%H:%M} の着信）の{what}"


@pytest.mark.parametrize("how", ["key", "toolbar", "card"])
def test_register_and_link_after_choosing_a_row_act_on_the_new_call(app, how):
    call = choose_then_ring(app)
    for name, cls, what in (("register", cti.RegisterDialog, "会員登録"), ("link", cti.LinkDialog, "電話番号登録")):
        if how == "key":
            press(app.window.history.tree, cti.ACTION[name].key)
        else:
            getattr(app.window, how).buttons[name].invoke()
        [dialog] = toplevels(app, cls)
        assert dialog.vars["phone"].get() == "090-3333-4444", (how, name)
        assert dialog.title() == named(app, call, what) and dialog.heading["text"] == dialog.title()
        dialog.destroy()


def test_f2_registers_the_new_callers_number_not_the_chosen_rows(app):
    """The screenshot's case: 登録 writes the caller's own number; 高橋美咲 keeps hers alone."""
    choose_then_ring(app)
    press(app.window.history.tree, "F2")
    [dialog] = toplevels(app, cti.RegisterDialog)
    dialog.vars["name"].set("新井さくら")
    dialog.button_ok.invoke()
    assert not dialog.winfo_exists()
    assert csv_rows(app.config.members)[-1][:4] == ["AC00009", "新井さくら", "", "090-3333-4444"]
    assert [m.name for m in app.members.lookup(TAKAHASHI)] == ["高橋美咲"]


@pytest.mark.parametrize("how", ["key", "toolbar"])
def test_reserve_and_visits_after_choosing_a_row_act_on_the_new_call(app, how):
    """F4 / F5 (and their buttons) after a row was chosen and a member called: for the member calling."""
    app.call(TAKAHASHI)
    click_row(app, app.window.history.tree.get_children()[0])
    app.call(MEMBER)                                                    # ペンギン貴子 calls: the card takes her
    call = app.window.card.shown
    for name, cls, what in (("reserve", cti.ReserveDialog, "予約登録"), ("visits", cti.VisitHistoryWindow, "来店履歴")):
        if how == "key":
            press(app.window.history.tree, cti.ACTION[name].key)
        else:
            app.window.toolbar.buttons[name].invoke()
        [window] = toplevels(app, cls)
        assert window.member.member_no == "AC00001", (how, name)
        assert window.title().startswith(named(app, call, what)) and window.heading["text"] == window.title()
        window.destroy()


def test_f4_and_f5_for_an_unknown_new_call_say_so_rather_than_open_the_chosen_member(app):
    choose_then_ring(app)
    for key in ("F4", "F5"):
        press(app.window.history.tree, key)
    assert toplevels(app, cti.ReserveDialog) == [] and toplevels(app, cti.VisitHistoryWindow) == []
    assert [m.startswith("090-3333-4444 は未登録の番号です") for m in app.boxes.messages("showinfo")] == [True, True]


def test_choosing_a_row_by_keys_shows_it_and_a_click_below_the_rows_changes_nothing(app):
    app.call(TAKAHASHI)
    app.call(UNKNOWN)
    history = app.window.history.tree
    press(history, "Down")                                              # the latest is selected: down to the older
    press(history, "KeyRelease-Down")                                   # the key let go, as a keyboard does
    assert history.selection() == (history.get_children()[1],) and caller(app)["number"] == "080-2345-6789"
    app.call(NEW_CALLER)
    x, y, width, height = history.bbox(history.get_children()[-1])
    history.event_generate("<ButtonPress-1>", x=x + 20, y=y + height * 3)   # the empty space under the rows
    history.event_generate("<ButtonRelease-1>", x=x + 20, y=y + height * 3)
    app.root.update()
    assert caller(app)["number"] == "090-3333-4444"                   # nothing chosen: the new call stays


def test_register_warns_of_the_members_holding_the_number_once_before_saving(app):
    app.call(TAKAHASHI)
    dialog = app.window.open_register()
    note = dialog.owner_note["text"]
    assert "080-2345-6789" in note and "高橋美咲" in note                 # in the dialog, before saving
    dialog.vars["phone"].set("090-3333-4444")
    assert dialog.owner_note["text"] == ""                             # a number nobody holds: nothing to say
    dialog.vars["phone"].set("080-2345-6789")
    dialog.vars["name"].set("高橋 翔")
    dialog.button_ok.invoke()
    assert not dialog.winfo_exists()
    assert [m.name for m in app.members.lookup(TAKAHASHI)] == ["高橋美咲", "高橋 翔"]
    app.root.update()
    assert not any("高橋美咲" in m for m in app.boxes.messages("showinfo"))   # not told a second time


def test_link_warns_of_the_members_holding_the_number_once_before_saving(app):
    app.call(TAKAHASHI)
    dialog = app.window.open_link()
    assert "高橋美咲" in dialog.owner_note["text"]
    dialog.vars["query"].set("AC00003")
    app.root.update()
    dialog.button_ok.invoke()
    assert not dialog.winfo_exists()
    assert [m.name for m in app.members.lookup(TAKAHASHI)] == ["鈴木一郎", "高橋美咲"]
    app.root.update()
    assert not any("高橋美咲" in m for m in app.boxes.messages("showinfo"))
