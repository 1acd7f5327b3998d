"""members.csv: reading, lookup, search, register, link and safe writes, on real files in tmp_path.

Nothing here mocks the file system; the only stand-in is an os.replace wrapper that plays
Excel holding members.csv open (PermissionError, as Windows raises it).
"""

import csv
import io
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
import cti
from conftest import MEMBERS_HEADER, MEMBERS_SAMPLE, write_members

HEADER, SAMPLE = MEMBERS_HEADER, MEMBERS_SAMPLE
write_csv = write_members


def load(path: Path) -> cti.MemberTable:
    return cti.MemberTable(path).load()


def register(table, **form):
    registration, errors = cti.validate_registration(form, table)
    assert errors == {}, errors
    return table.register(registration)


def rows_of(data: bytes, encoding="utf-8-sig"):
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


@pytest.fixture
def members_csv(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, SAMPLE)
    return path


# -----------------------------------------------------------------------------
# reading: encodings

MEMBERS_WITH_CP932_ONLY_CHARS = [
    HEADER,
    "AC00001,髙橋①子,たかはしいちこ,0596-31-0005,佐藤,㈱ペンギン勤務,,",
    "AC00002,山田花子,やまだはなこ,03-1234-5678,鈴木,～ハーブ～,,",
]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp932"])
def test_reads_each_encoding(tmp_path, encoding):
    path = tmp_path / "members.csv"
    data = write_csv(path, MEMBERS_WITH_CP932_ONLY_CHARS, encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf")
    table = load(path)
    assert table.encoding == ("utf-8-sig" if encoding == "utf-8" else encoding)   # written with a BOM
    assert table.problems == []
    [member] = table.lookup("0596310005")
    assert (member.member_no, member.name, member.memo) == ("AC00001", "髙橋①子", "㈱ペンギン勤務")
    assert table.lookup("03-1234-5678")[0].memo == "～ハーブ～"
    assert table.header[0] == "会員番号"                        # no BOM left in the first header


def test_cp932_characters_that_shift_jis_lacks_are_read(tmp_path):
    for char in "髙①㈱":
        with pytest.raises(UnicodeEncodeError):
            char.encode("shift_jis")                            # the reason cp932 is needed
    path = tmp_path / "members.csv"
    write_csv(path, MEMBERS_WITH_CP932_ONLY_CHARS, "cp932")
    table = load(path)
    assert [m.name for m in table.members] == ["髙橋①子", "山田花子"]


def test_file_in_neither_encoding_is_refused_clearly(tmp_path):
    path = tmp_path / "members.csv"
    # 0x81 0x20 and 0x85 0x40 are invalid in CP932 and in UTF-8
    path.write_bytes(HEADER.encode("cp932") + b"\r\nAC00001,\x81\x20\x85\x40,,0312345678\r\n")
    table = cti.MemberTable(path)
    with pytest.raises(cti.MembersError) as caught:
        table.load()
    message = str(caught.value)
    assert "members.csv" in message and "UTF-8" in message and "CP932" in message
    assert table.error == message
    assert "\ufffd" not in message


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp932"])
def test_written_back_in_the_encoding_it_was_read_in(tmp_path, encoding):
    path = tmp_path / "members.csv"
    before = write_csv(path, MEMBERS_WITH_CP932_ONLY_CHARS, encoding)
    table = load(path)
    member, _ = register(table, name="髙田㈱", kana="たかだ", phone="090-1111-2222")
    data = path.read_bytes()
    # a UTF-8 file without BOM gains one (Japanese Excel garbles it otherwise); every byte else stays
    assert data.startswith(b"\xef\xbb\xbf" + before if encoding == "utf-8" else before)
    assert data.startswith(b"\xef\xbb\xbf") == (encoding != "cp932")
    if encoding == "cp932":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    text = data.decode(encoding)
    assert text.endswith(f"{member.member_no},髙田㈱,たかだ,090-1111-2222,,,,\r\n")
    assert load(path).lookup("09011112222")[0].name == "髙田㈱"


def test_new_file_is_utf8_with_bom_and_header(tmp_path):
    path = tmp_path / "members.csv"
    table = load(path)
    assert table.members == [] and table.next_member_no() == "00001"
    member, _ = register(table, name="山田花子", kana="やまだはなこ", phone="03-1234-5678")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == ",".join(cti.MEMBERS_HEADER) + "\r\n00001,山田花子,やまだはなこ,03-1234-5678,,\r\n"
    assert member.member_no == "00001"


def test_empty_file_counts_as_new(tmp_path):
    path = tmp_path / "members.csv"
    path.write_bytes(b"")
    table = load(path)
    assert table.next_member_no() == "00001"
    register(table, name="山田花子")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + "会員番号".encode())
    assert data.decode("utf-8-sig").splitlines() == [",".join(cti.MEMBERS_HEADER), "00001,山田花子,,,,"]


def test_header_without_line_end_gets_crlf_rows(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号"], final=False)
    register(load(path), name="山田花子", phone="0312345678")
    assert path.read_bytes().decode("utf-8-sig") == "会員番号,名前,電話番号\r\n00001,山田花子,03-1234-5678\r\n"


# -----------------------------------------------------------------------------
# reading: columns and cells

def test_english_headers_any_case(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["Member_No,Name,Kana,Phone,Staff,Memo",
                     "A1,Hanako Yamada,やまだ,03-1234-5678,Suzuki,VIP"])
    [member] = load(path).lookup("0312345678")
    assert member.to_dict() == {"member_no": "A1", "name": "Hanako Yamada", "kana": "やまだ",
                                "phones": ["0312345678"], "staff": "Suzuki", "memo": "VIP"}


def test_japanese_header_aliases(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["氏名,会員番号,フリガナ,備考,担当,電話番号", "山田花子,A1,ヤマダハナコ,メモ欄,鈴木,0312345678"])
    [member] = load(path).lookup("03-1234-5678")
    assert (member.member_no, member.name, member.kana, member.memo, member.staff) == \
        ("A1", "山田花子", "ヤマダハナコ", "メモ欄", "鈴木")


def test_further_phone_columns_by_prefix(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号,携帯,TEL2,phone2,電話（勤務先）,住所",
                     "A1,山田花子,03-1234-5678,090-1111-2222,045-123-4567,06-6234-5678,0467-12-3456,0120-123-456"])
    table = load(path)
    [member] = table.members
    assert member.phones == ("0312345678", "09011112222", "0451234567", "0662345678", "0467123456")
    for number in member.phones:
        assert table.lookup(number) == [member]
    assert table.lookup("0120123456") == []                   # 住所 is not a phone column


@pytest.mark.parametrize("missing", ["会員番号", "名前"])
def test_required_column_missing(tmp_path, missing):
    path = tmp_path / "members.csv"
    header = [h for h in ["会員番号", "名前", "電話番号"] if h != missing]
    write_csv(path, [",".join(header), "x,0312345678"])
    with pytest.raises(cti.MembersError) as caught:
        load(path)
    assert "members.csv" in str(caught.value) and missing in str(caught.value)


def test_unclosed_quote_in_a_large_file_is_reported_with_its_line(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号", "A1,一,03-1234-5678", 'A2,"二,03-1234-5679'] +
              [f"A{i},会員{i},090{i:08d}" for i in range(3, 20000)])
    table = load(path)           # past csv's own field limit (131,072): still one problem, never csv.Error
    assert [m.member_no for m in table.members] == ["A1"]
    assert table.problems[0].startswith("members.csv 3行目: \" で始まるセルが閉じていない")


def test_several_numbers_in_one_cell(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号",
                     "A1,一,03-1234-5678; 090-1111-2222",
                     "A2,二,045-123-4567/06-6234-5678",
                     "A3,三,0467-12-3456、080-2345-6789",
                     'A4,四,"070-3456-7890\r\n050-1234-5678\n0596-31-0005"',
                     "A5,五,"])                                  # line 8, after the 3-line cell (5-7)
    table = load(path)
    expected = {"A1": ("0312345678", "09011112222"), "A2": ("0451234567", "0662345678"),
                "A3": ("0467123456", "08023456789"), "A4": ("07034567890", "05012345678", "0596310005")}
    assert {m.member_no: m.phones for m in table.members if m.phones} == expected
    for member_no, numbers in expected.items():
        for number in numbers:
            assert [m.member_no for m in table.lookup(number)] == [member_no]
    assert table.by_no["A5"].line == 8 and table.by_no["A5"].phones == ()


def test_excel_damage_is_repaired(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号,携帯",
                     "A1,lost zero,312345678,9012345678",
                     "A2,full width,０４５－１２３－４５６７,",
                     "A3,plus81,+81 6-6234-5678,+81-80-2345-6789",
                     "A4,float,467123456.0,",
                     "A5,brackets,(0596) 31-0005,",
                     "A6,scientific,3.12346E+09,070-3456-7890"])
    table = load(path)
    phones = {m.member_no: m.phones for m in table.members}
    assert phones == {"A1": ("0312345678", "09012345678"), "A2": ("0451234567",),
                      "A3": ("0662345678", "08023456789"), "A4": ("0467123456",),
                      "A5": ("0596310005",), "A6": ("07034567890",)}
    assert [m.member_no for m in table.lookup("03-1234-5678")] == ["A1"]
    assert [m.member_no for m in table.lookup("+81 90 1234 5678")] == ["A1"]
    [problem] = table.problems
    assert problem.startswith("members.csv 7行目") and "3.12346E+09" in problem and "指数" in problem


def test_bad_rows_are_reported_with_their_line_and_skipped(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, [HEADER,
                     "AC00001,ペンギン貴子,,0596-31-0005,,,,",
                     "",                                           # blank: skipped silently
                     'AC00002,山田花子,,03-1234-5678,,"二行の\nメモ",,',  # lines 4-5
                     "AC00001,偽ペンギン,,099-999-9999,,,,",       # line 6: duplicate
                     ",名無し番号,,045-123-4567,,,,",              # line 7: no member no.
                     "AC00003,,,06-6234-5678,,,,",                 # line 8: no name
                     ",,,,,,,",                                    # blank cells: skipped silently
                     "  ,  ,,,,,,",
                     "AC00004,高橋美咲,,080-2345-6789,,,,"])      # line 11
    table = load(path)
    assert table.problems == [
        "members.csv 6行目: 会員番号 AC00001 が 2行目と重複しています",
        "members.csv 7行目: 会員番号が空です",
        "members.csv 8行目: 名前が空です（会員番号 AC00003）",
    ]
    assert [m.member_no for m in table.members] == ["AC00001", "AC00002", "AC00004"]
    assert [m.line for m in table.members] == [2, 4, 11]
    assert table.lookup("0596310005")[0].name == "ペンギン貴子"
    assert table.lookup("0999999999") == [] and table.lookup("0451234567") == []
    assert table.lookup("0662345678") == []


def test_two_members_sharing_a_number_both_come_back(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, [HEADER, "AC00001,山田花子,,03-1234-5678,,,,",
                     "AC00002,鈴木一郎,,045-123-4567,,,,",
                     "AC00003,山田太郎,,0312345678; 090-1111-2222,,,,"])
    table = load(path)
    assert [m.member_no for m in table.lookup("03-1234-5678")] == ["AC00001", "AC00003"]
    assert [m.member_no for m in table.lookup("09011112222")] == ["AC00003"]
    assert table.lookup("09099999999") == []


def test_lookup_rereads_a_file_changed_on_disk(members_csv):
    table = load(members_csv)
    assert table.lookup("080-2345-6789") == []
    stamp = table.stamp
    lines = SAMPLE + ["AC00004,高橋美咲,たかはしみさき,080-2345-6789,田中,,,"]
    write_csv(members_csv, lines)
    st = members_csv.stat()
    os.utime(members_csv, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    assert table.reader.stat() != stamp
    assert [m.name for m in table.lookup("08023456789")] == ["高橋美咲"]
    assert table.stamp == table.reader.stat()


def test_lookup_notices_a_same_size_rewrite_by_its_mtime(members_csv):
    table = load(members_csv)
    size = members_csv.stat().st_size
    mtime = members_csv.stat().st_mtime_ns
    write_csv(members_csv, [line.replace("ペンギン貴子", "ペンギン幸子") for line in SAMPLE])
    os.utime(members_csv, ns=(mtime, mtime + 3_000_000_000))
    assert members_csv.stat().st_size == size
    assert table.lookup("0596-31-0005")[0].name == "ペンギン幸子"


def test_lookup_without_change_does_not_reread(members_csv):
    table = load(members_csv)
    assert table.refresh() is False
    first = table.lookup("0596310005")[0]
    assert table.lookup("0596310005")[0] is first              # the same parsed object: no re-read


# -----------------------------------------------------------------------------
# writing: bytes kept

ODD_FILE = [
    "誕生日,会員番号,住所,名前,電話番号,来店きっかけ,ふりがな,メモ,ポイント",
    '1985/04/12,AC00001,"三重県伊勢市, 本町 1-2",ペンギン貴子,0596-31-0005,"紹介 (""友人"")",ぺんぎんたかこ,,0120',
    '"1990/11/03","AC00002","東京都\n千代田区",山田花子,"090-1234-5678; 03-1234-5678",ホットペッパー ,やまだはなこ,"a, b",',
    ' ,AC00003,,鈴木一郎,312345678,,すずきいちろう,  空白  ,00012',
]


def test_unknown_columns_and_order_survive_a_register_byte_for_byte(tmp_path):
    path = tmp_path / "members.csv"
    before = write_csv(path, ODD_FILE)
    member, notes = register(load(path), name="高橋美咲", kana="たかはしみさき", phone="080-2345-6789",
                             memo="縮毛矯正")
    after = path.read_bytes()
    assert member.member_no == "AC00004" and notes == []
    assert after.startswith(before)
    added = after[len(before):]
    assert added == ",AC00004,,高橋美咲,080-2345-6789,,たかはしみさき,縮毛矯正,\r\n".encode()


def test_unknown_columns_and_order_survive_a_link_byte_for_byte(tmp_path):
    path = tmp_path / "members.csv"
    before = write_csv(path, ODD_FILE)
    lines = [(line + "\r\n").encode() for line in ODD_FILE]
    table = load(path)
    member, notes = table.link("AC00002", "0467-12-3456")
    after = path.read_bytes()
    head, tail = b"\xef\xbb\xbf" + lines[0] + lines[1], lines[3]
    assert after.startswith(head) and after.endswith(tail)
    [changed] = rows_of(after[len(head):len(after) - len(tail)], "utf-8")
    assert changed == ["1990/11/03", "AC00002", "東京都\n千代田区", "山田花子",
                       "090-1234-5678; 03-1234-5678; 0467-12-3456", "ホットペッパー ", "やまだはなこ", "a, b", ""]
    assert member.phones == ("09012345678", "0312345678", "0467123456") and notes == []
    assert len(after) > len(before)
    assert [m.member_no for m in load(path).lookup("0467123456")] == ["AC00002"]


def test_link_on_the_last_row_keeps_every_other_row(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ODD_FILE)
    before_lines = [(line + "\r\n").encode() for line in ODD_FILE]
    load(path).link("AC00003", "090-5555-6666")
    after = path.read_bytes()
    head = b"\xef\xbb\xbf" + b"".join(before_lines[:3])
    assert after.startswith(head)
    [changed] = rows_of(after[len(head):], "utf-8")
    assert changed == [" ", "AC00003", "", "鈴木一郎", "312345678; 090-5555-6666", "", "すずきいちろう",
                       "  空白  ", "00012"]


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_line_endings_are_kept(tmp_path, newline):
    path = tmp_path / "members.csv"
    before = write_csv(path, SAMPLE, newline=newline)
    table = load(path)
    register(table, name="高橋美咲", phone="080-2345-6789")
    table.link("AC00001", "090-5555-6666")
    text = path.read_bytes().decode("utf-8-sig")
    lines = text.split(newline)
    assert lines[-1] == "" and len(lines) == 6
    if newline == "\n":
        assert "\r" not in text
    else:
        assert text.count("\r\n") == text.count("\n") == 5
    assert lines[1] == "AC00001,ペンギン貴子,ぺんぎんたかこ,0596-31-0005; 090-5555-6666,佐藤,カラーは 6 トーン,1985/04/12,三重県伊勢市"
    assert text.startswith(before.decode("utf-8-sig").split(newline)[0] + newline)


def test_file_without_final_line_end_gets_one_before_the_new_row(tmp_path):
    path = tmp_path / "members.csv"
    before = write_csv(path, SAMPLE, final=False)
    register(load(path), name="高橋美咲")
    assert path.read_bytes() == before + "\r\nAC00004,高橋美咲,,,,,,\r\n".encode()


# -----------------------------------------------------------------------------
# register

@pytest.mark.parametrize("numbers, expected", [
    (["AC00001", "AC00002", "AC00003"], "AC00004"),
    (["AC00001", "AC00009", "AC00003"], "AC00010"),
    (["0012", "0013"], "0014"),
    (["7", "8", "9"], "10"),
    (["M-099", "M-100"], "M-101"),
    ([], "00001"),
])
def test_auto_member_no_follows_the_files_pattern(tmp_path, numbers, expected):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前"] + [f"{n},会員{i}" for i, n in enumerate(numbers)])
    table = load(path)
    registration, errors = cti.validate_registration({"name": "新規"}, table)
    assert errors == {} and registration.member_no == expected
    member, _ = table.register(registration)
    assert member.member_no == expected
    assert load(path).by_no[expected].name == "新規"


def test_registration_rules(members_csv):
    table = load(members_csv)
    validate = lambda **form: cti.validate_registration(form, table)
    assert validate(name="")[1] == {"name": "名前を入力してください"}
    assert set(validate(name="   ")[1]) == {"name"}
    for kana in ("やまだ はなこ", "ヤマダ・ハナコ", "ﾔﾏﾀﾞﾊﾅｺ", "すずきー"):
        registration, errors = validate(name="山田花子", kana=kana)
        assert errors == {}, kana
    assert validate(name="山田花子", kana="ﾔﾏﾀﾞ")[0].kana == "ヤマダ"
    for kana in ("yamada", "山田", "やまだ1"):
        assert set(validate(name="山田花子", kana=kana)[1]) == {"kana"}, kana
    for phone in ("abc", "123", "03-1234", "03-1234-5678-9999-1"):
        assert set(validate(name="山田花子", phone=phone)[1]) == {"phone"}, phone
    registration, errors = validate(name=" 山田　 花子 ", phone="０３（１２３４）５６７８", member_no="")
    assert errors == {}
    assert (registration.name, registration.phone, registration.member_no) == ("山田 花子", "0312345678", "AC00004")
    registration, errors = validate(name="山田花子", member_no="AC00002")
    assert registration is None and set(errors) == {"member_no"} and "AC00002" in errors["member_no"]
    registration, errors = validate(name="山田花子", member_no="ＡＣ０００５０")
    assert errors == {} and registration.member_no == "AC00050"
    registration, errors = validate(name="", kana="abc", phone="12", member_no="AC00001")
    assert set(errors) == {"name", "kana", "phone", "member_no"}


def test_register_notes_a_number_another_member_holds(members_csv):
    table = load(members_csv)
    member, notes = register(table, name="山田太郎", phone="03-1234-5678")
    assert len(notes) == 1 and "山田花子" in notes[0] and "AC00002" in notes[0] and "03-1234-5678" in notes[0]
    assert [m.member_no for m in table.lookup("0312345678")] == ["AC00002", "AC00004"]


def test_register_is_seen_by_lookup_and_search_at_once(members_csv):
    table = load(members_csv)
    register(table, name="高橋美咲", kana="たかはしみさき", phone="080-2345-6789")
    assert [m.name for m in table.lookup("08023456789")] == ["高橋美咲"]
    assert [m.member_no for m in table.search("タカハシ")] == ["AC00004"]


# -----------------------------------------------------------------------------
# link

def test_link_adds_to_an_empty_phone_cell(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, [HEADER, "AC00001,ペンギン貴子,,,,,,"])
    member, notes = load(path).link("AC00001", "0596310005")
    assert member.phones == ("0596310005",) and notes == []
    assert rows_of(path.read_bytes())[1] == ["AC00001", "ペンギン貴子", "", "0596-31-0005", "", "", "", ""]


def test_link_without_a_phone_column_adds_one(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,誕生日", "A1,一,1990/01/01", "A2,二,1991/02/02"])
    load(path).link("A2", "090-1111-2222")
    rows = rows_of(path.read_bytes())
    assert rows == [["会員番号", "名前", "誕生日", "電話番号"], ["A1", "一", "1990/01/01"],
                    ["A2", "二", "1991/02/02", "090-1111-2222"]]
    assert [m.member_no for m in load(path).lookup("09011112222")] == ["A2"]


def test_link_refuses_a_number_the_member_has(members_csv):
    table = load(members_csv)
    before = members_csv.read_bytes()
    with pytest.raises(ValueError) as caught:
        table.link("AC00002", "03-1234-5678")
    assert "山田花子" in str(caught.value) and "03-1234-5678" in str(caught.value)
    assert members_csv.read_bytes() == before


def test_link_notes_another_member_holding_the_number(members_csv):
    table = load(members_csv)
    member, notes = table.link("AC00003", "0596-31-0005")
    assert len(notes) == 1 and "ペンギン貴子" in notes[0] and "AC00001" in notes[0]
    assert [m.member_no for m in table.lookup("0596310005")] == ["AC00001", "AC00003"]
    assert [m.member_no for m in load(members_csv).lookup("0596310005")] == ["AC00001", "AC00003"]


def test_link_refuses_an_unknown_member_and_a_bad_number(members_csv):
    table = load(members_csv)
    before = members_csv.read_bytes()
    with pytest.raises(ValueError) as caught:
        table.link("AC09999", "090-5555-6666")
    assert "AC09999" in str(caught.value)
    with pytest.raises(ValueError):
        table.link("AC00001", "12345")
    assert members_csv.read_bytes() == before


# -----------------------------------------------------------------------------
# search

def test_search_by_member_no_name_kana_and_number(members_csv):
    table = load(members_csv)
    found = lambda q, **kw: [m.member_no for m in table.search(q, **kw)]
    assert found("AC00002") == ["AC00002"]
    assert found("ac00002") == ["AC00002"]
    assert found("0000") == ["AC00001", "AC00002", "AC00003"]
    assert found("山田") == ["AC00002"]
    assert found("鈴木") == ["AC00003"]
    assert found("ヤマダ") == ["AC00002"]                         # katakana query, hiragana data
    assert found("すずき") == ["AC00003"]                         # hiragana query, katakana data
    assert found("ｽｽﾞｷ") == ["AC00003"]                           # half-width katakana
    assert found("いちろう") == ["AC00003"]
    assert found("0596") == ["AC00001"]
    assert found("090-12") == ["AC00002"]
    assert found("1234") == ["AC00002", "AC00003"]                # middle digits: 090-1234 / 045-123-4567
    assert found("5678") == ["AC00002"]
    assert found("存在しない") == [] and found("") == [] and found("  ") == []


def test_search_limit_and_one_hit_per_member(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,ふりがな,電話番号"] +
              [f"S{i:04d},佐藤{i},さとう,090-0000-{i:04d}" for i in range(1, 121)])
    table = load(path)
    assert len(table.search("さとう", limit=50)) == 50
    assert [m.member_no for m in table.search("サトウ", limit=5)] == ["S0001", "S0002", "S0003", "S0004", "S0005"]
    everyone = table.search("さとう", limit=1000)
    assert len(everyone) == 120 and len({m.member_no for m in everyone}) == 120
    assert [m.member_no for m in table.search("佐藤12", limit=50)] == ["S0012", "S0120"]


# -----------------------------------------------------------------------------
# formulas

FORMULAS = ['=HYPERLINK("http://evil.example/","クリック")', "+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3*cmd"]


@pytest.mark.parametrize("name", FORMULAS)
def test_register_dialog_refuses_formula_names(members_csv, name):
    registration, errors = cti.validate_registration({"name": name}, load(members_csv))
    assert registration is None and set(errors) == {"name"}


def test_formulas_are_never_written_in_a_form_excel_runs(members_csv):
    table = load(members_csv)
    registration = cti.Register("AC00010", FORMULAS[0], "", "0312349999", "", FORMULAS[1])
    table.register(registration)
    table.link("AC00003", "0467-12-3456")
    rows = rows_of(members_csv.read_bytes())
    assert rows[-1][:6] == ["AC00010", "'" + FORMULAS[0], "", "03-1234-9999", "", "'" + FORMULAS[1]]
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), cell


def test_formula_in_an_unrelated_row_is_defused_when_the_file_is_rewritten(tmp_path):
    path = tmp_path / "members.csv"
    lines = [HEADER,
             "AC00001,ペンギン貴子,,0596-31-0005,,,,",
             'AC00002,"=HYPERLINK(""http://x/"",""y"")",,03-1234-5678,,@SUM(A1),,',
             "AC00003,鈴木一郎,,+81 45-123-4567,,-5,,",          # a phone with + and a -5: not formulas
             "AC00004,既に安全,,,,'=1+1,,"]
    write_csv(path, lines)
    register(load(path), name="新規")
    text = path.read_bytes().decode("utf-8-sig")
    out = text.split("\r\n")
    assert out[:2] == lines[:2] and out[3:5] == lines[3:5]
    assert next(csv.reader([out[2]])) == ["AC00002", """'=HYPERLINK("http://x/","y")""", "", "03-1234-5678", "",
                                          "'@SUM(A1)", "", ""]
    assert out[5] == "AC00005,新規,,,,,,"


# -----------------------------------------------------------------------------
# characters the file's encoding lacks

@pytest.mark.parametrize("name", ["𠮷田", "山田😀"])
def test_character_not_in_cp932_is_refused_and_file_unchanged(tmp_path, name):
    path = tmp_path / "members.csv"
    before = write_csv(path, SAMPLE, "cp932")
    table = load(path)
    _, errors = cti.validate_registration({"name": name, "phone": "090-7777-8888"}, table)
    char = name[-1] if name[-1] != "田" else name[0]
    assert errors == {"name": f"{char} は Excel の CSV（Shift_JIS）に保存できません"}
    with pytest.raises(cti.ValidationError) as caught:       # the store refuses it too, whoever calls it
        table.register(cti.Register("AC00004", name, "", "09077778888", "", ""))
    assert str(caught.value) == errors["name"]
    assert path.read_bytes() == before
    assert table.lookup("09077778888") == []                   # not kept in memory either
    assert "AC00004" not in table.by_no and table.next_member_no() == "AC00004"
    assert list(tmp_path.iterdir()) == [path]                   # no temp or pending file left
    member, _ = register(table, name="髙田", phone="090-7777-8888")   # cp932 has 髙
    assert member.member_no == "AC00004" and load(path).by_no["AC00004"].name == "髙田"


def test_character_not_in_cp932_while_the_file_cannot_even_be_read(tmp_path, monkeypatch):
    """Excel may hold the file against reading too: the change is applied to what is in memory."""
    path = tmp_path / "members.csv"
    before = write_csv(path, SAMPLE, "cp932")
    table = load(path)

    real_open = open

    def locked(file, *args, **kwargs):          # injected at the lowest call: Excel's read lock cannot be made here
        if str(file) == str(path):
            raise PermissionError(13, "locked", None, 32)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(cti, "open", locked, raising=False)
    with pytest.raises(cti.ValidationError):
        table.register(cti.Register("AC00004", "𠮷田", "", "09077778888", "", ""))
    assert path.read_bytes() == before and table.lookup("09077778888") == []
    assert table.pending == [] and not table.pending_path.exists()     # refused, never kept as a poison change
    monkeypatch.undo()
    member, _ = register(table, name="髙田", phone="090-7777-8888")
    assert member.member_no == "AC00004"
    assert path.read_bytes() == before + "AC00004,髙田,,090-7777-8888,,,,\r\n".encode("cp932")


def test_utf8_file_takes_any_character(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, SAMPLE, "utf-8-sig")
    register(load(path), name="𠮷田😀")
    assert load(path).by_no["AC00004"].name == "𠮷田😀"


# -----------------------------------------------------------------------------
# Excel holds the file: PermissionError on replace

def test_locked_file_keeps_the_change_pending_and_writes_it_later(members_csv, excel_lock):
    before = members_csv.read_bytes()
    table = load(members_csv)
    registration, _ = cti.validate_registration({"name": "高橋美咲", "phone": "080-2345-6789"}, table)
    with pytest.raises(cti.WriteDeferred) as caught:
        table.register(registration)
    assert "Excel" in str(caught.value) and "失われません" in str(caught.value)
    assert excel_lock["attempts"] == len(cti.REPLACE_RETRIES) + 1
    assert members_csv.read_bytes() == before
    assert [m.member_no for m in table.lookup("080-2345-6789")] == ["AC00004"]
    pending = cti.MemberTable(members_csv).pending_path
    assert "高橋美咲" in pending.read_text("utf-8") and "08023456789" in pending.read_text("utf-8")
    assert not [p for p in members_csv.parent.iterdir() if p.suffix == ".tmp"]

    fresh = load(members_csv)                                    # another start of the program
    assert [m.name for m in fresh.lookup("08023456789")] == ["高橋美咲"]
    assert len(fresh.pending) == 1

    assert table.retry_pending() is False                        # still locked
    assert pending.exists() and members_csv.read_bytes() == before

    excel_lock["on"] = False
    assert table.retry_pending() is True
    assert not cti.PendingFile(members_csv.parent, members_csv).read().changes and table.pending == []
    after = load(members_csv)
    assert [m.member_no for m in after.lookup("08023456789")] == ["AC00004"]
    assert members_csv.read_bytes() == before + "AC00004,高橋美咲,,080-2345-6789,,,,\r\n".encode()
    assert fresh.retry_pending() is True                         # the other copy: already written, no duplicate
    assert members_csv.read_bytes() == before + "AC00004,高橋美咲,,080-2345-6789,,,,\r\n".encode()


def test_changes_made_while_locked_are_all_written_with_the_next_one(members_csv, excel_lock, monkeypatch):
    monkeypatch.setattr(cti, "REPLACE_RETRIES", (0.001, 0.001))
    table = load(members_csv)
    with pytest.raises(cti.WriteDeferred):
        register(table, name="高橋美咲")
    with pytest.raises(cti.WriteDeferred):
        table.link("AC00001", "090-5555-6666")
    assert excel_lock["attempts"] == 6
    assert len(table.pending) == 2
    assert [m.member_no for m in table.lookup("09055556666")] == ["AC00001"]
    excel_lock["on"] = False
    member, _ = register(table, name="渡辺健")
    assert member.member_no == "AC00005"
    final = load(members_csv)
    assert [m.member_no for m in final.members] == ["AC00001", "AC00002", "AC00003", "AC00004", "AC00005"]
    assert final.by_no["AC00001"].phones == ("0596310005", "09055556666")
    assert not cti.MemberTable(members_csv).pending_file.read().changes


# -----------------------------------------------------------------------------
# another writer (a second reception PC, or Excel)

def test_stale_table_merges_with_another_writer(members_csv):
    a, b = load(members_csv), load(members_csv)
    member_b, _ = register(b, name="高橋美咲", phone="080-2345-6789")
    assert member_b.member_no == "AC00004"
    registration, _ = cti.validate_registration({"name": "渡辺健", "phone": "0467-12-3456"}, a)
    assert registration.member_no == "AC00004"                    # a has not seen b's write
    member_a, notes = a.register(registration)
    assert member_a.member_no == "AC00005"
    assert any("AC00004" in n and "AC00005" in n for n in notes)
    final = load(members_csv)
    assert {m.member_no: m.name for m in final.members if m.member_no >= "AC00004"} == \
        {"AC00004": "高橋美咲", "AC00005": "渡辺健"}
    assert [m.name for m in a.lookup("08023456789")] == ["高橋美咲"]     # a now sees b's member too


def test_stale_link_keeps_the_other_writers_change(members_csv):
    a, b = load(members_csv), load(members_csv)
    register(b, name="高橋美咲")
    a.link("AC00001", "090-5555-6666")
    final = load(members_csv)
    assert final.by_no["AC00004"].name == "高橋美咲"
    assert final.by_no["AC00001"].phones == ("0596310005", "09055556666")


def test_excel_edit_in_another_row_survives_a_stale_register(members_csv):
    table = load(members_csv)
    edited = [line.replace("横浜市中区", "横浜市西区") for line in SAMPLE]
    expected = write_csv(members_csv, edited)
    register(table, name="高橋美咲")
    assert members_csv.read_bytes().startswith(expected)


def test_link_to_a_member_removed_by_another_writer_is_refused(members_csv):
    a = load(members_csv)
    removed = write_csv(members_csv, [line for line in SAMPLE if not line.startswith("AC00002")])
    with pytest.raises(cti.ValidationError) as caught:
        a.link("AC00002", "090-5555-6666")
    assert "AC00002" in str(caught.value) and "削除" in str(caught.value)
    assert members_csv.read_bytes() == removed
    assert a.lookup("0312345678") == [] and "AC00002" not in a.by_no
    assert not cti.MemberTable(members_csv).pending_path.exists()


def test_kept_link_whose_member_was_deleted_meanwhile_does_not_block_later_changes(members_csv, excel_lock,
                                                                                    monkeypatch):
    """Excel holds the file while its user deletes AC00002; a link to AC00002 made meanwhile is kept."""
    monkeypatch.setattr(cti, "REPLACE_RETRIES", ())
    table = load(members_csv)
    with pytest.raises(cti.WriteDeferred):
        table.link("AC00002", "090-5555-6666")
    excel_lock["on"] = False
    without = write_csv(members_csv, [line for line in SAMPLE if not line.startswith("AC00002")])
    fresh = load(members_csv)                                   # a restart must still read the table
    assert [m.member_no for m in fresh.members] == ["AC00001", "AC00003"]
    member, notes = register(table, name="高橋美咲")
    assert member.member_no == "AC00004" and notes == []
    assert members_csv.read_bytes() == without + "AC00004,高橋美咲,,,,,,\r\n".encode()
    assert not cti.MemberTable(members_csv).pending_file.read().changes and table.pending == []
    [unsaved] = table.take_notices()                            # never dropped untold: kept in a file she can open
    assert unsaved.path == members_csv.with_name("members_保存できなかった変更.txt")
    assert "AC00002" in unsaved.rejected[0].why and "090-5555-6666" in unsaved.path.read_text("utf-8-sig")


# -----------------------------------------------------------------------------
# killed while writing

WRITER = r"""
import sys
from pathlib import Path
import cti
table = cti.MemberTable(Path(sys.argv[1])).load()
round_no = int(sys.argv[2])
for i in range(10**6):
    registration, errors = cti.validate_registration(
        {"name": f"会員{round_no}-{i}", "kana": "かいいん", "phone": f"090{round_no:02d}{i:06d}"}, table)
    assert not errors, errors
    member, notes = table.register(registration)
    print(member.member_no, flush=True)
"""


def _lines(stream, out: queue.Queue):
    for line in stream:
        out.put(line.strip())
    out.put(None)


ACK_WAIT = 120.0            # a writer's first acknowledgement: a bound for a hung writer, never a pace
                           # (a python start and a first write take 0.3 s alone, many seconds on a loaded machine)


def test_killed_at_random_moments_the_file_always_parses_and_holds_every_ack(members_csv):
    rng = random.Random(4)
    acknowledged = []
    for round_no in range(15):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(members_csv), str(round_no)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = queue.Queue()
        reader = threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True)
        reader.start()
        try:
            first = lines.get(timeout=ACK_WAIT)           # the condition: it acknowledged a write
            assert first, proc.stderr.read() if proc.poll() is not None else "no acknowledgement"
            acknowledged.append(first)
            time.sleep(rng.uniform(0, 0.050))                    # the kill moment, not a synchronisation
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        reader.join(timeout=10)
        while (line := lines.get_nowait()) is not None:
            acknowledged.append(line)
        proc.stderr.close()
        table = cti.MemberTable(members_csv).load()
        assert table.problems == [], table.problems
        missing = [no for no in acknowledged if no not in table.by_no]
        assert missing == [], f"round {round_no}: acknowledged but not in the file: {missing}"
        assert [m.member_no for m in table.members[:3]] == ["AC00001", "AC00002", "AC00003"]
    assert len(acknowledged) >= 15 and len(set(acknowledged)) == len(acknowledged)


def test_an_all_ascii_file_is_written_back_with_a_bom_so_excel_reads_the_japanese_added(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["member_no,name,kana,phone", "AC00001,Penguin,,0596-31-0005"], encoding="utf-8")
    table = load(path)
    register(table, name="山田花子", phone="03-1234-5678")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "山田花子" in data.decode("utf-8-sig")


def test_a_file_broken_meanwhile_keeps_the_last_good_table_answering(members_csv):
    table = load(members_csv)
    before = [m.member_no for m in table.lookup("0596-31-0005")]
    assert before
    members_csv.write_text("名前,電話番号\r\nだれか,0596-31-0005\r\n", encoding="utf-8-sig")  # 会員番号 column gone
    os.utime(members_csv, ns=(1, 1))
    assert [m.member_no for m in table.lookup("0596-31-0005")] == before
    assert "会員番号" in table.error


def test_unclosed_quote_in_a_small_file_is_reported_not_swallowed_silently(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号", "A1,一,03-1234-5678", 'A2,"二,03-1234-5679', "A3,三,03-1234-5670"])
    table = load(path)
    assert [m.member_no for m in table.members] == ["A1"]
    assert table.problems == ['members.csv 3行目: " で始まるセルが閉じていないため、ここから後の行が 1 つのセルになっています']


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_unclosed_quote_at_the_end_is_reported_where_it_opens_crlf_and_lf(tmp_path, newline):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号", "A1,一,03-1234-5678", 'A2,"二,03-1234-5679', "A3,三,03-1234-5670",
                     "A4,四,03-1234-5671"], newline=newline)
    table = load(path)
    assert [m.member_no for m in table.members] == ["A1"]
    assert len(table.problems) == 1 and table.problems[0].startswith("members.csv 3行目: \" で始まるセルが閉じていない")


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_quote_opened_mid_file_and_closed_rows_later_is_reported_where_it_opens(tmp_path, newline):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号", "A1,一,03-1234-5678", 'A2,"二,03-1234-5679', "A3,三,03-1234-5670",
                     'A4,"四",03-1234-5671', "A5,五,03-1234-5672"], newline=newline)
    table = load(path)
    assert [m.member_no for m in table.members] == ["A1", "A5"]         # no member built from the swallowed text
    assert table.problems == ['members.csv 3行目: " で始まるセルが閉じていないため、後の 2 行が 1 つのセルになっています'
                              '（この行の " を確かめてください）']


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_unclosed_quote_in_a_large_file_is_reported_where_it_opens_crlf_and_lf(tmp_path, newline):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号"] + [f"A{i},会員{i},090{i:08d}" for i in range(1, 500)] +
              ['A500,"五百,03-1234-5679'] + [f"A{i},会員{i},090{i:08d}" for i in range(501, 20000)], newline=newline)
    table = load(path)
    assert len(table.members) == 499
    assert table.problems[0].startswith("members.csv 501行目")


def test_memo_with_line_breaks_is_not_taken_for_swallowed_rows(tmp_path):
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号,メモ", 'A1,一,03-1234-5678,"カラー 6 トーン\r\n次回 カット, パーマ"',
                     "A2,二,03-1234-5679,"])
    table = load(path)
    assert [m.member_no for m in table.members] == ["A1", "A2"] and table.problems == []


def test_a_pending_change_the_file_can_no_longer_hold_never_blocks_later_ones(tmp_path, monkeypatch, excel_lock):
    """🌸 kept while the file was UTF-8; Excel then saved it as CP932: moved to the unsaved file beside
    members.csv and told, not a poison change, never dropped."""
    path = tmp_path / "members.csv"
    write_csv(path, SAMPLE)
    table = load(path)
    monkeypatch.setattr(cti, "REPLACE_RETRIES", ())
    with pytest.raises(cti.WriteDeferred):
        register(table, name="桜🌸子", phone="080-1111-2222")
    excel_lock["on"] = False
    write_csv(path, SAMPLE, "cp932")                            # Excel's plain CSV save
    for attempt in range(2):                                    # this run, and after a restart
        again = load(path) if attempt else table
        assert table.refresh() or attempt
        _, errors = cti.validate_registration({"name": "桜🌸"}, again)
        assert errors == {"name": "🌸 は Excel の CSV（Shift_JIS）に保存できません"}
    member, notes = register(table, name="高橋美咲")
    assert member.member_no == "AC00004"
    assert rows_of(path.read_bytes(), "cp932")[-1][:2] == ["AC00004", "高橋美咲"]
    assert not table.pending_file.read().changes and table.pending == []
    [unsaved] = table.take_notices()
    assert "🌸" in unsaved.rejected[0].why and "桜🌸子" in unsaved.path.read_text("utf-8-sig")


def test_pending_members_stay_visible_after_a_refused_character(tmp_path, monkeypatch, excel_lock):
    path = tmp_path / "members.csv"
    write_csv(path, SAMPLE, "cp932")
    table = load(path)
    monkeypatch.setattr(cti, "REPLACE_RETRIES", ())
    with pytest.raises(cti.WriteDeferred):
        register(table, name="高橋美咲", phone="080-2345-6789")
    with pytest.raises(cti.ValidationError):
        table.register(cti.Register("AC00009", "𠮷田", "", "", "", ""))
    assert [m.name for m in table.lookup("08023456789")] == ["高橋美咲"]     # still there
    assert len(table.pending) == 1


def test_the_pending_retry_says_saved_only_when_it_wrote(members_csv, excel_lock):
    table = load(members_csv)
    with pytest.raises(cti.WriteDeferred):
        register(table, name="高橋美咲")
    assert table.retry_pending() is False and table.pending
    excel_lock["on"] = False
    assert table.retry_pending() is True and not table.pending
    assert rows_of(members_csv.read_bytes())[-1][:2] == ["AC00004", "高橋美咲"]


def test_phone_cells_as_people_write_them_find_every_number(tmp_path):
    """The store indexes what split_phones reads (the separators are the Phone numbers section's)."""
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号",
                     "A1,一,03-1234-5678 090-1111-2222",
                     "A2,二,0596-31-0005・080-2222-3333",
                     "A3,三,045-123-4567|070-3333-4444",
                     "A4,四,06-1234-5678\u3000090-4444-5555",
                     "A5,五,+81 (0)3-9876-5432",
                     "A6,六,03 1111 2222"])
    table = load(path)
    for number, member_no in [("0312345678", "A1"), ("09011112222", "A1"), ("0596310005", "A2"),
                              ("08022223333", "A2"), ("0451234567", "A3"), ("07033334444", "A3"),
                              ("0612345678", "A4"), ("09044445555", "A4"), ("0398765432", "A5"),
                              ("0311112222", "A6")]:
        assert [m.member_no for m in table.lookup(number)] == [member_no], number
    assert table.problems == []


# -----------------------------------------------------------------------------
# long and odd cells

def memo_row(member_no, name, phone, memo):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([member_no, name, "", phone, "", memo, "", ""])
    return out.getvalue().rstrip("\r\n")


def test_a_10_mb_memo_is_read_and_every_caller_found(tmp_path):
    """A pasted e-mail: 10 MB in one quoted memo cell with line breaks (csv's own limit is 131,072)."""
    path = tmp_path / "members.csv"
    mail = "お世話になっております。\r\n予約の件でご連絡しました。\r\n" * 250_000
    assert len(mail.encode("utf-8")) > 10_000_000
    write_csv(path, SAMPLE + [memo_row("AC00004", "長文メモ", "080-4444-5555", mail), "AC00005,後の人,,080-5555-6666,,,,"])
    table = load(path)
    assert table.problems == []
    assert [m.name for m in table.lookup("08044445555")] == ["長文メモ"] and table.by_no["AC00004"].memo == mail.strip()
    assert [m.name for m in table.lookup("08055556666")] == ["後の人"]
    member, _ = register(table, name="高橋美咲")
    assert member.member_no == "AC00006" and load(path).by_no["AC00004"].memo == mail.strip()


def test_a_cell_over_the_limit_skips_only_its_row_and_is_kept_as_it_is(tmp_path, monkeypatch):
    """A cell longer than the bound: its row skipped as 「N行目: セルが長すぎます」, the rest read; a write keeps it."""
    monkeypatch.setattr(cti, "CELL_LIMIT", 150_000, raising=False)
    path = tmp_path / "members.csv"
    long_memo = "長い\n" * 60_000                                  # 180,000 characters with line breaks
    write_csv(path, SAMPLE + [memo_row("AC00004", "長すぎ", "080-4444-5555", long_memo), "AC00005,後の人,,080-5555-6666,,,,"])
    before = path.read_bytes()
    table = load(path)
    assert table.problems == ["members.csv 5行目: セルが長すぎます（150,000 文字まで。Excel で短くしてください）"]
    assert [m.member_no for m in table.members] == ["AC00001", "AC00002", "AC00003", "AC00005"]
    member, _ = register(table, name="高橋美咲")
    assert path.read_bytes() == before + f"{member.member_no},高橋美咲,,,,,,\r\n".encode()     # the long row as it was


def test_a_quote_that_swallows_a_row_is_named_on_the_line_it_opens_after_empty_cells(tmp_path):
    """The line of a swallowing quote counted each empty cell before it as -1 line (「0行目」)."""
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,ふりがな,電話番号,主担当,メモ", 'AC00001,一,,090-1111-2222,,"メモ',
                     'AC00002,二,,090-2222-3333,,閉じた"', "AC00003,三,,090-3333-4444,,"])
    table = load(path)
    assert table.problems == ['members.csv 2行目: " で始まるセルが閉じていないため、後の 1 行が 1 つのセルになっています'
                              '（この行の " を確かめてください）']
    assert [m.member_no for m in table.members] == ["AC00003"]


# -----------------------------------------------------------------------------
# a change noticed by content

def test_an_in_place_copy_with_the_same_size_and_time_is_noticed_and_never_reverted(members_csv):
    """robocopy/xcopy onto the existing file: same inode, same size, the old time put back."""
    table = load(members_csv)
    st = members_csv.stat()
    copied = members_csv.read_bytes().replace("ペンギン貴子".encode(), "ペンギン美子".encode())
    assert len(copied) == st.st_size
    with open(members_csv, "r+b") as f:                         # written in place, as a copy onto it does
        f.write(copied)
    os.utime(members_csv, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (members_csv.stat().st_ino, members_csv.stat().st_size, members_csv.stat().st_mtime_ns) == \
        (st.st_ino, st.st_size, st.st_mtime_ns)
    assert [m.name for m in table.lookup("0596310005")] == ["ペンギン美子"]    # the re-read sees the copy
    stale = load(members_csv)
    with open(members_csv, "r+b") as f:                         # copied again, behind this table's back too
        f.write(copied.replace("ペンギン美子".encode(), "ペンギン花子".encode()))
    os.utime(members_csv, ns=(st.st_atime_ns, st.st_mtime_ns))
    stale.stamp = stale.reader.stat()                                 # (as on Windows, where os.stat has no change time)
    register(stale, name="高橋美咲")
    assert "ペンギン花子" in members_csv.read_text("utf-8-sig")  # compared by content before the write: not reverted


# -----------------------------------------------------------------------------
# store guards, each pinned

def test_columns_cti_adds_on_write_get_their_own_values(tmp_path):
    """A members.csv without ふりがな, 主担当 and メモ: each value lands in the column cti adds for it."""
    path = tmp_path / "members.csv"
    write_csv(path, ["会員番号,名前,電話番号", "A1,一,03-1234-5678"])
    register(load(path), name="高橋美咲", kana="たかはしみさき", phone="080-2345-6789", staff="佐藤", memo="紹介")
    assert rows_of(path.read_bytes()) == [["会員番号", "名前", "電話番号", "ふりがな", "主担当", "メモ"],
                                          ["A1", "一", "03-1234-5678"],
                                          ["A2", "高橋美咲", "080-2345-6789", "たかはしみさき", "佐藤", "紹介"]]
    assert load(path).by_no["A2"].kana == "たかはしみさき"


def test_pcs_running_cti_from_one_shared_folder_keep_their_own_pending_files(members_csv, monkeypatch, excel_lock):
    """The pending file carries the PC's name: two PCs started from one folder never share (and lose) one."""
    monkeypatch.setattr(cti, "REPLACE_RETRIES", ())
    tables = {}
    for pc in ("RECEPTION-1", "RECEPTION-2"):
        monkeypatch.setattr(cti.socket, "gethostname", lambda pc=pc: pc)
        tables[pc] = load(members_csv)
        with pytest.raises(cti.WriteDeferred):
            register(tables[pc], name=f"{pc} の新規")
    assert tables["RECEPTION-1"].pending_path != tables["RECEPTION-2"].pending_path
    assert all(pc in table.pending_path.name for pc, table in tables.items())
    excel_lock["on"] = False
    for table in tables.values():
        assert table.retry_pending()
    assert {m.name for m in load(members_csv).members} >= {"RECEPTION-1 の新規", "RECEPTION-2 の新規"}


def test_a_full_width_member_no_is_the_same_number(tmp_path):
    """ＡＣ００００１ as Excel's IME leaves it is AC00001: a second AC00001 is a duplicate, and a booking by
    AC00001 reaches that member."""
    path = tmp_path / "members.csv"
    write_csv(path, [HEADER, "ＡＣ００００１,全角太郎,,090-1111-2222,,,,", "AC00001,半角次郎,,090-2222-3333,,,,"])
    table = load(path)
    assert table.problems == ["members.csv 3行目: 会員番号 AC00001 が 2行目と重複しています"]
    assert table.by_no["AC00001"].name == "全角太郎"
    booking, errors = cti.validate_reservation({"member_no": "AC00001", "date": "12/24", "time": "10:00"}, table,
                                               datetime(2026, 12, 8, 9, 0))
    assert errors == {} and booking["member_no"] == "AC00001"


def test_a_changed_number_not_yet_acknowledged_is_told_again_at_the_next_start(members_csv):
    table = load(members_csv)
    excel = members_csv.read_bytes()                            # what Excel has open
    member, _ = register(table, name="さくら")
    assert member.member_no == "AC00004"
    members_csv.write_bytes(excel + "AC00004,エクセルの方,,,,,,\r\n".encode())     # Excel's save over ours
    table.refresh()
    assert table.retry_pending()
    [notice] = [n for n in table.take_notices() if isinstance(n, cti.Renumbered)]
    assert (notice.name, notice.old, notice.new) == ("さくら", "AC00004", "AC00005")
    assert load(members_csv).by_no["AC00005"].name == "さくら"
    again = load(members_csv)                                   # cti ended before the box was acknowledged
    assert notice in again.take_notices()
    again.acknowledge(notice)
    assert load(members_csv).take_notices() == []


def test_a_quote_opened_in_the_member_no_and_closed_in_the_next_row_is_named_not_a_bogus_empty_name(tmp_path):
    """The swallowed line has few commas (closed early in the next row): a member no. never holds a line
    break of its own, so it is the quote, named where it opens, not 「名前が空です」."""
    path = tmp_path / "members.csv"
    write_csv(path, [HEADER, '"AC00001,一,,090-1111-2222,,,,', 'AC00002",二,,090-2222-3333,,,,',
                     "AC00003,三,,090-3333-4444,,,,"])
    table = load(path)
    assert table.problems == ['members.csv 2行目: " で始まるセルが閉じていないため、後の 1 行が 1 つのセルになっています'
                              '（この行の " を確かめてください）']
    assert [m.member_no for m in table.members] == ["AC00003"]
