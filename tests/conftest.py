"""The test kit: pseudo-terminals, ND and アロハ frame builders, a poll helper, one fake clock per kind
(wall clock, monotonic), one reader-events helper, one members-file factory, and the window's kit
(make_app / app under a real Tk, the messagebox recorder, the ways a test drives and reads the window).

Test files add their own fixtures in their own files; keep this one small.
"""

import csv
import gc
import io
import os
import queue
import sys
import time
import tkinter as tk
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

import cti

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
    """An injectable now(): a datetime the test sets (clock.when = ...: the wall clock stepped) or moves
    (clock.advance(seconds): time passing, which its monotonic() follows too)."""

    def __init__(self, when=datetime(2026, 11, 25, 10, 0, 0)):
        self.when = when
        self.passed = 0.0

    def __call__(self):
        return self.when

    def advance(self, seconds: float):
        self.when += timedelta(seconds=seconds)
        self.passed += seconds
        return self.when

    def monotonic(self) -> float:
        return 1000.0 + self.passed


@pytest.fixture
def clock():
    return FakeClock()


class FakeMonotonic:
    """An injectable monotonic clock (seconds, as time.monotonic): .t the test sets or moves."""

    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


class Events:
    """The reader's queue (a new one, or q), read with timeouts; everything taken is kept in .seen."""

    def __init__(self, q=None):
        self.queue = queue.Queue() if q is None else q
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
        """Every call the reader has put so far, in order."""
        return [e for e in self.drain() if isinstance(e, cti.Call)]

    def states(self):
        """Every status state the reader has put so far, in order."""
        return [e.state for e in self.drain() if isinstance(e, cti.Status)]


def aloha_record(body: str, parity=True, flip=None) -> bytes:
    """STX body ETX as the アロハ adapter sends it (7E1: even parity in b7 when read 8N1);
    parity=False as a device that strips it passes it on; flip: the index of a byte whose bit 0 the line flipped."""
    raw = bytearray(b"\x02" + body.encode("ascii") + b"\x03")
    if parity:
        raw = bytearray(cti.even_parity(b) for b in raw)
    if flip is not None:
        raw[flip] ^= 0x01
    return bytes(raw)


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


# -----------------------------------------------------------------------------
# the window under a real Tk (Xvfb): make_app / app, the messagebox recorder, and the ways a test
# drives it (a call through the queue, a key, a click) and reads it back

MEMBER, UNKNOWN = "0596310005", "09087654321"
MEMBER_ROW = ("0596-31-0005", "AC00001", "ペンギン貴子", "ぺんぎんたかこ", "佐藤")
MEMBERS_BYTES = cti.DEMO_MEMBERS.encode("utf-8-sig")


def pump(root, condition, timeout=5.0):
    """Run the Tk event loop until condition() is true; return its last value (never mainloop())."""
    deadline = time.monotonic() + timeout
    while True:
        root.update()
        result = condition()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(0.01)


class MessageBoxes:
    """Stands in for tkinter.messagebox: records each call; askyesno answers from `answers`, else True."""

    def __init__(self):
        self.calls, self.answers = [], []

    def box(self, kind):
        def show(title=None, message=None, **options):
            self.calls.append((kind, title, message))
            if kind == "askyesno":
                return self.answers.pop(0) if self.answers else True
            return "ok"
        return show

    def messages(self, kind):
        return [message for k, _, message in self.calls if k == kind]


@pytest.fixture
def boxes(monkeypatch):
    recorder = MessageBoxes()
    for kind in ("showinfo", "showerror", "showwarning", "askyesno"):
        monkeypatch.setattr(cti.messagebox, kind, recorder.box(kind))
    return recorder


def modem_block(nmbr, name=None):
    """What a caller-ID modem prints for one call."""
    now = datetime.now()
    text = f"RING\r\n\r\nDATE = {now:%m%d}\r\nTIME = {now:%H%M}\r\nNMBR = {nmbr}\r\n"
    if name:
        text += f"NAME = {name}\r\n"
    return (text + "\r\n").encode("ascii")


def make_members(folder: Path) -> Path:
    path = folder / "members.csv"
    path.write_bytes(MEMBERS_BYTES)
    return path


@pytest.fixture
def make_app(tmp_path, boxes):
    """make_app(**config) -> namespace(root, window, config, members, db, events, boxes, folder).

    Teardown: readers stopped, window.stop(), children destroyed, pending Tk timers cancelled,
    root destroyed, db closed. A Tk callback exception nobody expected fails the test.
    """
    made = []

    def make(folder=None, scaling=None, **options):
        folder = folder or tmp_path
        members_path = folder / "members.csv"
        if not members_path.exists():
            make_members(folder)
        config = cti.Config(port="loop://", protocol="modem", init=(), members=members_path,
                            database=folder / "cti.db", log=folder / "cti.log", **options)
        try:
            root = tk.Tk()
        except tk.TclError as e:
            pytest.skip(f"no display: {e}")
        root.withdraw()
        scaling_before = float(root.tk.call("tk", "scaling"))
        if scaling:                                 # Windows at 125 %, 150 %...: pixels per point
            root.tk.call("tk", "scaling", scaling)
        members = cti.MemberTable(config.members)
        try:
            members.load()
        except cti.MembersError:
            pass                                    # as run_window: the window opens and says why
        db = cti.Database(config.database, config.max_entries, config.max_days)
        events = queue.Queue()
        window = cti.MainWindow(root, config, members, db, events, _utest=True)
        app = SimpleNamespace(root=root, window=window, config=config, members=members, db=db, events=events,
                              boxes=boxes, folder=folder, readers=[], crash_expected=False,
                              scaling_before=scaling_before)
        app.call = lambda number=None, reason=None: feed_call(app, number, reason)
        made.append(app)
        return app

    yield make
    for app in made:
        for reader in app.readers:
            reader.stop()
        app.window.stop()
        for child in app.root.winfo_children():
            child.destroy()
        app.root.update()                   # Tk settles the focus of the windows just destroyed
        # tk scaling lives in the display, which later roots in this process share: put it back
        app.root.tk.call("tk", "scaling", app.scaling_before)
        for after_id in app.root.tk.splitlist(app.root.tk.call("after", "info")):
            app.root.after_cancel(after_id)
        app.root.destroy()
        app.db.close()
    crash_expected = any(app.crash_expected for app in made)
    # Collect the dead Tk objects here, in the main thread: freed by a collection that happens to
    # run in a reader thread, a Tcl interpreter aborts the whole process.
    made.clear()
    gc.collect()
    crashes = [m for m in boxes.messages("showerror") if "思わぬエラー" in m]
    if crashes and not crash_expected:
        pytest.fail(f"a Tk callback raised: {crashes}")


@pytest.fixture
def app(make_app):
    return make_app()


def feed_call(app, number=None, reason=None):
    """A call through the queue, as the device reader delivers it; pump until the history has it."""
    before = len(app.window.history.tree.get_children())
    app.events.put(cti.Call(number, reason, protocol="modem", received=datetime.now()))
    assert pump(app.root, lambda: len(app.window.history.tree.get_children()) == before + 1), "the call never arrived"
    return first_row(app)


def first_row(app):
    children = app.window.history.tree.get_children()
    return app.window.history.tree.item(children[0], "values") if children else None


def row_for(app, number_text):
    return [app.window.history.tree.item(i, "values") for i in app.window.history.tree.get_children()
            if app.window.history.tree.item(i, "values")[1] == number_text]


def caller(app):
    return {key: label["text"] for key, label in app.window.card.labels.items()}


def start_app_reader(app, **options):
    config = cti.Config(**{"init": (), "protocol": "modem", **options})
    reader = cti.DeviceReader(config, app.events, backoff=(0.2,))
    app.readers.append(reader)
    reader.start()
    assert pump(app.root, lambda: app.window.device_status.state == "connected"), app.window.device_status
    return reader


def toplevels(app, cls):
    return [w for w in app.root.winfo_children() if isinstance(w, cls) and w.winfo_exists()]


def csv_rows(path: Path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "not UTF-8 with BOM"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def press(widget, keysym, **kw):
    """A key press delivered as the keyboard would: the window shown, the widget focused."""
    top = widget.winfo_toplevel()
    top.deiconify()
    top.update()
    widget.focus_force()
    top.update()
    widget.event_generate(f"<{keysym}>", **kw)
    top.update()


def click_row(app, iid):
    """A click on a history row, as the mouse gives it (the window shown): she chooses that call."""
    history = app.window.history.tree
    app.root.deiconify()
    app.root.update()
    x, y, _, height = history.bbox(iid)
    history.event_generate("<ButtonPress-1>", x=x + 20, y=y + height // 2)
    history.event_generate("<ButtonRelease-1>", x=x + 20, y=y + height // 2)
    app.root.update()


def right_click_row(app, iid):
    """A right-click on a history row, as the mouse gives it (the window shown)."""
    history = app.window.history.tree
    app.root.deiconify()
    app.root.update()
    x, y, _, height = history.bbox(iid)
    history.event_generate("<Button-3>", x=x + 20, y=y + height // 2,
                           rootx=history.winfo_rootx() + x + 20, rooty=history.winfo_rooty() + y + height // 2)
    app.root.update()


def rect(widget):
    widget.update()
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    return cti.Rect(x, y, x + widget.winfo_width(), y + widget.winfo_height())


def overlap(a, b) -> bool:
    return a.left < b.right and b.left < a.right and a.top < b.bottom and b.top < a.bottom


def screenshot(root, name):
    """Save a PNG of the window to $CTI_SCREENSHOTS/name; None (nothing written) when it is unset."""
    folder = os.environ.get("CTI_SCREENSHOTS")
    if not folder:
        return None
    from PIL import ImageGrab
    root.deiconify()
    root.lift()
    root.update()
    x, y = root.winfo_rootx(), root.winfo_rooty()
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    ImageGrab.grab(bbox=(x, y, x + root.winfo_width(), y + root.winfo_height())).save(path)
    return path
