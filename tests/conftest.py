"""The test kit: pseudo-terminals, an ND frame builder, a poll helper, one fake clock,
one reader-events helper and one members-file factory.

Test files add their own fixtures in their own files; keep this one small.
"""

import os
import queue
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cti  # noqa: E402

DLE = 0x10


def build_nd_frame(params, parity=True) -> bytes:
    """The on-wire NTT Number Display frame carrying `params`.

    params: the parameter bytes between the message length and DLE ETX (b"\\x02\\x0a0312345678"),
    or a sequence of (type, value) pairs. Every byte before the CRC gets even parity, every data
    byte equal to DLE is sent doubled, and the CRC-16/KERMIT over header..ETX follows low byte first.
    parity=False gives the frame as a device that strips the parity bits passes it on
    (the CRC bytes are unchanged: they were computed on the line).
    """
    if not isinstance(params, (bytes, bytearray)):
        params = b"".join(bytes([kind, len(value)]) + bytes(value) for kind, value in params)
    data = bytes([0x40, len(params)]) + bytes(params)
    stuffed = bytearray()
    for b in data:
        stuffed += bytes([b, b]) if b == DLE else bytes([b])
    plain = bytes([DLE, 0x01, 0x07, DLE, 0x02]) + stuffed + bytes([DLE, 0x03])
    wire = bytes(cti.even_parity(b) for b in plain)
    crc = cti.crc16_kermit(wire[2:])
    body = wire if parity else plain
    return body + bytes([crc & 0xFF, crc >> 8])


def poll_until(predicate, timeout=3.0, interval=0.01):
    """Call predicate until it returns something true (returned) or timeout passes (its last value)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A UI test skipped for want of a display fails instead: if Xvfb went missing, the window's
    tests must not vanish quietly (pytest-xvfb starts one; the skips say "no display" or "needs a display")."""
    report = yield
    if report.skipped and any(words in str(report.longrepr) for words in ("no display", "needs a display")):
        report.outcome = "failed"
        report.longrepr = f"画面なしでは UI のテストを飛ばせません（xvfb と pytest-xvfb を入れてください）: {report.longrepr}"
    return report


@pytest.fixture(scope="session")
def nd_frame():
    """build_nd_frame(params, parity=True) -> on-wire bytes."""
    return build_nd_frame


@pytest.fixture(scope="session")
def wait_for():
    """wait_for(predicate, timeout=3.0) -> the predicate's first true value, else its last value."""
    return poll_until


@pytest.fixture
def make_pty():
    """make_pty() -> (master_fd, slave_path), the slave in raw mode; every pair closed at teardown.

    The slave fd stays open until teardown (as a device node held by its driver would);
    a test may close the master itself to pull the "USB cable".
    """
    if sys.platform == "win32":
        pytest.skip("pseudo-terminals are POSIX only (Windows runs these reader tests on loop:// and sockets)")
    import tty                          # imports termios: POSIX only
    opened = []                         # (fd, its fstat when opened)

    def make():
        master, slave = os.openpty()
        tty.setraw(slave)
        opened.extend([(master, os.fstat(master)), (slave, os.fstat(slave))])
        return master, os.ttyname(slave)

    yield make
    # Close only fds that still refer to a pty opened here: a test may have closed one
    # already, and its number may since have been reused for something else.
    for fd, stat in opened:
        try:
            now = os.fstat(fd)
        except OSError:
            continue
        if (now.st_dev, now.st_ino, now.st_rdev) == (stat.st_dev, stat.st_ino, stat.st_rdev):
            os.close(fd)


@pytest.fixture
def pty_pair(make_pty):
    """(master_fd, slave_path) of a fresh pseudo-terminal, the slave in raw mode."""
    return make_pty()


# -----------------------------------------------------------------------------
# one clock, one reader-events helper, one members-file factory

class FakeClock:
    """An injectable now(): a datetime the test sets (clock.when = ...) or moves (clock.advance(seconds))."""

    def __init__(self, when=datetime(2026, 11, 25, 10, 0, 0)):
        self.when = when

    def __call__(self):
        return self.when

    def advance(self, seconds: float):
        self.when += timedelta(seconds=seconds)
        return self.when


@pytest.fixture
def clock():
    return FakeClock()


class Events:
    """The reader's queue, read with timeouts; everything taken is kept in .seen."""

    def __init__(self):
        self.queue = queue.Queue()
        self.seen = []

    def wait(self, match, timeout=5.0, what="event"):
        """The first event (from now on) for which match(event) is true; fail after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {what} within {timeout} s; seen: {self.seen[-8:]}")
            try:
                event = self.queue.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(event)
            if match(event):
                return event

    def status(self, state, timeout=5.0):
        return self.wait(lambda e: isinstance(e, cti.Status) and e.state == state, timeout, f"status {state!r}")

    def call(self, timeout=5.0):
        return self.wait(lambda e: isinstance(e, cti.Call), timeout, "call")

    def drain(self):
        while True:
            try:
                self.seen.append(self.queue.get_nowait())
            except queue.Empty:
                return self.seen

    def calls(self):
        return [e for e in self.drain() if isinstance(e, cti.Call)]


MEMBERS_HEADER = "会員番号,名前,ふりがな,電話番号,主担当,メモ,誕生日,住所"
MEMBERS_SAMPLE = [
    MEMBERS_HEADER,
    "AC00001,ペンギン貴子,ぺんぎんたかこ,0596-31-0005,佐藤,カラーは 6 トーン,1985/04/12,三重県伊勢市",
    'AC00002,山田花子,やまだはなこ,"090-1234-5678; 03-1234-5678",鈴木,パッチテスト,1990/11/03,東京都千代田区',
    "AC00003,鈴木一郎,スズキイチロウ,045-123-4567,佐藤,,1978/01/30,横浜市中区",
]


def write_members(path: Path, lines=MEMBERS_SAMPLE, encoding="utf-8-sig", newline="\r\n", final=True) -> bytes:
    """Write lines joined by newline (and one at the end when final) in encoding; return the bytes."""
    data = (newline.join(lines) + (newline if final else "")).encode(encoding)
    Path(path).write_bytes(data)
    return data


@pytest.fixture
def members_file(tmp_path):
    """members_file(lines=MEMBERS_SAMPLE, encoding="utf-8-sig", newline="\\r\\n", final=True, name="members.csv") -> Path."""

    def make(lines=MEMBERS_SAMPLE, encoding="utf-8-sig", newline="\r\n", final=True, name="members.csv"):
        path = tmp_path / name
        write_members(path, lines, encoding, newline, final)
        return path
    return make


@pytest.fixture
def excel_lock(monkeypatch):
    """Excel holding members.csv: os.replace onto it raises PermissionError (WinError 32) while lock["on"].

    Injected at the lowest call because Windows' sharing violation cannot be made on Linux;
    lock["attempts"] counts the refused replaces.
    """
    real_replace = os.replace
    lock = {"on": True, "attempts": 0}

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == "members.csv" and lock["on"]:
            lock["attempts"] += 1
            raise PermissionError(13, "locked", None, 32)
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return lock
