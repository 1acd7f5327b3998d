"""The wall clock moved under the real program (libfaketime), and the window's own clock for the rules.

The real window runs in a real process under Xvfb with Debian's libfaketime preloaded: the test
writes an offset to FAKETIME_TIMESTAMP_FILE (re-read at every call: FAKETIME_NO_CACHE=1) and leaves
the monotonic clock alone (DONT_FAKE_MONOTONIC=1), as Windows does when it steps its clock. Calls
come from a real NCID server on 127.0.0.1; the window's title shows each caller.
"""

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import cti
from conftest import FakeMonotonic, poll_until

LIBFAKETIME = next((p for p in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                                "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                                "/usr/lib/faketime/libfaketime.so.1") if os.path.exists(p)), None)
# libfaketime 0.9.10 with the monotonic clock left alone fails CPython's time.sleep (an absolute
# clock_nanosleep on CLOCK_MONOTONIC: EINVAL); the launcher sleeps on a monotonic wait instead.
# cti itself runs unchanged from cti.py.
LAUNCH = ("import runpy, sys, threading, time; time.sleep = lambda s: threading.Event().wait(s); "
          "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
SHOWN = 30.0        # seconds a call may take to show, under any load; a step held it 90 s and more


def cid(number: str) -> bytes:
    return f"CID: *DATE*12082026*TIME*1000*LINE*-*NMBR*{number}*MESG*NONE*NAME*NO NAME*\r\n".encode()


def title_of(process) -> str:
    """The title of this process's window (xdotool --pid)."""
    ids = subprocess.run(["xdotool", "search", "--pid", str(process.pid), "--name", "CTI"], capture_output=True,
                         text=True).stdout.split()
    names = [subprocess.run(["xdotool", "getwindowname", i], capture_output=True, text=True).stdout.strip()
             for i in ids]
    return next((n for n in names if n.startswith("CTI — ")), "")


@pytest.fixture
def stepped_cti(tmp_path):
    """(process, offset(seconds), send(bytes), folder): python cti.py under libfaketime, on an NCID server."""
    if not os.environ.get("DISPLAY") or not shutil.which("xdotool"):
        pytest.skip("needs a display (conftest makes this a failure)")
    if sys.platform == "win32":
        pytest.skip("libfaketime is Linux's (Windows runs Heartbeat's own tests)")
    if LIBFAKETIME is None:
        pytest.fail("libfaketime is missing: apt-get install faketime (.ci/run installs it)")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(60)
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "members.csv").write_bytes((",".join(cti.MEMBERS_HEADER) + "\r\n").encode("utf-8-sig"))
    ini = cti.DEFAULT_INI.replace("port = auto", f"port = socket://127.0.0.1:{server.getsockname()[1]}") \
                         .replace("protocol = auto", "protocol = ncid")
    (folder / "cti.ini").write_bytes(ini.encode("utf-8-sig"))
    stamp = tmp_path / "faketime"
    stamp.write_text("+0\n")
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONIOENCODING="utf-8", LD_PRELOAD=LIBFAKETIME,
               FAKETIME_TIMESTAMP_FILE=str(stamp), FAKETIME_NO_CACHE="1",
               DONT_FAKE_MONOTONIC="1", FAKETIME_DONT_FAKE_MONOTONIC="1")
    process = subprocess.Popen([sys.executable, "-c", LAUNCH, str(Path(cti.__file__)), "--config",
                                str(folder / "cti.ini")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"200 Server: ncidd (NCID) 1.13\r\n300 End of connection startup\r\n")

            def offset(seconds):
                stamp.write_text(f"{seconds:+d}\n")

            yield process, offset, connection.sendall, folder
    finally:
        process.terminate()
        process.wait(10)
        server.close()


def stored(folder) -> list:
    with sqlite3.connect(folder / "cti.db") as db:
        return [r[0] for r in db.execute("SELECT number FROM calls ORDER BY id")]


def test_a_call_after_each_step_of_the_wall_clock_is_shown_at_once_and_kept(stepped_cti):
    """Back 90 s, back an hour, forward 8 days, then right again: each call is in the title within
    seconds (Tk's own timers were held for the whole step) and stored, in the order they came."""
    process, offset, send, folder = stepped_cti
    log = folder / "cti.log"
    assert poll_until(lambda: log.exists() and "に接続しました" in log.read_text("utf-8"), 60, 0.1), "never connected"
    numbers = []
    for step, number in ((0, "0312345600"), (-90, "0312345601"), (-3600, "0312345602"),
                         (8 * 86400, "0312345603"), (0, "0312345604")):
        offset(step)
        send(cid(number))
        numbers.append(number)
        title = f"CTI — {cti.format_phone(number)} 未登録"
        assert poll_until(lambda: title_of(process) == title, SHOWN, 0.05), (step, title_of(process))
        assert poll_until(lambda: stored(folder) == numbers, SHOWN, 0.05), (step, stored(folder))
    text = log.read_text("utf-8")
    assert "時計が -3600 秒 変わりました" in text or "時計が -3599 秒 変わりました" in text
    assert "元に戻りました" in text


def test_a_clock_set_back_an_hour_with_a_full_history_keeps_both_new_calls(stepped_cti):
    """The report: 100 calls kept, the clock set back 1 h; both new calls were deleted by the transaction
    that stored them and the window raised 'Item 101 already exists'. Here the history holds 100."""
    process, offset, send, folder = stepped_cti
    log = folder / "cti.log"
    assert poll_until(lambda: log.exists() and "に接続しました" in log.read_text("utf-8"), 60, 0.1), "never connected"
    first = [f"03100000{n:02d}" for n in range(100)]
    send(b"".join(cid(n) for n in first))
    assert poll_until(lambda: stored(folder) == first, SHOWN * 2, 0.1), len(stored(folder))
    offset(-3600)
    for number in ("0596310005", "0596310006"):
        send(cid(number))
        assert poll_until(lambda: title_of(process) == f"CTI — {cti.format_phone(number)} 未登録", SHOWN, 0.05)
    assert poll_until(lambda: stored(folder) == first[2:] + ["0596310005", "0596310006"], SHOWN, 0.05), \
        stored(folder)[-3:]
    assert "TclError" not in log.read_text("utf-8")


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# Heartbeat in this process: Tk's after held as a stepped clock holds it (Windows runs these too)

@pytest.fixture
def tk_root():
    import tkinter as tk
    try:
        root = tk.Tk()
    except tk.TclError as e:
        pytest.skip(f"no display: {e}")
    root.withdraw()
    yield root
    root.destroy()


def held(monkeypatch):
    """Every after Heartbeat arms waits 10 minutes, as after a wall clock set back 10 minutes."""
    monkeypatch.setattr(cti.Heartbeat, "arm",
                        lambda self: setattr(self, "after_id", self.root.after(600_000, self.tick)))


def run_until(root, condition, timeout=20.0):
    """mainloop() (the loop the program runs) until condition() or timeout; its value. The check
    runs on Tk's after, which nothing holds here."""
    deadline = time.monotonic() + timeout

    def check():
        if condition() or time.monotonic() > deadline:
            root.quit()
        else:
            root.after(10, check)
    root.after(10, check)
    root.mainloop()
    return condition()


def test_heartbeat_runs_its_jobs_while_tks_timers_are_held(tk_root, monkeypatch):
    held(monkeypatch)
    beat = cti.Heartbeat(tk_root, poll=0.02, beat=0.05)
    ran = []
    beat.every("members", 0.1, lambda: ran.append(time.monotonic()))
    beat.start()
    try:
        assert run_until(tk_root, lambda: len(ran) >= 3)
    finally:
        beat.stop()
    assert all(b - a >= 0.1 for a, b in zip(ran, ran[1:]))       # by the monotonic clock, not early


def test_a_thread_putting_on_a_waking_queue_ticks_the_window_at_once(tk_root, monkeypatch):
    held(monkeypatch)
    beat = cti.Heartbeat(tk_root, poll=0.02, beat=3600)            # only wake() can tick it
    events = cti.WakingQueue()
    events.wake = beat.wake
    taken = []
    beat.every("poll", 0, lambda: taken.extend(iter(lambda: events.get() if not events.empty() else None, None)))
    beat.start()
    try:
        threading.Timer(0.2, events.put, ("call",)).start()
        assert run_until(tk_root, lambda: taken == ["call"])
    finally:
        beat.stop()


def test_heartbeat_jobs_by_the_monotonic_clock(tk_root):
    clock = FakeMonotonic()
    beat = cti.Heartbeat(tk_root, poll=0.02, clock=clock)
    ran = []
    beat.every("every", 2.0, lambda: ran.append(("every", clock.t)))
    beat.once("once", 1.0, lambda: ran.append(("once", clock.t)))
    for t in (1000.5, 1001.0, 1002.0, 1003.0, 1004.0):
        clock.t = t
        beat.tick()
    assert ran == [("once", 1001.0), ("every", 1002.0), ("every", 1004.0)]
    assert "once" not in beat.jobs
    beat.stop()


def test_a_job_that_ends_the_window_stops_the_rest(tk_root):
    clock = FakeMonotonic()
    beat = cti.Heartbeat(tk_root, poll=0.02, clock=clock)
    ran = []
    beat.every("quit", 0, beat.stop)
    beat.every("later", 0, lambda: ran.append("later"))
    beat.tick()
    assert ran == [] and beat.after_id is None and beat.jobs == {}


def test_an_error_in_a_job_is_logged_and_the_others_run(tk_root, caplog):
    clock = FakeMonotonic()
    beat = cti.Heartbeat(tk_root, poll=0.02, clock=clock)
    ran = []
    beat.every("broken", 0, lambda: 1 / 0)
    beat.every("fine", 0, lambda: ran.append("fine"))
    beat.tick()
    beat.tick()
    assert ran == ["fine", "fine"] and beat.jobs.keys() == {"broken", "fine"}
    assert "定期処理 broken でエラー" in caplog.text
    beat.stop()
