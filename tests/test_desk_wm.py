"""The desk under a real window manager, as the reception laptop has one: Openbox on a private Xvfb
at 1366x768 (and 1920x1080) at 96, 120 and 144 dpi (100, 125 and 150 %).

The real program runs (cti.py in its own folder, a pseudo-terminal as the caller-ID device); a second
real process stands in for the POS and holds the keyboard while xdotool types into it and calls
arrive. What is checked is what she would see: where her keys went, and whether the whole window,
frame included, lies inside the work area.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import cti
from conftest import MEMBER, UNKNOWN, modem_block, poll_until
from test_desk import close_until

ROOT = Path(__file__).resolve().parents[1]
SHARED = "0596310009"
MEMBERS = cti.DEMO_MEMBERS + ("AC00009,共有 一,きょうゆういち,0596-31-0009,佐藤,,,\r\n"
                              "AC00010,共有 二,きょうゆうに,0596-31-0009,田中,,,\r\n")

# The POS: a window with one entry; once it has the keyboard, what reaches it is written to a file.
POS_PROGRAM = """
import sys, tkinter as tk
root = tk.Tk(); root.title("POS"); root.geometry("600x300+20+20")
entry = tk.Entry(root, width=60); entry.pack(padx=20, pady=20); entry.focus_set()
def save():
    with open(sys.argv[1], "w") as f:
        f.write(entry.get())
    root.after(50, save)
entry.bind("<FocusIn>", lambda e: save(), add=True)
root.mainloop()
"""

pytestmark = pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("openbox") and shutil.which("xdotool")),
                                reason="needs a display: Xvfb, openbox and xdotool (conftest makes this a failure)")


def wait(condition, timeout=30.0):
    """Real processes on a loaded machine: a long limit, but it returns as soon as the condition holds."""
    return poll_until(condition, timeout, interval=0.05)


class Desk:
    """A private X display with Openbox (and, on request, a system tray host), torn down with its processes."""

    def __init__(self, tmp_path, width, height, dpi):
        self.tmp_path, self.processes = tmp_path, []
        read, write = os.pipe()
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24",
                                 "-dpi", str(dpi), "-nolisten", "tcp", "-noreset"], pass_fds=(write,),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write)
        self.processes.append(xvfb)
        with os.fdopen(read) as answer:
            number = answer.readline().strip()
        assert number, "Xvfb did not start"
        self.env = dict(os.environ, DISPLAY=f":{number}", TMPDIR=str(tmp_path), PYTHONIOENCODING="utf-8")
        self.start(["openbox", "--sm-disable"])
        assert wait(lambda: self.work_area() is not None), "openbox did not start"

    def start(self, argv, **options) -> subprocess.Popen:
        process = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **options)
        self.processes.append(process)
        return process

    def close(self):
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def display(self):
        import Xlib.display
        return Xlib.display.Display(self.env["DISPLAY"])

    def xdotool(self, *args) -> str:
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True)
        self.xdotool_errors = done.stderr
        return done.stdout.strip()

    def work_area(self) -> cti.Rect | None:
        """_NET_WORKAREA of desktop 0, as the window manager publishes it (None before it runs)."""
        display = self.display()
        try:
            value = display.screen().root.get_full_property(display.intern_atom("_NET_WORKAREA"), 0)
            if not value:
                return None
            x, y, w, h = value.value[:4]
            return cti.Rect(x, y, x + w, y + h)
        finally:
            display.close()

    def windows(self, prefix, anywhere=False) -> list[int]:
        names = {int(w): self.xdotool("getwindowname", w)
                 for w in self.xdotool("search", "--onlyvisible", "--name", ".").split()}
        return [w for w, name in names.items() if (prefix in name if anywhere else name.startswith(prefix))]

    def frame(self, window_id) -> cti.Rect:
        """The outer frame the window manager drew around the window (title bar and borders included)."""
        display = self.display()
        try:
            window = display.create_resource_object("window", window_id)
            while True:
                tree = window.query_tree()
                if tree.parent == tree.root:
                    break
                window = tree.parent
            g = window.get_geometry()
            return cti.Rect(g.x, g.y, g.x + g.width + 2 * g.border_width, g.y + g.height + 2 * g.border_width)
        finally:
            display.close()

    def focused_name(self) -> str:
        return self.xdotool("getwindowname", self.xdotool("getwindowfocus", "-f"))


@pytest.fixture
def desk(request, tmp_path):
    """desk(width=1366, height=768, dpi=96) -> a started Desk."""
    made = []

    def make(width=1366, height=768, dpi=96):
        made.append(Desk(tmp_path, width, height, dpi))
        return made[-1]
    yield make
    for d in made:
        d.close()


def start_cti(desk: Desk, port: str, ini_extra: str = "") -> Path:
    folder = desk.tmp_path / "site"
    folder.mkdir(exist_ok=True)
    (folder / "members.csv").write_bytes(MEMBERS.encode("utf-8-sig"))
    ini = (cti.DEFAULT_INI.replace("port = auto", f"port = {port}").replace("protocol = auto", "protocol = modem")
           .replace("init = ATZ|AT+VCID=1", "init =")) + ini_extra
    (folder / "cti.ini").write_bytes(ini.encode("utf-8-sig"))
    desk.cti = desk.start([sys.executable, str(ROOT / "cti.py"), "--config", str(folder / "cti.ini")])
    log = folder / "cti.log"
    assert wait(lambda: log.exists() and "に接続しました" in log.read_text("utf-8")), "never connected"
    assert wait(lambda: desk.windows("CTI — ")), "no window"
    [desk.window] = desk.windows("CTI — ")
    return folder


def start_pos(desk: Desk) -> Path:
    typed = desk.tmp_path / "pos.txt"
    desk.start([sys.executable, "-c", POS_PROGRAM, str(typed)])
    assert wait(lambda: desk.windows("POS")), "no POS window"
    [pos] = desk.windows("POS")
    desk.xdotool("windowactivate", "--sync", str(pos))
    assert wait(lambda: desk.focused_name() == "POS" and typed.exists())
    return typed


def inside(frame: cti.Rect, work: cti.Rect) -> bool:
    return work.left <= frame.left and work.top <= frame.top and frame.right <= work.right and frame.bottom <= work.bottom


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# never take the keyboard

@pytest.mark.parametrize("dpi", [96, 144])
def test_calls_never_take_the_keyboard_from_the_pos(desk, pty_pair, dpi):
    """The hidden check: the real program on 1366x768 under Openbox, closed with × (hidden), then
    rung twice while she types into the POS; every key is in the POS, the window is up with the
    caller, and its frame lies inside the work area."""
    d = desk(1366, 768, dpi)
    master, slave = pty_pair
    start_cti(d, slave)
    assert wait(lambda: inside(d.frame(d.window), d.work_area())), (d.frame(d.window), d.work_area())
    assert close_until(d.window, lambda: not d.windows("CTI — "), wait, d.env["DISPLAY"]), \
        "× did not hide the window"                                     # ×: hidden, still running
    typed = start_pos(d)
    text = "abcdefghijklmnopqrstuvwxyz0123456789" * 2
    typist = threading.Thread(target=d.xdotool, args=("type", "--delay", "40", text))
    typist.start()
    assert wait(lambda: len(typed.read_text()) >= 10), ("the POS got no keys", d.focused_name(), typed.read_text(), d.xdotool_errors)
    os.write(master, modem_block(MEMBER))                               # back from hidden, mid-typing
    assert wait(lambda: d.windows("CTI — 0596-31-0005 ペンギン貴子")), "the call did not bring the window up"
    assert wait(lambda: len(typed.read_text()) >= 40)
    os.write(master, modem_block(SHARED))                               # already up: raised again
    assert wait(lambda: d.windows("CTI — 0596-31-0009 共有 一・共有 二"))
    typist.join(60)
    assert wait(lambda: typed.read_text() == text), f"keys went elsewhere: the POS has {typed.read_text()!r}"
    assert d.focused_name() == "POS"
    [window] = d.windows("CTI — ")
    assert inside(d.frame(window), d.work_area()), (d.frame(window), d.work_area())
    assert d.cti.poll() is None


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# fit the screen it is on

@pytest.mark.parametrize("width, height, dpi, compact", [
    (1366, 768, 96, False), (1366, 768, 120, True), (1366, 768, 144, True),
    (1920, 1080, 96, False), (1920, 1080, 120, False), (1920, 1080, 144, False)])
def test_the_whole_window_lies_inside_the_work_area(desk, pty_pair, width, height, dpi, compact):
    """100/125/150 % on a reception laptop and a desktop screen, a panel docked at the bottom (trayer
    reserves its strip): the frame lies inside the work area; the card alone where the lists do not fit."""
    d = desk(width, height, dpi)
    d.start(["trayer", "--edge", "bottom", "--SetDockType", "true", "--SetPartialStrut", "true",
             "--height", str(round(40 * dpi / 96)), "--widthtype", "percent", "--width", "100"])
    assert wait(lambda: d.work_area() and d.work_area().bottom < height), "trayer reserved no strip"
    master, slave = pty_pair
    folder = start_cti(d, slave)
    work = d.work_area()
    assert wait(lambda: inside(d.frame(d.window), work)), (d.frame(d.window), work)
    said = "着信カードだけの窓にします" in (folder / "cti.log").read_text("utf-8")
    assert said is compact
    os.write(master, modem_block(UNKNOWN))
    assert wait(lambda: d.windows("CTI — 090-8765-4321 未登録"))
    assert inside(d.frame(d.window), work), (d.frame(d.window), work)
    if width == 1366 and dpi in (96, 144) and os.environ.get("CTI_SCREENSHOTS"):     # the README's screens
        subprocess.run(["import", "-window", "root", str(Path(os.environ["CTI_SCREENSHOTS"]) /
                        f"screen-1366x768-{round(dpi / 96 * 100)}.png")], env=d.env, check=True)
    if compact:                                                         # F9: she asks for the lists
        before = d.frame(d.window)
        d.xdotool("key", "--window", str(d.window), "F9")
        assert wait(lambda: d.frame(d.window).bottom - d.frame(d.window).top > before.bottom - before.top)


def test_escape_closes_the_visit_history_she_opened_with_f5(desk, pty_pair):
    """Under a window manager the new window must get the keys she types next (it did not: Escape
    went to the main window and 来店履歴 stayed)."""
    d = desk()
    master, slave = pty_pair
    start_cti(d, slave)
    os.write(master, modem_block(MEMBER))
    assert wait(lambda: d.windows("CTI — 0596-31-0005 ペンギン貴子"))
    d.xdotool("windowactivate", "--sync", str(d.window))                # she clicks the window
    d.xdotool("key", "F5")
    assert wait(lambda: d.windows("来店履歴", anywhere=True)), "F5 opened no 来店履歴"
    assert wait(lambda: "来店履歴" in d.focused_name())
    d.xdotool("key", "Escape")
    assert wait(lambda: not d.windows("来店履歴", anywhere=True)), "Escape did not close 来店履歴"


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the tray, in a real notification area

def tray_icons(d: Desk) -> dict:
    """{window id: title} of the icons docked in trayer's panel (pystray's X backend names its window so)."""
    found = subprocess.run(["xwininfo", "-root", "-tree"], env=d.env, capture_output=True, text=True).stdout
    panel = found[found.index('"panel"'):] if '"panel"' in found else ""
    return {int(m[1], 16): m[2] for m in re.finditer(r'(0x[0-9a-f]+) "(CTI \(\d+\))"', panel)}


def tray_host_up(d: Desk):
    def owned() -> bool:
        from Xlib import X
        display = d.display()
        try:
            return display.get_selection_owner(display.intern_atom("_NET_SYSTEM_TRAY_S0")) != X.NONE
        finally:
            display.close()
    return owned


def red_pixels(d: Desk, window_id) -> int:
    display = d.display()
    try:
        window = display.create_resource_object("window", window_id)
        g = window.get_geometry()
        data = window.get_image(0, 0, g.width, g.height, 2, 0xFFFFFFFF).data     # ZPixmap, BGRX
        return sum(1 for i in range(0, len(data), 4) if data[i + 2] > 180 and data[i + 1] < 90 and data[i] < 90)
    finally:
        display.close()


def test_the_tray_icon_docks_counts_unseen_calls_and_shows_the_window(desk, pty_pair):
    """trayer is the notification area: the icon docks in it, and its title and red badge count the
    calls not yet seen; 表示 (from the tray's thread, as pystray calls it) brings the hidden window up
    and clears the count. pystray 0.19.5's X backend selects no ButtonPress on its icon window, so a
    click does nothing on X11 and the menu is reached as pystray would call it (test_desk)."""
    d = desk()
    d.start(["trayer", "--edge", "bottom", "--SetDockType", "true", "--height", "40", "--widthtype", "request"])
    assert wait(tray_host_up(d)), "trayer did not take the notification area"     # cti looks once, at start
    master, slave = pty_pair
    start_cti(d, slave)
    assert wait(lambda: list(tray_icons(d).values()) == ["CTI (0)"]), tray_icons(d)
    [icon] = tray_icons(d)
    assert red_pixels(d, icon) == 0
    assert close_until(d.window, lambda: not d.windows("CTI — "), wait, d.env["DISPLAY"])
    os.write(master, modem_block(MEMBER))
    assert wait(lambda: tray_icons(d).get(icon) == "CTI (1)"), tray_icons(d)
    os.write(master, modem_block(UNKNOWN))
    assert wait(lambda: tray_icons(d).get(icon) == "CTI (2)"), tray_icons(d)
    assert wait(lambda: red_pixels(d, icon) > 20)
    # she clicks the window (again if the first click only focused it): the calls are seen
    assert wait(lambda: d.xdotool("mousemove", "--window", str(d.window), "20", "20", "click", "1") is None
                or tray_icons(d).get(icon) == "CTI (0)")
    assert wait(lambda: red_pixels(d, icon) == 0)


def test_a_notification_area_that_starts_after_cti_gets_the_icon(desk, pty_pair):
    """A desktop whose panel (here trayer) comes up after cti, as an autostart order may have it:
    cti looked once at start and never showed an icon. It looks again until one is there; the icon
    then counts the call that came meanwhile."""
    d = desk()
    master, slave = pty_pair
    folder = start_cti(d, slave)
    assert not tray_host_up(d)()
    assert close_until(d.window, lambda: not d.windows("CTI — "), wait, d.env["DISPLAY"])   # hidden: a call is unseen
    os.write(master, modem_block(MEMBER))
    assert wait(lambda: d.windows("CTI — 0596-31-0005 ペンギン貴子"))
    d.start(["trayer", "--edge", "bottom", "--SetDockType", "true", "--height", "40", "--widthtype", "request"])
    assert wait(tray_host_up(d)), "trayer did not take the notification area"
    assert wait(lambda: list(tray_icons(d).values()) == ["CTI (1)"]), tray_icons(d)
    assert "通知領域にアイコンを出しました" in (folder / "cti.log").read_text("utf-8")
    [icon] = tray_icons(d)
    assert wait(lambda: red_pixels(d, icon) > 20)


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# a box in the way

def test_a_message_box_steps_aside_for_the_main_windows_key(desk, pty_pair):
    """F4 on a number no member holds says so in a box (「…会員登録をしてください」); the F2 she presses
    next went to the box and nothing happened until she dismissed it. The box is only a message: the
    key closes it and does what it says (会員登録 opens, for that number)."""
    d = desk()
    master, slave = pty_pair
    start_cti(d, slave)
    os.write(master, modem_block(UNKNOWN))
    assert wait(lambda: d.windows("CTI — 090-8765-4321 未登録"))
    d.xdotool("windowactivate", "--sync", str(d.window))                # she clicks the window
    d.xdotool("key", "F4")
    assert wait(lambda: d.windows("CTI", anywhere=False) and d.focused_name() == "CTI"), "F4 showed no box"
    d.xdotool("key", "F2")
    assert wait(lambda: d.windows("の会員登録", anywhere=True)), ("F2 did not get past the box", d.focused_name())
    assert not [w for w in d.windows("CTI") if d.xdotool("getwindowname", str(w)) == "CTI"], "the box stayed"
    assert wait(lambda: "会員登録" in d.focused_name())
