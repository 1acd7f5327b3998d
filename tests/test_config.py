"""cti.ini: load_config on real files, encodings, problems reported by name, paths, app_dir()."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cti

FULL_INI = """\
; 着信表示の設定
[device]
port = COM3            ; 装置の COM 番号
protocol = ND          ; 大文字でもよい
baudrate = 1200
init = ATZ|AT#CID=1|
debug = はい

[files]
members = 会員名簿.csv
database = data/cti.db
log = ../logs/cti.log

[history]
max_entries = 250
max_days = 30

[window]
corner = Top-Left
topmost = no
"""


def write(path: Path, text: str, encoding: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_missing_file_gives_defaults_with_paths_next_to_the_ini(tmp_path):
    config, problems = cti.load_config(tmp_path / "cti.ini")
    assert problems == []
    assert config.path is None
    assert (config.port, config.protocol, config.baudrate) == ("auto", "auto", 9600)
    assert config.init == ("ATZ", "AT+VCID=1")
    assert (config.debug, config.topmost, config.corner) == (False, True, "bottom-right")
    assert (config.max_entries, config.max_days) == (100, 7)
    assert config.members == tmp_path.resolve() / "members.csv"
    assert config.database == tmp_path.resolve() / "cti.db"
    assert config.log == tmp_path.resolve() / "cti.log"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp932"])
def test_every_key_is_read_in_each_encoding(tmp_path, encoding):
    ini = write(tmp_path / "conf" / "cti.ini", FULL_INI, encoding)
    if encoding == "utf-8-sig":
        assert ini.read_bytes().startswith(b"\xef\xbb\xbf")
    config, problems = cti.load_config(ini)
    assert problems == []
    assert config.path == ini.resolve()
    assert config.port == "COM3"                # inline "; comment" gone
    assert config.protocol == "nd"
    assert config.baudrate == 1200
    assert config.init == ("ATZ", "AT#CID=1")   # '#' inside a value is not a comment; empty item dropped
    assert config.debug is True
    conf = (tmp_path / "conf").resolve()
    assert config.members == conf / "会員名簿.csv"  # the Japanese file name survived the decoding
    assert config.database == conf / "data" / "cti.db"
    assert config.log == tmp_path.resolve() / "logs" / "cti.log"
    assert (config.max_entries, config.max_days) == (250, 30)
    assert config.corner == "top-left"
    assert config.topmost is False


def test_read_text_any_names_the_encoding(tmp_path):
    text = "[device]\nport = COM4 ; 受付の PC\n"
    for encoding, expected in (("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8"), ("cp932", "cp932")):
        path = write(tmp_path / f"{encoding}.ini", text, encoding)
        assert cti.read_text_any(path) == (text, expected)


def test_inline_semicolon_comments(tmp_path):
    ini = write(tmp_path / "cti.ini",
                "[device]\nport = socket://192.168.1.20:3333 ; NCID サーバ\n"
                "protocol = ncid;not a comment without a space\n"
                "[history]\nmax_days = 14   ; 二週間\n", "utf-8")
    config, problems = cti.load_config(ini)
    assert config.port == "socket://192.168.1.20:3333"
    assert config.max_days == 14
    # ";" glued to the value is part of it, so the value is bad and reported by name
    assert problems == ["[device] protocol = ncid;not a comment without a space: "
                        "auto | nd | aloha | modem | whozz | ncid のどれかを指定してください"]
    assert config.protocol == "auto"


def test_unknown_keys_and_sections_are_reported_by_name(tmp_path):
    ini = write(tmp_path / "cti.ini",
                "[device]\nprot = nd\nport = COM5\n[widow]\ncorner = top-left\n", "utf-8")
    config, problems = cti.load_config(ini)
    assert problems == ["[device] prot: 知らない設定です（綴りを確認してください）",
                        "[widow] corner: 知らない設定です（綴りを確認してください）"]
    assert (config.port, config.protocol, config.corner) == ("COM5", "auto", "bottom-right")


@pytest.mark.parametrize("section, key, value, field, default, hint", [
    ("history", "max_days", "abc", "max_days", 7, ": 1〜3650 の整数を指定してください"),
    ("history", "max_days", "0", "max_days", 7, ": 範囲外です。1〜3650 の整数を指定してください"),
    ("history", "max_days", "99999999999999999999", "max_days", 7, ": 範囲外です。1〜3650 の整数を指定してください"),
    ("history", "max_entries", "-5", "max_entries", 100, ": 範囲外です。1〜100000 の整数を指定してください"),
    ("device", "baudrate", "fast", "baudrate", 9600, "通信速度（例 9600）を 300〜921600 の整数で指定してください"),
    ("device", "protocol", "serial", "protocol", "auto", "のどれかを指定してください"),
    ("device", "debug", "maybe", "debug", False, "yes か no を指定してください"),
    ("window", "corner", "middle", "corner", "bottom-right", "のどれかを指定してください"),
    ("window", "topmost", "2", "topmost", True, "yes か no を指定してください"),
])
def test_a_bad_value_is_reported_and_the_default_kept(tmp_path, section, key, value, field, default, hint):
    port = "port = COM9\n" if section == "device" else "[device]\nport = COM9\n"     # (no [device] twice)
    ini = write(tmp_path / "cti.ini", f"[{section}]\n{key} = {value}\n{port}", "utf-8")
    config, problems = cti.load_config(ini)
    assert len(problems) == 1
    assert problems[0].startswith(f"[{section}] {key} = {value}: ")
    assert problems[0].endswith(hint)
    assert getattr(config, field) == default
    assert config.port == "COM9"                # the rest of the file still counts


def test_section_and_key_names_ignore_case(tmp_path):
    ini = write(tmp_path / "cti.ini", "[Device]\nPort = COM7\n[HISTORY]\nMax_Days = 3\n", "utf-8")
    config, problems = cti.load_config(ini)
    assert problems == []
    assert (config.port, config.max_days) == ("COM7", 3)


def test_absolute_paths_are_kept(tmp_path):
    target = tmp_path / "elsewhere" / "m.csv"
    ini = write(tmp_path / "a" / "cti.ini", f"[files]\nmembers = {target}\n", "utf-8")
    config, _ = cti.load_config(ini)
    assert config.members == target.resolve()


def test_unparsable_ini_raises_config_error(tmp_path):
    ini = write(tmp_path / "cti.ini", "port = COM3\n", "utf-8")       # no section header
    with pytest.raises(cti.ConfigError, match="cti.ini の書式が正しくありません"):
        cti.load_config(ini)


def test_ini_in_neither_encoding_raises_config_error(tmp_path):
    ini = tmp_path / "cti.ini"
    ini.write_bytes(b"[device]\nport = \x81\x20COM3\n")     # a lead byte with no trail: not UTF-8, not CP932
    with pytest.raises(cti.ConfigError, match="UTF-8 でも CP932"):
        cti.load_config(ini)


def test_app_dir_is_next_to_cti_py_when_not_frozen(monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert cti.app_dir() == Path(cti.__file__).resolve().parent


def test_app_dir_is_next_to_the_exe_when_frozen(tmp_path, monkeypatch):
    exe = tmp_path / "dist" / "cti.exe"
    exe.parent.mkdir()
    exe.write_bytes(b"MZ")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    assert cti.app_dir() == exe.parent.resolve()
    # without an ini path the data files live next to the exe
    config, problems = cti.load_config(None)
    assert problems == []
    assert config.members == exe.parent.resolve() / "members.csv"
    assert config.database == exe.parent.resolve() / "cti.db"


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# cti.ini as Notepad and the IME write it

IME_INI = """\
; 着信表示の設定（メモ帳で IME を入れたまま書いたもの）
［ｄｅｖｉｃｅ］
ｐｏｒｔ ＝ ＣＯＭ３
protocol = ａｕｔｏ
baudrate = １２００
debug = ｙｅｓ
init = ＡＴＺ|ＡＴ＋ＶＣＩＤ＝１
[files]
members = "{members}"
；全角のセミコロンのコメント
[history]
max_days = ３０
[window]
corner = 右下　；右下に出す
topmost = はい
"""


def ime_ini(tmp_path, encoding, members=None, extra=""):
    members = members or tmp_path / "台帳" / "会員台帳＿２０２６.csv"          # full-width on purpose: kept
    text = IME_INI.format(members=members) + extra
    return write(tmp_path / "cti.ini", text.replace("\n", "\r\n"), encoding), members


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le", "utf-8-sig", "utf-8", "cp932"])
def test_notepad_and_ime_input_is_read_without_a_warning(tmp_path, encoding):
    ini, members = ime_ini(tmp_path, encoding)
    if encoding == "utf-16":
        assert ini.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")    # Notepad's "UTF-16 LE" has a BOM
    config, problems = cti.load_config(ini)
    assert problems == []
    assert (config.port, config.protocol, config.baudrate, config.debug) == ("COM3", "auto", 1200, True)
    assert config.init == ("ATZ", "AT+VCID=1")
    assert config.members == members.resolve()                   # unquoted, and not NFKC'd
    assert config.members.name == "会員台帳＿２０２６.csv"
    assert (config.max_days, config.corner, config.topmost) == (30, "bottom-right", True)


def test_utf16_detection():
    assert cti.utf16_encoding("[d]".encode("utf-16")) == "utf-16"
    assert cti.utf16_encoding("[d]".encode("utf-16-le")) == "utf-16-le"
    assert cti.utf16_encoding("[d]".encode("utf-16-be")) == "utf-16-be"
    assert cti.utf16_encoding("[d]".encode("utf-8-sig")) is None
    assert cti.utf16_encoding("[デバイス]".encode("cp932")) is None


def test_a_members_csv_in_utf16_is_still_refused_by_the_csv_reader(tmp_path):
    """Only cti.ini takes UTF-16: Excel's "Unicode テキスト" is tab-separated, not a members.csv."""
    path = write(tmp_path / "members.csv", "会員番号,名前\r\n", "utf-16")
    text, encoding = cti.read_text_any(path, utf16=True)
    assert (text, encoding) == ("会員番号,名前\r\n", "utf-16")
    assert cti.read_text_any(path)[1] == "cp932"                 # the CSV path is as before


@pytest.mark.parametrize("word, corner", [("右下", "bottom-right"), ("左下", "bottom-left"), ("右上", "top-right"),
                                          ("左上", "top-left"), ("Ｂｏｔｔｏｍ－Ｌｅｆｔ", "bottom-left"),
                                          ("'top-right'", "top-right")])
def test_corner_words(tmp_path, word, corner):
    config, problems = cti.load_config(write(tmp_path / "cti.ini", f"[window]\ncorner = {word}\n", "utf-8"))
    assert (config.corner, problems) == (corner, [])


def test_a_bad_full_width_value_still_gets_its_warning(tmp_path):
    text = IME_INI.format(members=tmp_path / "members.csv").replace("max_days = ３０", "max_days = ３０\nmax_entries = ひゃく")
    config, problems = cti.load_config(write(tmp_path / "cti.ini", text, "utf-16"))
    assert problems == ["[history] max_entries = ひゃく: 1〜100000 の整数を指定してください"]
    assert (config.max_entries, config.port) == (100, "COM3")


def test_an_indented_line_is_its_own_setting_and_reported_with_its_line(tmp_path):
    ini = write(tmp_path / "cti.ini", "[device]\nport = COM3\n    protocol = nd\n  ; an indented comment is fine\n"
                                      "\u3000baudrate = 1200\n", "utf-8")
    config, problems = cti.load_config(ini)
    assert (config.port, config.protocol, config.baudrate) == ("COM3", "nd", 1200)
    assert problems == ["3 行目「protocol = nd」: 行頭の空白を取って読みました（字下げした行は前の行の続きになります。"
                        "行頭の空白を消してください）",
                        "5 行目「baudrate = 1200」: 行頭の空白を取って読みました（字下げした行は前の行の続きになります。"
                        "行頭の空白を消してください）"]


def test_a_missing_section_header_is_reported_in_japanese_with_its_line(tmp_path):
    ini = write(tmp_path / "cti.ini", "; 設定\n\nport = COM3\n[device]\n", "utf-16")
    with pytest.raises(cti.ConfigError) as error:
        cti.load_config(ini)
    assert str(error.value) == ("cti.ini の書式が正しくありません: 3 行目「port = COM3」より前に [device] のような"
                                "区分の見出しがありません。ファイルの先頭に見出しを書いてください")


def test_a_line_that_is_no_setting_is_reported_in_japanese_with_its_line(tmp_path):
    ini = write(tmp_path / "cti.ini", "[device]\nport = COM3\nポートはCOM3\n", "utf-8")
    with pytest.raises(cti.ConfigError, match="3 行目「ポートはCOM3」を読めません（キー = 値 の形で書いてください）"):
        cti.load_config(ini)


@pytest.mark.parametrize("text, expanded", [
    (r"%USERPROFILE%\cti\members.csv", r"C:\Users\hanako\cti\members.csv"),
    (r"%userprofile%\cti\members.csv", r"C:\Users\hanako\cti\members.csv"),      # names ignore case
    (r"%OneDrive%\台帳\%USERNAME%.csv", r"C:\Users\hanako\OneDrive\台帳\hanako.csv"),
    (r"%NOSUCH%\members.csv", r"%NOSUCH%\members.csv"),                           # left, as cmd.exe does
    (r"100%\members.csv", r"100%\members.csv"),
])
def test_percent_variables_expand_as_cmd_does(text, expanded):
    env = {"USERPROFILE": r"C:\Users\hanako", "OneDrive": r"C:\Users\hanako\OneDrive", "USERNAME": "hanako"}
    assert cti.expand_percent_vars(text, env) == expanded


def test_path_values_windows_style():
    env = {"USERPROFILE": r"C:\Users\hanako"}
    assert cti.path_value('"%USERPROFILE%\\cti\\members.csv"', env, windows=True) == Path(r"C:\Users\hanako\cti\members.csv")
    assert cti.path_value("'ｄａｔａ\\members.csv'", env, windows=True) == Path("ｄａｔａ\\members.csv")   # no NFKC
    for bad in (r"%NOSUCH%\members.csv", '""'):
        with pytest.raises(ValueError):
            cti.path_value(bad, env, windows=True)


def test_posix_variables_and_an_unknown_one_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("CTI_DATA", str(tmp_path / "data"))
    ini = write(tmp_path / "cti.ini", "[files]\nmembers = ${CTI_DATA}/members.csv\ndatabase = $CTI_NOSUCH/cti.db\n", "utf-8")
    config, problems = cti.load_config(ini)
    assert config.members == (tmp_path / "data" / "members.csv").resolve()
    assert problems == ["[files] database = $CTI_NOSUCH/cti.db: " + cti.PATH_HINT]
    assert config.database == tmp_path.resolve() / "cti.db"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "cp932"])
def test_lookup_with_an_ini_from_notepad_and_the_ime(tmp_path, encoding):
    """As the salon runs it: `python cti.py --lookup`, a real process, the ini as Notepad saves it."""
    members = tmp_path / "台帳フォルダ" / "members.csv"
    members.parent.mkdir()
    members.write_bytes(cti.DEMO_MEMBERS.encode("utf-8-sig"))
    ini, _ = ime_ini(tmp_path, encoding, members=members)
    result = run_lookup(ini, "0596-31-0005")
    assert (result.returncode, result.stderr) == (0, "")
    assert [m["member_no"] for m in json.loads(result.stdout)] == ["AC00001"]
    ini.write_bytes(IME_INI.format(members=members).replace("corner = 右下", "corner = まんなか").encode(encoding))
    result = run_lookup(ini, "0596310005")
    assert result.returncode == 0
    assert [m["member_no"] for m in json.loads(result.stdout)] == ["AC00001"]
    assert result.stderr.splitlines() == ["cti.ini: [window] corner = まんなか: bottom-right | bottom-left | top-right "
                                          "| top-left（または 右下・左下・右上・左上）のどれかを指定してください"]


def run_lookup(ini, number):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, str(Path(cti.__file__)), "--lookup", number, "--config", str(ini)],
                          cwd=ini.parent, env=env, capture_output=True, text=True, encoding="utf-8", timeout=60)


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# [booking]

def test_booking_defaults_are_the_shipped_ini(tmp_path):
    shipped, problems = cti.load_config(write(tmp_path / "cti.ini", cti.DEFAULT_INI, "utf-8-sig"))
    missing, _ = cti.load_config(tmp_path / "none.ini")
    assert problems == []
    assert shipped.menus == missing.menus == cti.Config().menus
    assert shipped.menus[:3] == (("カット", 60), ("カラー", 90), ("パーマ", 120))
    assert ("カット＋カラー", 120) in shipped.menus                 # the full-width ＋ is kept as written
    assert (shipped.slot, shipped.staff) == (missing.slot, missing.staff) == (60, ())


def test_booking_menus_staff_and_slot_as_a_salon_writes_them(tmp_path):
    ini = write(tmp_path / "cti.ini", "[booking]\nmenus = カット　６０分|眉カット| ヘッドスパ 45 |\n"
                                      "slot = ３０\nstaff = 田中| 佐藤 ||鈴木\n", "cp932")
    config, problems = cti.load_config(ini)
    assert problems == []
    assert config.menus == (("カット", 60), ("眉カット", None), ("ヘッドスパ", 45))
    assert config.slot == 30
    assert config.staff == ("田中", "佐藤", "鈴木")


@pytest.mark.parametrize("key, value, field", [("menus", "|", "menus"), ("menus", "カット 0", "menus"),
                                               ("menus", "パーマ 9999", "menus"), ("slot", "0", "slot"),
                                               ("slot", "一時間", "slot")])
def test_a_bad_booking_value_is_reported_and_the_default_kept(tmp_path, key, value, field):
    config, problems = cti.load_config(write(tmp_path / "cti.ini", f"[booking]\n{key} = {value}\n", "utf-8"))
    [problem] = problems
    assert problem.startswith(f"[booking] {key} = {value}: ") and "分" in problem
    assert getattr(config, field) == getattr(cti.Config(), field)


def test_a_section_given_twice_is_named_with_both_lines(tmp_path):
    ini = write(tmp_path / "cti.ini", "[history]\nmax_entries = 50\n[device]\nport = COM3\n[history]\nmax_days = 30\n",
                "utf-8")
    config, problems = cti.load_config(ini)
    assert problems == ["5 行目 [history]: 1 行目にも同じ区分があります（両方を読み、同じ設定は後の値を使いました。"
                        "1 つにまとめてください）"]
    assert (config.max_entries, config.max_days, config.port) == (50, 30, "COM3")


def test_a_key_given_twice_in_a_section_is_named_with_both_lines(tmp_path):
    ini = write(tmp_path / "cti.ini", "[files]\nmembers = a.csv\n[device]\nport = COM3\n[files]\nＭＥＭＢＥＲＳ ＝ b.csv\n",
                "utf-8")
    config, problems = cti.load_config(ini)
    assert problems == ["5 行目 [files]: 1 行目にも同じ区分があります（両方を読み、同じ設定は後の値を使いました。"
                        "1 つにまとめてください）",
                        "6 行目 [files] members: 2 行目にも同じ設定があります（後の値を使いました。1 つにまとめてください）"]
    assert config.members.name == "b.csv"
