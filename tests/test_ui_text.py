"""The words and rows the window shows: cti's pure UI helpers, tested without a display."""

import sys
from datetime import date, datetime, timedelta

import pytest

import cti

PENGUIN = cti.Member("AC00001", "ペンギン貴子", "ぺんぎんたかこ", ("0596310005",), "佐藤", "ハーブティー")
HANAKO = cti.Member("AC00002", "山田花子", "やまだはなこ", ("09012345678",), "鈴木")
ICHIRO = cti.Member("AC00003", "鈴木一郎", "すずきいちろう", ("0596310005",), "")
WHEN = datetime(2026, 11, 25, 9, 5, 7)


def record(number=None, reason=None, received=WHEN):
    return cti.CallRecord(1, received, number, reason, None, "modem")


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the font

@pytest.mark.parametrize("available, expected", [
    ({"Yu Gothic UI", "Meiryo UI", "IPAGothic", "Arial"}, "Yu Gothic UI"),
    (("Meiryo UI", "Meiryo", "IPAGothic"), "Meiryo UI"),          # Windows 8.1 and older: no Yu Gothic
    (["MS UI Gothic", "Arial"], "MS UI Gothic"),
    (("DejaVu Sans", "IPAPGothic", "IPAGothic"), "IPAGothic"),     # Linux with the IPA font: the list's order wins
    (("DejaVu Sans", "Noto Sans CJK JP"), "Noto Sans CJK JP"),
])
def test_ui_font_family_prefers_windows_fonts_then_falls_back(available, expected):
    assert cti.ui_font_family(available) == expected


@pytest.mark.parametrize("available", [(), ["DejaVu Sans", "Liberation Serif"], {"yu gothic ui"}])
def test_ui_font_family_without_a_japanese_font_is_tk_default(available):
    assert cti.ui_font_family(available) == "TkDefaultFont"


def test_ui_font_family_takes_a_generator_once():
    assert cti.ui_font_family(f for f in ("Arial", "Meiryo UI")) == "Meiryo UI"


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the caller

@pytest.mark.parametrize("number, reason, expected", [
    ("0596310005", None, "0596-31-0005"),
    ("09087654321", None, "090-8765-4321"),
    ("0312345678", None, "03-1234-5678"),
    (None, "private", "非通知"),
    (None, "payphone", "公衆電話"),
    (None, "out_of_area", "表示圏外"),
    (None, "conflict", "サービス競合"),
    (None, None, "番号なし"),
])
def test_caller_text(number, reason, expected):
    assert cti.caller_text(number, reason) == expected


@pytest.mark.parametrize("number, reason, members, expected", [
    ("0596310005", None, [PENGUIN], "CTI — 0596-31-0005 ペンギン貴子"),
    ("0596310005", None, [PENGUIN, ICHIRO], "CTI — 0596-31-0005 ペンギン貴子・鈴木一郎"),
    ("0596310009", None, [cti.Member("AC00009", "共有 一"), cti.Member("AC00010", "共有 二")],
     "CTI — 0596-31-0009 共有 一・共有 二"),
    ("0596310005", None, [PENGUIN, ICHIRO, HANAKO, PENGUIN, ICHIRO],
     "CTI — 0596-31-0005 ペンギン貴子・鈴木一郎・山田花子 他2名"),
    ("09087654321", None, [], "CTI — 090-8765-4321 未登録"),
    (None, "private", [], "CTI — 非通知"),
    (None, "payphone", [], "CTI — 公衆電話"),
    (None, "out_of_area", [], "CTI — 表示圏外"),
])
def test_window_title(number, reason, members, expected):
    assert cti.window_title(number, reason, members) == expected


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# history rows

def test_history_row_member():
    row = cti.history_row(record("0596310005"), [PENGUIN])
    assert row == ("11/25(水) 09:05", "0596-31-0005", "AC00001", "ペンギン貴子", "ぺんぎんたかこ", "佐藤")
    assert len(row) == len(cti.HISTORY_COLUMNS)


def test_history_row_several_members_share_a_number():
    """Everyone on the number is named: the second member is never hidden behind （他1名）."""
    assert cti.history_row(record("0596310005"), [PENGUIN, ICHIRO]) == (
        "11/25(水) 09:05", "0596-31-0005", "AC00001・AC00003", "ペンギン貴子・鈴木一郎",
        "ぺんぎんたかこ・すずきいちろう", "佐藤")
    assert cti.history_row(record("0596310005"), [PENGUIN, ICHIRO, HANAKO])[3] == "ペンギン貴子・鈴木一郎・山田花子"


def test_tray_title_counts_calls_not_yet_seen():
    assert cti.tray_title(0) == "CTI — 着信を待っています"
    assert cti.tray_title(3) == "CTI — 不在着信 3件"


def test_tray_title_says_a_lost_device_first():
    lost = "ひかり電話の内線に登録できません（cti.ini のパスワードを確認）"
    assert cti.tray_title(0, lost) == f"CTI — {lost}"
    assert cti.tray_title(2, lost) == f"CTI — {lost}・不在着信 2件"


def test_dates_as_a_salon_writes_them():
    assert cti.day_text(datetime(2026, 11, 28)) == "11/28(土)"
    assert cti.day_text(datetime(2025, 1, 5), with_year=True) == "2025/1/5(日)"
    assert cti.when_text(datetime(2026, 11, 28, 14, 30)) == "11/28(土) 14:30"


@pytest.mark.parametrize("main, size, expected", [
    (cti.Rect(800, 300, 1272, 760), (400, 300), (392, 300)),      # left of the main window, tops aligned
    (cti.Rect(8, 300, 480, 760), (400, 300), (488, 300)),          # no room on the left: right
    (cti.Rect(8, 400, 1272, 760), (400, 300), (872, 92)),          # neither side: above, right edges aligned
    (cti.Rect(8, 100, 1272, 760), (400, 300), (872, 500)),         # nowhere: clamped low, off the card
    (cti.Rect(800, 600, 1272, 790), (400, 300), (392, 500)),       # left, moved up to stay on the screen
])
def test_beside_places_a_dialog_off_the_main_window(main, size, expected):
    assert cti.beside(main, *size, cti.Rect(0, 0, 1280, 800)) == expected


def test_beside_stays_inside_a_work_area_that_does_not_start_at_zero():
    """A taskbar on the left (work area from x=48) or a second monitor at negative x."""
    assert cti.beside(cti.Rect(100, 100, 500, 500), 300, 200, cti.Rect(48, 0, 1280, 760)) == (508, 100)
    assert cti.beside(cti.Rect(-1000, 100, -500, 500), 300, 200, cti.Rect(-1920, 0, 0, 1040)) == (-1308, 100)


def test_history_row_unknown_number():
    assert cti.history_row(record("09087654321"), []) == ("11/25(水) 09:05", "090-8765-4321", "", "未登録", "", "")


@pytest.mark.parametrize("reason, text", [("private", "非通知"), ("payphone", "公衆電話"), ("conflict", "サービス競合")])
def test_history_row_without_number(reason, text):
    assert cti.history_row(record(None, reason), []) == ("11/25(水) 09:05", text, "", "", "", "")


def test_history_row_member_without_staff_or_kana():
    assert cti.history_row(record("0596310005", received=datetime(2026, 1, 2, 23, 59)), [ICHIRO]) == (
        "1/2(金) 23:59", "0596-31-0005", "AC00003", "鈴木一郎", "すずきいちろう", "")


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# counts and the members' status

def test_counts_text():
    assert cti.counts_text({"reserved": 4, "arrived": 2, "departed": 1}) == \
        "本日  予約人数 4人   来店人数 2人   退店人数 1人"
    assert "予約人数 0人" in cti.counts_text({"reserved": 0, "arrived": 0, "departed": 0})


def members_file(tmp_path, text):
    path = tmp_path / "members.csv"
    path.write_bytes(text.encode("utf-8-sig"))
    return path


def test_members_status_count(tmp_path):
    table = cti.MemberTable(members_file(tmp_path, cti.DEMO_MEMBERS)).load()
    assert cti.members_status(table) == "会員 8件"


def test_members_status_skipped_rows(tmp_path):
    text = cti.DEMO_MEMBERS + ",名無し,,03-0000-0000,,\r\nAC00001,重複,,,,\r\n"
    table = cti.MemberTable(members_file(tmp_path, text)).load()
    assert cti.members_status(table) == "会員 8件（読み飛ばした行 2）"


def test_members_status_pending_change(tmp_path, monkeypatch, excel_lock):
    """Excel holds members.csv: the change is kept and the status says so."""
    table = cti.MemberTable(members_file(tmp_path, cti.DEMO_MEMBERS)).load()
    monkeypatch.setattr(cti, "REPLACE_RETRIES", ())
    reg, errors = cti.validate_registration({"name": "新井さくら", "phone": "090-8765-4321"}, table)
    assert errors == {}
    with pytest.raises(cti.WriteDeferred):
        table.register(reg)
    status = cti.members_status(table)
    assert status.startswith("会員 9件")
    assert "未保存の変更 1件" in status and "Excel を閉じると保存します" in status


def test_members_status_error(tmp_path):
    table = cti.MemberTable(members_file(tmp_path, "会員番号,電話番号\r\nAC1,03-1234-5678\r\n"))
    with pytest.raises(cti.MembersError):
        table.load()
    status = cti.members_status(table)
    assert status.startswith("会員台帳を読めません: ")
    assert "名前" in status                     # which column is missing


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# HiDPI

@pytest.mark.skipif(sys.platform == "win32", reason="off Windows only")
def test_enable_hidpi_does_nothing_off_windows():
    assert cti.enable_hidpi() is False


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the caller card

def test_caller_panel_for_a_member_with_the_visit_line():
    last = cti.Visit(1, "AC00001", "2026-10-22", "カラー", "佐藤", 8800, "")
    booked = cti.Reservation(2, "AC00001", datetime(2026, 11, 28, 14, 30), "カット", "田中", "", "予約")
    panel = cti.caller_panel(record("0596310005"), [PENGUIN], last, booked)
    assert panel == cti.CallerPanel("member", "09:05 着信", "0596-31-0005", "ぺんぎんたかこ", "ペンギン貴子 様",
                                    "会員番号 AC00001  主担当 佐藤", "メモ: ハーブティー",
                                    "前回 10/22 カラー（佐藤）・次回 11/28(土) 14:30")


def test_caller_panel_visit_line_parts():
    assert cti.visit_line() == ""
    assert cti.visit_line(cti.Visit(1, "A", "2026-01-05", "カット", "", None, "")) == "前回 1/5 カット"
    booked = cti.Reservation(2, "A", datetime(2026, 12, 1, 10, 0), "", "", "", "予約")
    assert cti.visit_line(None, booked) == "次回 12/1(火) 10:00"


def test_caller_panel_names_everyone_on_a_shared_number():
    panel = cti.caller_panel(record("0596310005"), [PENGUIN, ICHIRO])
    assert panel.name == "ペンギン貴子・鈴木一郎 様"
    assert "AC00001" in panel.details and "AC00003" in panel.details
    assert panel.memo == "ペンギン貴子: ハーブティー" and panel.history == ""


@pytest.mark.parametrize("number, reason, state, name", [
    ("09087654321", None, "unknown", "未登録の番号です"),
    (None, "private", "withheld", "非通知"),
    (None, "payphone", "withheld", "公衆電話"),
    (None, "out_of_area", "withheld", "表示圏外"),
])
def test_caller_panel_states(number, reason, state, name):
    panel = cti.caller_panel(record(number, reason), [])
    assert (panel.state, panel.name) == (state, name)
    assert cti.CARD_COLOURS[state] not in ("#b00020", "red")           # calm, not error red


def test_the_unknown_callers_hint_breaks_between_its_sentences():
    """On the card it wrapped wherever the width ran out (「…ができ／ます」 at 150 %)."""
    panel = cti.caller_panel(record("09087654321", None), [])
    assert panel.details.split("\n") == ["はじめての方かもしれません。", "会員登録か、登録済みの方への番号追加ができます"]


def test_caller_panel_waiting():
    assert cti.caller_panel(None, []) == cti.CallerPanel("waiting", name="着信待ち")


@pytest.mark.parametrize("seconds, text", [(0, "たった今"), (59, "たった今"), (60, "1分前"), (3 * 60 + 5, "3分前"),
                                           (2 * 3600, "2時間前"), (86400 + 5, "11/25(水)")])
def test_elapsed_text(seconds, text):
    assert cti.elapsed_text(WHEN, WHEN + timedelta(seconds=seconds)) == text


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# bookings

@pytest.mark.parametrize("day, with_year, text", [
    (date(2026, 11, 28), False, "11/28(土)"),
    (date(2026, 11, 23), False, "11/23(月)"),
    (date(2026, 1, 4), False, "1/4(日)"),
    (date(2024, 2, 29), False, "2/29(木)"),                      # a leap day
    (date(2027, 1, 6), True, "2027/1/6(水)"),                    # another year says so
    (datetime(2026, 12, 30, 23, 59), False, "12/30(水)"),        # a datetime too
])
def test_day_text_takes_the_weekday_from_the_date(day, with_year, text):
    assert cti.day_text(day, with_year) == text


def test_day_text_does_not_follow_the_locale(monkeypatch):
    import locale
    try:
        locale.setlocale(locale.LC_TIME, "C")
    except locale.Error:
        pass
    assert [cti.day_text(date(2026, 11, 23) + timedelta(days=d)) for d in range(7)] == [
        "11/23(月)", "11/24(火)", "11/25(水)", "11/26(木)", "11/27(金)", "11/28(土)", "11/29(日)"]


def booking(id, hour, minute=0, menu="カット", staff="佐藤", status="予約", member_no="AC00001"):
    return cti.Reservation(id, member_no, datetime(2026, 11, 28, hour, minute), menu, staff, "", status)


def test_booked_text_and_cancel_question():
    assert cti.booked_text(datetime(2026, 11, 28, 14, 30), "カット", "田中") == "11/28(土) 14:30 カット 田中 で予約しました"
    assert cti.booked_text(datetime(2026, 11, 28, 14, 30), "", "") == "11/28(土) 14:30 で予約しました"
    assert cti.booked_text(datetime(2026, 11, 28, 14, 30), "カット", "", moved=True) == "11/28(土) 14:30 カット に変更しました"
    assert (cti.booked_text(datetime(2026, 11, 28, 14, 30), "カット", "田中", who="共有 二")
            == "共有 二 様 11/28(土) 14:30 カット 田中 で予約しました")
    assert [cti.status_done_text(*a) for a in (("来店",), ("退店", 8800), ("退店", None), ("取消",))] == [
        "来店を記録しました", "退店を記録しました（8,800円）", "退店を記録しました", "予約を取り消しました"]
    assert [cti.status_done_text(*a, who="共有 二") for a in (("来店",), ("退店", 8800), ("取消",))] == [
        "共有 二 様の来店を記録しました", "共有 二 様の退店を記録しました（8,800円）", "共有 二 様の予約を取り消しました"]
    assert cti.cancel_question(booking(1, 14, 30), PENGUIN) == "11/28(土) 14:30 ペンギン貴子 様（カット）の予約を取り消しますか？"
    assert cti.cancel_question(booking(1, 9, menu=""), None) == "11/28(土) 09:00 （台帳にない会員） 様の予約を取り消しますか？"


def test_amount_text():
    assert [cti.amount_text(a) for a in (4500, 0, 123456, None)] == ["4,500円", "0円", "123,456円", ""]


def test_staff_choices_from_the_ini_else_from_members():
    assert cti.staff_choices(("田中", "佐藤"), ["鈴木"]) == ["田中", "佐藤"]
    assert cti.staff_choices((), ["鈴木", "佐藤"]) == ["鈴木", "佐藤"]


def test_the_days_bookings_by_stylist_and_the_overlap_in_words():
    by_no = {PENGUIN.member_no: PENGUIN, HANAKO.member_no: HANAKO}
    minutes_of = {"カット": 60, "カラー": 90}.get
    day = [booking(1, 14, menu="カラー"), booking(2, 10, staff="鈴木", member_no="AC00002"),
           booking(3, 9, staff="佐藤", status="取消"), booking(4, 11, staff=""), booking(5, 9, staff="佐藤")]
    rows = cti.staff_day_rows(day, by_no, lambda r: minutes_of(r.menu))
    assert rows == [("5", ("佐藤", "09:00–10:00", "ペンギン貴子", "カット", "予約")),
                    ("1", ("佐藤", "14:00–15:30", "ペンギン貴子", "カラー", "予約")),
                    ("2", ("鈴木", "10:00–11:00", "山田花子", "カット", "予約")),
                    ("4", ("（担当なし）", "11:00–12:00", "ペンギン貴子", "カット", "予約"))]
    assert cti.overlap_text([day[0]], by_no, lambda r: minutes_of(r.menu)) == \
        "佐藤 さんは 14:00–15:30 ペンギン貴子 様（カラー）の予約と重なります"
    assert cti.booking_row(day[1], HANAKO) == ("10:00", "AC00002", "山田花子", "カット", "鈴木", "予約")


def test_the_which_member_question_names_the_shared_number():
    both = [cti.Member("AC00008", "共有 一", "きょうゆう", ("0596310009", "0312345678")),
            cti.Member("AC00009", "共有 二", "", ("0596310009",))]
    assert cti.choice_question(both) == "0596-31-0009 の会員は 2 名です。どなたですか？"
    assert [cti.choice_label(m) for m in both] == ["AC00008  共有 一（きょうゆう）", "AC00009  共有 二"]


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# Japanese line breaking and dates as shown

@pytest.mark.parametrize("width", range(4, 40))
def test_lines_break_where_japanese_allows(width):
    text = "登録しました: AC00009 新井さくら 様。次は 0596-31-0005 さん（佐藤）にお電話を。"
    lines = cti.break_lines(text, width, len).split("\n")
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")          # nothing lost but spaces at breaks
    for line in lines:
        assert not line.startswith(("。", "、", "）", "様", "さん", " ")) and not line.endswith("（")
        assert len(line) <= width or len(cti.line_units(line)) == 1
    assert any("新井さくら 様" in line for line in lines) and any("0596-31-0005" in line for line in lines)


def test_a_date_is_typed_as_it_is_shown():
    today = datetime(2026, 12, 8, 10, 0)
    assert cti.parse_date("12/8(火)", today) == cti.parse_date("１２/８（火）", today) == today.date()
    assert cti.parse_date("2027/1/5(火)", today) == datetime(2027, 1, 5).date()
    assert cti.parse_date(cti.day_text(today.date()), today) == today.date()
