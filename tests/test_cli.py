"""`cti.py --lookup NUMBER [--config PATH]`, run as the salon and tools run it: a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cti

ROOT = Path(__file__).resolve().parents[1]

PENGUIN = {"member_no": "AC00001", "name": "ペンギン貴子", "kana": "ぺんぎんたかこ", "phones": ["0596310005"],
           "staff": "佐藤", "memo": "カラーは 6 トーン。ハーブティー"}


def run(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, str(ROOT / "cti.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


def folder(tmp_path, members: bytes | None, ini="[files]\nmembers = members.csv\n"):
    """A folder with cti.ini and members.csv; returns the ini's path."""
    (tmp_path / "cti.ini").write_text(ini, encoding="utf-8")
    if members is not None:
        (tmp_path / "members.csv").write_bytes(members)
    return tmp_path / "cti.ini"


def csv_bytes(*lines, encoding="utf-8-sig"):
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def test_lookup_finds_the_sample_member_in_the_shipped_file():
    absent = {name for name in ("cti.db", "cti.log", cti.MemberTable(ROOT / "members.csv").pending_path.name) if not (ROOT / name).exists()}
    members = (ROOT / "members.csv").read_bytes()
    result = run("--lookup", "0596-31-0005")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [PENGUIN]
    assert result.stderr == ""
    assert {name for name in absent if (ROOT / name).exists()} == set()     # a lookup writes nothing
    assert (ROOT / "members.csv").read_bytes() == members
    assert not list(ROOT.glob(".members.csv.*.tmp"))


@pytest.mark.parametrize("number", ["0596310005", "+81 596-31-0005", "０５９６（３１）０００５", "596310005"])
def test_lookup_accepts_the_number_as_people_write_it(number):
    result = run("--lookup", number)
    assert result.returncode == 0 and [m["member_no"] for m in json.loads(result.stdout)] == ["AC00001"]


def test_lookup_of_an_unknown_number_is_an_empty_array():
    result = run("--lookup", "090-8765-4321")
    assert (result.returncode, json.loads(result.stdout), result.stderr) == (0, [], "")


def test_lookup_with_a_member_holding_two_numbers():
    for number in ("090-1234-5678", "03-1234-5678"):
        [member] = json.loads(run("--lookup", number).stdout)
        assert member["member_no"] == "AC00002" and member["phones"] == ["09012345678", "0312345678"]


def test_bad_row_is_reported_and_the_lookup_still_answers(tmp_path):
    ini = folder(tmp_path, csv_bytes("会員番号,名前,電話番号",
                                     "A1,山田花子,03-1234-5678",
                                     ",名無し,03-1234-5678",
                                     "A3,鈴木一郎,03-1234-5678",
                                     "A1,重複,090-1111-2222"))
    result = run("--lookup", "0312345678", "--config", str(ini), cwd=tmp_path)
    assert result.returncode == 0
    assert [m["member_no"] for m in json.loads(result.stdout)] == ["A1", "A3"]
    assert result.stderr.splitlines() == ["members.csv 3行目: 会員番号が空です",
                                          "members.csv 5行目: 会員番号 A1 が 2行目と重複しています"]


def test_cp932_members_file_and_a_relative_path_in_the_ini(tmp_path):
    (tmp_path / "data").mkdir()
    ini = folder(tmp_path, None, "[files]\nmembers = data/会員台帳.csv\n")
    (tmp_path / "data" / "会員台帳.csv").write_bytes(csv_bytes("会員番号,氏名,携帯", "B7,髙橋①,080-2345-6789",
                                                               encoding="cp932"))
    result = run("--lookup", "08023456789", "--config", str(ini), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"member_no": "B7", "name": "髙橋①", "kana": "", "phones": ["08023456789"],
                                          "staff": "", "memo": ""}]


@pytest.mark.parametrize("members, words", [
    (csv_bytes("名前,電話番号", "山田花子,03-1234-5678"), ["members.csv", "会員番号"]),
    (csv_bytes("会員番号,電話番号", "A1,03-1234-5678"), ["members.csv", "名前"]),
    ("会員番号,名前\r\n".encode("cp932") + b"A1,\x81\x20\r\n", ["members.csv", "UTF-8", "CP932"]),
], ids=["no-member-no-column", "no-name-column", "neither-encoding"])
def test_unusable_members_file_exits_2_with_a_message(tmp_path, members, words):
    ini = folder(tmp_path, members)
    result = run("--lookup", "0312345678", "--config", str(ini), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_missing_config_exits_2(tmp_path):
    missing = tmp_path / "nowhere" / "cti.ini"
    result = run("--lookup", "0596310005", "--config", str(missing), cwd=tmp_path)
    assert result.returncode == 2
    assert str(missing) in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_value_in_the_ini_is_reported_and_the_lookup_answers(tmp_path):
    ini = folder(tmp_path, csv_bytes("会員番号,名前,電話番号", "A1,山田花子,03-1234-5678"),
                 "[files]\nmembers = members.csv\n[history]\nmax_days = abc\n[window]\ncorner = middle\n")
    (tmp_path / "salon.ini").write_bytes(ini.read_bytes())
    result = run("--lookup", "0312345678", "--config", str(tmp_path / "salon.ini"), cwd=tmp_path)
    assert result.returncode == 0
    assert [m["member_no"] for m in json.loads(result.stdout)] == ["A1"]
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("salon.ini: [history] max_days = abc: ")
    assert lines[1].startswith("salon.ini: [window] corner = middle: ")


def test_broken_ini_exits_2_without_a_traceback(tmp_path):
    ini = folder(tmp_path, None, "this line has no section\nmembers = members.csv\n")
    result = run("--lookup", "0312345678", "--config", str(ini), cwd=tmp_path)
    assert result.returncode == 2
    assert "cti.ini" in result.stderr and "Traceback" not in result.stderr


# -----------------------------------------------------------------------------
# --import-visits

VISITS = ["来店日,会員番号,メニュー,担当,金額,メモ",
          "2026/11/01,AC00001,カット,佐藤,5500,",
          "2026/11/01,AC00001,カット,佐藤,5500,",          # a second visit the same day: real, kept
          "2026/11/02,ZZ99999,カラー,鈴木,8800,",          # not in members.csv
          "2026/13/40,AC00002,カット,佐藤,,"]


def test_import_visits_keeps_identical_rows_reports_unknown_members_and_adds_nothing_twice(tmp_path):
    ini = folder(tmp_path, csv_bytes("会員番号,名前,電話番号", "AC00001,ペンギン貴子,0596-31-0005",
                                     "AC00002,山田花子,090-1234-5678"))
    visits = tmp_path / "来店履歴.csv"
    visits.write_bytes(csv_bytes(*VISITS))
    first = run("--import-visits", str(visits), "--config", str(ini), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "来店履歴を 3 件取り込みました（読み飛ばした行 1）"
    assert first.stderr.splitlines() == ["来店履歴.csv 4行目: 会員番号 ZZ99999 は members.csv にありません（取り込みました）",
                                         "来店履歴.csv 5行目: 来店日 '2026/13/40' が読めません"]
    again = run("--import-visits", str(visits), "--config", str(ini), cwd=tmp_path)
    assert again.stdout.strip() == "来店履歴を 0 件取り込みました（読み飛ばした行 1）"
    db = cti.Database(tmp_path / "cti.db")
    assert [(v.date, v.menu) for v in db.visits("AC00001")] == [("2026-11-01", "カット")] * 2
    db.close()
    visits.write_bytes(csv_bytes(*VISITS, "2026/11/01,AC00001,カット,佐藤,5500,"))   # a later export: one more
    third = run("--import-visits", str(visits), "--config", str(ini), cwd=tmp_path)
    assert third.stdout.startswith("来店履歴を 1 件取り込みました")


def test_import_visits_reads_a_full_width_member_no_as_the_members_file_does(tmp_path):
    """ＡＣ００００２ as Excel's IME leaves it (a CP932 export): the visit is hers, under AC00002, not
    stored under a number no member has and reported as missing."""
    ini = folder(tmp_path, csv_bytes("会員番号,名前,電話番号", "AC00001,ペンギン貴子,0596-31-0005",
                                     "AC00002,山田花子,090-1234-5678"))
    visits = tmp_path / "来店履歴.csv"
    visits.write_bytes("\r\n".join([VISITS[0], "2026/11/03,ＡＣ００００２,カラー,鈴木,8800,"]).encode("cp932") + b"\r\n")
    result = run("--import-visits", str(visits), "--config", str(ini), cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    db = cti.Database(tmp_path / "cti.db")
    assert [(v.date, v.menu) for v in db.visits("AC00002")] == [("2026-11-03", "カラー")]
    db.close()


@pytest.mark.parametrize("make", ["missing", "folder"])
def test_import_visits_of_a_file_that_cannot_be_read_exits_2_with_a_message(tmp_path, make):
    ini = folder(tmp_path, csv_bytes("会員番号,名前", "AC00001,ペンギン貴子"))
    target = tmp_path / "来店履歴.csv"
    if make == "folder":
        target.mkdir()
    result = run("--import-visits", str(target), "--config", str(ini), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "来店履歴.csv" in result.stderr
    assert ("見つかりません" if make == "missing" else "読") in result.stderr


@pytest.mark.parametrize("args, words", [
    (["--lookup", ""], ["--lookup", "電話番号を指定してください"]),
    (["--lookup", "abc"], ["--lookup", "電話番号を指定してください"]),
    (["--decode", ""], ["--decode", "記録ファイルの名前を指定してください"]),
    (["--import-visits", ""], ["--import-visits", "CSV ファイルの名前を指定してください"]),
], ids=["lookup-empty", "lookup-no-digits", "decode-empty", "import-visits-empty"])
def test_an_empty_argument_is_a_japanese_message_and_exit_2(tmp_path, args, words):
    ini = folder(tmp_path, csv_bytes("会員番号,名前,電話番号", "A1,一,03-1234-5678"))
    result = run(*args, "--config", str(ini), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert "Traceback" not in result.stderr and all(word in result.stderr for word in words), result.stderr


def test_lookup_with_no_members_file_says_so_and_exits_2(tmp_path):
    ini = folder(tmp_path, None, ini="[files]\nmembers = 台帳/members.csv\n")
    (tmp_path / "台帳").mkdir()
    result = run("--lookup", "0596-31-0005", "--config", str(ini), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert "members.csv: 会員台帳がありません" in result.stderr and "Traceback" not in result.stderr


def odd_members(kind) -> bytes:
    rows = [["会員番号", "名前", "電話番号", "メモ"], ["A1", "一", "090-1111-2222", ""]]
    if kind == "long-phone-cell":               # every number a member ever had, pasted into one cell
        rows.append(["A2", "二", "; ".join(f"080-{i // 10000:04d}-{i % 10000:04d}" for i in range(20_000)), ""])
    elif kind == "10-mb-memo":
        rows.append(["A2", "二", "080-0001-0002", "長いメール\r\n" * 1_700_000])
    elif kind == "quote-never-closed":
        rows.append(["A2", "二", "080-0001-0002", '"閉じ忘れ'])
    rows.append(["A3", "三", "080-0001-0002", ""])
    import csv
    import io
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    text = out.getvalue().replace('"""閉じ忘れ"', '"閉じ忘れ')      # (the csv writer would close it)
    return text.encode("utf-8-sig")


@pytest.mark.parametrize("kind", ["long-phone-cell", "10-mb-memo", "quote-never-closed"])
def test_lookup_and_the_window_agree_on_odd_files(tmp_path, kind):
    ini = folder(tmp_path, odd_members(kind))
    for number in ("080-0001-0002", "090-1111-2222", "03-0000-0000"):
        result = run("--lookup", number, "--config", str(ini), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        window = cti.MemberTable(tmp_path / "members.csv").load()
        assert json.loads(result.stdout) == [m.to_dict() for m in window.lookup(number)], (kind, number)
