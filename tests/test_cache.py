"""The parse cache of members.csv: found by the file's content only, never trusted when damaged or stale,
and answering exactly as a fresh parse does (real files, real SQLite, real second processes)."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import cti
from conftest import MEMBERS_HEADER, MEMBERS_SAMPLE

ROOT = Path(__file__).resolve().parents[1]

# every kind of row a parse has something to say about, plus ordinary ones
MIXED = MEMBERS_SAMPLE + [
    "AC00004,佐藤美咲,サトウミサキ,090-1111-2222 / 0596-22-3333,田中,予約は午後希望,,",
    "AC00002,二重登録,にじゅう,090-9999-0000,,,,",                      # member no. taken
    "AC00005,,なまえなし,090-8888-0000,,,,",                              # no name
    "AC00006,指数表記,しすう,9.01235E+09,,,,",                            # Excel's exponent
    "AC00007,共有番号,きょうゆう,0596-31-0005,鈴木,同じ番号,,",            # a number AC00001 has too
    ",,,,,,,",                                                            # blank line Excel left
    "AC00008,ＡＢＣ全角,ｴｰﾋﾞｰｼｰ,０９０－７７７７－６６６６,,,,",
]
QUERIES = ["ぺんぎん", "ペンギン", "山田", "090", "0596", "AC0000", "すずき", "ｴｰ", "zzz", "花子", "31-0005"]


def table(path, cache, **kw) -> cti.MemberTable:
    return cti.MemberTable(path, cache=cache, **kw).load()


def answers(t: cti.MemberTable) -> dict:
    """Everything the window and --lookup ask of a table, as plain values."""
    file = t.file
    phones = sorted({p for m in file.members for p in m.phones})
    return {"members": [m.to_dict() | {"line": m.line} for m in file.members],
            "by_no": {m.member_no: file.by_no[m.member_no].to_dict() for m in file.members},
            "by_phone": {p: [m.member_no for m in file.by_phone[p]] for p in phones},
            "phone_keys": sorted(file.by_phone),
            "lookups": {p: [m.member_no for m in t.lookup(p)] for p in phones + ["0120000000"]},
            "search": {q: [m.member_no for m in t.search(q)] for q in QUERIES},
            "problems": t.problems, "header": file.header, "encoding": t.encoding,
            "next": t.next_member_no(), "staff": t.staff_names, "count": len(t.members),
            "missing_no": "AC99999" in t.by_no}


def cache_files(cache: cti.ParseCache) -> list:
    return sorted(cache.folder.glob("*.sqlite"))


@pytest.fixture
def cache(tmp_path):
    return cti.ParseCache.beside(tmp_path / "cti.db")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_a_cache_hit_answers_exactly_as_a_fresh_parse(members_file, cache, encoding):
    path = members_file(MIXED, encoding=encoding)
    fresh = cti.MemberTable(path).load()                # no cache at all
    first = table(path, cache)                          # parses, stores
    assert len(cache_files(cache)) == 1
    hit = table(path, cache)
    assert isinstance(hit.file, cti.CachedMembers) and not isinstance(fresh.file, cti.CachedMembers)
    expected = answers(fresh)
    assert expected["problems"] and expected["by_phone"]["0596310005"] == ["AC00001", "AC00007"]
    assert answers(first) == expected
    assert answers(hit) == expected


def test_repeated_member_nos_are_found_in_a_parse_streamed_into_the_cache_as_in_memory(tmp_path, cache, monkeypatch):
    """Repeats within a batch, across batches, and among the member nos. whose bits collide (3,000 of
    them in 65,536 bits): the same problems, members and next member no. as a parse in memory."""
    import random
    rng = random.Random(7)
    monkeypatch.setattr(cti, "CACHE_BATCH", 250)
    rows = [MEMBERS_HEADER]
    for i in range(3000):
        no = f"AC{i:05d}" if rng.random() < 0.9 else f"AC{rng.randrange(i + 1):05d}"     # a repeat, near or far
        name = "" if rng.random() < 0.02 else f"会員{i}"                                    # no name: no member
        rows.append(f"{no},{name},かいいん,0596-{i // 10000:02d}-{i % 10000:04d},,,,")
    rows.append("B7,最後の行,さいご,,,,,")         # the latest row's prefix decides the next number
    path = tmp_path / "members.csv"
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp932"))
    cached, parsed = table(path, cache).file, cti.MembersFile.parse(path.read_text("cp932"), "cp932")
    assert isinstance(cached, cti.CachedMembers)
    assert sum("重複" in p for p in parsed.problems) > 200
    assert cached.problems == parsed.problems
    assert [m.to_dict() | {"line": m.line} for m in cached.members] == \
        [m.to_dict() | {"line": m.line} for m in parsed.members]
    assert cached.next_member_no() == parsed.next_member_no() == "B8"


def test_a_rewrite_with_the_same_size_and_time_is_not_answered_from_the_cache(members_file, cache):
    path = members_file()
    assert table(path, cache).lookup("0596310005")[0].name == "ペンギン貴子"
    before = path.stat()
    data = path.read_bytes()
    changed = data.replace("ペンギン貴子".encode("utf-8"), "ペンギン貴美".encode("utf-8"))
    assert len(changed) == len(data) and changed != data
    with open(path, "r+b") as f:                        # in place: same file, same size
        f.write(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    again = table(path, cache)
    assert again.lookup("0596310005")[0].name == "ペンギン貴美"
    assert answers(again) == answers(cti.MemberTable(path).load())
    assert len(cache_files(cache)) == 1                 # the stale parse was replaced, not kept beside


def damage_truncate(path: Path):
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def damage_middle(path: Path):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xff" * 700)


def damage_one_byte_of_a_name(path: Path):
    """A flipped byte inside a row's text: SQLite itself cannot notice this one."""
    data = bytearray(path.read_bytes())
    at = data.index("山田花子".encode("utf-8"))
    data[at + 3:at + 6] = "本".encode("utf-8")
    path.write_bytes(bytes(data))


def damage_garbage(path: Path):
    path.write_bytes(b"not a database at all" * 100)


def damage_version(path: Path):
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = 0 WHERE key = 'version'")
    con.commit()
    con.close()


def damage_empty(path: Path):
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [damage_truncate, damage_middle, damage_one_byte_of_a_name, damage_garbage,
                                    damage_version, damage_empty])
def test_a_damaged_cache_is_never_trusted_and_is_rebuilt(members_file, cache, damage):
    path = members_file(MIXED)
    expected = answers(cti.MemberTable(path).load())
    table(path, cache)
    [stored] = cache_files(cache)
    damage(stored)
    again = table(path, cache)
    assert answers(again) == expected
    [rebuilt] = cache_files(cache)                      # whole again: its checksum is the one its name says
    assert rebuilt.name == cache.path_of(cti.content_key(path.read_bytes()), path.name,
                                         cti.file_checksum(rebuilt)).name
    hit = table(path, cache)
    assert isinstance(hit.file, cti.CachedMembers) and answers(hit) == expected


def test_a_cache_damaged_while_in_use_answers_from_members_csv(members_file, cache):
    """The cache file is opened read-only; if asking it fails later (its pages damaged on disk), the
    answer comes from a parse of members.csv, and the broken cache is removed."""
    path = members_file(MIXED)
    expected = answers(cti.MemberTable(path).load())
    table(path, cache)
    hit = table(path, cache)
    assert isinstance(hit.file, cti.CachedMembers)
    [stored] = cache_files(cache)
    hit.file.con.close()                                # the lowest call failing: any query now raises
    assert answers(hit) == expected
    assert hit.file.parsed is not None and not stored.exists()


def test_the_same_content_under_another_name_has_a_parse_of_its_own(tmp_path, cache):
    one, other = tmp_path / "a", tmp_path / "b"
    one.mkdir()
    other.mkdir()
    for folder in (one, other):
        (folder / "members.csv").write_bytes(("\r\n".join(MEMBERS_SAMPLE) + "\r\n").encode("utf-8-sig"))
    (other / "kaiin.csv").write_bytes((one / "members.csv").read_bytes())
    table(one / "members.csv", cache)
    hit = table(other / "members.csv", cache)           # the same content elsewhere: the same parse
    assert isinstance(hit.file, cti.CachedMembers)
    named = table(other / "kaiin.csv", cache)           # another name: problems name the file, so its own
    assert named.file.name == "kaiin.csv" and hit.file.name == "members.csv"
    assert len(cache_files(cache)) == 2


def test_a_first_start_leaves_the_cache_before_the_window_shows(members_file, cache):
    """Written before the window, so that a start cut short right after still leaves it; answered from it."""
    path = members_file(MIXED)
    expected = answers(cti.MemberTable(path).load())
    live = table(path, cache, background=True)
    assert isinstance(live.file, cti.CachedMembers) and live.file.verified
    assert len(cache_files(cache)) == 1 and answers(live) == expected


def test_a_reread_while_the_window_runs_is_parsed_and_cached_on_the_reader_thread(members_file, cache, wait_for):
    path = members_file(MIXED)
    live = table(path, cache, background=True)
    data = path.read_bytes().replace("山田花子".encode("utf-8"), "山田春子".encode("utf-8"))
    tmp = path.with_name("~$members.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)                               # saved as Excel saves

    def reread():
        live.refresh()
        return live.take_reread()
    assert wait_for(reread, timeout=30)
    assert isinstance(live.file, cti.CachedMembers)
    assert [m.name for m in live.lookup("0312345678")] == ["山田春子"]
    assert answers(live) == answers(cti.MemberTable(path).load())
    assert [f.name.split(".")[0] for f in cache_files(cache)] == [f"members-{cti.content_key(data)}"]


def test_a_register_writes_members_csv_and_then_a_cache_of_what_it_wrote(members_file, cache, wait_for):
    path = members_file()
    live = table(path, cache, background=True)
    reg, errors = cti.validate_registration({"name": "新規花子", "kana": "しんきはなこ", "phone": "090-5555-1234"}, live)
    assert not errors
    member, _ = live.register(reg)
    assert member.member_no == "AC00004"
    assert [m.member_no for m in live.lookup("09055551234")] == ["AC00004"]
    assert "新規花子" in path.read_text("utf-8-sig")
    fresh = answers(cti.MemberTable(path).load())
    assert wait_for(lambda: any(f.name.startswith(f"members-{cti.content_key(path.read_bytes())}.")
                                for f in cache_files(cache)), timeout=30)
    hit = table(path, cache)
    assert isinstance(hit.file, cti.CachedMembers) and answers(hit) == fresh


def lookup_process(config: Path, number: str, *flags) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, str(ROOT / "cti.py"), "--lookup", number, "--config", str(config)],
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def test_lookup_processes_never_write_the_cache_use_it_when_made_and_never_import_what_they_do_not_use(tmp_path):
    """A table with a quoted cell (MIXED) is answered without the cache and writes none; once a window
    made it, --lookup answers from it, alike, and leaves it as it was."""
    (tmp_path / "members.csv").write_bytes(("\r\n".join(MIXED) + "\r\n").encode("cp932"))
    config = tmp_path / "cti.ini"
    config.write_text("[files]\nmembers = members.csv\ndatabase = cti.db\n", encoding="utf-8")
    first = lookup_process(config, "0596-31-0005")
    assert first.returncode == 0, first.stderr
    assert [m["member_no"] for m in json.loads(first.stdout)] == ["AC00001", "AC00007"]
    assert not (tmp_path / "cti-cache").exists()
    cti.MemberTable(tmp_path / "members.csv", cache=cti.ParseCache.beside(tmp_path / "cti.db")).load()
    made = {(f.name, f.stat().st_mtime_ns) for f in (tmp_path / "cti-cache").iterdir()}
    assert len(made) == 1
    second = lookup_process(config, "0596-31-0005", "-X", "importtime")
    assert second.returncode == 0 and second.stdout == first.stdout
    imported = {line.split("|")[-1].strip() for line in second.stderr.splitlines() if line.startswith("import time:")}
    assert "sqlite3" in imported
    assert not imported & {"tkinter", "_tkinter", "serial", "filelock", "phonenumbers"}, imported
    problems = [line for line in second.stderr.splitlines() if not line.startswith("import time:")]
    assert any("AC00002" in p and "重複" in p for p in problems)     # the cached parse's problems, as a parse's
    assert {(f.name, f.stat().st_mtime_ns) for f in (tmp_path / "cti-cache").iterdir()} == made


def test_the_window_mode_still_imports_tk(tmp_path):
    """Imported by anyone but cti's own start (tests, benchmarks), or started for the window: the real Tk."""
    assert cti.tk.__name__ == "tkinter"
    assert not cti.started_for_command_line(["--lookup", "1"], sys.modules["__main__"], sys.stdout)
    main = type(sys)("__main__")
    main.__file__ = cti.__file__
    assert cti.started_for_command_line(["--lookup=1"], main, sys.stdout)
    assert not cti.started_for_command_line(["--demo"], main, sys.stdout)
    assert not cti.started_for_command_line(["--lookup", "1"], main, None)     # the windowed exe's message box


def test_a_window_checks_the_cache_file_after_start_and_reads_members_csv_again_when_damaged(members_file, cache,
                                                                                             wait_for):
    """The window does not wait for the whole-file checksum before it shows (0.2 s at 1,000,000 members):
    it checks on a thread; a damaged cache is removed and members.csv read again as when it changed."""
    path = members_file(MIXED)
    expected = answers(cti.MemberTable(path).load())
    table(path, cache)
    [stored] = cache_files(cache)
    damage_one_byte_of_a_name(stored)
    live = table(path, cache, background=True)
    assert isinstance(live.file, cti.CachedMembers)               # used at once, checked meanwhile
    assert wait_for(lambda: live.stamp is None, timeout=30)      # found damaged: to be read again
    assert not stored.exists()

    def reread():
        live.refresh()
        return live.take_reread()
    assert wait_for(reread, timeout=30)
    assert answers(live) == expected
    assert isinstance(live.file, cti.CachedMembers) and cti.ParseCache.verified(live.file.path)


@pytest.mark.parametrize("path, uri", [
    (r"C:\cti\cti-cache\members-1-0.1.sqlite", "file:///C:/cti/cti-cache/members-1-0.1.sqlite"),
    (r"\\nas\salon\cti\cti-cache\m.sqlite", "file:////nas/salon/cti/cti-cache/m.sqlite"),     # UNC: empty authority
    (r"C:\Users\受付\cti\m #1%.sqlite", "file:///C:/Users/%E5%8F%97%E4%BB%98/cti/m%20%231%25.sqlite"),
])
def test_the_cache_is_opened_by_a_uri_sqlite_reads_on_windows(path, uri):
    from pathlib import PureWindowsPath
    assert cti.sqlite_uri(PureWindowsPath(path)) == uri


def test_the_cache_opens_in_a_folder_with_japanese_and_uri_characters(tmp_path, members_file):
    folder = tmp_path / "受付 #1%"
    cache = cti.ParseCache.beside(folder / "cti.db")
    path = members_file()
    table(path, cache)
    hit = table(path, cache)
    assert isinstance(hit.file, cti.CachedMembers) and hit.lookup("0596310005")[0].member_no == "AC00001"


def test_a_new_parse_replaces_only_the_old_parse_of_its_own_file(tmp_path, cache):
    """members.csv's new content removes members.csv's old parse, never members-2024.csv's."""
    one, other = tmp_path / "members.csv", tmp_path / "members-2024.csv"
    for path in (one, other):
        path.write_bytes(("\r\n".join(MEMBERS_SAMPLE) + "\r\n").encode("utf-8-sig"))
    table(one, cache)
    table(other, cache)
    one.write_bytes(("\r\n".join(MIXED) + "\r\n").encode("utf-8-sig"))
    table(one, cache)
    names = sorted(f.name.split("-")[1] for f in cache_files(cache))
    assert len(cache_files(cache)) == 2 and "2024" in names
    assert isinstance(table(other, cache).file, cti.CachedMembers)


def test_a_header_only_members_csv_is_cached_and_answered_too(members_file, cache):
    path = members_file([MEMBERS_HEADER])
    table(path, cache)
    hit = table(path, cache, background=True)
    assert isinstance(hit.file, cti.CachedMembers)
    assert answers(hit) == answers(cti.MemberTable(path).load()) and len(hit.members) == 0
    assert hit.search("a") == [] and hit.next_member_no() == "00001"


def test_a_lookup_with_a_cache_of_another_version_says_nothing_and_answers_without_it(tmp_path):
    """The cache of another version is removed, never rebuilt by --lookup (a window rebuilds it)."""
    (tmp_path / "members.csv").write_bytes(("\r\n".join(MEMBERS_SAMPLE) + "\r\n").encode("cp932"))
    config = tmp_path / "cti.ini"
    config.write_text("[files]\nmembers = members.csv\ndatabase = cti.db\n", encoding="utf-8")
    cti.MemberTable(tmp_path / "members.csv", cache=cti.ParseCache.beside(tmp_path / "cti.db")).load()
    [stored] = (tmp_path / "cti-cache").glob("*.sqlite")
    damage_version(stored)
    again = lookup_process(config, "0596-31-0005")
    assert (again.returncode, again.stderr) == (0, "")
    assert [m["member_no"] for m in json.loads(again.stdout)] == ["AC00001"]
    assert list((tmp_path / "cti-cache").glob("*.sqlite")) == []
    cti.MemberTable(tmp_path / "members.csv", cache=cti.ParseCache.beside(tmp_path / "cti.db")).load()
    [rebuilt] = (tmp_path / "cti-cache").glob("*.sqlite")
    assert cti.ParseCache.verified(rebuilt)


def test_a_change_kept_pending_while_the_window_answers_from_the_cache(members_file, cache, monkeypatch):
    """Started warm (the parse from the cache has no text), a register that cannot be written now (Excel
    holds members.csv) is kept pending and shown: the full parse comes from the text the cache keeps."""
    path = members_file()
    table(path, cache)
    live = table(path, cache, background=True)
    assert isinstance(live.file, cti.CachedMembers)

    real_write = cti.atomic_write

    def write(target, data, **kw):          # Excel holds members.csv: Windows' sharing violation (32) on
        if Path(target) == path:            # the replace, which cannot be made here; the pending file is real
            raise PermissionError(13, "locked", None, 32)
        return real_write(target, data, **kw)
    monkeypatch.setattr(cti, "atomic_write", write)
    reg, errors = cti.validate_registration({"name": "新規花子", "phone": "090-5555-1234"}, live)
    assert not errors
    with pytest.raises(cti.WriteDeferred):
        live.register(reg)
    assert [m.name for m in live.lookup("09055551234")] == ["新規花子"]       # shown, kept pending
    assert live.pending and "新規花子" not in path.read_text("utf-8-sig")
    monkeypatch.undo()
    assert live.retry_pending()
    assert "新規花子" in path.read_text("utf-8-sig")
