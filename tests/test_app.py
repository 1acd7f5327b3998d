"""Start-up: one instance per PC (two real processes), first-run files, logging, --selftest."""

import logging
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
import cti

# A first instance: takes the lock, says so, then answers "raise?" lines until stdin closes.
HOLDER = r"""
import sys
sys.path.insert(0, sys.argv[1])
import cti
folder = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
instance = cti.SingleInstance.for_config(sys.argv[3]) if len(sys.argv) > 3 else cti.SingleInstance(folder)
print("ready" if instance.acquire() else "refused", flush=True)
for line in sys.stdin:
    if line.strip() == "raise?":
        print(instance.raise_requested(), flush=True)
"""
SECOND = r"""
import sys
sys.path.insert(0, sys.argv[1])
import cti
instance = cti.SingleInstance(sys.argv[2])
got = instance.acquire()
if not got:
    instance.ask_first_to_raise()
print(got)
"""


def child_env(tmp_path, display=True):
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONIOENCODING="utf-8")
    if not display:
        env.pop("DISPLAY", None)
    return env


@pytest.fixture
def holder(tmp_path):
    """start(folder=None) -> a running first instance (Popen) holding the lock; ended at teardown."""
    started = []

    def start(folder=None, config=None):
        args = [sys.executable, "-c", HOLDER, str(ROOT), str(folder or "")] + ([str(config)] if config else [])
        process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   env=child_env(tmp_path))
        started.append(process)
        assert process.stdout.readline().strip() == "ready"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.stdin.close()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def ask(process, line):
    process.stdin.write(line + "\n")
    process.stdin.flush()
    return process.stdout.readline().strip()


def run_second(tmp_path, folder):
    result = subprocess.run([sys.executable, "-c", SECOND, str(ROOT), str(folder)], capture_output=True, text=True,
                            env=child_env(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# one instance

def test_single_instance_between_two_processes(tmp_path, holder):
    first = holder(tmp_path)
    assert ask(first, "raise?") == "False"                           # nobody asked yet
    assert run_second(tmp_path, tmp_path) == "False"                 # refused while the first runs
    assert (tmp_path / "cti.raise").exists()                          # ... and asked the first to come up
    assert ask(first, "raise?") == "True"
    assert not (tmp_path / "cti.raise").exists()                      # consumed: raised once
    assert ask(first, "raise?") == "False"

    first.stdin.close()
    assert first.wait(10) == 0
    assert run_second(tmp_path, tmp_path) == "True"                  # free again once the first exits
    again = cti.SingleInstance(tmp_path)
    try:
        assert again.acquire() is True
    finally:
        again.handle.close()


def test_single_instance_in_another_folder_is_independent(tmp_path, holder):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    holder(tmp_path / "a")
    assert run_second(tmp_path, tmp_path / "b") == "True"
    assert run_second(tmp_path, tmp_path / "a") == "False"


def test_single_instance_default_folder_is_the_temp_folder(tmp_path, holder):
    holder()                                                        # SingleInstance() with TMPDIR=tmp_path
    assert (tmp_path / "cti.lock").exists()
    assert run_second(tmp_path, tmp_path) == "False"


def test_one_cti_per_cti_ini_and_another_folder_is_another_cti(tmp_path, holder):
    """Two folders are two reception desks (each its own cti.ini, cti.db, device); one folder is one cti."""
    site_a, site_b = tmp_path / "a" / "cti.ini", tmp_path / "b" / "cti.ini"
    holder(config=site_a)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import cti; "
            "print(cti.SingleInstance.for_config(sys.argv[2]).acquire())")
    again = [subprocess.run([sys.executable, "-c", code, str(ROOT), str(path)], capture_output=True, text=True,
                            env=child_env(tmp_path), timeout=60).stdout.strip() for path in (site_b, site_a)]
    assert again == ["True", "False"]
    names = {cti.SingleInstance.for_config(p).lock_path.name for p in (site_a, site_b)}
    assert len(names) == 2 and "cti.lock" not in names


def test_second_start_of_the_program_exits_and_asks_the_first_to_raise(tmp_path, holder):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "cti.ini").write_bytes(cti.DEFAULT_INI.encode("utf-8-sig"))
    first = holder(config=folder / "cti.ini")                       # the first cti from this cti.ini, lock in TMPDIR
    started = time.monotonic()
    # No DISPLAY: had it tried to open a window, Tk would fail and the exit code would say so.
    result = subprocess.run([sys.executable, str(ROOT / "cti.py"), "--config", str(folder / "cti.ini")],
                            capture_output=True, text=True, env=child_env(tmp_path, display=False), timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert elapsed < 15
    assert (tmp_path / cti.SingleInstance.for_config(folder / "cti.ini").raise_path.name).exists()
    assert sorted(p.name for p in folder.iterdir()) == ["cti.ini"]   # no members.csv, cti.db or cti.log
    assert ask(first, "raise?") == "True"


def test_the_running_window_answers_a_second_start(tmp_path):
    """The real program twice: the second exits at once and the first's window takes the request to come up."""
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs a display (pytest-xvfb provides one)")
    folder = tmp_path / "site"
    folder.mkdir()
    ini = cti.DEFAULT_INI.replace("port = auto", "port = loop://").replace("protocol = auto", "protocol = modem")
    (folder / "cti.ini").write_bytes(ini.encode("utf-8-sig"))
    command = [sys.executable, str(ROOT / "cti.py"), "--config", str(folder / "cti.ini")]
    first = subprocess.Popen(command, env=child_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        log_file = folder / "cti.log"
        assert cti_wait(lambda: log_file.exists() and "に接続しました" in log_file.read_text("utf-8")), \
            "the first window never came up"
        assert {"cti.db", "cti.log", "members.csv"} <= {p.name for p in folder.iterdir()}   # first-run files
        second = subprocess.run(command, env=child_env(tmp_path), capture_output=True, timeout=60)
        assert second.returncode == 0
        assert first.poll() is None                                   # the first runs on
        assert cti_wait(lambda: not (tmp_path / "cti.raise").exists()), "the first never took the request"
    finally:
        first.terminate()
        first.wait(10)


def cti_wait(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# first-run files and the shipped ones

def test_write_first_run_files(tmp_path):
    ini = tmp_path / "cti.ini"
    config, problems = cti.load_config(ini)
    assert problems == [] and config.members == tmp_path / "members.csv"
    assert cti.write_first_run_files(ini, config) == ["cti.ini", "members.csv"]

    assert ini.read_bytes() == cti.DEFAULT_INI.encode("utf-8-sig")
    loaded, problems = cti.load_config(ini)
    assert problems == []
    assert loaded.path == ini
    assert (loaded.port, loaded.protocol, loaded.baudrate, loaded.init, loaded.debug) == \
        ("auto", "auto", 9600, ("ATZ", "AT+VCID=1"), False)
    assert (loaded.max_entries, loaded.max_days, loaded.corner, loaded.topmost) == (100, 7, "bottom-right", True)
    assert (loaded.members, loaded.database, loaded.log) == \
        (tmp_path / "members.csv", tmp_path / "cti.db", tmp_path / "cti.log")

    members = tmp_path / "members.csv"
    assert members.read_bytes() == "\ufeff会員番号,名前,ふりがな,電話番号,主担当,メモ\r\n".encode("utf-8")
    table = cti.MemberTable(members).load()
    assert table.members == [] and table.problems == []
    assert [c.name for c in tmp_path.iterdir() if c.name.startswith(".")] == []    # no temp files left


def test_write_first_run_files_never_overwrites(tmp_path):
    ini, members = tmp_path / "cti.ini", tmp_path / "members.csv"
    ini.write_bytes(b"[window]\r\ncorner = top-left\r\n")
    members.write_bytes(cti.DEMO_MEMBERS.encode("cp932"))
    config, _ = cti.load_config(ini)
    assert cti.write_first_run_files(ini, config) == []
    assert ini.read_bytes() == b"[window]\r\ncorner = top-left\r\n"
    assert members.read_bytes() == cti.DEMO_MEMBERS.encode("cp932")

    members.unlink()                                                  # only the missing one is written
    assert cti.write_first_run_files(ini, config) == ["members.csv"]
    assert ini.read_bytes() == b"[window]\r\ncorner = top-left\r\n"


def test_shipped_cti_ini_and_members_csv():
    assert (ROOT / "cti.ini").read_bytes() == cti.DEFAULT_INI.encode("utf-8-sig")
    assert (ROOT / "members.csv").read_bytes() == cti.DEMO_MEMBERS.encode("utf-8-sig")
    config, problems = cti.load_config(ROOT / "cti.ini")
    assert problems == []
    table = cti.MemberTable(config.members).load()
    assert len(table.members) == 8 and table.problems == []


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# logging

@pytest.fixture
def restore_logging():
    """setup_logging changes process-wide state: put the logger and the excepthooks back."""
    logger = logging.getLogger("cti")
    handlers, level = list(logger.handlers), logger.level
    hooks = threading.excepthook, sys.excepthook
    yield
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
            handler.close()
    logger.setLevel(level)
    threading.excepthook, sys.excepthook = hooks


CALL_BYTES = (b"RING\r\n\r\nDATE = 1125\r\nTIME = 1305\r\nNMBR = 0596310005\r\n"
              b"NAME = PENGUIN TAKAKO\r\n\r\n")


def logged_call(tmp_path, pty_pair, debug):
    """Run a reader with cti's logging on a pty, feed one call; return the log file's bytes."""
    master, slave = pty_pair
    config = cti.Config(port=slave, protocol="modem", init=(), debug=debug, log=tmp_path / "cti.log")
    handler = cti.setup_logging(config)
    events = queue.Queue()
    reader = cti.DeviceReader(config, events, backoff=(0.2,))
    reader.start()
    try:
        seen = []

        def next_event(kind):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                seen.append(event)
                if isinstance(event, kind) and (kind is not cti.Status or event.state == "connected"):
                    return event
            pytest.fail(f"no {kind.__name__}: {seen}")

        next_event(cti.Status)                                          # opened (and flushed) the port
        os.write(master, CALL_BYTES)
        call = next_event(cti.Call)
        assert (call.number, call.name) == ("0596310005", "PENGUIN TAKAKO")
    finally:
        reader.stop()
    handler.flush()
    return config.log.read_bytes()


def test_log_without_debug_has_no_number_and_no_names(tmp_path, pty_pair, restore_logging):
    raw = logged_call(tmp_path, pty_pair, debug=False)
    text = raw.decode("utf-8")
    assert "着信 (modem)" in text
    assert "に接続しました" in text                                    # the device's state is there
    for secret in ("0596310005", "0596-31-0005", "PENGUIN", "TAKAKO", "ペンギン", " RX "):
        assert secret not in text
    assert cti.capture_bytes(raw) == raw                               # nothing to read back


def test_debug_log_has_the_bytes_and_reads_back_as_a_capture(tmp_path, pty_pair, restore_logging):
    raw = logged_call(tmp_path, pty_pair, debug=True)
    text = raw.decode("utf-8")
    assert "着信 (modem) 0596310005" in text
    assert "ペンギン" not in text                                       # member names never
    assert [line for line in text.splitlines() if " DEBUG cti " in line and " RX " in line]
    assert cti.capture_bytes(raw) == CALL_BYTES
    [call] = [e for e in cti.decode_capture(raw, "auto") if isinstance(e, cti.Call)]
    assert call.number == "0596310005"


def test_setup_logging_level_and_file(tmp_path, restore_logging):
    config = cti.Config(log=tmp_path / "cti.log")
    handler = cti.setup_logging(config)
    logger = logging.getLogger("cti")
    assert logger.level == logging.INFO
    logger.debug("not written")
    logger.warning("書き込み確認")
    handler.flush()
    text = (tmp_path / "cti.log").read_text("utf-8")
    assert "書き込み確認" in text and "not written" not in text


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# --selftest

def test_selftest_exits_0(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "cti.py"), "--selftest"], capture_output=True, text=True,
                            env=child_env(tmp_path, display=False), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "selftest ok" in result.stdout


def test_a_folder_that_cannot_be_written_says_where_to_copy_cti(tmp_path, monkeypatch):
    monkeypatch.setattr(cti.tempfile, "tempdir", str(tmp_path))          # the one-instance lock goes here
    not_a_folder = tmp_path / "cti.exe"                                   # as if the folder were unwritable:
    not_a_folder.write_bytes(b"")                                         # even root cannot write inside a file
    with pytest.raises(cti.FileError) as caught:          # a file problem, not a cti.ini one
        cti.cmd_window(not_a_folder / "cti.ini")
    assert "に書き込めません" in str(caught.value) and "コピー" in str(caught.value)


def test_first_run_never_creates_a_members_csv_on_a_shared_folder(tmp_path):
    """Missing on the share at start may be Excel's save in progress: the table is created by a first
    register (after looking again), never as a header-only file at start."""
    share = tmp_path / "share"
    share.mkdir()
    ini = tmp_path / "cti.ini"
    ini.write_text(f"[files]\nmembers = {share / 'members.csv'}\n", encoding="utf-8")
    config, _ = cti.load_config(ini)
    assert cti.write_first_run_files(ini, config) == []
    assert not (share / "members.csv").exists()
