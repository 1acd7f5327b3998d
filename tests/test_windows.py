"""The Platform section (Windows and X11): its pure decisions with the values Windows gives (run everywhere), and
its wrappers for real (marked win32: the Windows workflow runs them).

Values: handles as `wm frame` prints them, RECTs as GetMonitorInfoW/GetWindowRect return them
for a 1920x1080 monitor (3840x2160 at 200 %) with the Windows 11 taskbar (48 px at 100 %, 60 at
125 %, 72 at 150 %, 96 at 200 %) and the frame a titled, resizable window has at each scale.
"""

import ctypes
import os
import sqlite3
import stat
import sys
import tkinter as tk
from ctypes import wintypes
from pathlib import Path

import pytest

import cti

Rect = cti.Rect
windows_only = pytest.mark.skipif(sys.platform != "win32", reason="a Win32 wrapper: the Windows workflow runs it")


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# window handles

@pytest.mark.parametrize("text, value", [
    ("0xffffffff80012345", 0xFFFFFFFF80012345),      # a USER handle >= 0x80000000, sign-extended by Windows
    ("0x1234", 0x1234),
    ("0x00000000000A0B0C", 0xA0B0C),
    ("0x7fffffff", 0x7FFFFFFF),
])
def test_frame_handle_is_read_as_unsigned_64_bit(text, value):
    assert cti.parse_hwnd(text) == value


@pytest.mark.parametrize("text", ["", "-0x1", "0x1ffffffffffffffff", "HWND"])
def test_what_is_not_a_handle_is_a_value_error(text):
    with pytest.raises(ValueError):
        cti.parse_hwnd(text)


def test_a_typed_hwnd_argument_carries_all_64_bits():
    """Through libffi as the HWND-typed bindings pass it (a C int would overflow or be cut)."""
    echo = ctypes.CFUNCTYPE(wintypes.HWND, wintypes.HWND)(lambda hwnd: hwnd)
    assert echo(cti.parse_hwnd("0xffffffff80012345")) == 0xFFFFFFFF80012345
    assert echo(wintypes.HWND(-1)) == (1 << 64) - 1 == wintypes.HWND(-1).value   # HWND_TOPMOST, not 0xFFFFFFFF


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# one copy

@pytest.mark.parametrize("handle, last_error, running", [
    (0x1A4, 0, False),                  # created: the first cti
    (0x1A4, 183, True),                 # ERROR_ALREADY_EXISTS: opened the first one's mutex
    (0x1A4, 5, False),                  # a stale error beside a handle says nothing
    (None, 5, True),                    # NULL + ERROR_ACCESS_DENIED: the first runs as administrator
    (0, 5, True),
    (None, 6, False),                   # NULL for another reason (ERROR_INVALID_HANDLE): start all the same
    (None, 0, False),
])
def test_mutex_result_decides_whether_another_cti_runs(handle, last_error, running):
    assert cti.already_running(handle, last_error) is running


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# placement: work areas at every scale and taskbar position

SCALES = {        # scale: (monitor width, height, taskbar, frame extra (w, h), client w, h)
    100: (1920, 1080, 48, (16, 39), 640, 560),
    125: (1920, 1080, 60, (20, 48), 800, 700),
    150: (1920, 1080, 72, (22, 57), 960, 840),
    200: (3840, 2160, 96, (32, 78), 1280, 1120),
}


def work_areas(width, height, bar):
    return {"bottom": Rect(0, 0, width, height - bar), "top": Rect(0, bar, width, height),
            "left": Rect(bar, 0, width, height), "right": Rect(0, 0, width - bar, height),
            "auto-hide": Rect(0, 0, width, height),
            "second monitor left": Rect(-width, 0, 0, height - bar),          # negative coordinates
            "second monitor above": Rect(-320, -height, width - 320, -bar)}


CASES = [(scale, where, corner) for scale in SCALES for where in work_areas(1, 1, 0) for corner in cti.CORNERS]


@pytest.mark.parametrize("scale, where, corner", CASES)
def test_corner_position_puts_the_whole_frame_in_the_corner_of_the_work_area(scale, where, corner):
    width, height, bar, (extra_w, extra_h), client_w, client_h = SCALES[scale]
    work = work_areas(width, height, bar)[where]
    outer_w, outer_h = client_w + extra_w, client_h + extra_h
    x, y = cti.corner_position(work, outer_w, outer_h, corner, 8)
    assert work.left <= x and x + outer_w <= work.right             # nothing under a side taskbar
    assert work.top <= y and y + outer_h <= work.bottom             # nor under a top or bottom one
    assert (work.right - (x + outer_w) if corner.endswith("right") else x - work.left) == 8
    assert (work.bottom - (y + outer_h) if corner.startswith("bottom") else y - work.top) == 8


def test_bottom_right_at_150_percent_with_the_taskbar_at_the_bottom():
    """The case the old 56-px guess got wrong: the status lines sat under the 72-px taskbar."""
    x, y = cti.corner_position(Rect(0, 0, 1920, 1008), 960 + 22, 840 + 57, "bottom-right", 8)
    assert (x, y) == (1920 - 982 - 8, 1008 - 897 - 8) == (930, 103)


@pytest.mark.parametrize("corner", cti.CORNERS)
def test_a_window_larger_than_the_work_area_keeps_its_title_bar_on_screen(corner):
    work = Rect(-1366, 40, 0, 768)                                   # a small second monitor, taskbar on top
    assert cti.corner_position(work, 1500, 900, corner, 8) == (-1366 if corner.endswith("right") else -1358,
                                                                40 if corner.startswith("bottom") else 48)


@pytest.mark.parametrize("frame, client, extra", [
    (Rect(1256, 433, 1912, 1032), (640, 560), (16, 39)),             # GetWindowRect at 100 %
    (Rect(930, 103, 1912, 1000), (960, 840), (22, 57)),              # at 150 %
    (Rect(-1900, 10, -1244, 609), (640, 560), (16, 39)),             # on a monitor to the left
    (Rect(100, 100, 740, 660), (640, 560), (0, 0)),                  # no window manager (Xvfb)
])
def test_frame_extra_from_the_window_rect_and_the_client_size(frame, client, extra):
    assert cti.frame_extra(frame, *client) == extra


def test_the_frame_is_estimated_until_it_can_be_measured():
    assert cti.estimated_frame_extra(1.0, windows=True) == (16, 39)
    assert cti.estimated_frame_extra(1.5, windows=True) == (24, 58)
    assert cti.estimated_frame_extra(2.0, windows=False) == (0, 0)


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# where the folder lives

USER = r"C:\Users\hanako"
ENV = {"USERPROFILE": USER, "OneDrive": USER + r"\OneDrive", "OneDriveConsumer": USER + r"\OneDrive",
       "OneDriveCommercial": USER + r"\OneDrive - 美容室ペンギン",
       "TEMP": USER + r"\AppData\Local\Temp", "TMP": USER + r"\AppData\Local\Temp"}


@pytest.mark.parametrize("path, drive_type, risks", [
    (r"C:\cti", 3, []),
    (USER + r"\OneDrive\デスクトップ\cti", 3, ["onedrive"]),
    (r"c:\users\HANAKO\onedrive\Desktop\cti", 3, ["onedrive"]),             # Windows paths ignore case
    (USER + r"\OneDrive - 美容室ペンギン\受付\cti", 3, ["onedrive"]),
    (USER + r"\OneDriveBackup\cti", 3, []),                                 # a prefix, not the folder
    (USER + r"\AppData\Local\Temp\Temp1_cti.zip\cti", 3, ["zip"]),          # double-clicked inside the zip
    (USER + r"\AppData\Local\Temp\7a1b2c3d\cti.zip\cti", 3, ["zip"]),
    (USER + r"\AppData\Local\Temp\cti-demo-x1y2", 3, []),                   # --demo's own folder
    (r"\\nas\salon\cti", 0, ["network"]),                                   # UNC
    (r"\\?\UNC\nas\salon\cti", 0, ["network"]),
    (r"\\?\C:\cti", 3, []),
    (r"Z:\cti", 4, ["network"]),                                            # mapped: DRIVE_REMOTE
    (r"Z:\cti", 3, []),
    ("/home/hanako/cti", 0, []),
])
def test_folder_risks(path, drive_type, risks):
    assert cti.folder_risks(path, ENV, drive_type) == risks


def test_folder_risks_take_variable_names_in_any_case():
    assert cti.folder_risks(USER + r"\OneDrive\cti", {"ONEDRIVE": USER + r"\OneDrive"}, 3) == ["onedrive"]
    assert cti.folder_risks(USER + r"\OneDrive\cti", {}, 3) == []


def test_every_risk_has_its_status_warning():
    warnings = cti.folder_warnings(["onedrive", "zip", "network"])
    assert [w.startswith("注意:") for w in warnings] == [True] * 3
    assert "OneDrive" in warnings[0] and "すべて展開" in warnings[1] and "ネットワーク" in warnings[2]


def test_data_folder_risks_of_a_real_config(tmp_path):
    config, _ = cti.load_config(tmp_path / "cti.ini")
    assert cti.data_folder_risks(config, {"OneDrive": str(tmp_path)}) == ["onedrive"]
    assert cti.data_folder_risks(config, {"OneDrive": str(tmp_path / "other")}) == []


def test_cti_db_journal_mode_on_a_share_and_locally(tmp_path, monkeypatch):
    assert cti.sqlite_journal_mode(r"\\nas\salon\cti.db") == "DELETE"
    assert cti.sqlite_journal_mode(tmp_path / "cti.db") == "WAL"
    db = cti.Database(tmp_path / "local.db")
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    # No network drive here: GetDriveTypeW's answer is injected; the SQLite behind it is real.
    monkeypatch.setattr(cti, "drive_type", lambda path: cti.DRIVE_REMOTE)
    db = cti.Database(tmp_path / "share.db")
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    db.add_call(cti.Call("0596310005"))
    db.close()
    assert not (tmp_path / "share.db-wal").exists()
    assert sqlite3.connect(tmp_path / "share.db").execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 1


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# off Windows the same functions exist and stand back

@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX side of the section")
def test_posix_side_does_nothing_windows_specific(tmp_path):
    assert cti.enable_hidpi() is False and cti.drive_type(tmp_path) == cti.DRIVE_UNKNOWN
    path = tmp_path / "x.tmp"
    path.write_bytes(b"x")
    assert cti.hide_file(path) is False and path.exists()
    assert cti.allow_foreground() is None


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the wrappers for real (Windows workflow)

@pytest.fixture
def root():
    try:
        window = tk.Tk()
    except tk.TclError as e:
        pytest.skip(f"no display: {e}")
    window.geometry("320x200+100+100")
    window.update()
    yield window
    window.destroy()


@pytest.fixture
def user32():
    dll = ctypes.WinDLL("user32", use_last_error=True)
    for name, argtypes, restype in (("IsIconic", (wintypes.HWND,), wintypes.BOOL),
                                    ("IsZoomed", (wintypes.HWND,), wintypes.BOOL),
                                    ("GetForegroundWindow", (), wintypes.HWND),
                                    ("GetWindowLongW", (wintypes.HWND, ctypes.c_int), wintypes.LONG)):
        getattr(dll, name).argtypes, getattr(dll, name).restype = argtypes, restype
    return dll


@windows_only
def test_show_without_focus_restores_and_raises_without_taking_the_foreground(root, user32):
    hwnd = cti.parse_hwnd(root.wm_frame())
    root.iconify()
    root.update()
    assert user32.IsIconic(hwnd)
    before = user32.GetForegroundWindow()
    assert cti.show_without_focus(root) is True
    root.update()
    assert not user32.IsIconic(hwnd)
    assert user32.GetWindowLongW(hwnd, -20) & 0x8                  # GWL_EXSTYLE has WS_EX_TOPMOST
    assert user32.GetForegroundWindow() == before


@windows_only
def test_show_without_focus_leaves_a_maximised_window_maximised(root, user32):
    root.state("zoomed")
    root.update()
    assert cti.show_without_focus(root) is True
    root.update()
    assert user32.IsZoomed(cti.parse_hwnd(root.wm_frame())) and root.state() == "zoomed"


@windows_only
def test_flash_taskbar_runs_on_a_real_window(root, user32):
    flashed = cti.flash_taskbar(root)
    assert flashed is (user32.GetForegroundWindow() != cti.parse_hwnd(root.wm_frame()))


@windows_only
def test_work_area_and_frame_of_a_real_window(root):
    work = cti.work_area(root)
    assert work.left < work.right and work.top < work.bottom
    assert work.right - work.left <= root.winfo_screenwidth() * 4     # a monitor, not garbage
    frame = cti.frame_rect(root)
    extra_w, extra_h = cti.frame_extra(frame, root.winfo_width(), root.winfo_height())
    assert extra_w >= 2 and extra_h >= 20                            # borders and a title bar
    x, y = cti.corner_position(work, root.winfo_width() + extra_w, root.winfo_height() + extra_h, "bottom-right", 8)
    root.geometry(f"+{x}+{y}")
    root.update()
    placed = cti.frame_rect(root)
    assert (placed.right, placed.bottom) == (work.right - 8, work.bottom - 8)   # the whole frame, above the taskbar


@windows_only
def test_hide_file_and_the_atomic_write_leaves_the_target_visible(tmp_path):
    path = tmp_path / ".members.csv.1.tmp"
    path.write_bytes(b"x")
    assert cti.hide_file(path) is True
    assert os.stat(path).st_file_attributes & stat.FILE_ATTRIBUTE_HIDDEN
    target = tmp_path / "members.csv"
    cti.atomic_write(target, b"a,b\r\n")
    assert target.read_bytes() == b"a,b\r\n"
    assert not os.stat(target).st_file_attributes & stat.FILE_ATTRIBUTE_HIDDEN


@windows_only
def test_the_mutex_tells_the_second_start_apart():
    name = f"Local\\cti-test-{os.getpid()}"
    first, error = cti.create_mutex(name)
    assert first and not cti.already_running(first, error)
    second, error = cti.create_mutex(name)
    assert error == cti.ERROR_ALREADY_EXISTS and cti.already_running(second, error)
    other = f"Local\\cti-test-lock-{os.getpid()}"
    assert cti.instance_lock(other, Path("."))[0] is True
    assert cti.instance_lock(other, Path("."))[0] is False


@windows_only
def test_drive_type_of_the_system_drive():
    assert cti.drive_type(os.environ.get("SystemRoot", r"C:\Windows")) == 3          # DRIVE_FIXED


def test_no_strftime_format_holds_non_ascii():
    """strftime encodes its format in the C locale's code page on Windows before Python 3.13
    (gh-52551): "%H:%M 着信" raises under a non-Japanese locale. Date formats stay ASCII."""
    import ast
    tree = ast.parse(Path(cti.__file__).read_text(encoding="utf-8"))
    formats = [node.args[0].value for node in ast.walk(tree)
               if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "strftime"
               and node.args and isinstance(node.args[0], ast.Constant)]
    formats += [ast.unparse(node.format_spec) for node in ast.walk(tree)
                if isinstance(node, ast.FormattedValue) and node.format_spec is not None]
    assert formats and [f for f in formats if not f.isascii()] == []


def test_logoff_closes_the_database_before_windows_ends_the_process(tmp_path, monkeypatch):
    """Tk turns WM_QUERYENDSESSION into the WM_SAVE_YOURSELF protocol; its handler must close cti.db itself."""
    (tmp_path / "members.csv").write_bytes(cti.DEMO_MEMBERS.encode("utf-8-sig"))
    config = cti.Config(port="loop://", protocol="modem", init=(), members=tmp_path / "members.csv",
                        database=tmp_path / "cti.db", log=tmp_path / "cti.log")
    closed, seen = [], {}
    real_close = cti.Database.close
    monkeypatch.setattr(cti.Database, "close", lambda db: (closed.append(db.path), real_close(db)))

    def logoff_instead_of_mainloop(root, n=0):
        root.tk.call(root.protocol("WM_SAVE_YOURSELF"))          # what Tk runs at logoff
        seen["closed in the handler"] = list(closed)
        try:
            seen["window gone"] = not root.winfo_exists()
        except tk.TclError:                                      # the whole application is destroyed
            seen["window gone"] = True
    try:
        root = tk.Tk()
        root.destroy()
    except tk.TclError as e:
        pytest.skip(f"no display: {e}")
    monkeypatch.setattr(tk.Tk, "mainloop", logoff_instead_of_mainloop)
    assert cti.run_window(config, []) == 0
    assert seen == {"closed in the handler": [tmp_path / "cti.db"], "window gone": True}
