"""The real window at 100,000 members: popup latency, the link dialog's keystrokes, a call right after a save.

    python bench/popup.py [--quick] [--members N] [--calls N] [--dialogs N] [--saves N]

Prints one figure a line, `name value unit`. The table is the window's own: MemberTable with the
parse cache, parsed at the first load and then answered from the cache (as from the second start on).

- popup latency: a real cti.MainWindow (under Xvfb) and a real cti.DeviceReader on a
  pseudo-terminal; from the moment the last byte of an ND frame is written to the pty
  master to the moment the window's caller panel shows the caller and has redrawn
  (time.perf_counter; the Tk loop is run as mainloop runs it, one event at a time, and the
  caller label checked after each). Calls arrive at random moments (a Tk timer with a random
  delay writes each frame), so the window's queue poll (MainWindow.POLL_MS) is met at a
  random phase, as in real life. 5 warm-up calls are not counted.
  Measured with the shipped POLL_MS and with POLL_MS patched to the former 50 ms.
  The naive counterpart adds, to each call, one linear scan of members.csv
  (csv.reader over the file, digits of the phone column compared) in place of the
  lookup, timed in the same run.
- the link dialog (電話番号登録): a fresh dialog for each query, the query typed one character at a
  time (inserted into the entry, which is what the key's binding does; its trace searches), from
  the character going in to the results drawn (update_idletasks), the first keystroke of each
  dialog counted on its own too. Beside it the same dialog and keystrokes with the search done the
  obvious way: every member's normalised fields scanned in a list (no joined text, no index).
- a call right after members.csv is saved (as Excel saves: a temp file renamed over it, the
  caller's name changed): from the call's last byte to its number shown, and to the new name
  shown (the window notices the change within MEMBERS_CHECK_MS, re-reads it on a thread, parses
  and caches it, then swaps it in); beside it the popup latency above, without a save.

Start-up and memory of the window as a process: bench/startup.py.
Xvfb: used as it is when DISPLAY is set; otherwise one is started here and stopped at the end.
"""

import argparse
import contextlib
import csv
import os
import queue
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cti  # noqa: E402


def emit(name, value, unit):
    """One figure, one line: name value unit."""
    if isinstance(value, float):
        value = f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    print(f"{name} {value} {unit}", flush=True)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))          # ceil
    return ordered[int(rank) - 1]


# -----------------------------------------------------------------------------
# members.csv

SURNAMES = [("佐藤", "さとう"), ("鈴木", "すずき"), ("高橋", "たかはし"), ("田中", "たなか"), ("伊藤", "いとう"),
            ("渡辺", "わたなべ"), ("山本", "やまもと"), ("中村", "なかむら"), ("小林", "こばやし"), ("加藤", "かとう"),
            ("吉田", "よしだ"), ("山田", "やまだ"), ("佐々木", "ささき"), ("山口", "やまぐち"), ("松本", "まつもと"),
            ("井上", "いのうえ"), ("木村", "きむら"), ("林", "はやし"), ("斎藤", "さいとう"), ("清水", "しみず")]
GIVEN = [("花子", "はなこ"), ("美咲", "みさき"), ("さくら", "さくら"), ("由美", "ゆみ"), ("真理子", "まりこ"),
         ("一郎", "いちろう"), ("健", "けん"), ("陽菜", "ひな"), ("結衣", "ゆい"), ("貴子", "たかこ"),
         ("翔太", "しょうた"), ("愛", "あい"), ("恵子", "けいこ"), ("大輔", "だいすけ"), ("優子", "ゆうこ")]
STAFF = ["佐藤", "鈴木", "田中", "高橋", ""]
MEMOS = ["", "", "", "カラーは 6 トーン", "肌が弱いのでパッチテスト", "縮毛矯正 3 か月ごと", "予約は午後希望", "メンズカット"]
AREAS = ["03", "06", "045", "052", "0596", "0467", "011", "092"]


def _hyphenate(digits):
    if digits[:3] in ("090", "080", "070", "050"):
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    return f"{digits[:-8]}-{digits[-8:-4]}-{digits[-4:]}" if len(digits) == 10 else digits


def own_generate(path: Path, count: int, seed=1, encoding="utf-8-sig"):
    """A realistic members.csv: Japanese names and kana, mobile and fixed numbers (some two a cell),
    staff, memos and two columns cti does not know. Numbers are unique."""
    rng = random.Random(seed)
    mobile = rng.sample(range(10 ** 8), count)           # unique 8-digit tails
    lines = ["会員番号,名前,ふりがな,電話番号,主担当,メモ,誕生日,住所"]
    for i in range(count):
        (sur, sur_kana), (given, given_kana) = rng.choice(SURNAMES), rng.choice(GIVEN)
        phones = [f"{rng.choice(('090', '080', '070'))}{mobile[i]:08d}"]
        if rng.random() < 0.2:
            area = rng.choice(AREAS)
            phones.append(f"{area}{i % 10 ** (10 - len(area) - 1):0{10 - len(area)}d}")
        cell = "; ".join(_hyphenate(p) for p in phones)
        lines.append(f"AC{i + 1:07d},{sur}{given},{sur_kana}{given_kana},{cell},{rng.choice(STAFF)},"
                     f"{rng.choice(MEMOS)},{1950 + rng.randrange(55)}/{rng.randrange(1, 13):02d}/{rng.randrange(1, 29):02d},"
                     f"{rng.choice(('三重県伊勢市', '東京都千代田区', '横浜市中区', '大阪市北区', ''))}")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))


def generate(path: Path, count: int, seed=1):
    """members.csv (UTF-8 with BOM) from bench/gen.py, the members benchmark's generator; our own without it."""
    try:
        from bench import gen
    except ImportError:
        own_generate(path, count, seed)
        return
    made = gen.members_file(path.parent, count, "utf8", seed=seed)
    made.replace(path)


def naive_lookup(path: Path, number: str, encoding: str) -> list:
    """The naive way: read members.csv with csv.reader and compare each phone cell's digits.

    Generous to the naive side: no repair of what Excel does to numbers, just the digits."""
    found = []
    with open(path, encoding=encoding, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        phone = next(i for i, h in enumerate(header) if h.strip() in ("電話番号", "phone"))
        for row in reader:
            if len(row) > phone and number in re.sub(r"\D", "", row[phone]):
                found.append(row)
    return found


# -----------------------------------------------------------------------------
# X display

class Display:
    """DISPLAY as it is, or a private Xvfb started here (stopped by close())."""

    def __init__(self):
        self.proc, self.saved = None, os.environ.get("DISPLAY")
        if self.saved:
            return
        if not shutil.which("Xvfb"):
            raise SystemExit("popup: DISPLAY is not set and Xvfb is not installed (apt-get install xvfb)")
        read, write = os.pipe()
        # -noreset: by default the server resets when its last client leaves, and a window started
        # right then cannot open the display (bench/startup.py starts and kills cti again and again)
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24",
                                      "-nolisten", "tcp", "-noreset"], pass_fds=(write,),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write)
        number = b""
        with os.fdopen(read, "rb") as pipe:             # Xvfb writes its display number once it is ready
            while not number.endswith(b"\n"):
                chunk = pipe.read(1)
                if not chunk:
                    raise SystemExit("popup: Xvfb did not start")
                number += chunk
        os.environ["DISPLAY"] = f":{int(number)}"

    def close(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            del os.environ["DISPLAY"]


# -----------------------------------------------------------------------------
# (a) popup latency

def nd_frame(digits: str) -> bytes:
    """An NTT Number Display frame (with parity, as on the wire) carrying a caller's number."""
    params = bytes([0x02, len(digits)]) + digits.encode("ascii")
    data = bytes([0x40, len(params)]) + params
    stuffed = b"".join(bytes([b, b]) if b == cti.DLE else bytes([b]) for b in data)
    wire = bytes(cti.even_parity(b) for b in bytes([cti.DLE, cti.SOH, 0x07, cti.DLE, cti.STX]) + stuffed
                 + bytes([cti.DLE, cti.ETX]))
    crc = cti.crc16_kermit(wire[2:])
    return wire + bytes([crc & 0xFF, crc >> 8])


def pump_until(root, predicate, timeout=10.0):
    """Run the Tk event loop as mainloop does (block for the next event, GIL released) until
    predicate() holds; then let the window redraw and return time.perf_counter()."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not show the caller")
        root.tk.dooneevent(0)           # the window's own poll timer wakes it at least every POLL_MS
    root.update_idletasks()             # the redraw of the new text
    return time.perf_counter()


@contextlib.contextmanager
def window_on_pty(table, folder: Path, poll_ms: int):
    """(root, window, master fd): a real MainWindow on table, its DeviceReader on a pty, connected."""
    import tkinter as tk
    master, slave = os.openpty()
    tty.setraw(slave)
    db_path = folder / f"popup-{poll_ms}.db"
    for p in folder.glob(db_path.name + "*"):
        p.unlink()
    config = cti.Config(port=os.ttyname(slave), protocol="nd", init=(), members=table.path,
                        database=db_path)         # topmost = yes, as shipped
    events = queue.Queue()
    reader = cti.DeviceReader(config, events)
    db = cti.Database(db_path)
    saved_poll = cti.MainWindow.POLL_MS
    cti.MainWindow.POLL_MS = poll_ms
    root, window = tk.Tk(), None
    try:
        window = cti.MainWindow(root, config, table, db, events, _utest=True)
        reader.start()
        root.after(20, lambda: None)
        pump_until(root, lambda: window.device_status.state == "connected")
        yield root, window, master
        assert len(db.calls()) <= db.max_entries
    finally:
        cti.MainWindow.POLL_MS = saved_poll
        reader.stop()
        if window is not None:
            window.stop()
        root.destroy()
        db.close()
        os.close(master)
        os.close(slave)


def ring_at_random(root, master, rng, number: str, poll_ms: int) -> float:
    """Write number's ND frame at a random moment (a Tk timer, at a random phase to the window's
    queue poll: writing right after an event would lock the phase); the moment its last byte is in."""
    written = []

    def ring(frame=nd_frame(number)):
        os.write(master, frame)
        written.append(time.perf_counter())     # the last byte is in the pty

    root.after(rng.randrange(2, 3 + poll_ms), ring)
    pump_until(root, lambda: written)
    return written[0]


def popup_latency(table, folder: Path, numbers: list, poll_ms: int, calls: int, seed: int,
                  naive_every=0, encoding="utf-8-sig"):
    """Latencies (s) over `calls` calls; with naive_every=k, also naive latencies for every k-th call."""
    rng = random.Random(seed)
    with window_on_pty(table, folder, poll_ms) as (root, window, master):
        latencies, naive, previous = [], [], None
        unknown = iter(f"0120{i:06d}" for i in range(10 ** 6))
        for index in range(calls + 5):                  # the first 5 warm up
            number = next(unknown) if rng.random() < 0.1 else rng.choice(numbers)
            while number == previous:                   # the decoder drops a repeat within 3 s
                number = rng.choice(numbers)
            previous = number
            shown = cti.format_phone(number)
            t0 = ring_at_random(root, master, rng, number, poll_ms)
            t1 = pump_until(root, lambda: window.card.labels["number"].cget("text") == shown)
            if index < 5:
                continue
            latencies.append(t1 - t0)
            if naive_every and index % naive_every == 0:
                n0 = time.perf_counter()
                rows = naive_lookup(table.path, number, encoding)
                n1 = time.perf_counter()
                assert not rows or table.lookup(number), number     # (cheap: misses Excel's lost zeros)
                # the window's own lookup of the caller (a dict get) is replaced by the scan
                f0 = time.perf_counter()
                table.lookup(number)
                f1 = time.perf_counter()
                naive.append((t1 - t0, t1 - t0 - (f1 - f0) + (n1 - n0)))     # (this call, done the naive way)
        return latencies, naive


# -----------------------------------------------------------------------------
# (b) the link dialog: keystroke to results drawn

def naive_search(rows: list, query: str, limit: int) -> list:
    """The obvious search: every member's fields scanned for the query, as typed (no index)."""
    key = cti.search_key(query)
    found = []
    for row in rows:
        if key in row[1]:
            found.append(row[0])
            if len(found) == limit:
                break
    return found


def typed_queries(table, rng, count: int) -> list:
    """What a receptionist types into the link dialog: kana, names and numbers, a few characters each."""
    queries = []
    for _ in range(count):
        m = table.members[rng.randrange(len(table.members))]
        kind = rng.randrange(3)
        text = cti.search_key(m.kana)[:3] if kind == 0 else m.name[:2] if kind == 1 else (m.phones or ("0",))[0][:4]
        queries.append(text)
    return queries


def link_keystrokes(table, folder: Path, queries: list, naive_rows=None):
    """(first keystrokes, all keystrokes) in s: each query typed one character at a time into a freshly
    opened link dialog, from the character going into the entry to the results drawn."""
    firsts, every = [], []
    cti.format_phone.cache_clear()          # both ways start alike: no number formatted yet
    with window_on_pty(table, folder, cti.MainWindow.POLL_MS) as (root, window, master):
        if naive_rows is not None:
            members = {m[0]: m[2] for m in naive_rows}
            window.members.search = lambda q, limit=50: [members[n] for n in naive_search(naive_rows, q, limit)]
        for query in queries:
            dialog = window.open_link("")
            root.update()
            entry = dialog.widgets["query"]
            for i, char in enumerate(query):
                t0 = time.perf_counter()
                entry.insert("end", char)                   # what the key's binding does; the trace searches
                root.update_idletasks()                     # the results drawn
                elapsed = time.perf_counter() - t0
                every.append(elapsed)
                if i == 0:
                    firsts.append(elapsed)
            dialog.destroy()
            root.update()
        if naive_rows is not None:
            del window.members.search
    return firsts, every


# -----------------------------------------------------------------------------
# (c) a call right after members.csv is saved

def calls_after_save(table, folder: Path, numbers: list, saves: int, seed: int):
    """[(number shown, name filled in)] in s for a call ringing right after members.csv is saved with a
    changed name for the caller (as Excel saves: a temp file renamed over it)."""
    rng = random.Random(seed)
    path = table.path
    original = path.read_bytes()
    text = original.decode(table.encoding)
    results = []
    try:
        with window_on_pty(table, folder, cti.MainWindow.POLL_MS) as (root, window, master):
            for i in range(saves):
                member = table.members[rng.randrange(len(table.members))]
                while not member.phones:
                    member = table.members[rng.randrange(len(table.members))]
                number, new_name = member.phones[0], f"保存後{i}番"
                changed = text.replace(f"{member.member_no},{member.name},", f"{member.member_no},{new_name},", 1)
                assert changed != text, member
                tmp = path.with_name("~$members.tmp")
                tmp.write_bytes(changed.encode(table.encoding))
                os.replace(tmp, path)                       # saved
                t0 = ring_at_random(root, master, rng, number, 10)
                shown = cti.format_phone(number)
                t1 = pump_until(root, lambda: window.card.labels["number"].cget("text") == shown, timeout=60)
                t2 = pump_until(root, lambda: window.card.labels["name"].cget("text").startswith(new_name), timeout=600)
                results.append((t1 - t0, t2 - t0))
                text = changed
    finally:
        tmp = path.with_name("~$members.tmp")
        tmp.write_bytes(original)
        os.replace(tmp, path)
    return results


def calls_during_reread(table, folder: Path, numbers: list, saves: int, seed: int, per_save=8):
    """Popup latencies (s) of calls ringing while a re-read of members.csv is running (its parse and
    cache write on the reader thread, the window answering from the table it had): after each save,
    the window's own check starts the re-read; calls then ring at random moments, and only those
    whose number was shown while the reader was still at work are counted."""
    rng = random.Random(seed)
    path = table.path
    original = path.read_bytes()
    latencies = []
    try:
        with window_on_pty(table, folder, cti.MainWindow.POLL_MS) as (root, window, master):
            for i in range(saves):
                tmp = path.with_name("~$members.tmp")
                tmp.write_bytes(original.replace(b"\r\n", f"\r\n{'' if i % 2 else ' '}".encode(), 1)
                                if i % 2 == 0 else original)
                os.replace(tmp, path)                   # saved (a blank before the second line, or not)
                pump_until(root, lambda: table.rereading, timeout=60)     # the window's timer started it
                previous = None
                for _ in range(per_save):
                    number = rng.choice(numbers)
                    while number == previous:           # the decoder drops a repeat within 3 s
                        number = rng.choice(numbers)
                    previous = number
                    shown = cti.format_phone(number)
                    t0 = ring_at_random(root, master, rng, number, 50)
                    t1 = pump_until(root, lambda: window.card.labels["number"].cget("text") == shown)
                    if table.rereading:
                        latencies.append(t1 - t0)
                    else:
                        break
                pump_until(root, lambda: not table.rereading, timeout=600)
    finally:
        tmp = path.with_name("~$members.tmp")
        tmp.write_bytes(original)
        os.replace(tmp, path)
    return latencies


def fresh_first_keystroke(folder: Path, query: str) -> float:
    """In this process, fresh: the table loaded from the cache as a window's start loads it, a window,
    the link dialog opened at once and one character typed; seconds from the character to the
    results drawn (the search text may still be being read)."""
    table = cti.MemberTable(folder / "members.csv", background=True, cache=cti.ParseCache(folder / "cache")).load()
    with window_on_pty(table, folder, cti.MainWindow.POLL_MS) as (root, window, master):
        dialog = window.open_link("")
        root.update()
        entry = dialog.widgets["query"]
        t0 = time.perf_counter()
        entry.insert("end", query[0])
        root.update_idletasks()
        return time.perf_counter() - t0


def fresh_first_keystrokes(folder: Path, queries: list) -> list:
    """fresh_first_keystroke of each query, each in a process of its own (a fresh start)."""
    found = []
    for query in queries:
        code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; from bench import popup; "
                f"print(popup.fresh_first_keystroke(Path(sys.argv[1]), sys.argv[2]))")
        result = subprocess.run([sys.executable, "-c", code, str(folder), query], capture_output=True, text=True,
                                encoding="utf-8", timeout=300, check=True)
        found.append(float(result.stdout.split()[-1]))
    return found


# -----------------------------------------------------------------------------
# the window started as a process (used by bench/startup.py)

def write_ini(folder: Path):
    ini = folder / "cti.ini"
    ini.write_text("[device]\nport = loop://\nprotocol = nd\n\n[files]\nmembers = members.csv\n"
                   "database = cti.db\nlog = cti.log\n", encoding="utf-8")
    return ini


def proc_status(pid) -> dict:
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024          # kB -> MB
    return values


def window_ids(pid) -> list:
    result = subprocess.run(["xdotool", "search", "--onlyvisible", "--pid", str(pid), "--name", "CTI"],
                            capture_output=True, text=True)
    return result.stdout.split()


class MapWatcher:
    """The moment a top-level window is mapped, from the X server's MapNotify event.

    Polling xdotool every few ms costs enough CPU to slow the start it measures (2 cores);
    this listens on the root window instead (SubstructureNotify, selected before the
    process starts, so no map is missed) and wakes on the event. Each map is then
    confirmed with one xdotool call: a visible window named CTI of that process.
    """
    MAP_NOTIFY, SUBSTRUCTURE_NOTIFY_MASK = 19, 1 << 19

    def __init__(self):
        import ctypes
        import ctypes.util
        self.ctypes = ctypes
        x = self.x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
        x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = ctypes.c_ulong, [ctypes.c_void_p]
        x.XSelectInput.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_long]
        for name in ("XFlush", "XPending", "XConnectionNumber", "XCloseDisplay"):
            getattr(x, name).argtypes = [ctypes.c_void_p]
        x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.display = x.XOpenDisplay(None)
        if not self.display:
            raise OSError("cannot open the X display")
        x.XSelectInput(self.display, x.XDefaultRootWindow(self.display), self.SUBSTRUCTURE_NOTIFY_MASK)
        x.XFlush(self.display)
        self.fd = x.XConnectionNumber(self.display)
        self.event = (ctypes.c_long * 24)()

    def maps(self):
        """Drain the queued events; True when a window was mapped."""
        mapped = False
        while self.x.XPending(self.display):
            self.x.XNextEvent(self.display, self.ctypes.byref(self.event))
            mapped |= (self.event[0] & 0xFFFFFFFF) == self.MAP_NOTIFY
        return mapped

    def wait(self, proc, t0, timeout):
        """Seconds from t0 to the map of proc's CTI window."""
        import select
        while True:
            if self.maps():
                at = time.perf_counter()
                if window_ids(proc.pid):
                    return at - t0
            if proc.poll() is not None:
                raise RuntimeError(f"cti exited {proc.returncode}: {proc.stderr.read().decode(errors='replace')}")
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError("no CTI window")
            select.select([self.fd], [], [], 0.05)

    def close(self):
        self.x.XCloseDisplay(self.display)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/popup.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, dialogs and saves (about a minute)")
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--calls", type=int, help="calls a POLL_MS setting (default 120 quick, 500 full)")
    parser.add_argument("--dialogs", type=int, help="link dialogs opened and typed into (default 15 quick, 60 full)")
    parser.add_argument("--saves", type=int, help="members.csv saves each followed by a call (default 2 quick, 5 full)")
    args = parser.parse_args(argv)
    calls = args.calls or (120 if args.quick else 500)
    dialogs = args.dialogs or (15 if args.quick else 60)
    saves = args.saves or (2 if args.quick else 5)
    fresh_starts = 3 if args.quick else 8
    naive_every = 5 if args.quick else 2                # naive scans: 24 quick, 250 full
    n = args.members
    tag = str(n)                                        # as bench/members.py names sizes
    display = Display()
    work = Path(tempfile.mkdtemp(prefix="cti-bench-popup-"))
    try:
        big = work / "big"
        big.mkdir()
        generate(big / "members.csv", n)
        print(f"# popup: {n} members generated; the window's table (parsed into the parse cache)", file=sys.stderr, flush=True)
        # as the window loads it at its first start: parsed straight into the parse cache
        table = cti.MemberTable(big / "members.csv", background=True, cache=cti.ParseCache(big / "cache")).load()
        assert isinstance(table.file, cti.CachedMembers), "the parse cache was not written"
        numbers = sorted(table.by_phone)

        print("# popup: measuring the popup", file=sys.stderr, flush=True)
        default_ms = cti.MainWindow.POLL_MS
        fast, naive = popup_latency(table, work, numbers, default_ms, calls, seed=1, naive_every=naive_every,
                                    encoding=table.encoding)
        former_poll, _ = popup_latency(table, work, numbers, 50, calls, seed=2)
        ms = 1000
        emit(f"popup_latency_p50_{tag}", statistics.median(fast) * ms, "ms")
        emit(f"popup_latency_p99_{tag}", percentile(fast, 99) * ms, "ms")
        emit("popup_latency_calls", len(fast), "calls")
        emit("popup_poll_ms", default_ms, "ms")                 # MainWindow.POLL_MS as shipped
        emit(f"popup_latency_poll50ms_p50_{tag}", statistics.median(former_poll) * ms, "ms")
        emit(f"popup_latency_poll50ms_p99_{tag}", percentile(former_poll, 99) * ms, "ms")
        same, naive = [pair[0] for pair in naive], [pair[1] for pair in naive]     # the same calls, both ways
        emit(f"popup_latency_naive_p50_{tag}", statistics.median(naive) * ms, "ms")
        emit(f"popup_latency_naive_p99_{tag}", percentile(naive, 99) * ms, "ms")
        emit("popup_latency_naive_calls", len(naive), "calls")
        emit("popup_latency_naive_ratio_p50", statistics.median(naive) / statistics.median(same), "x")
        emit("popup_latency_naive_ratio_p99", percentile(naive, 99) / percentile(same, 99), "x")

        print("# popup: the link dialog, keystroke to results drawn", file=sys.stderr, flush=True)
        queries = typed_queries(table, random.Random(3), dialogs)
        firsts, every = link_keystrokes(table, work, queries)
        naive_rows = [(m.member_no, cti.search_key(f"{m.member_no}\t{m.name}\t{m.kana}") + "\t" + "\t".join(m.phones), m)
                      for m in table.members]
        naive_firsts, naive_every_key = link_keystrokes(table, work, queries, naive_rows)
        emit(f"link_first_keystroke_p50_{tag}", statistics.median(firsts) * ms, "ms")
        emit(f"link_first_keystroke_p99_{tag}", percentile(firsts, 99) * ms, "ms")
        emit(f"link_keystroke_p50_{tag}", statistics.median(every) * ms, "ms")
        emit(f"link_keystroke_p99_{tag}", percentile(every, 99) * ms, "ms")
        emit(f"link_keystroke_naive_scan_p50_{tag}", statistics.median(naive_every_key) * ms, "ms")
        emit(f"link_keystroke_naive_scan_p99_{tag}", percentile(naive_every_key, 99) * ms, "ms")
        emit(f"link_first_keystroke_naive_scan_p99_{tag}", percentile(naive_firsts, 99) * ms, "ms")
        fresh = fresh_first_keystrokes(big, queries[:fresh_starts])
        emit(f"link_first_keystroke_fresh_p50_{tag}", statistics.median(fresh) * ms, "ms")
        emit(f"link_first_keystroke_fresh_max_{tag}", max(fresh) * ms, "ms")
        emit("link_fresh_starts", len(fresh), "starts")
        emit("link_dialogs", len(firsts), "dialogs")
        emit("link_keystrokes", len(every), "keystrokes")

        print("# popup: calls right after members.csv is saved", file=sys.stderr, flush=True)
        after = calls_after_save(table, work, numbers, saves, seed=4)
        emit(f"call_after_save_number_max_{tag}", max(a for a, _ in after) * ms, "ms")
        emit(f"call_after_save_number_p50_{tag}", statistics.median(a for a, _ in after) * ms, "ms")
        emit(f"call_after_save_name_p50_{tag}", statistics.median(b for _, b in after), "s")
        emit(f"call_after_save_name_max_{tag}", max(b for _, b in after), "s")
        emit("call_after_save_members_check_ms", cti.MainWindow.MEMBERS_CHECK_MS, "ms")
        emit("call_after_save_saves", len(after), "saves")

        print("# popup: calls while a re-read of members.csv is running", file=sys.stderr, flush=True)
        during = calls_during_reread(table, work, numbers, saves, seed=5)
        emit(f"popup_during_reread_p50_{tag}", statistics.median(during) * ms, "ms")
        emit(f"popup_during_reread_p99_{tag}", percentile(during, 99) * ms, "ms")
        emit(f"popup_during_reread_max_{tag}", max(during) * ms, "ms")
        emit("popup_during_reread_calls", len(during), "calls")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        display.close()


if __name__ == "__main__":
    sys.exit(main())
