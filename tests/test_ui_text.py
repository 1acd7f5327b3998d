"""The words and rows the window shows: cti's pure UI helpers, tested without a display."""

import sys
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cti  # noqa: E402

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
    ("0596310005", None, [PENGUIN, ICHIRO], "CTI — 0596-31-0005 ペンギン貴子"),
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
    assert row == ("11/25 09:05", "0596-31-0005", "AC00001", "ペンギン貴子", "ぺんぎんたかこ", "佐藤")
    assert len(row) == len(cti.HISTORY_COLUMNS)


def test_history_row_several_members_share_a_number():
    assert cti.history_row(record("0596310005"), [PENGUIN, ICHIRO]) == (
        "11/25 09:05", "0596-31-0005", "AC00001", "ペンギン貴子（他1名）", "ぺんぎんたかこ", "佐藤")
    assert cti.history_row(record("0596310005"), [PENGUIN, ICHIRO, HANAKO])[3] == "ペンギン貴子（他2名）"


def test_history_row_unknown_number():
    assert cti.history_row(record("09087654321"), []) == ("11/25 09:05", "090-8765-4321", "", "未登録", "", "")


@pytest.mark.parametrize("reason, text", [("private", "非通知"), ("payphone", "公衆電話"), ("conflict", "サービス競合")])
def test_history_row_without_number(reason, text):
    assert cti.history_row(record(None, reason), []) == ("11/25 09:05", text, "", "", "", "")


def test_history_row_member_without_staff_or_kana():
    assert cti.history_row(record("0596310005", received=datetime(2026, 1, 2, 23, 59)), [ICHIRO]) == (
        "01/02 23:59", "0596-31-0005", "AC00003", "鈴木一郎", "すずきいちろう", "")


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
