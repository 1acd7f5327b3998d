"""Reliability: device faults on real pseudo-terminals, kills while writing, bad input, a long run.

Everything here is bounded in time (the whole file runs in well under a minute) and waits on
events or polls with a timeout, never on a fixed sleep. The decoder fuzzing lives in test_fuzz.py.
"""

import csv
import gc
import io
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import cti
from conftest import Events

try:
    import resource                     # getrusage: POSIX only
except ImportError:
    resource = None

ROOT = Path(__file__).resolve().parents[1]


# -----------------------------------------------------------------------------
# helpers

@pytest.fixture
def reader_on(request):
    """reader_on(port, protocol='nd') -> (DeviceReader started, Events); stopped at teardown."""
    started = []

    def start(port, protocol="nd"):
        events = Events()
        config = cti.Config(port=str(port), protocol=protocol, init=())
        reader = cti.DeviceReader(config, events.queue, backoff=(0.05, 0.1))
        reader.start()
        started.append(reader)
        return reader, events

    yield start
    for reader in started:
        reader.stop(timeout=5)
        assert not reader.is_alive(), "the reader did not stop"


def point(link: Path, target: str):
    """(Re)point the symlink at a pty slave, atomically, as udev renames a device node."""
    tmp = link.with_name(link.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)


def number_frame(nd_frame, digits: str) -> bytes:
    return nd_frame([(0x02, digits.encode("ascii"))])


def thread_cpu_seconds(native_id: int) -> float:
    """CPU time (user + system) of one thread of this process, from /proc."""
    with open(f"/proc/self/task/{native_id}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks          # utime, stime (fields 14 and 15)


# -----------------------------------------------------------------------------
# device faults through real pseudo-terminals

def test_port_missing_at_start_then_plugged_in(tmp_path, make_pty, reader_on, nd_frame):
    link = tmp_path / "ttyCTI"
    reader, events = reader_on(link)
    missing = events.status("missing")
    assert "ttyCTI" in missing.text and "見つかりません" in missing.text
    events.status("missing")                                    # it keeps trying, with back-off
    assert reader.is_alive()

    master, slave = make_pty()
    point(link, slave)
    events.status("connected", timeout=3)
    os.write(master, number_frame(nd_frame, "0596310005"))
    call = events.call()
    assert (call.number, call.reason, call.protocol) == ("0596310005", None, "nd")
    assert call.received is not None
    assert reader.is_alive()


def test_unplugged_mid_frame_then_replugged(tmp_path, make_pty, reader_on, nd_frame):
    link = tmp_path / "ttyCTI"
    master, slave = make_pty()
    point(link, slave)
    reader, events = reader_on(link)
    events.status("connected")
    os.write(master, number_frame(nd_frame, "0312345678"))
    assert events.call().number == "0312345678"

    cut = number_frame(nd_frame, "09011112222")
    half = len(cut) // 2
    os.write(master, cut[:half])
    os.close(master)                                            # the USB cable comes out mid-frame
    lost = events.status("lost")
    assert "接続が切れました" in lost.text
    events.status("missing")                                    # the node is gone until it comes back
    assert reader.is_alive()

    master2, slave2 = make_pty()
    point(link, slave2)                                         # plugged in again (a new node, as after a replug)
    events.status("connected", timeout=3)
    # The rest of the cut frame arrives first: it must not be joined to the half read before the unplug.
    os.write(master2, cut[half:] + number_frame(nd_frame, "0451234567"))
    call = events.call()
    assert call.number == "0451234567"
    assert reader.is_alive()
    assert [c.number for c in events.calls()] == ["0312345678", "0451234567"]
    assert not any(isinstance(e, cti.Call) and e.number == "09011112222" for e in events.seen)


def test_unplug_and_replug_with_the_modem_protocol(tmp_path, make_pty, reader_on):
    link = tmp_path / "ttyCTI"
    master, slave = make_pty()
    point(link, slave)
    reader, events = reader_on(link, "modem")
    events.status("connected")
    os.write(master, b"RING\r\n\r\nDATE = 1125\r\nTIME = 1405\r\nNMBR = 0596")   # cut inside NMBR
    os.close(master)
    events.status("lost")
    master2, slave2 = make_pty()
    point(link, slave2)
    events.status("connected", timeout=3)
    os.write(master2, b"310005\r\n\r\nRING\r\n\r\nNMBR = 09087654321\r\n\r\n")
    call = events.call()
    assert call.number == "09087654321"                       # never 0596 nor 0596310005 glued together
    assert [c.number for c in events.calls()] == ["09087654321"]
    assert reader.is_alive()


def test_flood_of_garbage_at_full_speed(make_pty, reader_on, nd_frame):
    rng = random.Random(20261125)
    chunks = []
    for _ in range(400):
        chunks.append(rng.randbytes(rng.randrange(4000, 16000)))          # line noise
        frame = bytearray(number_frame(nd_frame, f"090{rng.randrange(10 ** 8):08d}"))
        frame[rng.randrange(2, len(frame))] ^= 1 << rng.randrange(8)      # a near miss: one bit flipped
        chunks.append(bytes(frame))
    garbage = b"".join(chunks)
    assert len(garbage) > 3_000_000
    offline = cti.NumberDisplayDecoder(repeat_window=0)
    assert not [e for e in offline.feed(garbage) if isinstance(e, cti.Call)]   # no valid frame in it
    valid = number_frame(nd_frame, "0596310005")

    master, slave = make_pty()
    reader, events = reader_on(slave)
    events.status("connected")
    errors = []

    def flood():
        try:
            view = memoryview(garbage + valid)
            while view:
                view = view[os.write(master, view[:65536]):]
        except OSError as e:                    # pragma: no cover - the reader would have to vanish
            errors.append(e)

    writer = threading.Thread(target=flood, daemon=True)
    started = time.monotonic()
    writer.start()
    call = events.call(timeout=60)
    writer.join(timeout=10)
    assert errors == []
    assert call.number == "0596310005"
    assert reader.is_alive()
    assert [c.number for c in events.calls()] == ["0596310005"]   # nothing else was taken for a call
    assert not [e for e in events.seen if isinstance(e, cti.Status) and e.state != "connecting"
                and e.state != "connected"], "the flood made the reader drop the port"
    assert time.monotonic() - started < 30, "the reader cannot keep up with a flood"


def test_silent_device_costs_no_cpu(make_pty, reader_on):
    master, slave = make_pty()
    reader, events = reader_on(slave, "modem")
    events.status("connected")
    wall = 3.0
    before_thread = thread_cpu_seconds(reader.native_id)
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    threading.Event().wait(wall)                                # the main thread blocks; the reader waits on the pty
    elapsed = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    used_thread = thread_cpu_seconds(reader.native_id) - before_thread
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert reader.is_alive() and events.calls() == []
    assert used_thread < 0.05 * elapsed, f"the idle reader used {used_thread:.3f} s of CPU in {elapsed:.1f} s"
    assert used < 0.05 * elapsed, f"the process used {used:.3f} s of CPU in {elapsed:.1f} s while idle"


# -----------------------------------------------------------------------------
# data: killed at random moments while writing

MEMBERS_HEADER = "会員番号,名前,ふりがな,電話番号,主担当,メモ,誕生日"
FIRST_MEMBERS = ["AC00001,ペンギン貴子,ぺんぎんたかこ,0596-31-0005,佐藤,,1985/04/12",
                 "AC00002,山田花子,やまだはなこ,090-1234-5678,鈴木,,1990/11/03",
                 "AC00003,鈴木一郎,すずきいちろう,045-123-4567,佐藤,,1978/01/30"]

WRITER = r"""
import random, sys
from datetime import datetime, timedelta
from pathlib import Path
import cti

def ack(*words):                        # one write a line: a kill never leaves half an acknowledgement
    sys.stdout.write(" ".join(map(str, words)) + "\n")
    sys.stdout.flush()


folder, round_no = Path(sys.argv[1]), int(sys.argv[2])
rng = random.Random(round_no)
table = cti.MemberTable(folder / "members.csv").load()
db = cti.Database(folder / "cti.db", max_entries=50)
start = datetime(2030, 1, 1, 10, 0)
for i in range(10 ** 6):
    kind = i % 4
    if kind == 0:
        registration, errors = cti.validate_registration(
            {"name": f"会員{round_no}-{i}", "kana": "かいいん", "phone": f"080{round_no:02d}{i:06d}"}, table)
        assert not errors, errors
        member, _ = table.register(registration)
        ack("R", member.member_no, registration.name)
    elif kind == 1:
        member = rng.choice(table.members)
        phone = f"070{round_no:02d}{i:06d}"
        table.link(member.member_no, phone)
        ack("L", member.member_no, phone)
    elif kind == 2:
        call_id = db.add_call(cti.Call(f"090{round_no:02d}{i:06d}", protocol="nd", received=datetime.now()))
        ack("C", call_id)
    else:
        member = rng.choice(table.members)
        rid = db.reserve(member.member_no, start + timedelta(minutes=i), "カット", "佐藤", f"r{round_no}-{i}")
        db.set_status(rid, "来店")
        db.set_status(rid, "退店", amount=4400)
        ack("V", rid, member.member_no)
"""


def _lines(stream, out: queue.Queue):
    for line in stream:
        if line.endswith("\n"):             # an acknowledgement is a whole line
            out.put(line[:-1])
    out.put(None)


def test_killed_at_random_moments_members_and_database_stay_whole(tmp_path):
    members_csv = tmp_path / "members.csv"
    members_csv.write_bytes(("\r\n".join([MEMBERS_HEADER] + FIRST_MEMBERS) + "\r\n").encode("utf-8-sig"))
    rng = random.Random(7)
    registered, linked, reservations, calls = {}, [], {}, []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for round_no in range(10):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(round_no)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        lines = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
        acks = []
        try:
            wanted = rng.randrange(1, 12)                       # a random point in the loop...
            while len(acks) < wanted:
                line = lines.get(timeout=20)
                assert line is not None, proc.stderr.read()
                acks.append(line)
            time.sleep(rng.uniform(0, 0.02))                     # ...and a random moment inside the next change
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        while (line := lines.get(timeout=10)) is not None:       # what it acknowledged before it died
            acks.append(line)
        proc.stderr.close()
        for line in acks:
            kind, *rest = line.split(" ")
            assert kind in "RLVC" and rest, acks
            if kind == "R":
                registered[rest[0]] = rest[1]
            elif kind == "L":
                linked.append((rest[0], rest[1]))
            elif kind == "V":
                reservations[int(rest[0])] = rest[1]
            else:
                calls.append(int(rest[0]))

        table = cti.MemberTable(members_csv).load()             # parses, and holds every acknowledged change
        assert table.problems == [], table.problems
        assert table.pending == []
        assert [m.member_no for m in table.members[:3]] == ["AC00001", "AC00002", "AC00003"]
        for member_no, name in registered.items():
            assert member_no in table.by_no, f"round {round_no}: register {member_no} acknowledged but lost"
            assert table.by_no[member_no].name == name
        for member_no, phone in linked:
            assert phone in table.by_no[member_no].phones, f"round {round_no}: link {phone} acknowledged but lost"
            assert [m.member_no for m in table.lookup(phone)] == [member_no]

        con = sqlite3.connect(tmp_path / "cti.db")
        try:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            rows = dict(con.execute("SELECT id, member_no FROM reservations").fetchall())
            for rid, member_no in reservations.items():
                assert rows.get(rid) == member_no, f"round {round_no}: reservation {rid} acknowledged but lost"
            # a checkout is one transaction: 退店 and its visit are there together or not at all
            departed = {r for (r,) in con.execute("SELECT id FROM reservations WHERE status = '退店'")}
            visited = {r for (r,) in con.execute("SELECT reservation_id FROM visits")}
            assert departed == visited
            assert set(reservations) <= departed
            # insert and prune are two statements: a kill between them leaves one call over, until the next start
            assert con.execute("SELECT COUNT(*) FROM calls").fetchone()[0] <= 51
        finally:
            con.close()
        db = cti.Database(tmp_path / "cti.db", max_entries=50)  # the next start prunes
        try:
            kept = [r.id for r in db.calls()]
            assert len(kept) <= 50
            if calls:
                assert max(calls) in kept                        # the newest acknowledged call survives pruning
        finally:
            db.close()
    assert len(registered) >= 5 and linked and reservations and calls, (registered, linked, reservations, calls)


def test_excel_lock_keeps_the_change_and_writes_it_later(tmp_path, monkeypatch, excel_lock):
    members_csv = tmp_path / "members.csv"
    members_csv.write_bytes(("\r\n".join([MEMBERS_HEADER] + FIRST_MEMBERS) + "\r\n").encode("cp932"))
    before = members_csv.read_bytes()
    lock = excel_lock
    monkeypatch.setattr(cti, "REPLACE_RETRIES", (0.001, 0.001))
    table = cti.MemberTable(members_csv).load()
    registration, errors = cti.validate_registration({"name": "高橋美咲", "kana": "たかはしみさき",
                                                      "phone": "080-2345-6789"}, table)
    assert errors == {}
    with pytest.raises(cti.WriteDeferred) as deferred:
        table.register(registration)
    assert "Excel" in str(deferred.value)
    assert lock["attempts"] == 3                                # tried, retried, then kept
    assert members_csv.read_bytes() == before                   # Excel's copy untouched
    pending = table.pending_path                                # beside members.csv (one a PC)
    assert pending.parent == tmp_path and pending.name.startswith("members.csv.")
    assert pending.exists() and "高橋美咲" in pending.read_text("utf-8")
    assert [m.name for m in table.lookup("08023456789")] == ["高橋美咲"]       # the change is kept
    assert [m.name for m in cti.MemberTable(members_csv).load().lookup("08023456789")] == ["高橋美咲"]
    assert not list(tmp_path.glob(".*.tmp"))                    # no temp file left behind

    assert table.retry_pending() is False                       # Excel still has it
    assert members_csv.read_bytes() == before

    lock["on"] = False                                          # Excel is closed
    assert table.retry_pending() is True
    assert not table.pending_file.read().changes                # written: only the record of it, until confirmed
    after = cti.MemberTable(members_csv).load()
    assert after.encoding == "cp932"
    assert after.by_no["AC00004"].name == "高橋美咲" and after.by_no["AC00004"].phones == ("08023456789",)
    assert members_csv.read_bytes().startswith(before)


# -----------------------------------------------------------------------------
# bad input

FORMULA_NAMES = ['=HYPERLINK("http://x","y")', "+SUM(1)", "@cmd", "-2+3"]
LONG = "長" * 10_000


def write_rows(path: Path, rows, encoding):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return out.getvalue()


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig"])
def test_every_problem_at_once_loads_the_rest_and_reports_by_line(tmp_path, encoding):
    path = tmp_path / "members.csv"
    rows = [["会員番号", "名前", "ふりがな", "電話番号", "主担当", "メモ", "誕生日"],     # line 1
            ["AC00001", "ペンギン貴子", "ぺんぎんたかこ", "0596-31-0005", "佐藤", "", ""],  # 2
            ["", "番号なし", "", "090-0000-0001", "", "", ""],                  # 3: empty member no.
            ["AC00001", "二重登録", "", "090-0000-0002", "", "", ""],           # 4: duplicate
            ["AC00005", "長いメモ", "", "090-0000-0005", "", LONG, ""],         # 5: a 10,000-character cell
            ["AC00006", LONG, "", "090-0000-0006", "", "", ""],                 # 6: a 10,000-character name
            ["AC00007", FORMULA_NAMES[0], "", "090-0000-0007", "", "", ""],     # 7..10: formula-looking names
            ["AC00008", FORMULA_NAMES[1], "", "090-0000-0008", "", "@memo", ""],
            ["AC00009", FORMULA_NAMES[2], "", "090-0000-0009", "", "", ""],
            ["AC00010", FORMULA_NAMES[3], "", "090-0000-0010", "", "", "-1+1"],
            ["AC00011", "複数行\r\nの名前", "", "090-0000-0011", "", "一行目\r\n二行目", ""],   # 11-13
            ["AC00012", "", "", "090-0000-0012", "", "", ""],                   # 14: no name
            ["AC00013", "指数表記", "", "3.12E+09", "", "", ""],                  # 15: Excel's 3.12E+09
            ["", "", "", "", "", "", ""],                                       # 16: a blank row Excel left
            ["AC00015", "最後の会員", "", "090-0000-0015", "", "", ""]]         # 17
    write_rows(path, rows, encoding)
    table = cti.MemberTable(path).load()
    assert table.encoding == encoding
    assert [m.member_no for m in table.members] == ["AC00001", "AC00005", "AC00006", "AC00007", "AC00008",
                                                    "AC00009", "AC00010", "AC00011", "AC00013", "AC00015"]
    assert table.by_no["AC00001"].name == "ペンギン貴子"                       # the first of a duplicate wins
    assert table.by_no["AC00005"].memo == LONG and table.by_no["AC00006"].name == LONG
    assert [table.by_no[f"AC{n:05d}"].name for n in (7, 8, 9, 10)] == FORMULA_NAMES
    assert table.by_no["AC00011"].line == 11 and table.by_no["AC00015"].line == 17
    assert [m.member_no for m in table.lookup("09000000015")] == ["AC00015"]
    problems = "\n".join(table.problems)
    assert "members.csv 3行目: 会員番号が空です" in table.problems
    assert any(p.startswith("members.csv 4行目:") and "AC00001" in p and "2行目" in p for p in table.problems), problems
    assert any(p.startswith("members.csv 14行目:") and "名前" in p for p in table.problems), problems
    assert any(p.startswith("members.csv 15行目:") and "指数" in p for p in table.problems), problems
    assert len(table.problems) == 4, problems                   # the good rows are not reported

    # A register rewrites the file: nothing Excel would run is written back as it was.
    registration, errors = cti.validate_registration({"name": "新規会員", "phone": "090-0000-0099"}, table)
    assert errors == {}
    table.register(registration)
    text = path.read_bytes().decode(encoding)
    cells = [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
    runnable = [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and c[1:] and not
                                                                 c[1:].replace(".", "", 1).isdigit())]
    assert runnable == []
    for name in FORMULA_NAMES + ["@memo", "-1+1"]:
        assert "'" + name in cells, name
    again = cti.MemberTable(path).load()
    assert again.by_no[registration.member_no].name == "新規会員"
    assert again.by_no["AC00005"].memo == LONG                  # the long cell survives the rewrite
    assert len(again.members) == 11 and len(again.problems) == 4


def test_bytes_in_neither_utf8_nor_cp932_are_refused_clearly(tmp_path):
    path = tmp_path / "members.csv"
    good = "会員番号,名前,電話番号\r\nAC00001,山田花子,090-1234-5678\r\n".encode("cp932")
    path.write_bytes(good + b"AC00002,\x81\x7f\xa0\xff\xfe,090-1111-2222\r\n")   # invalid in both
    for encoding in ("utf-8", "cp932"):
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode(encoding)
    table = cti.MemberTable(path)
    with pytest.raises(cti.MembersError) as caught:
        table.load()
    message = str(caught.value)
    assert "members.csv" in message and "UTF-8" in message and "CP932" in message
    assert "Traceback" not in message and table.error == message


@pytest.mark.parametrize("missing", ["会員番号", "名前"])
def test_required_column_missing_is_named(tmp_path, missing):
    path = tmp_path / "members.csv"
    header = [h for h in ["会員番号", "名前", "ふりがな", "電話番号"] if h != missing]
    write_rows(path, [header, ["x"] * len(header)], "utf-8-sig")
    with pytest.raises(cti.MembersError) as caught:
        cti.MemberTable(path).load()
    assert missing in str(caught.value) and "members.csv" in str(caught.value)


def test_unclosed_quote_past_the_field_limit_is_a_clear_error(tmp_path):
    path = tmp_path / "members.csv"
    text = ("会員番号,名前,電話番号\r\nAC00001,山田花子,090-1234-5678\r\n"
            'AC00002,"閉じ忘れ,090-1111-2222\r\n' + "".join(f"AC{i:05d},名前{i},090{i:08d}\r\n" for i in range(3, 8000)))
    path.write_bytes(text.encode("utf-8"))
    table = cti.MemberTable(path).load()                         # csv.Error never escapes
    assert [m.member_no for m in table.members] == ["AC00001"]
    assert table.problems[0].startswith("members.csv 3行目")


# -----------------------------------------------------------------------------
# long run

def test_ten_thousand_calls_history_stays_pruned_and_memory_flat(tmp_path, make_pty, reader_on, nd_frame):
    master, slave = make_pty()
    db = cti.Database(tmp_path / "cti.db", max_entries=100)
    tracemalloc.start()
    try:
        reader, events = reader_on(slave)
        events.status("connected")
        traced = {}
        for batch in range(10):
            numbers = [f"090{i:08d}" for i in range(batch * 1000, (batch + 1) * 1000)]
            os.write(master, b"".join(number_frame(nd_frame, n) for n in numbers))   # the reader drains as we write
            got = []
            while len(got) < 1000:
                call = events.call(timeout=60)    # a bound for a hang, not a speed test: tracemalloc on a loaded machine is slow
                db.add_call(call)
                got.append(call.number)
            assert got == numbers                               # every call, in order, none twice
            events.seen.clear()
            assert db.conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 100
            gc.collect()
            traced[(batch + 1) * 1000] = tracemalloc.get_traced_memory()[0]
        assert reader.is_alive()
    finally:
        tracemalloc.stop()
    history = db.calls()
    assert len(history) == 100
    assert [r.number for r in history] == [f"090{i:08d}" for i in range(9999, 9899, -1)]
    growth = traced[10000] - traced[1000]
    assert growth < 100_000, f"traced memory grew {growth} bytes from 1,000 to 10,000 calls: {traced}"
    db.close()


def test_history_pruned_by_age_as_well(tmp_path):
    now = datetime(2026, 11, 25, 12, 0)
    db = cti.Database(tmp_path / "cti.db", max_entries=100, max_days=7, now=lambda: now)
    for days in (30, 8, 6, 0):
        db.add_call(cti.Call(f"0312345{days:03d}", received=now - timedelta(days=days)))
    assert [r.number for r in db.calls()] == ["0312345000", "0312345006"]
    db.close()


def test_the_window_history_follows_pruning_call_by_call_without_a_rebuild(tmp_path, clock, monkeypatch):
    """A popup adds one row and drops what cti.db pruned (by count and by age); it never rebuilds the list."""
    import tkinter as tk
    members = tmp_path / "members.csv"
    members.write_bytes(cti.DEMO_MEMBERS.encode("utf-8-sig"))
    config = cti.Config(port="loop://", protocol="modem", init=(), members=members, database=tmp_path / "cti.db",
                        log=tmp_path / "cti.log", max_entries=5, max_days=1)
    try:
        root = tk.Tk()
    except tk.TclError as e:
        pytest.skip(f"no display: {e}")
    root.withdraw()
    db = cti.Database(config.database, 5, 1, now=clock, monotonic=clock.monotonic)
    window = cti.MainWindow(root, config, cti.MemberTable(members).load(), db, queue.Queue(), now=clock, _utest=True)
    rebuilds = []
    monkeypatch.setattr(window.history, "refresh", lambda *a, **k: rebuilds.append(a))
    try:
        for n in range(8):
            clock.advance(60 * 60 * (22 if n == 6 else 1))       # the 7th call comes 22 hours later
            window.on_call(cti.Call(f"03000000{n:02d}", protocol="nd"), bring_to_front=False)
            shown = [window.history.records[iid].id for iid in window.history.tree.get_children()]
            assert shown == [c.id for c in db.calls()], n
            assert window.history.tree.selection() == (str(shown[0]),)
        assert len(shown) < 5                                    # the age limit took some as well
        assert rebuilds == []
    finally:
        window.stop()
        root.destroy()
        db.close()
