"""cti.ini: load_config on real files, encodings, problems reported by name, paths, app_dir()."""

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
    ("history", "max_days", "abc", "max_days", 7, "1 以上の整数を指定してください"),
    ("history", "max_days", "0", "max_days", 7, "1 以上の整数を指定してください"),
    ("history", "max_entries", "-5", "max_entries", 100, "1 以上の整数を指定してください"),
    ("device", "baudrate", "fast", "baudrate", 9600, "通信速度（例 9600）を整数で指定してください"),
    ("device", "protocol", "serial", "protocol", "auto", "のどれかを指定してください"),
    ("device", "debug", "maybe", "debug", False, "yes か no を指定してください"),
    ("window", "corner", "middle", "corner", "bottom-right", "のどれかを指定してください"),
    ("window", "topmost", "2", "topmost", True, "yes か no を指定してください"),
])
def test_a_bad_value_is_reported_and_the_default_kept(tmp_path, section, key, value, field, default, hint):
    ini = write(tmp_path / "cti.ini", f"[{section}]\n{key} = {value}\n[device]\nport = COM9\n", "utf-8")
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
