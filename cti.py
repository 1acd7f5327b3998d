#!/usr/bin/env python3
"""cti: a caller-ID popup for the reception PC of a hair and beauty salon.

A caller-ID device on a COM port (or an NCID server / CallerID.com unit on the
network) reports the caller's number; cti looks it up in members.csv and shows
the caller in a small topmost window, with the call history, visit history,
reservations and today's counts.

    python cti.py                 the window, with cti.ini from this folder
    python cti.py --demo          the window on a simulated device and sample data
    python cti.py --list-ports    the serial ports found
    python cti.py --decode FILE   decode a capture, one JSON object a call
    python cti.py --lookup NUMBER the members holding that number, as JSON
    python cti.py --import-visits CSV   add a visit history CSV to cti.db
    python cti.py --selftest      check what the program needs (config, modules loaded by name,
                                  loop://, socket:// and sip://, every decoder), no window

The built program (build.spec) is cti.exe, the window, and cti-cli.exe for the commands that print.

The file is organised in sections under ### banners, in this order; each calls only those above it
(tests/test_layout.py checks both: no name used from a section further down, every banner listed here).
Before the first banner: imports, and Tk / pyserial / filelock / phonenumbers imported at first use.

  Errors: what cti tells people, in one vocabulary
      CtiError and its family (ConfigError, FileError, MembersError, DatabaseError, ...); file_problem,
      the one place an OSError becomes the Japanese words for its cause.
  Platform: Windows and X11
      WINDOWS, the one test of the platform; every call into Win32 (ctypes) and X11 (the BadWindow
      handler, the tray host), and the pure decisions on their values: corner placement, folder risks
      (OneDrive, a share), the single-instance mutex, hidden temp files, cti.db's journal mode.
  Helpers used by both stores
      Text decoding (UTF-8, CP932, UTF-16), CSV records, Excel-safe cells, atomic_write.
  Config
      cti.ini: Config and load_config, path values, the data folders' risks; a sip:// port (SipTarget).
  Phone numbers
      Normalising, splitting and formatting numbers (Japanese and international).
  Caller-ID decoders
      Call, and one decoder per device protocol (ND, Aloha, modem, Whozz Calling, NCID; auto).
  SIP extension
      port = sip://: SIP messages parsed and built, digest auth, the caller of an INVITE, and SipAgent,
      the user agent's state (registration, ringing, CANCEL), pure: bytes and times in, datagrams out.
  Device reader
      DeviceReader: the serial / TCP / UDP port in a thread, reconnecting, calls onto a queue;
      SipPort, the UDP socket of a sip:// extension.
  Store: members.csv
      Member, MembersFile (one parse, a value) and CachedMembers (one from the parse cache), both
      answering MembersParse; the pure changes (Register, Link, next_member_no); the --lookup scan;
      MembersReader (reading, the parse cache, the threads); MemberTable: the lock, write, swap
      and the pending file.
  Store: cti.db
      Database (SQLite): call history, visits, reservations; the visits CSV import, the history export.
  UI: what the window says
      Every word and colour the window shows, as pure functions: CallerPanel and CARD_COLOURS (the
      card), history rows, booking and status texts, ACTIONS (labels, keys, help).
  UI: Tk window and dialogs
      Tray; DialogContext (what a dialog may use: store, database, clock, fonts, a notice); Window and
      Dialog (the query.py contract) and every dialog and list window; the main window's frames
      (CallerCard, HistoryList, Toolbar, StatusLine), and MainWindow, which composes them, holds the
      timers and the queue poll, and routes each call and each ACTIONS entry.
  App: start-up, logging, one instance, demo
      Logging, first-run files, SingleInstance, the demo device, run_window, --selftest.
  Main
      Command-line parsing and each command (--lookup, --decode, --list-ports, --import-visits), main().
"""

__version__ = "0.1.0"
__license__ = "MIT"

import argparse
import array
import bisect
import codecs
import collections
import collections.abc
import configparser
import contextlib
import csv
import dataclasses
import errno
import functools
import gc
import glob
import hashlib
import importlib.util
import io
import itertools
import json
import logging
import logging.handlers
import ntpath
import operator
import os
import pkgutil
import queue
import re
import select
import shlex
import shutil
import socket
import sqlite3
import string
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.parse
import webbrowser
import zlib
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

log = logging.getLogger("cti")

# Modules imported by name at run time, which PyInstaller's import analysis cannot see: build.spec
# bundles exactly these (as hiddenimports; "pkg.*" means every module of pkg) and --selftest imports
# each in the built program. pyserial's serial_for_url imports serial.urlhandler.protocol_<scheme>
# (protocol_cp2110 is left out: it needs the hidapi package, which cti does not ship).
# phonenumbers imports a country's metadata module the first time a number of it is parsed
# (a caller dialling 010-1-… from abroad needs region_US), so all of them go in.
BY_NAME_MODULES = (
    "serial.urlhandler.protocol_alt", "serial.urlhandler.protocol_hwgrep", "serial.urlhandler.protocol_loop",
    "serial.urlhandler.protocol_rfc2217", "serial.urlhandler.protocol_socket", "serial.urlhandler.protocol_spy",
    "phonenumbers.data.*",
)


def bundled_path(name: str) -> Path:
    """A file shipped inside the program (cti.ico): PyInstaller's _MEIPASS when frozen, else beside cti.py."""
    return Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent)) / name


# Import only what a process uses: a command-line mode (--lookup, --decode, --list-ports,
# --import-visits, --help, --version) answers and exits, so it does not import Tk (nor need a
# display); the window's classes are still defined there, on stand-ins it never instantiates.
# pyserial, filelock and phonenumbers are imported at their first use (Deferred). Every import
# stays a plain import statement, so PyInstaller finds them all.
COMMAND_LINE_FLAGS = ("--lookup", "--decode", "--list-ports", "--import-visits", "--help", "-h", "--version")


def started_for_command_line(argv, main_module, stdout) -> bool:
    """This process is cti started for a command-line mode (not imported by tests, not the windowed exe)."""
    started_as_cti = getattr(sys, "frozen", False) or (
        getattr(main_module, "__file__", None) and Path(main_module.__file__).resolve() == Path(__file__).resolve())
    return bool(started_as_cti and stdout is not None and any(a.split("=")[0] in COMMAND_LINE_FLAGS for a in argv))


class TkStandIn:
    """tkinter's names in a command-line process: classes to define the window's classes on, never used."""

    def __getattr__(self, name):
        stand_in = type(name, (), {})
        setattr(self, name, stand_in)
        return stand_in


if started_for_command_line(sys.argv[1:], sys.modules.get("__main__"), sys.stdout):
    tk = ttk = filedialog = tkfont = TkStandIn()
else:
    import tkinter as tk
    from tkinter import filedialog, ttk
    from tkinter import font as tkfont


class Deferred:
    """A module imported at its first use, by a function of plain import statements (PyInstaller sees them)."""

    def __init__(self, importer):
        self.importer = functools.cache(importer)

    def __getattr__(self, name):
        return getattr(self.importer(), name)


def _import_filelock():
    import filelock
    return filelock


def _import_phonenumbers():
    import phonenumbers
    return phonenumbers


def _import_serial():
    import serial
    import serial.tools.list_ports
    import serial.tools.list_ports_common
    return serial


filelock, phonenumbers, serial = Deferred(_import_filelock), Deferred(_import_phonenumbers), Deferred(_import_serial)


###############################################################################
# Errors: what cti tells people, in one vocabulary ############################
###############################################################################
# Everything cti expects to go wrong is raised as a CtiError subclass whose text is the
# Japanese the receptionist reads; an OSError is turned into such words in one place
# (file_problem), so every store names the cause the same way.

class CtiError(Exception):
    """A problem the receptionist (or the salon's IT helper) is told about, in Japanese."""


class ConfigError(CtiError):
    """A cti.ini that cannot be used at all."""


class FileError(CtiError):
    """A file that cannot be read or written now; cause is one of FILE_CAUSES' keys."""

    def __init__(self, text: str, cause: str = "other"):
        super().__init__(text)
        self.cause = cause


class MembersError(CtiError):
    """A members.csv whose content cannot be used (encoding, a required column missing, a broken quote)."""


class VisitsError(CtiError):
    """A visit history CSV that cannot be imported at all (encoding, a required column missing)."""


class DatabaseError(CtiError):
    """cti.db cannot be used (newer version, cannot be created)."""


class BookingError(CtiError, ValueError):
    """A booking change cti.db refuses; kind is one of BOOKING_REFUSALS' keys, whose text it fills in."""

    def __init__(self, kind: str, **values):
        super().__init__(BOOKING_REFUSALS[kind].format(**values))
        self.kind = kind


BOOKING_REFUSALS = {
    "step": "「{status}」の予約を「{to}」にはできません",
    "move": "「{status}」の予約は変更できません",
    "missing": "予約 {id} はありません",
}


class ValidationError(CtiError, ValueError):
    """Input refused before anything is kept; field names the dialog field it concerns."""

    def __init__(self, text: str, field: str = ""):
        super().__init__(text)
        self.field = field


class WriteDeferred(CtiError):
    """The change is kept (in memory and in the pending file) but members.csv could not be written yet."""

    def __init__(self, text: str, member=None):
        super().__init__(text)
        self.member = member                    # the member as the window now shows it


class NotSaved(CtiError):
    """The change could be neither written nor kept: nothing of it remains, the dialog keeps the input."""


FILE_CAUSES = {
    "held": "Excel など他のプログラムが開いています",
    "full": "ディスクがいっぱいです",
    "readonly": "フォルダに書き込む権限がありません（読み取り専用の共有フォルダかファイルです）",
    "network": "ネットワーク上の場所（共有フォルダ）に届きません",
    "missing": "ファイルが見つかりません",
    "unreadable": "読む権限がないか、他のプログラムが使っています",
    "locked": "他の PC が保存している最中です",
    "other": "読み書きできません",
}
WINERROR_HELD = {32, 33}                        # sharing / lock violation: another program has it open
WINERROR_NETWORK = {51, 53, 59, 64, 67, 121, 1222, 1231}    # the share or the NAS is gone
WINERROR_FULL = {39, 112}
WINERROR_READONLY = {19}                        # write-protected media (5 is decided by the step)


def file_cause(error: OSError, replacing=False, reading=False) -> str:
    """Why an OSError happened, from the values Windows and POSIX give (a key of FILE_CAUSES).

    Access denied (winerror 5 / EACCES) while replacing the file means a program holds it
    (Windows refuses to replace an open file); while creating the temp file, a read-only folder.
    """
    winerror = getattr(error, "winerror", None)
    if winerror in WINERROR_HELD:
        return "held"
    if winerror in WINERROR_NETWORK or error.errno in (errno.ENETUNREACH, errno.EHOSTDOWN, errno.EHOSTUNREACH,
                                                          errno.ETIMEDOUT, errno.ESTALE, errno.ENOTCONN):
        return "network"
    if winerror in WINERROR_FULL or error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "full"
    if isinstance(error, PermissionError) or error.errno in (errno.EROFS, errno.EACCES, errno.EPERM) \
            or winerror in WINERROR_READONLY:
        if reading:
            return "held" if winerror in WINERROR_HELD else "unreadable"
        return "held" if replacing and error.errno != errno.EROFS else "readonly"
    if isinstance(error, FileNotFoundError):
        return "missing"
    return "other"


def file_problem(error: OSError, path, replacing=False, reading=False) -> FileError:
    """The FileError saying which file and why, in Japanese."""
    cause = file_cause(error, replacing, reading)
    detail = "" if cause != "other" else f"（{error.strerror or type(error).__name__}）"
    return FileError(f"{Path(path).name}: {FILE_CAUSES[cause]}{detail}", cause)


###############################################################################
# Platform: Windows and X11 ###################################################
###############################################################################
# Everything cti asks of Windows (and its X11 twins), chosen once as pyserial's miniterm does:
# the same small functions for both platforms, and WINDOWS the one test of which it is. The
# decisions are pure functions above the `if`, tested on any OS with the values Windows gives;
# the wrappers below it only fetch those values and run in the Windows workflow
# (tests/test_windows.py).

WINDOWS = os.name == "nt"

Rect = namedtuple("Rect", "left top right bottom")      # a Win32 RECT: right and bottom exclusive

ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS = 5, 183
DRIVE_UNKNOWN, DRIVE_REMOTE = 0, 4
ONEDRIVE_VARIABLES = ("OneDrive", "OneDriveCommercial", "OneDriveConsumer")


def parse_hwnd(text: str) -> int:
    """The handle `wm frame` prints ("0x%zx"), as the unsigned 64-bit value an HWND argument takes.

    A USER handle >= 0x80000000 is sign-extended by Windows (0xffffffff80012345); a C int would
    overflow on it, and every later call on the same window would fail too.
    """
    value = int(text, 16)
    if not 0 <= value < 1 << 64:
        raise ValueError(f"not a window handle: {text!r}")
    return value


def already_running(handle, last_error: int) -> bool:
    """What CreateMutexW's (handle, GetLastError()) say about another cti.

    ERROR_ALREADY_EXISTS comes with a handle; ERROR_ACCESS_DENIED with NULL when the first cti
    runs as administrator and this one cannot open its mutex. Any other NULL tells nothing:
    start (the COM port will still only open once) rather than never start at all.
    """
    if handle:
        return last_error == ERROR_ALREADY_EXISTS
    return last_error == ERROR_ACCESS_DENIED


def corner_position(work: Rect, outer_w: int, outer_h: int, corner: str, margin: int) -> tuple[int, int]:
    """+X+Y of a window whose outer frame is outer_w x outer_h, in a corner of the work area.

    The work area is the monitor less its taskbar wherever that is (and all of it when the
    taskbar hides itself); a second monitor may have negative coordinates. A window larger than
    the work area keeps its title bar on screen (left/top edges win).
    """
    x = work.right - outer_w - margin if corner.endswith("right") else work.left + margin
    y = work.bottom - outer_h - margin if corner.startswith("bottom") else work.top + margin
    return max(work.left, x), max(work.top, y)


def fits(work: Rect, outer_w: int, outer_h: int, margin: int) -> bool:
    """The whole window, frame included, lies inside the work area with the margin all round."""
    return outer_w + 2 * margin <= work.right - work.left and outer_h + 2 * margin <= work.bottom - work.top


def frame_extra(frame: Rect, client_w: int, client_h: int) -> tuple[int, int]:
    """Width and height the frame adds to the client area (title bar, borders; 0, 0 without a
    window manager). On Windows `wm geometry WxH+X+Y` sets the client size but the frame's position."""
    return max(0, frame.right - frame.left - client_w), max(0, frame.bottom - frame.top - client_h)


def estimated_frame_extra(scale: float, windows: bool) -> tuple[int, int]:
    """The frame before it exists (measured once the window is mapped): a Windows 10/11 title
    bar is 31 px and the borders 8 px at 100 %, growing with the scale."""
    return (round(16 * scale), round(39 * scale)) if windows else (0, 0)


def _under(path: str, folder: str) -> bool:
    path, folder = ntpath.normcase(ntpath.normpath(path)), ntpath.normcase(ntpath.normpath(folder))
    return path == folder or path.startswith(folder.rstrip("\\") + "\\")


def on_network(path: str, drive_type: int) -> bool:
    """A UNC path (\\\\server\\share) or a mapped network drive (GetDriveTypeW == DRIVE_REMOTE)."""
    text = str(path).replace("/", "\\")
    if text.lower().startswith("\\\\?\\unc\\"):
        return True
    return (text.startswith("\\\\") and not text.startswith(("\\\\?\\", "\\\\.\\"))) or drive_type == DRIVE_REMOTE


def folder_risks(path: str, env, drive_type: int) -> list[str]:
    """Why the folder holding cti's data is a bad place: "onedrive", "zip", "network" (in that order).

    OneDrive uploads member data and makes conflict copies; a zip opened by double-click runs
    in %TEMP%\\Temp1_x.zip\\ which Windows deletes; a share cannot hold SQLite's WAL.
    """
    path, env = str(path), {name.upper(): value for name, value in env.items()}    # Windows names ignore case
    risks = []
    if any(env.get(name.upper()) and _under(path, env[name.upper()]) for name in ONEDRIVE_VARIABLES):
        risks.append("onedrive")
    for temp in {env.get("TEMP"), env.get("TMP")} - {None, ""}:
        if _under(path, temp):
            inside = ntpath.normpath(path)[len(ntpath.normpath(temp)):].split("\\")
            if any(part.lower().endswith(".zip") or re.match(r"temp\d+_", part, re.IGNORECASE) for part in inside):
                risks.append("zip")
                break
    if on_network(path, drive_type):
        risks.append("network")
    return risks


if WINDOWS:  # pragma: no cover - Windows only; tests/test_windows.py runs these in the Windows workflow
    import ctypes
    from ctypes import wintypes

    _user32 = ctypes.WinDLL("user32", use_last_error=True)      # own instances: windll's are shared by all
    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)

    class _MONITORINFO(ctypes.Structure):
        _fields_ = [("cbSize", wintypes.DWORD), ("rcMonitor", wintypes.RECT),
                    ("rcWork", wintypes.RECT), ("dwFlags", wintypes.DWORD)]

    class _FLASHWINFO(ctypes.Structure):
        _fields_ = [("cbSize", wintypes.UINT), ("hwnd", wintypes.HWND), ("dwFlags", wintypes.DWORD),
                    ("uCount", wintypes.UINT), ("dwTimeout", wintypes.DWORD)]

    for _dll, _name, _restype, _argtypes in (
            (_user32, "IsIconic", wintypes.BOOL, (wintypes.HWND,)),
            (_user32, "ShowWindow", wintypes.BOOL, (wintypes.HWND, ctypes.c_int)),
            (_user32, "SetWindowPos", wintypes.BOOL, (wintypes.HWND, wintypes.HWND, ctypes.c_int, ctypes.c_int,
                                                      ctypes.c_int, ctypes.c_int, wintypes.UINT)),
            (_user32, "GetForegroundWindow", wintypes.HWND, ()),
            (_user32, "SetForegroundWindow", wintypes.BOOL, (wintypes.HWND,)),
            (_user32, "AllowSetForegroundWindow", wintypes.BOOL, (wintypes.DWORD,)),
            (_user32, "FlashWindowEx", wintypes.BOOL, (ctypes.POINTER(_FLASHWINFO),)),
            (_user32, "GetWindowRect", wintypes.BOOL, (wintypes.HWND, ctypes.POINTER(wintypes.RECT))),
            (_user32, "MonitorFromWindow", wintypes.HMONITOR, (wintypes.HWND, wintypes.DWORD)),
            (_user32, "GetMonitorInfoW", wintypes.BOOL, (wintypes.HMONITOR, ctypes.POINTER(_MONITORINFO))),
            (_user32, "SystemParametersInfoW", wintypes.BOOL, (wintypes.UINT, wintypes.UINT, wintypes.LPVOID,
                                                               wintypes.UINT)),
            (_kernel32, "CreateMutexW", wintypes.HANDLE, (wintypes.LPVOID, wintypes.BOOL, wintypes.LPCWSTR)),
            (_kernel32, "GetDriveTypeW", wintypes.UINT, (wintypes.LPCWSTR,)),
            (_kernel32, "SetFileAttributesW", wintypes.BOOL, (wintypes.LPCWSTR, wintypes.DWORD))):
        getattr(_dll, _name).restype, getattr(_dll, _name).argtypes = _restype, _argtypes
    del _dll, _name, _restype, _argtypes

    HWND_TOPMOST = wintypes.HWND(-1)                      # (HWND)-1, all 64 bits set
    SW_SHOWNOACTIVATE, SW_RESTORE = 4, 9
    SWP_NOSIZE, SWP_NOMOVE, SWP_NOACTIVATE = 0x1, 0x2, 0x10
    FLASHW_TRAY = 0x2
    MONITOR_DEFAULTTONEAREST, SPI_GETWORKAREA = 2, 0x30
    ASFW_ANY = 0xFFFFFFFF
    FILE_ATTRIBUTE_HIDDEN, FILE_ATTRIBUTE_NORMAL = 0x2, 0x80
    WINDOWS_ERRORS = (OSError, ValueError, ctypes.ArgumentError)

    def _hwnd(widget) -> int:
        return parse_hwnd(widget.winfo_toplevel().wm_frame())

    def _rect(rect) -> Rect:
        return Rect(rect.left, rect.top, rect.right, rect.bottom)

    def enable_hidpi() -> bool:
        """Sharp text on scaled displays; must run before Tk starts (the same call as IDLE)."""
        try:
            ctypes.OleDLL("shcore").SetProcessDpiAwareness(1)       # PROCESS_SYSTEM_DPI_AWARE
            return True
        except (AttributeError, OSError):
            return False

    def show_without_focus(root) -> bool:
        """Restore (only if minimised: a maximised window stays so) and raise the window without
        activating it. Tk's deiconify would take the keyboard from the program in use, so the
        fallback is -topmost and lift, which Tk does with SWP_NOACTIVATE. Always True."""
        try:
            hwnd = _hwnd(root)
            if _user32.IsIconic(hwnd):
                _user32.ShowWindow(hwnd, SW_SHOWNOACTIVATE)
            if not _user32.SetWindowPos(hwnd, HWND_TOPMOST, 0, 0, 0, 0, SWP_NOSIZE | SWP_NOMOVE | SWP_NOACTIVATE):
                raise ctypes.WinError(ctypes.get_last_error())
        except WINDOWS_ERRORS:
            log.exception("窓を前に出せませんでした（Tk の -topmost で出します）")
            root.attributes("-topmost", True)
            root.lift()
        return True

    def flash_taskbar(root) -> bool:
        """Flash the taskbar button when the window is not the active one: another topmost
        window (a POS, a video call) may cover the popup. The button stays lit until clicked."""
        try:
            hwnd = _hwnd(root)
            if _user32.GetForegroundWindow() == hwnd:
                return False
            info = _FLASHWINFO(ctypes.sizeof(_FLASHWINFO), hwnd, FLASHW_TRAY, 3, 0)
            _user32.FlashWindowEx(ctypes.byref(info))
            return True
        except WINDOWS_ERRORS:
            log.exception("タスクバーを点滅できませんでした")
            return False

    def take_foreground(root) -> bool:
        """An explicit second start (never a call): bring the window up with the keyboard. The
        second process allowed it with allow_foreground() before asking."""
        try:
            hwnd = _hwnd(root)
            if _user32.IsIconic(hwnd):
                _user32.ShowWindow(hwnd, SW_RESTORE)
            return bool(_user32.SetForegroundWindow(hwnd))
        except WINDOWS_ERRORS:
            log.exception("窓を前に出せませんでした")
            return False

    def allow_foreground():
        """The second start, which the user just launched, lets the first cti take the foreground."""
        _user32.AllowSetForegroundWindow(ASFW_ANY)

    def work_area(widget) -> Rect:
        """The work area (monitor less taskbar) of the monitor the window is on, in physical pixels."""
        try:
            info = _MONITORINFO(cbSize=ctypes.sizeof(_MONITORINFO))
            monitor = _user32.MonitorFromWindow(_hwnd(widget), MONITOR_DEFAULTTONEAREST)
            if monitor and _user32.GetMonitorInfoW(monitor, ctypes.byref(info)):
                return _rect(info.rcWork)
            rect = wintypes.RECT()
            if _user32.SystemParametersInfoW(SPI_GETWORKAREA, 0, ctypes.byref(rect), 0):
                return _rect(rect)                        # the primary monitor's
        except WINDOWS_ERRORS:
            log.exception("作業領域を取得できませんでした")
        return Rect(0, 0, widget.winfo_screenwidth(), widget.winfo_screenheight())

    def frame_rect(widget) -> Rect | None:
        """The outer frame of a mapped toplevel (GetWindowRect: title bar and borders included)."""
        rect = wintypes.RECT()
        try:
            if _user32.GetWindowRect(_hwnd(widget), ctypes.byref(rect)):
                return _rect(rect)
        except WINDOWS_ERRORS:
            log.exception("窓の枠を測れませんでした")
        return None

    def create_mutex(name: str) -> tuple[int | None, int]:
        """(handle, GetLastError()) of CreateMutexW; see already_running()."""
        return _kernel32.CreateMutexW(None, False, name), ctypes.get_last_error()

    def instance_lock(name: str, lock_path: Path) -> tuple[bool, object]:
        """(whether this is the only cti, what to hold while it runs): a named mutex (the OS frees it)."""
        handle, error = create_mutex(name)
        return not already_running(handle, error), handle

    def drive_type(path) -> int:
        """GetDriveTypeW of the drive (or \\\\server\\share\\) the path is on."""
        drive = ntpath.splitdrive(str(path))[0]
        return _kernel32.GetDriveTypeW(drive + "\\") if drive else DRIVE_UNKNOWN

    def hide_file(path, hidden=True) -> bool:
        """Hide (or show again) a file: a leading dot does not hide a file on Windows."""
        return bool(_kernel32.SetFileAttributesW(str(path), FILE_ATTRIBUTE_HIDDEN if hidden else FILE_ATTRIBUTE_NORMAL))

else:
    def enable_hidpi() -> bool:
        return False

    @contextlib.contextmanager
    def _x_window(widget):
        """(display, Tk's wrapper window of widget's toplevel) on a connection of our own; the
        wrapper is None before the first map. python-xlib comes with pystray's X backend."""
        import Xlib.display
        display = Xlib.display.Display(widget.winfo_screen())
        try:
            tree = display.create_resource_object("window", widget.winfo_toplevel().winfo_id()).query_tree()
            yield display, (tree.parent if tree.parent != tree.root else None)
        finally:
            display.close()

    def show_without_focus(root) -> bool:
        """Map and raise the window, leaving the keyboard where it is. A window manager focuses a
        window it maps (Openbox did: her keys went into cti) unless its _NET_WM_USER_TIME is 0,
        which EWMH defines as "do not focus me on map"; it goes on Tk's wrapper, which carries the
        WM properties. Once the window is up, -topmost and lift only restack it. Always True."""
        try:
            import Xlib.Xatom
            with _x_window(root) as (display, wrapper):
                if wrapper is not None:
                    wrapper.change_property(display.intern_atom("_NET_WM_USER_TIME"), Xlib.Xatom.CARDINAL, 32, [0])
                    display.sync()
        except Exception:                               # python-xlib missing, or the display refused
            log.warning("窓にフォーカスを渡さない印を付けられませんでした", exc_info=True)
        root.deiconify()
        root.lift()
        root.attributes("-topmost", True)
        return True

    def flash_taskbar(root) -> bool:
        return False

    def take_foreground(root) -> bool:
        return False

    def allow_foreground():
        pass

    def work_area(widget) -> Rect:
        """The work area the window manager publishes (_NET_WORKAREA: the screen less its panels);
        the whole screen without one (bare Xvfb)."""
        try:
            with _x_window(widget) as (display, wrapper):
                value = display.screen().root.get_full_property(display.intern_atom("_NET_WORKAREA"), 0)
                if value and len(value.value) >= 4:
                    x, y, width, height = value.value[:4]
                    return Rect(x, y, x + width, y + height)
        except Exception:
            log.warning("作業領域を取得できませんでした", exc_info=True)
        return Rect(0, 0, widget.winfo_screenwidth(), widget.winfo_screenheight())

    def frame_rect(widget) -> Rect | None:
        """The outer frame the window manager drew (title bar and borders): the ancestor of Tk's
        wrapper that is a child of the root window. None before the first map."""
        try:
            with _x_window(widget) as (display, wrapper):
                window = wrapper
                while window is not None:
                    tree = window.query_tree()
                    if tree.parent == tree.root:
                        g = window.get_geometry()
                        return Rect(g.x, g.y, g.x + g.width + 2 * g.border_width, g.y + g.height + 2 * g.border_width)
                    window = tree.parent
        except Exception:
            log.warning("窓の枠を測れませんでした", exc_info=True)
        return None

    def drive_type(path) -> int:
        return DRIVE_UNKNOWN

    def instance_lock(name: str, lock_path: Path) -> tuple[bool, object]:
        """(whether this is the only cti, what to hold while it runs): an flock on lock_path."""
        import fcntl
        handle = open(lock_path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False, None
        return True, handle

    def hide_file(path, hidden=True) -> bool:
        return False


_x_error_handlers = []                  # kept alive as long as Xlib may call them


def survive_windows_destroyed_by_others() -> bool:
    """X11: outlive a window destroyed by another program (xdotool windowclose, xkill -id).

    Tk then runs into BadWindow on its dead window and passes it to Xlib's default handler, which
    exits the process: caller ID would be off. Ignore BadWindow / BadDrawable (Tk's own handler gets
    every other error); run_window builds the window again. Windows has no such path: False.
    """
    if WINDOWS:
        return False
    import ctypes
    import ctypes.util
    library = ctypes.util.find_library("X11")
    if not library:
        return False

    class XErrorEvent(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("display", ctypes.c_void_p), ("resourceid", ctypes.c_ulong),
                    ("serial", ctypes.c_ulong), ("error_code", ctypes.c_ubyte), ("request_code", ctypes.c_ubyte),
                    ("minor_code", ctypes.c_ubyte)]
    handler_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(XErrorEvent))
    x11 = ctypes.CDLL(library)
    x11.XSetErrorHandler.restype, x11.XSetErrorHandler.argtypes = ctypes.c_void_p, (ctypes.c_void_p,)

    def on_error(display, event):
        if event.contents.error_code in (3, 9):         # BadWindow, BadDrawable: a window already gone
            return 0
        return previous(display, event)
    _x_error_handlers.append(handler_type(on_error))
    # Before Tk starts, Tk's own handler keeps this one as its fallback; after, this one falls back to Tk's.
    address = x11.XSetErrorHandler(ctypes.cast(_x_error_handlers[-1], ctypes.c_void_p))
    previous = handler_type(address) if address else (lambda display, event: 0)
    return True


def x_tray_host() -> bool:
    """Is there a notification area (a _NET_SYSTEM_TRAY selection owner) on this X display?"""
    import Xlib.display
    import Xlib.X
    display = Xlib.display.Display()
    try:
        atom = display.intern_atom(f"_NET_SYSTEM_TRAY_S{display.get_default_screen()}")
        return display.get_selection_owner(atom) != Xlib.X.NONE
    finally:
        display.close()


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None (another C library)."""
    import ctypes
    import ctypes.util
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def release_freed_memory():
    """Give back to the system what a parse freed: glibc keeps freed blocks for reuse (a re-read's
    40 MB at 100,000 members would stay in the process's size for good); Windows' heap gives back
    large blocks itself."""
    if not WINDOWS and _malloc_trim():
        _malloc_trim()(0)


def sqlite_journal_mode(path) -> str:
    """WAL for a local cti.db; on a share the rollback journal. WAL keeps its index in shared
    memory, which only processes on one computer can share (sqlite.org/wal.html); the rollback
    journal needs only the file locks SMB provides."""
    return "DELETE" if on_network(str(path), drive_type(path)) else "WAL"


###############################################################################
# Helpers used by both stores #################################################
###############################################################################
# Text decoding, CSV records, Excel-safe cells and the atomic write, for members.csv,
# cti.ini, visit imports and history exports alike.

EXCEL_FORMULA = re.compile(r"[=@\t\r]|[+-].*[A-Za-z]|[+-][\d.()]+[-+*/^][\d.()+\-*/^]*$")   # -2+3 too
REPLACE_RETRIES = (0.05, 0.1, 0.2, 0.4)          # Windows: antivirus and indexers hold files briefly
ENCODING_NAMES = {"cp932": "Excel の CSV（Shift_JIS）"}


def utf16_encoding(raw: bytes) -> str | None:
    """The UTF-16 codec for bytes Notepad saved as "UTF-16 LE/BE" (a BOM, or NULs in ASCII text), else None."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"                              # the BOM picks the byte order and is dropped
    if b"\x00" not in raw:
        return None
    return "utf-16-le" if raw[1::2].count(0) >= raw[0::2].count(0) else "utf-16-be"


def decode_file_text(raw: bytes, path, error=ConfigError, utf16=False) -> tuple[str, str]:
    """(text, encoding) of UTF-8 (with or without BOM) or CP932 bytes, never guessing silently.

    utf16: also UTF-16 (cti.ini from Notepad; CP932 would "succeed" on it and give junk).
    """
    candidates = ("utf-8-sig", "cp932")
    if utf16 and utf16_encoding(raw):
        candidates = (utf16_encoding(raw),)
    for encoding in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8"
        return text, encoding
    hint = "Excel で「CSV UTF-8」として" if Path(path).suffix.lower() == ".csv" else "メモ帳で UTF-8 として"
    raise error(f"{Path(path).name}: UTF-8 でも CP932（Shift_JIS）でも読めません。{hint}保存し直してください")


@contextlib.contextmanager
def collector_paused():
    """The garbage collector off while a parse makes objects by the hundred thousand (it would scan
    every new one again and again: 40 % of a load)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def read_text_any(path: Path, error=ConfigError, utf16=False) -> tuple[str, str]:
    """Return (text, encoding) of a UTF-8 (with or without BOM) or CP932 file, never guessing silently."""
    return decode_file_text(Path(path).read_bytes(), path, error, utf16)


def unstorable(text: str, encoding: str) -> str | None:
    """The first character of text that a file in this encoding cannot hold, or None."""
    try:
        text.encode(encoding)
        return None
    except UnicodeEncodeError as e:
        return e.object[e.start:e.end]


def unstorable_text(char: str, encoding: str) -> str:
    return f"{char} は {ENCODING_NAMES.get(encoding, encoding + ' ')}に保存できません"


LINE_END = re.compile(r"\r\n|\n|\r")           # where StringIO(newline="") and csv split lines
LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+")     # one line with its end (not str.splitlines: csv
                                                            # never ends a line at \x1c, \x85 or \u2028)
LINES_AT_ONCE = 1 << 16                                     # characters of text cut into lines at a time


CELL_LIMIT = 1 << 26        # characters a CSV cell may hold (csv's own limit is 131,072: a pasted e-mail passes it)
QUOTE_OR_LINE_END = re.compile(r'"|\r\n|\n|\r')


def split_records(text: str):
    """Yield (cells, start, end, line) for each CSV record, with its span in text and its first line;
    cells is None for a record with a cell longer than CELL_LIMIT (the reader goes on after it).

    Spans let a rewrite copy every row it did not change byte for byte. csv is given the text's
    lines, cut a slice of text at a time (csv and itertools take them in C: no Python call a
    line; no StringIO of the whole text, which holds 4 bytes a character), and a record ends
    where the lines it took end.
    """
    csv.field_size_limit(CELL_LIMIT)
    at, first_line = 0, 1
    while at < len(text) or not at:
        ends = array.array("q")             # ends[i]: where line i + 1 (from at) ends in text

        def slices(at=at):
            while at < len(text):
                cut = text.find("\n", at + LINES_AT_ONCE) + 1 or len(text)   # after a "\n": never inside "\r\n"
                lines = LINE.findall(text, at, cut)
                ends.extend(itertools.accumulate(map(len, lines), initial=at))
                ends.pop(len(ends) - len(lines) - 1)        # the slice's start, already there (or at)
                at = cut
                yield lines

        reader = csv.reader(itertools.chain.from_iterable(slices()))
        start, line = at, first_line
        try:
            for cells in reader:
                end = ends[reader.line_num - 1]
                yield cells, start, end, line
                start, line = end, first_line + reader.line_num
            return
        except csv.Error as e:
            if "field larger than field limit" not in str(e):
                raise
        at = record_end(text, start)
        yield None, start, at, line
        first_line = line + len(LINE_END.findall(text, start, at))


def record_end(text: str, start: int) -> int:
    """Where the CSV record from start ends (after its line end), quotes followed as csv follows them."""
    quoted = False
    for m in QUOTE_OR_LINE_END.finditer(text, start):
        if m[0] == '"':
            quoted = not quoted
        elif not quoted:
            return m.end()
    return len(text)


def excel_safe(cell: str) -> str:
    """A cell Excel will not run as a formula (=HYPERLINK(…) and friends get a leading ')."""
    return "'" + cell if EXCEL_FORMULA.match(cell) else cell


def csv_rows_text(rows, newline="\r\n") -> str:
    """Rows as CSV text Excel reads back as written (formulas defused), with this line ending."""
    out = io.StringIO()
    csv.writer(out, lineterminator=newline).writerows([[excel_safe(c) for c in cells] for cells in rows])
    return out.getvalue()


class FileChanged(OSError):
    """atomic_write's target is no longer the file the new text was made from."""


def atomic_write(path: Path, data: bytes, unchanged=None) -> os.stat_result:
    """Write a temp file in the same folder, fsync, os.replace; a held target is retried briefly.

    A kill at any moment leaves the old file or the new one, never a truncated one; a failure
    leaves no temp file behind. Returns the new file's stat (taken before the replace, so that
    it is ours even if another program replaces the file right after). Raises the OSError, or
    FileChanged when unchanged() (asked just before each replace) says another program replaced
    the target meanwhile: the writing takes milliseconds, the check and the replace microseconds.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            hide_file(tmp)                      # (Platform section) a temp left by a kill stays out of sight
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            stat = os.fstat(f.fileno())
        hide_file(tmp, hidden=False)            # the replaced file keeps these attributes
        for delay in REPLACE_RETRIES + (None,):
            if unchanged and not unchanged():
                raise FileChanged(f"{path.name} was replaced meanwhile")
            try:
                os.replace(tmp, path)
                return stat
            except OSError as e:
                e.replacing = True              # access denied here is a program holding the file (file_cause)
                if delay is None or file_cause(e, replacing=True) != "held":
                    raise
                time.sleep(delay)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise


def read_csv_rows(path: Path, error=CtiError) -> tuple[list[str], list[tuple[int, list[str] | None]]]:
    """(header, [(line, cells)]) of a CSV in UTF-8 or CP932, for imports; cells None for a row with a cell
    longer than CELL_LIMIT. error (a CtiError class) when the file cannot be used at all."""
    try:
        text, _ = read_text_any(path, error)
    except OSError as e:
        raise file_problem(e, path, reading=True) from None
    rows = [(line, cells) for cells, _, _, line in split_records(text)]
    if not rows or rows[0][1] is None:
        raise error(f"{Path(path).name}: {'空のファイルです' if not rows else '1行目: セルが長すぎます'}")
    return rows[0][1], rows[1:]


###############################################################################
# Config ######################################################################
###############################################################################

def app_dir() -> Path:
    """The folder holding cti.ini and the data: next to cti.exe when frozen, else next to cti.py."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return Path(__file__).resolve().parent


PROTOCOL_NAMES = ("auto", "nd", "aloha", "modem", "whozz", "ncid")
CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")
CORNER_WORDS = {"右下": "bottom-right", "左下": "bottom-left", "右上": "top-right", "左上": "top-left"}
YES = {"yes": True, "true": True, "on": True, "1": True, "はい": True,
       "no": False, "false": False, "off": False, "0": False, "いいえ": False}


@dataclass
class Config:
    """Typed settings from cti.ini; paths are absolute."""
    port: str = "auto"
    protocol: str = "auto"
    baudrate: int = 9600
    init: tuple = ("ATZ", "AT+VCID=1")
    debug: bool = False
    members: Path = Path("members.csv")
    database: Path = Path("cti.db")
    log: Path = Path("cti.log")
    max_entries: int = 100
    max_days: int = 7
    corner: str = "bottom-right"
    topmost: bool = True
    menus: tuple = ()                 # ((name, minutes or None), ...): DEFAULT_MENUS unless cti.ini says
    slot: int = 60                    # minutes of a booking whose menu has none
    staff: tuple = ()                 # stylists; empty: the 主担当 names in members.csv
    handoff_label: str = "カルテを開く"
    handoff_url: str = ""             # a URL template ({number} ... URL-encoded), "" for none
    handoff_program: Path | None = None
    handoff_arguments: tuple = ()     # the program's arguments, each a template
    handoff_key: str = "F11"
    handoff_auto: bool = False        # run it by itself on every call from a member
    path: Path | None = None          # the ini it came from, None for defaults

    @property
    def handoff(self) -> bool:
        return bool(self.handoff_url or self.handoff_program)

    def __post_init__(self):
        self.menus = self.menus or menus_value(DEFAULT_MENUS)


DEFAULT_INI = """\
; cti.ini: 着信表示（CTI）の設定。メモ帳で編集し、保存してから cti を起動し直してください。
; ; から行末まではコメントです。

[device]
; 着信表示装置のつなぎ先。COM3 のように COM 番号を書きます（デバイス マネージャーの「ポート (COM と LPT)」で確認）。
; auto = USB の着信表示装置を探す（Bluetooth は除く。応答した装置を使う） / socket://192.168.1.20:3333 = NCID サーバ（複数の受付 PC で共有）
; udp://:3520 = CallerID.com のイーサネット機（ネットワークで待ち受けます）
; sip://3:パスワード@192.168.1.1 = ひかり電話のホームゲートウェイに内線 3 として登録し、アダプタなしで着信番号を受け取る
;   （パスワードの記号 @ : % は %40 %3A %25 と書きます。protocol は見ません。README の「ひかり電話」を参照）
port = auto
; 装置の形式: auto | nd（ナンバー・ディスプレイ生データ）| aloha（アロハUSB など ND アダプタ）
;             | modem（モデム NMBR=）| whozz（CallerID.com）| ncid（NCID サーバ）
protocol = auto
; 通信速度（bps）。アロハUSB は 9600 固定です
baudrate = 9600
; モデムだけ: 接続後に送るコマンド。| で区切ります
init = ATZ|AT+VCID=1
; yes にすると、装置から届いたデータと番号を cti.log に記録します（不具合を調べるときだけ）
debug = no

[files]
; 会員台帳（Excel で編集する CSV）。このファイルからの相対パスでも、フルパスでも書けます
; （エクスプローラーの「パスのコピー」で付く " " はそのままで構いません。%USERPROFILE% なども使えます）
members = members.csv
; 着信履歴・予約・来店履歴のデータベース
database = cti.db
; 動作記録（名前は記録しません）
log = cti.log

[history]
; 着信履歴に残す件数と日数。どちらかを超えた古いものから消えます
max_entries = 100
max_days = 7

[window]
; 画面のどの隅に出すか: bottom-right | bottom-left | top-right | top-left（右下・左下・右上・左上 でも可）
corner = bottom-right
; yes: 他のウィンドウより常に手前に表示
topmost = yes

[booking]
; 予約のメニュー。| で区切ります。名前の後に空白と所要時間（分）を書くと、
; 同じ担当者の予約が重なったときに、その長さで知らせます
menus = カット 60|カラー 90|パーマ 120|トリートメント 30|ヘッドスパ 45|縮毛矯正 180|カット＋カラー 120|着付け 60|セット 45
; 所要時間を書いていないメニューの予約の長さ（分）
slot = 60
; 担当者（スタイリスト）の名前。| で区切ります。空なら members.csv の 主担当 の名前を使います
staff =

[handoff]
; 着信した方を、お店の予約台帳・カルテ・POS に渡すボタン（使わないなら url も program も空のまま）。
; {number} 電話番号（数字だけ） {number_hyphen} 0596-31-0005 の形 {member_no} 会員番号 {name} 名前
; ボタンの文字
label = カルテを開く
; 開く URL（例 https://example.jp/customers?tel={number}）。値は URL 用に変換されます
url =
; 起動するプログラム（例 "C:\\Program Files\\POS\\pos.exe"）と、その引数（例 /tel {number} "/name={name}"）
program =
arguments =
; ボタンのキー（F10〜F12）
key = F11
; yes: 会員からの着信のたびに自動で渡す
auto = no
"""
DEFAULT_MENUS = re.search(r"^menus = (.*)$", DEFAULT_INI, re.MULTILINE)[1]


def keyword(value: str) -> str:
    """A keyword, number or port name as the IME may type it: ＣＯＭ３, ａｕｔｏ, "９６００" -> COM3, auto, 9600."""
    return unquote(unicodedata.normalize("NFKC", value))


def unquote(value: str) -> str:
    """Without the quotes Explorer's パスのコピー (Ctrl+Shift+C) puts around a path."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value


PERCENT_VAR = re.compile(r"%([^%\s]+)%")
DOLLAR_VAR = re.compile(r"\$\{?\w+")


def expand_percent_vars(text: str, env) -> str:
    """%USERPROFILE%\\cti as cmd.exe expands it: names in any case; an unknown name stays as written."""
    values = {name.upper(): value for name, value in env.items()}
    return PERCENT_VAR.sub(lambda m: values.get(m[1].upper(), m[0]), text)


def path_value(value: str, env=os.environ, windows=WINDOWS) -> Path:
    """A path from cti.ini: unquoted and with its environment variables, but not NFKC
    (a file name may hold full-width characters on purpose). An unknown variable is a ValueError."""
    value = unquote(value)
    value = expand_percent_vars(value, env) if windows else os.path.expandvars(value)
    if (PERCENT_VAR if windows else DOLLAR_VAR).search(value) or not value:
        raise ValueError(value)
    return Path(value)


SIP_DEFAULT_PORT = 5060


def uri_host(host: str) -> str:
    """A host as a URI writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class SipTarget:
    """A sip:// port: the extension's user and password, the registrar, and an optional local port."""
    user: str
    password: str = dataclasses.field(repr=False)
    host: str
    port: int = SIP_DEFAULT_PORT
    local_port: int = 0

    @property
    def shown(self) -> str:
        """The URL without its password: what logs, messages and the status line may show."""
        return f"sip://{self.user}@{uri_host(self.host)}" + (f":{self.port}" if self.port != SIP_DEFAULT_PORT else "")


def is_sip_url(url: str) -> bool:
    return url[:6].lower() == "sip://"


def parse_sip_url(url: str) -> SipTarget:
    """sip://USER:PASSWORD@HOST[:PORT][?local_port=N]; the password may be percent-encoded.
    A ValueError's text never holds the password."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or SIP_DEFAULT_PORT
        query = urllib.parse.parse_qs(parts.query, strict_parsing=bool(parts.query))
    except ValueError:
        raise ValueError("sip:// の書き方が正しくありません（例 sip://3:パスワード@192.168.1.1）") from None
    if parts.scheme.lower() != "sip" or not parts.username or parts.password is None or not parts.hostname:
        raise ValueError("sip:// には内線のユーザID・パスワード・ホームゲートウェイの住所を書いてください"
                         "（例 sip://3:パスワード@192.168.1.1）")
    unknown = set(query) - {"local_port"}
    if unknown or parts.path not in ("", "/"):
        raise ValueError(f"sip:// の {'・'.join(sorted(unknown)) or parts.path} は知らない指定です"
                         "（使えるのは ?local_port= だけです）")
    local = query.get("local_port", ["0"])[-1]
    if not local.isdigit() or int(local) > 65535:
        raise ValueError("local_port には 1〜65535 の番号を書いてください")
    return SipTarget(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password),
                     parts.hostname, port, int(local))


def shown_port(url: str) -> str:
    """A port as it may be shown: a sip:// URL without its password (even one that does not parse)."""
    if not is_sip_url(url):
        return url
    try:
        return parse_sip_url(url).shown
    except ValueError:
        return re.sub(r"(?i)^(sip://[^:@/]*):[^@]*@", r"\1:***@", url)


def sip_port_value(value: str) -> str:
    """A sip:// port as the IME may type it: all but the password read as keyword() reads it
    (the password is as written: ＡＢＣ is not ABC); checked by parse_sip_url."""
    head, at, host = value.rpartition("@")
    colon = re.search("[:：]", head[6:])
    if at and colon:
        user, password = head[6:6 + colon.start()], head[6 + colon.end():]
        url = f"sip://{keyword(user)}:{password}@{keyword(host)}"
    else:
        url = keyword(value)
    parse_sip_url(url)
    return url


def port_value(value: str) -> str:
    value = unquote(value)
    if is_sip_url(keyword(value)):
        return sip_port_value(value)
    value = keyword(value)
    return value.upper() if re.fullmatch(r"com\d+", value, re.IGNORECASE) else value


class OutOfRange(ValueError):
    """A number that is a number, but outside what the setting allows (said as such, not as "not a number")."""


def _parse_int(text, low, high):
    value = int(keyword(text))
    if not low <= value <= high:
        raise OutOfRange(f"{value} は {low}〜{high} の範囲外です")
    return value


def _choice(value, allowed, words=None):
    value = keyword(value)
    value = (words or {}).get(value, value.lower())
    if value not in allowed:
        raise ValueError
    return value


def _yes(value):
    return YES[keyword(value).lower()]


def menus_value(value: str) -> tuple:
    """'カット 60|カラー 90|セット' -> (('カット', 60), ('カラー', 90), ('セット', None)).

    Not NFKC: a menu is shown as written (カット＋カラー keeps its ＋); minutes may be typed full-width.
    """
    menus = []
    for item in unquote(value).split("|"):
        m = re.fullmatch(r"(.*?\S)(?:[ \u3000]+(\d+)\s*分?)?", item.strip())
        if not m:
            continue
        minutes = int(m[2]) if m[2] else None
        if minutes is not None and not 5 <= minutes <= 720:
            raise ValueError
        menus.append((m[1], minutes))
    if not menus:
        raise ValueError
    return tuple(menus)


def names_value(value: str) -> tuple:
    return tuple(name.strip() for name in unquote(value).split("|") if name.strip())


PATH_HINT = "環境変数（%USERPROFILE% など）が見つからないか、パスが空です"

# [section] key -> (Config field, parser, message when the value is bad). A new key is one line here
# and a field in Config.
HANDOFF_FIELDS = ("number", "number_hyphen", "member_no", "name")
HANDOFF_KEYS = ("F10", "F11", "F12")


def template_value(text: str) -> str:
    """A hand-off template: only {number} {number_hyphen} {member_no} {name}, braces balanced."""
    try:
        fields = [(field, spec, conversion) for _, field, spec, conversion in string.Formatter().parse(text)
                  if field is not None]
    except ValueError:
        raise ValueError("{ と } の対が合っていません（{number} のように書きます）") from None
    for field, spec, conversion in fields:
        if field not in HANDOFF_FIELDS or spec or conversion:
            raise ValueError(f"{{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} は"
                             f"使えません（使えるのは {' '.join('{' + f + '}' for f in HANDOFF_FIELDS)}）")
    return text


def handoff_url_value(value: str) -> str:
    url = template_value(unquote(value))
    if url and not re.match(r"https?://[^/{}]", url, re.IGNORECASE):
        raise ValueError("http:// か https:// で始まる URL を書いてください")
    return url


def arguments_value(value: str) -> tuple:
    """Arguments as a command line writes them, "quoted" where they hold spaces; backslashes kept
    (Windows paths); each a template. Never given to a shell."""
    lexer = shlex.shlex(value, posix=True)
    lexer.whitespace_split, lexer.escape, lexer.commenters = True, "", ""
    try:
        return tuple(template_value(argument) for argument in lexer)
    except ValueError as e:
        raise ValueError(str(e) if "{" in str(e) else "\" の対が合っていません") from None


CONFIG_KEYS = {
    ("device", "port"): ("port", port_value, ""),
    ("device", "protocol"): ("protocol", lambda v: _choice(v, PROTOCOL_NAMES),
                             " | ".join(PROTOCOL_NAMES) + " のどれかを指定してください"),
    ("device", "baudrate"): ("baudrate", lambda v: _parse_int(v, 300, 921600), "通信速度（例 9600）を 300〜921600 の整数で指定してください"),
    ("device", "init"): ("init", lambda v: tuple(c.strip() for c in keyword(v).split("|") if c.strip()), ""),
    ("device", "debug"): ("debug", _yes, "yes か no を指定してください"),
    ("files", "members"): ("members", path_value, PATH_HINT),
    ("files", "database"): ("database", path_value, PATH_HINT),
    ("files", "log"): ("log", path_value, PATH_HINT),
    ("history", "max_entries"): ("max_entries", lambda v: _parse_int(v, 1, 100000), "1〜100000 の整数を指定してください"),
    ("history", "max_days"): ("max_days", lambda v: _parse_int(v, 1, 3650), "1〜3650 の整数を指定してください"),
    ("window", "corner"): ("corner", lambda v: _choice(v, CORNERS, CORNER_WORDS),
                           " | ".join(CORNERS) + "（または 右下・左下・右上・左上）のどれかを指定してください"),
    ("window", "topmost"): ("topmost", _yes, "yes か no を指定してください"),
    ("booking", "menus"): ("menus", menus_value, "メニューを | で区切って書いてください（例 カット 60|カラー 90。"
                                                  "所要時間は 5〜720 分）"),
    ("booking", "slot"): ("slot", lambda v: _parse_int(v, 5, 720), "予約の長さ（分）を 5〜720 の整数で指定してください"),
    ("booking", "staff"): ("staff", names_value, ""),
    ("handoff", "label"): ("handoff_label", lambda v: unquote(v) or Config.handoff_label, ""),
    ("handoff", "url"): ("handoff_url", handoff_url_value, ""),
    ("handoff", "program"): ("handoff_program", lambda v: path_value(v) if v.strip() else None, PATH_HINT),
    ("handoff", "arguments"): ("handoff_arguments", arguments_value, ""),
    ("handoff", "key"): ("handoff_key", lambda v: _choice(keyword(v).lower(), HANDOFF_KEYS, {k.lower(): k for k in HANDOFF_KEYS}),
                          " | ".join(HANDOFF_KEYS) + " のどれかを指定してください"),
    ("handoff", "auto"): ("handoff_auto", _yes, "yes か no を指定してください"),
}


INI_COMMENTS = (";", "#", "；", "＃")
INI_KEY = re.compile(r"([^=:]+?)\s*[=:]")     # a "key = value" line, once NFKC made ＝ and ： plain


def ini_lines(text: str) -> tuple[str, list[str]]:
    """The text configparser should read, and a message per line it would misread.

    An indented line would silently become part of the value above (configparser's
    continuation lines): it is taken as a line of its own, and reported. A header typed with
    the IME on (［ｄｅｖｉｃｅ］) is read as [device].
    """
    lines, problems, sections, keys, section = [], [], {}, {}, ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(("［", "[")):
            line = unicodedata.normalize("NFKC", stripped)
            section = line.split("]")[0].strip("[ ").lower()
            if section in sections:         # configparser (strict=False) would merge the two silently
                problems.append(f"{number} 行目 [{section}]: {sections[section]} 行目にも同じ区分があります"
                                "（両方を読み、同じ設定は後の値を使いました。1 つにまとめてください）")
            sections.setdefault(section, number)
        elif line[:1].isspace() and stripped and not stripped.startswith(INI_COMMENTS):
            problems.append(f"{number} 行目「{stripped}」: 行頭の空白を取って読みました"
                            "（字下げした行は前の行の続きになります。行頭の空白を消してください）")
            line = stripped
        key = INI_KEY.match(unicodedata.normalize("NFKC", line))
        if key and not stripped.startswith(("［", "[") + INI_COMMENTS):
            # the same key twice: configparser (strict=False) would keep the later value without a word
            name = key.group(1).strip().lower()
            if (section, name) in keys:
                problems.append(f"{number} 行目 [{section}] {name}: {keys[section, name]} 行目にも同じ設定があります"
                                "（後の値を使いました。1 つにまとめてください）")
            keys.setdefault((section, name), number)
        lines.append(line)
    return "\n".join(lines) + "\n", problems


def ini_syntax_error(name: str, error: configparser.Error, lines: list[str]) -> str:
    """configparser's English, said in Japanese with the line (lines: the text it read)."""
    if isinstance(error, configparser.MissingSectionHeaderError):
        return (f"{name} の書式が正しくありません: {error.lineno} 行目「{error.line.strip()}」より前に "
                "[device] のような区分の見出しがありません。ファイルの先頭に見出しを書いてください")
    if isinstance(error, configparser.ParsingError):
        where = "、".join(f"{number} 行目「{lines[number - 1].strip()}」" for number, _ in error.errors[:3])
        return f"{name} の書式が正しくありません: {where}を読めません（キー = 値 の形で書いてください）"
    return f"{name} の書式が正しくありません: {error}"


def load_config(path: Path | None) -> tuple[Config, list[str]]:
    """Read cti.ini; return the config and one message per problem (bad values keep their default).

    Accepts what Notepad and the IME produce: UTF-8 with or without BOM, CP932, UTF-16;
    full-width keywords and numbers; quoted paths; %VARIABLES%. A missing file gives the
    defaults; an unreadable or unparsable one raises ConfigError.
    """
    config = Config()
    base = app_dir() if path is None else Path(path).resolve().parent
    problems = []
    if path is not None and Path(path).exists():
        config.path = Path(path).resolve()
        text, _ = read_text_any(path, utf16=True)
        text, problems = ini_lines(text)
        parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#", "；"),
                                           comment_prefixes=INI_COMMENTS, delimiters=("=", ":", "＝", "："),
                                           strict=False, default_section="\0none")
        parser.optionxform = lambda key: unicodedata.normalize("NFKC", key).strip().lower()
        try:
            parser.read_string(text, source=str(path))
        except configparser.Error as e:
            raise ConfigError(ini_syntax_error(Path(path).name, e, text.splitlines())) from None
        for section in parser.sections():
            for key, value in parser.items(section):
                spec = CONFIG_KEYS.get((section.lower(), key))
                if spec is None:
                    problems.append(f"[{section}] {key}: 知らない設定です（綴りを確認してください）")
                    continue
                field, parse, hint = spec
                try:
                    setattr(config, field, parse(value))
                except (ValueError, KeyError) as e:
                    shown = shown_port(keyword(value)) if field == "port" else value    # no sip:// password
                    problems.append(f"[{section}] {key} = {shown}: {f'範囲外です。{hint}' if isinstance(e, OutOfRange) else hint or e}")
    for field in ("members", "database", "log"):
        setattr(config, field, (base / getattr(config, field)).resolve())
    return config, problems


def data_folder_risks(config: Config, env=os.environ) -> list[str]:
    """folder_risks() of the program's folder and the data files' folders, each risk once."""
    risks = []
    for folder in (app_dir(), config.members.parent, config.database.parent):
        risks += [risk for risk in folder_risks(str(folder), env, drive_type(folder)) if risk not in risks]
    return risks


###############################################################################
# Phone numbers ###############################################################
###############################################################################

# One rule for phone numbers, used by members.csv, the dialogs, the search and the decoders alike:
# split_phones() reads a cell's numbers, normalize_phone() makes national digits of one,
# written_number() tells a text written as one number (a query, a device's number field) from a
# word, valid_phone() is what a member may be registered with.
NOT_DIGIT = re.compile(r"\D")
EXCEL_FLOAT = re.compile(r"\d+\.0")
HYPHENS = "\\-‐‒–—―−ー"                # every hyphen people and Excel write in a number (after NFKC)
# What a number is written with (after NFKC): digits, +, brackets, hyphens of every kind, dots.
PHONE_WORD = re.compile(rf"[+(]*\d[\d().{HYPHENS}]*")
# A gap that may sit inside one number (03 1234 5678, 03 - 1234, 03・1234); any other gap
# (; / | 、 , a line break, a label such as 携帯) always separates two numbers.
INNER_GAP = re.compile(rf"[\s.・{HYPHENS}]*")
ONE_NUMBER = re.compile(rf"[+\d\s().・{HYPHENS}]+")       # a text of nothing but what one number is written with
NATIONAL = re.compile(r"0\d{9,13}")      # a number a member can be registered with: national, 10 digits or more


def nfkc(text: str) -> str:
    """NFKC (full-width digits and punctuation to ASCII); plain ASCII, the usual cell, needs none."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def normalize_phone(text: str) -> str:
    """Digits of a Japanese number in national form ('0596310005'), repairing what Excel and people do to it.

    Full-width digits, hyphens of every kind, spaces and brackets go; +81/81 (with or without
    the (0) people write after it) becomes 0; the leading zero Excel drops (312345678) comes
    back. A foreign number (+1 212 …) keeps its digits as they are: never made Japanese.
    Returns '' when there are no digits.
    """
    text = nfkc(str(text)).strip()
    if EXCEL_FLOAT.fullmatch(text):            # Excel wrote the cell as a float
        text = text[:-2]
    digits = NOT_DIGIT.sub("", text)
    if text.startswith("+"):
        return "0" + digits[2:].lstrip("0") if digits.startswith("81") else digits
    national = digits[2:]
    if digits.startswith("81") and (len(national) in (9, 10) and not national.startswith("0")
                                    or len(national) in (10, 11) and national[:2] != "00" and national[0] == "0"):
        return "0" + national.lstrip("0")
    if digits and not digits.startswith("0") and len(digits) in (9, 10):
        return "0" + digits
    return digits


def written_as_one_number(text: str) -> bool:
    """The text holds nothing but what one number is written with (a name, PRIVATE, a word: not)."""
    return bool(ONE_NUMBER.fullmatch(nfkc(text).strip()))


def written_number(text: str) -> str:
    """The national digits of a text written as one number (a query being typed, a device's number
    field, a gateway's hand-typed test call), '' for any other text (a name, PRIVATE, a word)."""
    return normalize_phone(text) if written_as_one_number(text) else ""


def valid_phone(digits: str) -> bool:
    """National digits a member can be registered with (0 and 9 to 13 more digits)."""
    return bool(NATIONAL.fullmatch(digits))


def _whole_number(words: list) -> bool:
    """The words already make a complete number: a further word starts the next one."""
    if words[0].startswith("+") and not words[0].startswith("+81"):
        return False                    # foreign: only the length limit ends it
    # 10 national digits make a fixed line; nobody writes a mobile's 11 as 10 and 1
    return len(normalize_phone(" ".join(words))) >= 10


def _too_long(words: list) -> bool:
    digits = NOT_DIGIT.sub("", "".join(words))
    limit = 15 if words[0].startswith("+") else 13 if digits.startswith("81") else 11
    return len(digits) > limit


def split_phones(cell: str) -> list[str]:
    """The numbers in one member cell, as digits, without repeats.

    People separate numbers with spaces, ; / | 、 , ・ or line breaks, and also write one
    number with spaces (03 1234 5678): pieces parted by spaces, ・ or hyphens only are joined
    while they are not yet a whole number (10 national digits) nor would grow too long, so
    '03 1234 5678' is one number and '03-1234-5678 090-1111-2222' two.
    """
    if not cell:
        return []
    if cell.isascii():      # the usual cells, 0596-31-0005 or 090-1234-5678; 03-1234-5678: what the loop makes
        if ";" not in cell:
            number = cell.strip().replace("-", "")
            if number[:1] == "0" and number.isdigit():
                return [number]
        else:
            numbers = [part.strip().replace("-", "") for part in cell.split(";")]
            if all(n[:1] == "0" and n.isdigit() for n in numbers):
                return list(dict.fromkeys(numbers))
    text = nfkc(cell)
    groups, end = [], None
    for m in PHONE_WORD.finditer(text):
        word = m.group()
        group = groups[-1] if groups else None
        if (group is None or not INNER_GAP.fullmatch(text, end, m.start()) or word.startswith("+")
                or _whole_number(group) or _too_long(group + [word])):
            groups.append([word])
        else:
            group.append(word)
        end = m.end()
    numbers = []
    for group in groups:
        digits = normalize_phone(" ".join(group))
        if digits and digits not in numbers:
            numbers.append(digits)
    return numbers


# Where a number may be written in raw text (before NFKC), for a lookup that reads only the rows
# holding it: every character NFKC makes one ASCII digit of, the characters NFKC makes more than a
# digit of (⑩, ⒈, ㍘: any of them makes its row a candidate), and what split_phones lets stand
# between the digits of one number (gaps: spaces but line ends, brackets, dots, hyphens of every
# kind, and the characters NFKC makes those of). tests/test_scan.py checks these against every
# code point.
def digit_forms(digit: int) -> str:
    """The characters NFKC makes this ASCII digit of (itself included)."""
    return (str(digit) + "⁰¹²³⁴⁵⁶⁷⁸⁹"[digit] + "⓪①②③④⑤⑥⑦⑧⑨"[digit]
            + "".join(chr(zero + digit) for zero in (0xFF10, 0x2080, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC,
                                                     0x1D7F6, 0x1FBF0)))


MORE_THAN_A_DIGIT = ("\xbc-\xbe\u2150-\u215f\u2189\u2469-\u249b\u3251-\u325f\u32b1-\u32cb\u3358-\u3370"
                     "\u3378\u3379\u339f-\u33a6\u33a8\u33af\u33e0-\u33fe\U0001f100-\U0001f10a")
NUMBER_GAP = ("\t\x0b\x0c\x1c-\x1f \x85\u1680\u2028\u2029().・\\-‐‒–—―−ー"       # str.isspace() but \r \n, and the rest
              "\xa0\u2000-\u200a\u2011\u2024-\u2026\u202f\u205f\u207b\u207d\u207e\u208b\u208d\u208e\u3000"
              "\ufe19\ufe30-\ufe32\ufe35\ufe36\ufe52\ufe58-\ufe5a\ufe63\uff08\uff09\uff0d\uff0e\uff65\uff70")


MORE_THAN_A_DIGIT_CHARS = "".join(chr(code) for first, last in re.findall(
    "(.)(?:-(.))?", MORE_THAN_A_DIGIT) for code in range(ord(first), ord(last or first) + 1))


@functools.lru_cache(maxsize=64)
def written_tail(digits: str, first: str) -> re.Pattern:
    """The last four of these ASCII digits as a cell may write them, the first of them as first."""
    gap = f"[{NUMBER_GAP}]*"
    return re.compile(gap.join([re.escape(first)] + [f"[{digit_forms(int(d))}]" for d in digits[-3:]]))


def tail_positions(text: str, digits: str, encoding: str) -> list[int] | None:
    """Where text may hold a number ending in these ASCII digits, in any form split_phones reads (NFKC
    first, any gap it lets stand between digits): a superset, each a row to parse, not an answer.
    None when text holds a character NFKC makes more than a digit of (⑩, ⒈, ㍘): rows must all be read.

    A pass a form of the first of the last four digits that text holds: each begins with that one
    character, which re finds as fast as str.find (a class of them would be 10 times slower);
    only characters the file's encoding can hold are looked for.
    """
    def held(chars):
        return [c for c in chars if c.encode(encoding, "ignore").removeprefix(codecs.BOM_UTF8) and c in text]
    if held(MORE_THAN_A_DIGIT_CHARS):
        return None
    tail = digits[-4:]
    return sorted({m.start() for first in held(digit_forms(int(tail[0]))) for m in written_tail(tail, first).finditer(text)})


@functools.lru_cache(maxsize=4096)        # the history redraws its 100 rows on every call
def format_phone(digits: str) -> str:
    """Hyphenate national digits for display (0596-31-0005, 090-1234-5678, 0120-123-456).

    phonenumbers carries the area-code table (2 to 5 digit codes) that fixed lines need;
    what it does not know as a valid Japanese number is shown as it came.
    """
    if not digits or not digits.isdigit():
        return digits or ""
    try:
        parsed = phonenumbers.parse(digits, "JP")
    except phonenumbers.NumberParseException:
        return digits
    if not phonenumbers.is_valid_number(parsed):
        return digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


###############################################################################
# Caller-ID decoders ##########################################################
###############################################################################

REASONS = {"private": "非通知", "out_of_area": "表示圏外", "payphone": "公衆電話", "conflict": "サービス競合"}

# What devices print in place of a number; 'E' (the adapter's reception error) is not a call.
REASON_CODES = {"P": "private", "PRIVATE": "private", "ANONYMOUS": "private",
                "O": "out_of_area", "OUT-OF-AREA": "out_of_area", "NO-NUMBER": "out_of_area", "-": "out_of_area",
                "C": "payphone", "S": "conflict"}
NO_NAME = {"", "O", "P", "NO NAME", "-"}

STX, ETX, ACK, NAK, DLE, SOH = 0x02, 0x03, 0x06, 0x15, 0x10, 0x01


@dataclass(frozen=True)
class Call:
    """A call as a device reported it: digits or a reason, a name and time when the device gives them."""
    number: str | None
    reason: str | None = None
    name: str | None = None
    time: datetime | None = None        # the device's own clock, None when the format has none
    protocol: str = ""
    received: datetime | None = None    # stamped by the device reader on arrival
    key: str = ""                       # one call's events share it (a SIP call: its Call-ID, hashed)
    answered: bool | None = None        # how it ended, where the source knows (SIP's CANCEL): a Call with
                                        # it set reports the end of the call `key` already shown

    def to_json(self) -> str:
        return json.dumps({"number": self.number, "reason": self.reason, "name": self.name,
                           "time": self.time.strftime("%Y-%m-%dT%H:%M") if self.time else None},
                          ensure_ascii=False)


@dataclass(frozen=True)
class Garbled:
    """Bytes that could not be decoded, at a byte offset in the stream."""
    offset: int
    message: str


@dataclass(frozen=True)
class Reply:
    """Bytes the device expects back (the アロハ adapters' ACK/NAK; a SIP datagram, to its address)."""
    data: bytes
    to: tuple | None = None


def even_parity(byte: int) -> int:
    """The 7-bit value with b7 set so the count of 1-bits is even (7E1 on an 8N1 port)."""
    byte &= 0x7F
    return byte | 0x80 if bin(byte).count("1") % 2 else byte


def has_even_parity(byte: int) -> bool:
    return bin(byte).count("1") % 2 == 0


def crc16_kermit(data: bytes, crc: int = 0) -> int:
    """CRC-16/KERMIT (reflected 0x1021, init 0): NTT Number Display's frame check."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def device_datetime(month, day, hour, minute, now: datetime, year=None) -> datetime | None:
    """The device's date and time; without a year, the latest year that does not put it in the future."""
    years = [year] if year else [now.year - back for back in range(5)]
    for y in years:
        try:
            when = datetime(y, int(month), int(day), int(hour), int(minute))
        except ValueError:
            continue
        if year or when <= now + timedelta(days=1):   # a day's grace for a device clock running fast
            return when
    return None


def decode_text(raw: bytes) -> str:
    """Text of one device line: UTF-8, else CP932, else Latin-1 (it is a device line, never member data)."""
    for encoding in ("utf-8", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def number_or_reason(value: str) -> tuple[str | None, str | None]:
    """(digits, None) for a number, (None, reason) for a device's code; (None, None) when neither."""
    value = value.strip()
    reason = REASON_CODES.get(value.upper())
    if reason:
        return None, reason
    digits = written_number(value)           # a word (PRIVATE, a name) is no number
    return (digits, None) if digits else (None, None)


def caller_name(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value.upper() in NO_NAME else value


class Decoder:
    """Base of the decoders: bytes in through feed(), events (Call, Garbled, Reply) out.

    A call identical to the previous one (number or reason, and device time) within
    `repeat_window` seconds is the device repeating itself and is reported once.
    """
    name = ""

    def __init__(self, now=datetime.now, clock=time.monotonic, repeat_window=3.0):
        self.now, self.clock, self.repeat_window = now, clock, repeat_window
        self.offset = 0                 # bytes fed so far
        self._last_call = None          # (key, clock) of the last call reported

    def feed(self, data: bytes) -> list:
        """Decode a chunk (any size, any boundary); return the events it completes."""
        raise NotImplementedError

    def flush(self, final=False) -> list:
        """The port was idle (or, with final, the input ended): complete what can be completed."""
        return []

    def _call(self, number, reason, name=None, when=None):
        """A Call event, or nothing when it repeats the previous one."""
        key = (number, reason, when)
        now = self.clock()
        if self._last_call and self._last_call[0] == key and now - self._last_call[1] <= self.repeat_window:
            return []
        self._last_call = (key, now)
        return [Call(number, reason, caller_name(name), when, self.name)]


class RecordDecoder(Decoder):
    """Shared part of the decoders that buffer bytes until a frame, record or line is complete."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.buf = bytearray()
        self.base = 0                   # stream offset of buf[0]

    def _take(self, n):
        """Remove the first n bytes; return them and their stream offset."""
        record = bytes(self.buf[:n])
        del self.buf[:n]
        at = self.base
        self.base += n
        return record, at


class NumberDisplayDecoder(RecordDecoder):
    """NTT Number Display frames from raw ND decoders (DLE SOH 07 DLE STX 40 … DLE ETX CRC)"""
    name = "nd"
    MAX_FRAME = 256

    def feed(self, data):
        self.buf += data
        self.offset += len(data)
        events = []
        while True:
            start = self._find_start()
            if start:
                events.append(Garbled(self.base, f"{start} バイトの雑音を読み飛ばしました"))
                self._take(start)
            if start is None:           # keep a lone trailing DLE: the SOH may follow
                keep = 1 if self.buf[-1:] and self.buf[-1] & 0x7F == DLE else 0
                if len(self.buf) > keep:
                    events.append(Garbled(self.base, f"{len(self.buf) - keep} バイトの雑音を読み飛ばしました"))
                    self._take(len(self.buf) - keep)
                return events
            end = self._find_end()
            if end is None:
                return events
            if end < 0:                 # another frame began, or too long: this one is broken
                events.append(Garbled(self.base, "途中で切れたフレームを捨てました"))
                self._take(-end)
                continue
            events += self._frame(bytes(self.buf[:end]))
            # A bad "frame" (noise that looked like DLE SOH, a frame that lost a byte) may span the
            # start of a good one: hunt on from just after its DLE SOH instead of skipping it whole.
            self._take(end if self.intact else 2)

    def _find_start(self):
        for i in range(len(self.buf) - 1):
            if self.buf[i] & 0x7F == DLE and self.buf[i + 1] & 0x7F == SOH:
                return i
        return None

    def _find_end(self):
        """Length of the frame at buf[0] through its CRC; None if incomplete; -n to drop n bytes."""
        i = 2
        while i + 1 < len(self.buf):
            if i > self.MAX_FRAME:
                return -2
            if self.buf[i] & 0x7F == DLE:
                nxt = self.buf[i + 1] & 0x7F
                if nxt == ETX:
                    return i + 4 if i + 4 <= len(self.buf) else None
                if nxt == SOH:
                    return -i
                i += 2                  # DLE STX, or a doubled DLE
                continue
            i += 1
        return None

    def _frame(self, frame: bytes):
        at = self.base
        self.intact = False             # parity and CRC good (else feed() hunts on inside the frame)
        body, crc_bytes = frame[:-2], frame[-2:]
        # parity bits on the wire; with none at all the device stripped them (any b7 set: check every byte)
        wire = any(b & 0x80 for b in body)
        if wire:
            if not all(has_even_parity(b) for b in body):
                return [Garbled(at, "パリティ誤りのフレームを捨てました")]
            checked = body[2:]
        else:
            checked = bytes(even_parity(b) for b in body[2:])
        if crc16_kermit(checked + crc_bytes) != 0:
            return [Garbled(at, "CRC 誤りのフレームを捨てました")]
        self.intact = True
        plain = bytes(b & 0x7F for b in body)
        # unstuff: DLE DLE -> DLE, framing DLEs dropped
        content, i = bytearray(), 0
        while i < len(plain):
            if plain[i] == DLE:
                if plain[i + 1] == DLE:
                    content.append(DLE)
                i += 2
                continue
            content.append(plain[i])
            i += 1
        # content: header, service, length, parameters
        if len(content) < 3 or content[0] != 0x07:
            return [Garbled(at, "ヘッダが 07 ではないフレームを捨てました")]
        if content[1] != 0x40:
            return [Garbled(at, f"発信者番号ではないサービス {content[1]:02X} のフレームを読み飛ばしました")]
        number = reason = None
        params, i = content[3:], 0
        while i + 2 <= len(params):
            kind, size = params[i], params[i + 1]
            value = bytes(params[i + 2:i + 2 + size])
            i += 2 + size
            if kind == 0x02:
                number = normalize_phone(value.decode("ascii", "replace")) or None
            elif kind == 0x04:
                reason = REASON_CODES.get(value.decode("ascii", "replace").strip())
        if number is None and reason is None:
            return [Garbled(at, "番号も非通知理由もないフレームです")]
        return self._call(number, None if number else reason)


class AlohaDecoder(RecordDecoder):
    """Japanese ND adapters (Nikko アロハUSB and compatibles): STX MMDD w HHMM number ETX, answered ACK/NAK"""
    name = "aloha"
    RECORD = re.compile(rb"(\d\d)(\d\d)\d(\d\d)(\d\d)([0-9A-Z]*)")
    MAX_RECORD = 48

    def feed(self, data):
        self.buf += data
        self.offset += len(data)
        events = []
        while self.buf:
            start = next((i for i, b in enumerate(self.buf) if b & 0x7F == STX), None)
            if start is None:
                self._take(len(self.buf))
                break
            if start:
                self._take(start)
            end = next((i for i, b in enumerate(self.buf) if i and b & 0x7F in (ETX, STX)), None)
            if end is None:
                if len(self.buf) > self.MAX_RECORD:
                    events.append(Garbled(self._take(1)[1], "ETX のない記録を捨てました"))
                    continue
                break
            if self.buf[end] & 0x7F == STX:     # a record cut short by the next one
                events.append(Garbled(self._take(end)[1], "途中で切れた記録を捨てました"))
                continue
            record, at = self._take(end + 1)
            events += self._record(record, at)
        return events

    def _record(self, record, at):
        # A 7E1 adapter read on an 8N1 port keeps its parity bit in b7: check it ourselves,
        # so that a bad byte gets the NAK that makes the adapter send the record again.
        if any(b & 0x80 for b in record) and not all(has_even_parity(b) for b in record):
            return [Reply(bytes([even_parity(NAK)])), Garbled(at, "パリティ誤り: NAK を返しました")]
        events = [Reply(bytes([even_parity(ACK)]))]
        m = self.RECORD.fullmatch(bytes(b & 0x7F for b in record[1:-1]))
        if not m:
            return events + [Garbled(at, "読めない記録です")]
        month, day, hour, minute, value = (g.decode("ascii") for g in m.groups())
        if value == "E":
            log.info("ND アダプタが受信エラー (E) を報告しました")
            return events + [Garbled(at, "アダプタの受信エラー (E): 着信ではありません")]
        number, reason = number_or_reason(value)
        if number is None and reason is None:
            return events + [Garbled(at, f"知らない番号欄 {value!r}")]
        return events + self._call(number, reason, None, device_datetime(month, day, hour, minute, self.now()))


class LineDecoder(RecordDecoder):
    """Shared part of the text decoders: split on CR/LF and hand each line to line()."""
    MAX_LINE = 4096
    _after_cr = False                   # the last line ended with CR (its LF may come in the next chunk)

    def feed(self, data):
        self.buf += data
        self.offset += len(data)
        events = []
        while True:
            m = re.search(rb"[\r\n]", self.buf)
            if not m:
                if len(self.buf) > self.MAX_LINE:       # a stream that never ends a line: not this format
                    events.append(Garbled(self._take(len(self.buf))[1], "改行のない長いデータを捨てました"))
                return events
            raw, at = self._take(m.end())
            if raw == b"\n" and self._after_cr:     # the LF of a CR LF, not a blank line
                self._after_cr = False
                continue
            self._after_cr = raw.endswith(b"\r")
            events += self.line(decode_text(raw).strip(), at)

    def flush(self, final=False):
        events = []
        if final and self.buf:
            raw, at = self._take(len(self.buf))
            events += self.line(decode_text(raw).strip(), at)
        return events + self.idle(final)

    def line(self, text, at) -> list:
        raise NotImplementedError

    def idle(self, final) -> list:
        return []


class ModemDecoder(LineDecoder):
    """Modem caller-ID text (AT+VCID=1): RING, DATE = MMDD, TIME = HHMM, NMBR = …, NAME = …"""
    name = "modem"
    TAG = re.compile(r"^(DDN_NMBR|NMBR|DATE|TIME|NAME|MESG)\s*=\s*(.*)$", re.I)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.block = {}

    def line(self, text, at):
        m = self.TAG.match(text)
        if m:
            tag = m.group(1).upper().replace("DDN_", "")
            self.block[tag] = m.group(2).strip()
            self.block.setdefault("at", at)
            return []
        if not text or text.upper() == "RING":
            return self._complete(discard=text.upper() == "RING")
        return []                       # OK, echoed AT commands, CONNECT: not caller ID

    def idle(self, final):
        return self._complete(discard=final)

    def _complete(self, discard):
        """One call per caller-ID block; a block with no NMBR is kept until the number comes."""
        block = self.block
        if "NMBR" not in block:
            if discard:
                self.block = {}
            return []
        self.block = {}
        number, reason = number_or_reason(block["NMBR"])
        if number is None and reason is None:
            if block["NMBR"].upper() == "E":
                return [Garbled(block["at"], "モデムが受信エラー (E) を報告しました")]
            return [Garbled(block["at"], f"読めない NMBR = {block['NMBR']!r}")]
        when = None
        date, clock = block.get("DATE", ""), block.get("TIME", "")
        if re.fullmatch(r"\d{4}", date) and re.fullmatch(r"\d{4}", clock):
            when = device_datetime(date[:2], date[2:], clock[:2], clock[2:], self.now())
        return self._call(number, reason, block.get("NAME"), when)


class WhozzCallingDecoder(LineDecoder):
    """CallerID.com Whozz Calling records (serial, or the Ethernet units' UDP broadcasts)"""
    name = "whozz"
    # Lines arrive stripped, so a short number field ('Private') with no name may end the line.
    RECORD = re.compile(r"(\d\d) ([IO]) ([ESB]) (\d{4}) ([GB]) (.\d) (\d\d)/(\d\d) (\d\d):(\d\d) ([AP])M (.{1,15})(.*)")

    def line(self, text, at):
        m = self.RECORD.search(text)
        if not m:
            return []                   # detail records (R/F/N), headers, blank lines
        _, direction, edge, _, checksum, _, month, day, hour, minute, half, number, name = m.groups()
        if direction != "I" or edge != "S":
            return []
        if checksum != "G":
            return [Garbled(at, "チェックサム誤りの記録 (B) を捨てました")]
        hour = int(hour) % 12 + (12 if half == "P" else 0)
        number, reason = number_or_reason(number)
        if number is None and reason is None:
            reason = "out_of_area"
        return self._call(number, reason, name, device_datetime(month, day, hour, minute, self.now()))


class NcidDecoder(LineDecoder):
    """NCID server lines over TCP (socket://host:3333): CID: and +CID: are live calls"""
    name = "ncid"

    def line(self, text, at):
        kind, _, rest = text.partition(":")
        if kind not in ("CID", "+CID"):
            return []                   # CIDLOG: replay is history; 200/300, CIDINFO, HUP, OPT: not calls
        fields = rest.strip().strip("*").split("*")
        pairs = dict(zip(fields[0::2], fields[1::2]))
        number, reason = number_or_reason(pairs.get("NMBR", ""))
        if number is None and reason is None:
            reason = "out_of_area"
        date, clock = pairs.get("DATE", ""), pairs.get("TIME", "")
        when = None
        if re.fullmatch(r"\d{8}", date) and re.fullmatch(r"\d{4}", clock):
            first, second, year = date[:2], date[2:4], date[4:]
            month, day = (second, first) if int(first) > 12 else (first, second)
            when = device_datetime(month, day, clock[:2], clock[2:], self.now(), year=int(year))
        return self._call(number, reason, pairs.get("NAME"), when)


# A format's signature anywhere in the first bytes (line noise comes first).
SIGNATURES = [
    ("nd", re.compile(rb"\x90\x81\x87\x90\x82|\x10\x01\x07\x10\x02")),
    ("ncid", re.compile(rb"(?:^|[\r\n])(?:200 |\+?CID:)")),
    ("whozz", re.compile(rb"\^\^<U>|\$\d\d [IO] [SEB] ")),
    ("aloha", re.compile(rb"[\x02\x82][\x30-\x39\xb0-\xb9]{9}")),
    ("modem", re.compile(rb"(?:^|[\r\n])(?:RING|NMBR|DATE ?=)")),
]


# All of them in one pattern: one search finds the leftmost signature of any format.
SIGNATURE = re.compile(b"|".join(b"(?P<%s>%s)" % (name.encode(), rx.pattern) for name, rx in SIGNATURES))
SIGNATURE_LEAD = re.compile(rb"[\x90\x10\r\n\^$\x02\x82]")   # the first byte of every signature but ^
SIGNATURE_SPAN = 10                     # the longest signature: the bytes before a chunk that may begin one


class AutoDecoder(Decoder):
    """Tell the format from the first bytes and stick with it.

    Each chunk is searched once, with the few bytes before it that may begin a signature:
    re-searching everything held on every read cost a busy core on a port full of noise.
    """
    name = "auto"
    PATIENCE = 4096                     # bytes kept while no signature has been seen

    def __init__(self, **kw):
        super().__init__(**kw)
        self.kw = kw
        self.inner = None
        self.pending = bytearray()

    def feed(self, data):
        self.offset += len(data)
        if self.inner:
            return self.inner.feed(data)
        # Only the new bytes, and the few before them, can hold a signature not seen yet. Past the
        # stream's first bytes (where ^ matches) each begins with a lead byte: a cheap scan for one
        # spares the full search on most reads.
        start = max(0, len(self.pending) - SIGNATURE_SPAN + 1)
        self.pending += data
        if start:
            lead = SIGNATURE_LEAD.search(self.pending, start)
            start = lead.start() if lead else None
        m = SIGNATURE.search(self.pending, start) if start is not None else None
        if not m:
            if len(self.pending) <= self.PATIENCE:
                return []
            drop = len(self.pending) - self.PATIENCE // 2       # in steps of half, not a byte a read
            del self.pending[:drop]
            return [Garbled(self.offset - len(self.pending) - drop, f"形式のわからない {drop} バイトを読み飛ばしました")]
        name = m.lastgroup
        log.info("着信表示装置の形式を %s と判断しました", name)
        self.inner = DECODERS[name](**self.kw)
        self.inner.offset = self.inner.base = self.offset - len(self.pending)   # stream offsets carry on
        pending, self.pending = bytes(self.pending), bytearray()
        return self.inner.feed(pending)

    def flush(self, final=False):
        return self.inner.flush(final) if self.inner else []

    @property
    def detected(self):
        return self.inner.name if self.inner else None


DECODERS = {cls.name: cls for cls in (AutoDecoder, NumberDisplayDecoder, AlohaDecoder, ModemDecoder,
                                      WhozzCallingDecoder, NcidDecoder)}


def make_decoder(protocol: str, **kw) -> Decoder:
    return DECODERS[protocol](**kw)


LOG_HEX_LINE = re.compile(r"\bRX ((?:[0-9a-fA-F]{2} ?)+)\s*$")


def capture_bytes(raw: bytes) -> bytes:
    """The device bytes of a capture: the file itself, or the hex of the RX lines of a debug cti.log."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw
    hex_lines = [m.group(1) for line in text.splitlines() if (m := LOG_HEX_LINE.search(line))]
    if hex_lines and "cti" in text[:4096].lower():
        return bytes.fromhex(" ".join(hex_lines))
    return raw


def decode_capture(raw: bytes, protocol="auto", now=datetime.now) -> list:
    """Every event of a whole capture; identical consecutive call records count once."""
    decoder = make_decoder(protocol, now=now, repeat_window=float("inf"))
    return decoder.feed(capture_bytes(raw)) + decoder.flush(final=True)


###############################################################################
# SIP extension ###############################################################
###############################################################################
# port = sip://USER:PASSWORD@HOST[:PORT]: cti registers as an extension (内線) of the salon's home
# gateway (or any SIP PBX) and learns each caller from the INVITE it is offered, which it never
# answers: 100 Trying, 180 Ringing, and the salon's phone takes the call. Everything here is pure
# (bytes and times in, datagrams and events out); the socket lives in the device reader.
# What an HGW sends is inferred, not yet seen (shared docs/hgw-sip.md): the forms of a number, the words for
# a caller without one and the sign of a call answered elsewhere are each one table or one function.

SIP_REFRESH = 20.0          # seconds between REGISTERs: keeps the firewall's return path open and finds
                            # a registrar that restarted (and forgot us) within 30 s of it coming back
SIP_EXPIRES = 120           # the registration asked for; refreshed long before it runs out
SIP_T1, SIP_T2 = 0.5, 4.0   # RFC 3261 retransmission timers over UDP
SIP_GIVE_UP = 8.0           # no answer to a REGISTER this long: the registrar is unreachable
SIP_UNREACHABLE_RETRY = 5.0
SIP_REFUSED_BACKOFF = (30, 60, 120, 300)    # a wrong password is retried this slowly: no retry storm
SIP_RING_LIMIT = 300.0      # a call never CANCELled is forgotten after this long
SIP_ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"
SIP_AGENT = f"cti/{__version__}"
SIP_COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact", "l": "content-length",
               "c": "content-type", "k": "supported", "e": "content-encoding", "s": "subject", "o": "event"}

# A caller's user part (or display name) with no number, in the words a PBX may use: RFC 3323's
# anonymous, and guesses for an HGW's 公衆電話 / 表示圏外 (unknown: a real HGW may add a line here).
SIP_NUMBERLESS = {"anonymous": "private", "private": "private", "restricted": "private", "withheld": "private",
                  "非通知": "private", "unavailable": "out_of_area", "out-of-area": "out_of_area",
                  "outofarea": "out_of_area", "表示圏外": "out_of_area", "payphone": "payphone",
                  "coin": "payphone", "公衆電話": "payphone", "interaction": "conflict", "サービス競合": "conflict"}
SIP_URI_USER = re.compile(r"(?:sips?|tel):([^@;>?\s]*)", re.I)
SIP_DISPLAY = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<')


@dataclass(frozen=True)
class SipMessage:
    """One SIP request or response: its first line's parts, headers (lower-case full names, in order), body."""
    method: str                 # the request's method, or the CSeq's method for a response
    uri: str                    # the request URI; '' for a response
    status: int                 # 0 for a request
    headers: tuple
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    def all(self, name: str) -> list:
        return [value for key, value in self.headers if key == name]

    def param(self, name: str, param: str) -> str | None:
        """A ;param= of a header (From's tag, Via's branch), None when absent."""
        m = re.search(rf";\s*{param}\s*=\s*([^;,\s>]+)", self.header(name) or "", re.I)
        return m.group(1) if m else None


SIP_REQUEST_LINE = re.compile(r"([A-Z]+) (\S+) SIP/2\.0")
SIP_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6]\d\d)(?: (.*))?")


def parse_sip(data: bytes) -> SipMessage | None:
    """A datagram as a SIP message, or None for anything else (a keep-alive CRLF, a broken packet):
    Via, and From, To, Call-ID and a CSeq of number and method once each, are required."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    lines = head.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:             # a folded line continues the header above
            headers[-1] = (headers[-1][0], f"{headers[-1][1]} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not re.fullmatch(r"[a-z0-9!%*_+`'~.\-]+", name):
            return None
        headers.append((SIP_COMPACT.get(name, name), value.strip()))
    fields = dict(headers)
    names = [name for name, _ in headers]
    if not fields.get("via") or any(names.count(name) != 1 or not fields[name]
                                    for name in ("from", "to", "call-id", "cseq")):
        return None                     # each once (two Call-IDs: which call is it?), and not empty
    cseq = re.fullmatch(r"(\d{1,10})\s+([A-Z]+)", fields.get("cseq", ""))
    if not cseq:
        return None
    request, status = SIP_REQUEST_LINE.fullmatch(lines[0].strip()), SIP_STATUS_LINE.fullmatch(lines[0].strip())
    if request:
        if request.group(1) != cseq.group(2) and not (request.group(1) == "ACK" and cseq.group(2) == "INVITE"):
            return None
        return SipMessage(request.group(1), request.group(2), 0, tuple(headers), body)
    if status:
        return SipMessage(cseq.group(2), "", int(status.group(1)), tuple(headers), body)
    return None


def sip_response(request: SipMessage, status: int, reason: str, to_tag: str = "", extra=()) -> bytes:
    """A response to request: its Via, From, Call-ID and CSeq copied, To with our tag (when given)."""
    to = request.header("to")
    if to_tag and not re.search(r";\s*tag=", to, re.I):
        to = f"{to};tag={to_tag}"
    lines = [f"SIP/2.0 {status} {reason}", *(f"Via: {via}" for via in request.all("via")),
             f"From: {request.header('from')}", f"To: {to}", f"Call-ID: {request.header('call-id')}",
             f"CSeq: {request.header('cseq')}", *extra, f"Server: {SIP_AGENT}", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


# Digest authentication (RFC 2617, RFC 7616): the strongest algorithm a registrar offers.
DIGEST_HASHES = {"SHA-256": hashlib.sha256, "SHA-256-SESS": hashlib.sha256, "MD5": hashlib.md5, "MD5-SESS": hashlib.md5}
DIGEST_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')


def digest_challenge(value: str) -> dict | None:
    """A WWW-/Proxy-Authenticate value's parameters (keys lower-case, quotes removed); None if not a
    Digest challenge with a nonce and an algorithm cti knows."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params = {k.lower(): v[1:-1].replace('\\"', '"') if v.startswith('"') else v for k, v in DIGEST_PARAM.findall(rest)}
    params["algorithm"] = params.get("algorithm", "MD5").upper()
    if "nonce" not in params or params["algorithm"] not in DIGEST_HASHES:
        return None
    return params


def best_challenge(response: SipMessage) -> tuple[str, dict] | None:
    """(header to answer with, challenge): SHA-256 before MD5, over WWW- and Proxy-Authenticate."""
    offers = []
    for asked, answer in (("www-authenticate", "Authorization"), ("proxy-authenticate", "Proxy-Authorization")):
        for value in response.all(asked):
            if (challenge := digest_challenge(value)) is not None:
                offers.append((not challenge["algorithm"].startswith("SHA-256"), answer, challenge))
    return min(offers, key=lambda o: o[0])[1:] if offers else None


def digest_authorization(challenge: dict, method: str, uri: str, user: str, password: str,
                         cnonce: str, nc: int = 1, body: bytes = b"") -> str:
    """The Authorization value answering challenge (qop auth, else auth-int, else none)."""
    algorithm = challenge["algorithm"]
    realm, nonce = challenge.get("realm", ""), challenge["nonce"]

    def h(text):
        return DIGEST_HASHES[algorithm](text.encode("utf-8")).hexdigest()

    ha1 = h(f"{user}:{realm}:{password}")
    if algorithm.endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    offered = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in offered or not offered else "auth-int" if "auth-int" in offered else None
    if qop is None:
        raise ValueError("qop")
    a2 = f"{method}:{uri}" + (f":{DIGEST_HASHES[algorithm](body).hexdigest()}" if qop == "auth-int" else "")
    fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', f"algorithm={algorithm}"]
    if offered:
        response = h(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{h(a2)}")
        fields += [f"qop={qop}", f"nc={nc:08x}", f'cnonce="{cnonce}"']
    else:
        response = h(f"{ha1}:{nonce}:{h(a2)}")
    fields.insert(4, f'response="{response}"')
    if "opaque" in challenge:
        fields.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(fields)


def sip_identities(value: str) -> list:
    """The name-addrs of a header that may list several (P-Asserted-Identity: a sip: and a tel: one)."""
    return [part for part in re.findall(r'(?:"(?:[^"\\]|\\.)*"|<[^>]*>|[^,"<])+', value) if part.strip()]


def sip_party(identity: str) -> tuple[str | None, str | None, str | None]:
    """(number, reason, name) from one name-addr: its URI's user part, else its display name;
    (None, None, None) when neither says anything cti knows."""
    uri = identity[identity.find("<") + 1:] if "<" in identity else identity
    user = SIP_URI_USER.search(uri)
    user = urllib.parse.unquote(user.group(1)) if user else ""
    display = SIP_DISPLAY.match(identity)
    display = (display.group(1) or display.group(2) or "").replace('\\"', '"').strip() if display else ""
    if not user.strip() or "anonymous.invalid" in uri.lower():
        return None, "private", None
    for candidate in (user, display):
        word = nfkc(candidate).strip().lower()
        if word in SIP_NUMBERLESS:
            return None, SIP_NUMBERLESS[word], None
        if digits := written_number(candidate):
            named = display and candidate is user and not written_as_one_number(display)
            return digits, None, caller_name(display) if named else None
    return None, None, None


def sip_caller(invite: SipMessage) -> tuple[str | None, str | None, str | None, str]:
    """(number, reason, name, what was read) of an INVITE's caller: P-Asserted-Identity, then
    Remote-Party-ID, then From, the first that says something. Privacy: id (or a Remote-Party-ID's
    privacy=full) withholds even an asserted number. Neither a number nor a known reason is 番号なし:
    (None, None, …), with what was read kept for the debug log."""
    privacy = {p.strip().lower() for p in re.split(r"[;,]", invite.header("privacy") or "")}
    identities = [(header, identity.strip())
                  for header in ("p-asserted-identity", "remote-party-id", "from")
                  for value in invite.all(header) for identity in sip_identities(value)]
    read = identities[0][1] if identities else ""
    if "id" in privacy:
        return None, "private", None, read
    for header, identity in identities:
        if header == "remote-party-id" and re.search(r";\s*privacy\s*=\s*(full|uri)", identity, re.I):
            return None, "private", None, identity
        number, reason, name = sip_party(identity)
        if number or reason:
            return number, reason, name, identity
    return None, None, None, read


def answered_elsewhere(cancel: SipMessage) -> bool:
    """A CANCEL's RFC 3326 Reason says another phone took the call (cause 200, 'Call completed
    elsewhere'); without one the caller hung up: a missed call."""
    reasons = " ".join(cancel.all("reason"))
    return bool(re.search(r"\bSIP\s*;[^,]*\bcause\s*=\s*200\b", reasons, re.I)
                or re.search(r"completed\s+elsewhere", reasons, re.I))


def sip_token(length=10) -> str:
    return os.urandom(length).hex()


@dataclass(frozen=True)
class SipHealth:
    """The registration's state for the status line: connecting, connected, refused or missing."""
    state: str
    text: str


@dataclass
class Ringing:
    """An INVITE being rung, never answered: its Call, our To tag, and per branch (a fork or the
    INVITE itself) the request and the last response sent (resent to a retransmission)."""
    call: Call
    tag: str
    started: float
    branches: dict = dataclasses.field(default_factory=dict)     # branch -> (INVITE, response bytes)
    ended: bool = False


class SipAgent:
    """The user agent's state: registration and the calls being rung. receive() takes a datagram,
    tick() the passing of time; both return what to send (Reply), Call events and SipHealth.

    A Call is reported once per call (Call-ID and From tag: a retransmission or a fork of it is the
    same call); its CANCEL reports it again with answered set (True: taken elsewhere, False: missed).
    """

    def __init__(self, target: SipTarget, registrar: tuple, local: tuple, refresh=SIP_REFRESH,
                 refused_backoff=SIP_REFUSED_BACKOFF, unreachable_retry=SIP_UNREACHABLE_RETRY,
                 give_up=SIP_GIVE_UP, token=sip_token, debug=False):
        self.target, self.registrar, self.local = target, registrar, local
        self.refresh, self.refused_backoff, self.unreachable_retry = refresh, refused_backoff, unreachable_retry
        self.give_up, self.token, self.debug = give_up, token, debug
        here = uri_host(local[0])
        self.registrar_uri = f"sip:{uri_host(target.host)}" + (f":{target.port}" if target.port != SIP_DEFAULT_PORT else "")
        self.aor = f"sip:{urllib.parse.quote(target.user, safe='')}@{self.registrar_uri[4:]}"
        self.contact = f"sip:{urllib.parse.quote(target.user, safe='')}@{here}:{local[1]}"
        self.via_host = f"{here}:{local[1]}"
        self.call_id, self.from_tag, self.cseq = f"{token()}@cti", token(4), 0
        self.expires = SIP_EXPIRES          # raised when the registrar asks for longer (423)
        self.state = None                   # the last SipHealth state reported
        self.refusals = 0
        self.auth = None                    # [header, challenge, nc]: reused on refreshes
        self.fresh_auth = False             # the last REGISTER answered a challenge just received
        self.transaction = None             # [branch, data, sent at, next resend, interval]
        self.next_register = None
        self.timeouts = 0                   # REGISTERs the registrar never answered
        self.calls = {}                     # (Call-ID, From tag) -> Ringing
        self.finals = {}                    # branch -> [data, to, next resend, interval, until]: 487s until ACKed

    # registration

    def start(self, now) -> list:
        return [*self._health("connecting", f"{self.target.shown} に内線 {self.target.user} として登録しています"),
                *self._register(now)]

    def stop(self, now) -> list:
        """The REGISTER that removes this extension (Expires: 0), so that the PBX stops offering it
        calls at once; sent once, unanswered: cti is closing."""
        return self._register(now, expires=0) if self.state == "connected" else []

    def _register(self, now, fresh=False, expires=None):
        branch = f"z9hG4bK{self.token()}"
        self.cseq += 1
        lines = [f"REGISTER {self.registrar_uri} SIP/2.0", f"Via: SIP/2.0/UDP {self.via_host};branch={branch};rport",
                 "Max-Forwards: 70", f"From: <{self.aor}>;tag={self.from_tag}", f"To: <{self.aor}>",
                 f"Call-ID: {self.call_id}", f"CSeq: {self.cseq} REGISTER", f"Contact: <{self.contact}>",
                 f"Expires: {self.expires if expires is None else expires}", f"Allow: {SIP_ALLOW}",
                 f"User-Agent: {SIP_AGENT}"]
        self.fresh_auth = fresh and self.auth is not None
        if self.auth:
            header, challenge, nc = self.auth
            self.auth[2] = nc + 1
            lines.append(f"{header}: " + digest_authorization(challenge, "REGISTER", self.registrar_uri,
                                                              self.target.user, self.target.password,
                                                              self.token(8), nc + 1))
        data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode("utf-8")
        self.transaction = [branch, data, now, now + SIP_T1, SIP_T1]
        self.next_register = None
        return [Reply(data, self.registrar)]

    def _health(self, state, text) -> list:
        """A SipHealth when the state changes (a registrar down for an hour is said once, not each try)."""
        if state == self.state and state != "refused":
            return []
        self.state = state
        return [SipHealth(state, text)]

    def _register_response(self, response, now):
        self.transaction = None
        if 200 <= response.status < 300:
            contact = next((c for c in response.all("contact") if self.contact in c), "")
            expires = re.search(r";\s*expires\s*=\s*(\d+)", contact, re.I)
            granted = int(expires.group(1)) if expires else int(response.header("expires") or self.expires)
            self.next_register = now + min(self.refresh, max(granted, 2) / 2)
            self.refusals = 0
            return self._health("connected", f"内線 {self.target.user} として {self.target.host} に登録しました。"
                                              "着信を待っています")
        offer = best_challenge(response) if response.status in (401, 407) else None
        stale = offer is not None and offer[1].get("stale", "").lower() == "true"
        if offer and (not self.fresh_auth or stale):
            self.auth = [*offer, 0]
            return self._register(now, fresh=True)
        minimum = re.fullmatch(r"\d{1,6}", response.header("min-expires") or "")
        if response.status == 423 and minimum and int(minimum.group()) > self.expires:
            self.expires = int(minimum.group())         # Interval Too Brief: ask for what it allows, at once
            return self._register(now)
        delay = self.refused_backoff[min(self.refusals, len(self.refused_backoff) - 1)]
        self.refusals += 1
        self.auth = None
        self.next_register = now + delay
        if response.status in (401, 403, 407):
            why = "ユーザID かパスワードが違います。cti.ini の port = と、ホームゲートウェイの内線設定を確認してください"
        elif response.status == 404:
            why = "その内線がありません。ホームゲートウェイの内線設定でユーザID を確認してください"
        else:
            why = f"応答 {response.status}"
        log.warning("SIP: %s が登録を断りました (%s)", self.target.shown, response.status)
        return self._health("refused", f"{self.target.host} が内線 {self.target.user} の登録を断りました"
                                       f"（{why}）。{delay} 秒後にもう一度試します")

    # time

    def tick(self, now) -> list:
        out = []
        if self.transaction:
            branch, data, sent, resend, interval = self.transaction
            if now - sent >= self.give_up:
                self.transaction, self.auth = None, None
                self.timeouts += 1
                self.next_register = now + self.unreachable_retry
                out += self._health("missing", f"内線の登録先 {self.target.host}（ホームゲートウェイ）から応答が"
                                               "ありません。電源とネットワークを確認してください（つながりしだい"
                                               "登録します）")
            elif now >= resend:
                interval = min(interval * 2, SIP_T2)
                self.transaction[3:] = [now + interval, interval]
                out.append(Reply(data, self.registrar))
        elif self.next_register is not None and now >= self.next_register:
            out += self._register(now)
        for branch, final in list(self.finals.items()):
            if now >= final[4]:
                del self.finals[branch]
            elif now >= final[2]:
                final[3] = min(final[3] * 2, SIP_T2)
                final[2] = now + final[3]
                out.append(Reply(final[0], final[1]))
        for key, ringing in list(self.calls.items()):
            if now - ringing.started > SIP_RING_LIMIT:
                del self.calls[key]
        return out

    def wake_at(self) -> float | None:
        """When tick() next has something to do."""
        times = [self.transaction[3] if self.transaction else self.next_register]
        times += [final[2] for final in self.finals.values()]
        return min((t for t in times if t is not None), default=None)

    # datagrams

    def receive(self, data: bytes, source: tuple, now) -> list:
        message = parse_sip(data)
        if message is None:
            if data.strip():            # a bare CRLF is a keep-alive
                log.debug("SIP: 読めないデータ %d バイトを捨てました", len(data))
            return []
        if message.status:
            if (message.method == "REGISTER" and message.status >= 200 and self.transaction
                    and message.param("via", "branch") == self.transaction[0]):
                return self._register_response(message, now)
            return []
        handler = {"INVITE": self._invite, "CANCEL": self._cancel, "ACK": self._ack,
                   "OPTIONS": self._options}.get(message.method, self._other)
        return handler(message, source, now)

    @staticmethod
    def _key(message):
        return message.header("call-id"), message.param("from", "tag")

    def _invite(self, invite, source, now):
        if invite.param("to", "tag"):       # a re-INVITE: cti never answered, so no dialog exists
            return [Reply(sip_response(invite, 481, "Call/Transaction Does Not Exist"), source)]
        key, branch = self._key(invite), invite.param("via", "branch")
        ringing = self.calls.get(key)
        if ringing is not None and branch in ringing.branches:          # a retransmission: the same answer
            return [Reply(ringing.branches[branch][1], source)]
        out = [Reply(sip_response(invite, 100, "Trying"), source)]
        if ringing is None:
            number, reason, name, read = sip_caller(invite)
            if (number is None and reason is None) or self.debug:
                log.debug("SIP: 発信者の表示 %s", without_names(read))
            call = Call(number, reason, name, protocol="sip", key=hashlib.sha256(repr(key).encode()).hexdigest()[:16])
            ringing = self.calls[key] = Ringing(call, self.token(4), now)
            out.append(call)
        ringing.branches[branch] = (invite, sip_response(invite, 180, "Ringing", ringing.tag,
                                                         [f"Contact: <{self.contact}>"]))
        out.append(Reply(ringing.branches[branch][1], source))
        return out

    def _cancel(self, cancel, source, now):
        key, branch = self._key(cancel), cancel.param("via", "branch")
        ringing = self.calls.get(key)
        if ringing is None or branch not in ringing.branches:
            return [Reply(sip_response(cancel, 481, "Call/Transaction Does Not Exist"), source)]
        invite = ringing.branches[branch][0]
        final = sip_response(invite, 487, "Request Terminated", ringing.tag)
        ringing.branches[branch] = (invite, final)
        self.finals[branch] = [final, source, now + SIP_T1, SIP_T1, now + 64 * SIP_T1]
        out = [Reply(sip_response(cancel, 200, "OK", ringing.tag), source), Reply(final, source)]
        if not ringing.ended:               # a second fork's CANCEL ends nothing new
            ringing.ended = True
            out.append(dataclasses.replace(ringing.call, answered=answered_elsewhere(cancel)))
        return out

    def _ack(self, ack, source, now):
        self.finals.pop(ack.param("via", "branch"), None)
        return []

    def _options(self, options, source, now):
        return [Reply(sip_response(options, 200, "OK", self.token(4), [f"Allow: {SIP_ALLOW}"]), source)]

    def _other(self, request, source, now):
        """BYE (or any request inside a dialog): cti never answered, so none exists; others are not ours."""
        if request.method == "BYE" or request.param("to", "tag"):
            return [Reply(sip_response(request, 481, "Call/Transaction Does Not Exist"), source)]
        return [Reply(sip_response(request, 405, "Method Not Allowed", self.token(4), [f"Allow: {SIP_ALLOW}"]),
                        source)]


def without_names(text: str) -> str:
    """SIP text with its display names hidden (a PBX may put its phone book's name there; logs never
    hold names), but not a word for a caller without a number (公衆電話): what the debug log is for."""
    def hide(m):
        shown = m.group(1)
        keep = nfkc(shown).strip().lower() in SIP_NUMBERLESS or written_number(shown)
        return m.group(0) if keep else f'"(名前 {len(shown)} 文字)" <'
    return re.sub(r'"((?:[^"\\]|\\.)*)"\s*<', hide, text)


def sip_log_text(data: bytes) -> str:
    """A datagram for the debug log, on one line: display names and the digest response hidden (the
    response is not the password, but the password can be guessed from it)."""
    text = without_names(data.decode("utf-8", "replace").strip())
    text = re.sub(r'(?i)(\bresponse\s*=\s*)"[^"]*"', r'\1"***"', text)
    return text.replace("\r\n", " | ").replace("\n", " | ")


###############################################################################
# Device reader ###############################################################
###############################################################################

# Every source (a COM port, NCID over TCP, UDP, SIP) reports its health the same way, through the
# one DeviceReader loop: an open that raises is "retrying" (state busy / missing / no_response says
# why, and the text when it tries again); an open that returns is "connected"; a read (or the
# source's keepalive()) that raises is "lost", then the loop opens it again. A source whose far end
# may fall silent without closing has keepalive(): the reader calls it after KEEPALIVE_AFTER seconds
# without a byte, and a dead peer then fails the next read.
HEALTH = {"connecting": "connecting", "connected": "connected", "lost": "lost", "stopped": "stopped",
          "busy": "retrying", "missing": "retrying", "no_response": "retrying", "refused": "retrying"}


@dataclass(frozen=True)
class Status:
    """The device's state for the status line: connecting, connected, missing, busy, lost or stopped."""
    state: str
    text: str
    port: str = ""

    @property
    def health(self) -> str:
        """connecting, connected, retrying, lost or stopped: the same words for every kind of source."""
        return HEALTH.get(self.state, "retrying")


BACKOFF = (1, 2, 5, 10)
IDLE_TIMEOUT = 0.3      # a read this long with no bytes ends a modem's caller-ID block
KEEPALIVE_AFTER = 60.0  # seconds of silence before a network source is asked whether its peer is there


def udp_socket_options(sockets=socket) -> list:
    """setsockopt arguments for the UDP port. On Windows SO_REUSEADDR would let another program bind
    the same port and take the datagrams: there SO_EXCLUSIVEADDRUSE keeps the port ours alone."""
    exclusive = getattr(sockets, "SO_EXCLUSIVEADDRUSE", None)
    if exclusive is not None:           # Windows
        return [(sockets.SOL_SOCKET, exclusive, 1)]
    return [(sockets.SOL_SOCKET, sockets.SO_REUSEADDR, 1)]


class UdpPort:
    """A receive-only 'port' on UDP datagrams (CallerID.com Ethernet units broadcast to port 3520).

    pyserial has no UDP URL. Each datagram is one record; a CR LF is added so that the
    line decoder sees its end.
    """

    def __init__(self, url, timeout=IDLE_TIMEOUT):
        m = re.fullmatch(r"udp://([^:/]*):(\d+)/?", url)
        if not m:
            raise serial.SerialException(f"UDP の指定が正しくありません: {url}（例 udp://:3520）")
        self.timeout = timeout
        self.port = url
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for option in udp_socket_options():
            self.sock.setsockopt(*option)
        try:
            self.sock.bind((m.group(1), int(m.group(2))))
        except OSError as e:
            self.sock.close()
            raise serial.SerialException(f"could not open port {url}: {e}") from None

    @property
    def in_waiting(self):
        return 0

    def read(self, size=1):
        ready, _, _ = select.select([self.sock], [], [], self.timeout)
        if not ready:
            return b""
        data = self.sock.recv(2048)
        return data if data.endswith(b"\n") else data + b"\r\n"

    def write(self, data):
        return 0                        # the units expect nothing back

    def close(self):
        self.sock.close()


def port_settings(protocol: str, baudrate: int) -> dict:
    """serial_for_url keyword arguments for a device format."""
    # アロハ adapters speak 7E1; reading them as 8N1 (the same 10 bits a character) keeps the
    # parity bit in b7, so the decoder can NAK a bad byte instead of the driver hiding it.
    return {"baudrate": 9600 if protocol == "aloha" else baudrate, "timeout": IDLE_TIMEOUT,
            "write_timeout": 1}


def open_port(url: str, protocol: str, baudrate: int, **sip_settings):
    """Open a device by name or URL: COM3, /dev/ttyUSB0, socket://host:3333, loop://, udp://:3520,
    sip://3:password@192.168.1.1 (sip_settings: SipPort's)."""
    if url.startswith("udp://"):
        return UdpPort(url)
    if is_sip_url(url):
        return SipPort(url, **sip_settings)
    port = serial.serial_for_url(url, do_not_open=True, **port_settings(protocol, baudrate))
    if not url.startswith("socket://"):
        port.open()
        return port
    # pyserial's socket open() ends by throwing away what has already arrived (reset_input_buffer);
    # an NCID server sends its banner, its call log and maybe a ringing call the moment we connect.
    port.reset_input_buffer = lambda: None
    port.open()
    del port.reset_input_buffer
    keep_alive(port._socket)            # pyserial 3.5 (pinned) keeps the TCP socket here
    # NCID's own keep-alive: a bare newline, which the server ignores; on a half-open connection it
    # is answered by a reset (the peer's host is up) or never acknowledged (TCP gives up, see keep_alive)
    port.keepalive = functools.partial(port.write, b"\n")
    return port


TCP_MAXRT = 5                           # Windows' option number (ws2ipdef.h); Python has no name for it


def keep_alive(sock: socket.socket, idle=60, interval=10, count=3, give_up=30):
    """TCP keep-alive, so that an NCID server that vanished without closing (power cut, cable pulled)
    shows as lost within a few minutes instead of 'connected' for ever; and give_up: the seconds
    after which data sent (the reader's keepalive line) but never acknowledged fails the connection."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "SIO_KEEPALIVE_VALS"):  # pragma: no cover - Windows
        sock.ioctl(socket.SIO_KEEPALIVE_VALS, (1, idle * 1000, interval * 1000))
        sock.setsockopt(socket.IPPROTO_TCP, TCP_MAXRT, give_up)
    elif hasattr(socket, "TCP_KEEPIDLE"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, give_up * 1000)


def local_address_for(host: str, port: int) -> tuple:
    """(family, registrar address, the local address that routes to it): a UDP connect sends nothing."""
    family, _, _, _, address = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect(address)
        return family, address, probe.getsockname()[0]


class SipPort:
    """port = sip://…: a UDP socket on the local address that routes to the registrar, and the SipAgent
    it carries datagrams for. Only the registrar's host is listened to (member data is personal)."""

    def __init__(self, url: str, clock=time.monotonic, debug=False, **agent_settings):
        self.target = parse_sip_url(url)
        self.port, self.clock = self.target.shown, clock
        family, self.registrar, local_host = local_address_for(self.target.host, self.target.port)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.bind((local_host, self.target.local_port))
        except OSError:
            self.sock.close()
            raise
        self.local = self.sock.getsockname()[:2]
        self.debug = debug
        self.agent = SipAgent(self.target, self.registrar, self.local, debug=debug, **agent_settings)
        log.info("SIP: %s に UDP %s:%s から登録します", self.target.shown, *self.local)

    def start(self) -> list:
        return self._send(self.agent.start(self.clock()))

    def exchange(self, longest=IDLE_TIMEOUT) -> list:
        """Wait for a datagram (or the agent's next timer, at most `longest` s); the events it gave."""
        wake = self.agent.wake_at()
        wait = longest if wake is None else max(0.0, min(longest, wake - self.clock()))
        out = []
        if select.select([self.sock], [], [], wait)[0]:
            try:
                data, source = self.sock.recvfrom(65535)
            except (ConnectionResetError, ConnectionRefusedError):
                data, source = b"", None    # Windows reports an ICMP port-unreachable here: the registrar is down
            if source is not None and source[0] == self.registrar[0]:
                if self.debug:
                    log.debug("SIP RX %s", sip_log_text(data))
                out += self.agent.receive(data, source, self.clock())
        timeouts = self.agent.timeouts
        out += self.agent.tick(self.clock())
        if self.agent.timeouts > timeouts and self._moved():
            raise OSError("この PC の IP アドレスが変わりました")    # the reader opens the port again, on the new one
        return self._send(out)

    def _moved(self) -> bool:
        """The PC now reaches the registrar from another address (DHCP, Wi-Fi for a cable): this socket
        is bound to one that no longer is."""
        try:
            return local_address_for(self.target.host, self.target.port)[2] != self.local[0]
        except OSError:
            return False

    def _send(self, actions) -> list:
        events = []
        for action in actions:
            if isinstance(action, Reply):
                if self.debug:
                    log.debug("SIP TX %s", sip_log_text(action.data))
                try:
                    self.sock.sendto(action.data, action.to)
                except OSError as e:        # no route now: the agent's timers find the registrar unreachable
                    log.info("SIP: 送れませんでした: %s", e)
            else:
                events.append(action)
        return events

    def close(self):
        self._send(self.agent.stop(self.clock()))
        self.sock.close()


# Windows error numbers in pyserial's message: "could not open port 'COM3': PermissionError(13, '…', None, 5)".
# CPython maps 5, 31 and 32 all to PermissionError, so the class name says little; the number says it all.
WINERROR = re.compile(r"\(\s*-?\d+,\s*(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"),\s*None,\s*(\d+)\s*\)")
WINERROR_STATES = {5: "busy", 32: "busy", 2: "missing", 3: "missing",
                   31: "no_response", 121: "no_response", 1167: "no_response", 22: "no_response",
                   87: "no_response", 21: "no_response"}
ERRNO = re.compile(r"\[Errno (\d+)\]")
ERRNO_STATES = {16: "busy", 13: "busy", 2: "missing", 19: "missing", 6: "missing", 5: "no_response"}
BUSY_TEXT = re.compile(r"Access is denied|アクセスが拒否|busy|in use|Address already in use", re.I)


def port_error_state(text: str) -> str | None:
    """busy, missing or no_response from an error's text: the Windows error number first, then the
    Linux errno, then words; None when nothing is known."""
    if m := WINERROR.search(text):
        return WINERROR_STATES.get(int(m.group(1)))
    for m in ERRNO.finditer(text):
        if int(m.group(1)) in ERRNO_STATES:
            return ERRNO_STATES[int(m.group(1))]
    if BUSY_TEXT.search(text):
        return "busy"
    return None


def describe_port_error(url: str, error: Exception) -> tuple[str, str]:
    """(state, words a receptionist understands) for a failed open."""
    state = port_error_state(str(error))
    if is_sip_url(url):
        if isinstance(error, ValueError):
            return "missing", f"cti.ini の port = {url}: {error}"
        if state == "busy":
            return "busy", f"{url}: local_port の UDP ポートを他のプログラムが使っています（local_port を変えてください）"
        return "missing", (f"{url}: ホームゲートウェイ（内線の登録先）の住所に届きません。"
                           "cti.ini の port = の住所とネットワークを確認してください")
    if state == "busy":
        return "busy", f"{url} は他のプログラムが使っています。そのプログラムを閉じてください"
    if state == "no_response" and not url.startswith("socket://"):
        return "no_response", f"{url}: 装置が応答しません。USB を抜き差ししてください（直らなければドライバーを確認）"
    if url == "auto":
        return "missing", ("着信表示装置が見つかりません。USB ケーブルがつながっているか、デバイス マネージャーの"
                           "「ポート (COM と LPT)」に COM 番号が出ているかを確認し、cti.ini の port = に"
                           "その番号（例 COM3）を書いてください")
    if url.startswith("socket://"):
        return "missing", f"{url[9:]} の着信サーバにつながりません。サーバの電源とネットワークを確認してください"
    return "missing", (f"{url} が見つかりません。着信表示装置の USB ケーブルと、"
                       "cti.ini の port = の COM 番号を確認してください")


# USB serial chips caller-ID adapters are built on, as Windows' hwid shows them (VID:PID).
# Every one is a chip for adapters in general: a match makes a port the likelier one, never
# certainly ours (receipt printers use them too). The Nikko アロハUSB is a Prolific PL2303
# (callerid-protocols.md §2.1); no caller-ID adapter with a VID:PID of its own is known.
CALLER_ID_USB_IDS = {
    "0403:6001": ("FTDI FT232R", "adapters in general"),
    "067B:2303": ("Prolific PL2303 (アロハUSB)", "adapters in general"),
    "1A86:7523": ("WCH CH340", "adapters in general"),
    "10C4:EA60": ("Silicon Labs CP210x", "adapters in general"),
}
USB_ID = re.compile(r"VID:PID=([0-9A-F]{4}):([0-9A-F]{4})", re.I)
# Ports that are no device on a cable: Bluetooth links (opening one dials the paired device and can
# block for seconds), Intel AMT serial-over-LAN, com0com and other software ports.
VIRTUAL_PORT = re.compile(r"BTHENUM|Bluetooth|ブルートゥース|Active Management|com0com|^ROOT\\", re.I)
MODEM_PORT = re.compile(r"modem|モデム", re.I)


@dataclass(frozen=True)
class ProbeTarget:
    """A port port = auto listens on, and whether it may be a modem (and gets the AT init)."""
    device: str
    modem: bool


def port_text(info) -> str:
    return f"{getattr(info, 'hwid', '') or ''} {getattr(info, 'description', '') or ''}"


def probe_plan(ports, protocol: str) -> list:
    """port = auto: the ports worth listening on, likeliest first (pure: list_ports values in).

    Virtual ports are left out (name one in cti.ini to use it). Known caller-ID adapter chips
    come first, then other USB ports, then modems, then built-in ports; in natural order
    (COM2 before COM10) within each, by pyserial's own numsplit. AT commands only where a
    modem can be: protocol = modem, or a port that names itself a modem.
    """
    chosen = []
    for info in ports:
        text = port_text(info)
        if VIRTUAL_PORT.search(getattr(info, "hwid", "") or "") or VIRTUAL_PORT.search(info.description or ""):
            continue
        usb = USB_ID.search(text)
        modem = protocol == "modem" or (protocol == "auto" and bool(MODEM_PORT.search(text)))
        known = bool(usb) and f"{usb.group(1)}:{usb.group(2)}".upper() in CALLER_ID_USB_IDS
        rank = 0 if known else 1 if usb or "USB" in text.upper() else 2 if modem else 3
        chosen.append((rank, serial.tools.list_ports_common.numsplit(info.device), ProbeTarget(info.device, modem)))
    return [target for _, _, target in sorted(chosen, key=lambda c: c[:2])]


def answered(heard: bytes, asked_modem: bool) -> bool:
    """The bytes heard on a port while probing are a caller-ID device (or a modem's answer to the init)."""
    if SIGNATURE.search(heard):
        return True
    return asked_modem and re.search(rb"(?:^|[\r\n])(?:OK|RING|NMBR)", heard) is not None


def list_ports() -> list:
    """The serial ports found, as (device, description) pairs, in natural order (COM2 before COM10)."""
    return [(p.device, p.description or "")
            for p in sorted(serial.tools.list_ports.comports(),
                            key=lambda p: serial.tools.list_ports_common.numsplit(p.device))]


class DeviceReader(threading.Thread):
    """Own the port: open it, feed the decoder, put Call and Status events on a queue, reconnect.

    Nothing here touches Tk; the window polls the queue. The thread never dies of a device
    problem: an unplug closes the handle at once and the open is retried with back-off.
    """

    def __init__(self, config: Config, events: queue.Queue, opener=open_port, backoff=BACKOFF,
                 now=datetime.now, probe_seconds=1.5, clock=time.monotonic, ports=None, sip_settings=None,
                 keepalive_after=KEEPALIVE_AFTER):
        super().__init__(name="device-reader", daemon=True)
        self.config, self.events, self.opener = config, events, opener
        self.backoff, self.now, self.probe_seconds = backoff, now, probe_seconds
        self.keepalive_after = keepalive_after
        self.clock = clock              # the decoders' repeat window runs on it
        self.ports = ports or (lambda: serial.tools.list_ports.comports())
        self.sip_settings = sip_settings or {}      # SipAgent's timers (tests shorten them)
        self.stopping = threading.Event()
        self.port_name = shown_port(config.port)    # never a sip:// password
        self.pending = b""              # bytes heard while probing, decoded first

    def stop(self, timeout=2.0):
        self.stopping.set()
        self.join(timeout)

    def status(self, state, text):
        log.info("装置: %s (%s)", text, state)
        self.events.put(Status(state, text, self.port_name))

    def run(self):
        failures = 0
        while not self.stopping.is_set():
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as e:
                if self.stopping.is_set():
                    break
                state, text = describe_port_error(self.port_name, e)
                delay = self.backoff[min(failures, len(self.backoff) - 1)]
                failures += 1
                self.status(state, f"{text}（{delay} 秒後にもう一度試します）")
                self.stopping.wait(delay)
                continue
            failures = 0
            try:
                if isinstance(port, SipPort):
                    self._pump_sip(port)    # connected once registered: the agent says when
                else:
                    self.status("connected", f"{self.port_name} に接続しました。着信を待っています")
                    self._pump(port)
            except (serial.SerialException, OSError) as e:
                log.info("装置との接続が切れました: %s", e)
                cause = "ネットワークを確認" if is_sip_url(self.config.port) else "USB が抜けた？"
                self.status("lost", f"{self.port_name} との接続が切れました（{cause}）。再接続しています")
            except Exception:              # a bug must not end the reader: log it and start over
                log.exception("装置の読み取りでエラー")
                self.status("lost", f"{self.port_name} の読み取りでエラーが起きました。再接続しています")
            finally:
                try:
                    port.close()
                except Exception:          # a driver that fails to close must not stop the reader
                    log.exception("ポートを閉じられませんでした")
            if not self.stopping.is_set():
                self.stopping.wait(self.backoff[0])
        self.status("stopped", "停止しました")

    def _open(self):
        if self.config.port.lower() == "auto":
            self.port_name = "auto"
            self.status("connecting", "着信表示装置を探しています（COM ポートを順に試しています）")
            return self._probe()
        self.status("connecting", f"{self.port_name} を開いています")
        if is_sip_url(self.config.port):
            return self.opener(self.config.port, self.config.protocol, self.config.baudrate, clock=self.clock,
                               debug=self.config.debug, **self.sip_settings)
        port = self.opener(self.config.port, self.config.protocol, self.config.baudrate)
        if self._may_be_modem(self.config.port):
            self._send_init(port)
        return port

    def _may_be_modem(self, name):
        """A named port gets the AT init with protocol = modem, or with auto when Windows calls it a modem."""
        if self.config.protocol == "modem":
            return not name.startswith(("socket://", "udp://"))
        if self.config.protocol != "auto":
            return False
        return any(t.modem for t in probe_plan([p for p in self.ports() if p.device == name], "auto"))

    def _send_init(self, port):
        for command in self.config.init:
            port.write(command.encode("ascii", "replace") + b"\r")
            time.sleep(0.2)             # modems drop commands sent before the previous OK

    PROBE_RESCAN = 5.0                  # seconds between looks for ports plugged in while probing

    def _probe(self):
        """port = auto: listen on every likely port at once; keep the first that speaks caller ID
        (or answers the modem init). A silent port is never taken: a silent ND adapter is found
        by its first call, whose bytes are decoded, not lost."""
        listening = {}                  # device -> (port, bytes heard, asked the AT init)
        error, rescan_at, started, told = None, 0.0, time.monotonic(), None
        try:
            while not self.stopping.is_set():
                if time.monotonic() >= rescan_at:
                    plan = probe_plan(self.ports(), self.config.protocol)
                    for target in plan:
                        if target.device in listening:
                            continue
                        try:
                            port = self.opener(target.device, self.config.protocol, self.config.baudrate)
                        except (serial.SerialException, OSError, ValueError) as e:
                            if error is None or port_error_state(str(e)) == "busy":     # busy says the most
                                error = (target.device, e)
                            continue
                        try:
                            if target.modem:
                                self._send_init(port)
                        except (serial.SerialException, OSError):
                            port.close()
                            continue
                        listening[target.device] = (port, bytearray(), target.modem)
                    rescan_at = time.monotonic() + self.PROBE_RESCAN
                    if not listening and error:
                        self.port_name = error[0]
                        raise error[1]
                    if not listening:
                        raise serial.SerialException("no port")
                for device, (port, heard, asked) in list(listening.items()):
                    try:
                        heard += port.read(port.in_waiting) if port.in_waiting else b""
                    except (serial.SerialException, OSError):
                        port.close()
                        del listening[device]
                        continue
                    del heard[:-AutoDecoder.PATIENCE]
                    if answered(bytes(heard), asked):
                        del listening[device]
                        self.port_name, self.pending = device, bytes(heard)
                        log.info("port = auto: %s から着信表示装置の応答がありました", device)
                        return port
                names = "、".join(listening)
                if listening and time.monotonic() - started >= self.probe_seconds and told != names:
                    told = names
                    self.status("connecting", f"応答する装置がありません（{names} で着信を待っています）。"
                                              "装置のつながる COM 番号がわかれば cti.ini の port = に書いてください")
                self.stopping.wait(0.05)
            raise serial.SerialException("stopped")
        finally:
            for port, _, _ in listening.values():
                port.close()

    def _pump(self, port):
        decoder = make_decoder(self.config.protocol, now=self.now, clock=self.clock)
        pending, self.pending = self.pending, b""
        self._handle(port, decoder, decoder.feed(pending) if pending else [])
        keepalive, heard = getattr(port, "keepalive", None), time.monotonic()
        while not self.stopping.is_set():
            data = port.read(port.in_waiting or 1)
            if data:
                heard = time.monotonic()
                if self.config.debug:
                    log.debug("RX %s", data.hex(" "))
                events = decoder.feed(data)
            else:
                events = decoder.flush()
                if keepalive and time.monotonic() - heard >= self.keepalive_after:
                    keepalive()         # a dead peer makes a later read (or this) raise: lost
                    heard = time.monotonic()
            self._handle(port, decoder, events)

    def _pump_sip(self, port):
        events = port.start()
        while not self.stopping.is_set():
            for event in events:
                if isinstance(event, SipHealth):
                    self.status(event.state, event.text)
            self._handle(port, None, events)
            events = port.exchange()

    def _handle(self, port, decoder, events):
        for event in events:
            if isinstance(event, Reply):
                port.write(event.data)
            elif isinstance(event, Call):
                call = dataclasses.replace(event, received=self.now())
                if call.answered is not None:
                    log.info("着信が終わりました (%s): %s", call.protocol, "他の電話が応答" if call.answered else "不在")
                else:
                    log.info("着信 (%s)%s", call.protocol,
                             f" {call.number or call.reason}" if self.config.debug else "")
                self.events.put(call)
            elif isinstance(event, Garbled):
                log.debug("読めないデータ (%s): %s", decoder.name, event.message)   # may hold digits


###############################################################################
# Store: members.csv ##########################################################
###############################################################################
# Three layers: MembersFile, one parse of one text (an immutable value); changes, pure
# functions from (MembersFile, change) to new text; MemberTable, the thin shell that takes
# the lock beside the file, re-reads, applies, writes, and only then swaps in the new value.

# Column headers, Japanese or English, after NFKC and lower-casing.
COLUMN_ALIASES = {
    "member_no": ("会員番号", "会員no", "会員no.", "member_no", "member no", "no"),
    "name": ("名前", "氏名", "お名前", "name"),
    "kana": ("ふりがな", "フリガナ", "かな", "kana"),
    "phone": ("電話番号", "phone"),
    "staff": ("主担当", "担当", "staff"),
    "memo": ("メモ", "備考", "memo"),
}
EXTRA_PHONE_PREFIXES = ("電話", "携帯", "tel", "phone")
REQUIRED_COLUMNS = ("member_no", "name")
MEMBERS_HEADER = ["会員番号", "名前", "ふりがな", "電話番号", "主担当", "メモ"]
PHONE_HINT = "電話番号は 0 から始まる 10〜11 桁で入力してください（例 0596-31-0005、090-1234-5678）"
EXCEL_EXPONENT = re.compile(r"\s*\d(\.\d+)?[eE]\+\d+\s*")       # 9.01235E+09: digits Excel already lost
KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\s・ー]*")
LOCK_TIMEOUT = 3.0              # seconds a change waits for another PC's write, then it is kept pending
MISSING_RECHECKS = (0.3, 0.7, 1.0)    # Excel's save (and an SMB client's cached "not found") lasts about this
REBASE_ATTEMPTS = 5             # a write made again from the file another program replaced meanwhile
CONFIRM_SECONDS = 30            # a change is checked this long to survive a save by a program without our lock


@dataclass(slots=True)
class Member:
    """One member row as the window shows it; phones are national digits."""
    member_no: str
    name: str
    kana: str = ""
    phones: tuple = ()
    staff: str = ""
    memo: str = ""
    line: int = 0

    def to_dict(self) -> dict:
        return {"member_no": self.member_no, "name": self.name, "kana": self.kana,
                "phones": list(self.phones), "staff": self.staff, "memo": self.memo}


def field_of(cells: list, columns: dict, field: str) -> str:
    """The stripped cell of a named column, '' when the file has no such column or the row is short."""
    column = columns.get(field)
    return cells[column].strip() if column is not None and column < len(cells) else ""


def safe_host_name() -> str:
    return re.sub(r"[^0-9A-Za-z_-]", "_", socket.gethostname()) or "pc"


def header_key(text: str) -> str | None:
    """The field a header cell names, 'phone+' for a further phone column, or None."""
    key = unicodedata.normalize("NFKC", text).strip().lower()
    for field, aliases in COLUMN_ALIASES.items():
        if key in aliases:
            return field
    if key.startswith(EXTRA_PHONE_PREFIXES):
        return "phone+"
    return None


KATAKANA_AS_HIRAGANA = {code: code - 0x60 for code in range(ord("ァ"), ord("ヶ") + 1)}
KATAKANA_RUN = re.compile("[ァ-ヶ]+")        # translated a run at a time: most text has none


def search_key(text: str) -> str:
    """What search compares: NFKC, lower case, katakana as hiragana, no spaces (str.split's: re's \\s)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(KATAKANA_RUN.sub(lambda run: run[0].translate(KATAKANA_AS_HIRAGANA), text).split())


MEMBER_NO = re.compile(r"(.*?)(\d+)")


def next_member_no(numbers) -> str:
    """The member no. after the file's own pattern: AC00003 -> AC00004 (prefix of the latest row)."""
    return MemberNumbers().add(numbers).next()


class MemberNumbers:
    """next_member_no of member nos. given a batch at a time (a parse streamed into the cache holds none).

    The prefix is the latest number's (.*? leaves every digit to \\d+, so it never ends in one); the
    number after it is the highest of those with exactly that prefix and then only digits, which are
    those whose own prefix it is.
    """

    def __init__(self):
        self.latest, self.highest = None, {}

    def add(self, numbers) -> "MemberNumbers":
        highest = self.highest
        for number in numbers:
            if m := MEMBER_NO.fullmatch(number):
                self.latest, value = m, int(m[2])
                if value > highest.get(m[1], -1):
                    highest[m[1]] = value
        return self

    def next(self) -> str:
        if self.latest is None:
            return "00001"
        prefix, width = self.latest[1], len(self.latest[2])
        return f"{prefix}{self.highest[prefix] + 1:0{width}d}"


def map_columns(header) -> dict:
    """{field: column index, 'phone+': [further phone columns]} of a header row."""
    columns = {"phone+": []}
    for index, cell in enumerate(header):
        key = header_key(cell)
        if key == "phone+" or (key == "phone" and "phone" in columns):
            columns["phone+"].append(index)
        elif key and key not in columns:
            columns[key] = index
    return columns


def unclosed_quote_line(text: str, start: int, line: int) -> int | None:
    """The line where a quote opened in text[start:] is never closed, or None.

    csv reads such a quote to the end of the file as one cell; the line it opens on is
    what the receptionist must look at in Excel (CRLF, LF or CR line ends alike). A quote
    opens a cell only at its start, as in csv itself.
    """
    quoted, opened, closed_at = False, None, -2
    for m in re.finditer(r'"|\r\n|\n|\r', text[start:]):
        token, at = m.group(), start + m.start()
        if token != '"':
            line += 1
        elif quoted:
            quoted, closed_at = False, at
        elif at == start or text[at - 1] in ",\r\n" or closed_at == at - 1:     # "" inside a quoted cell
            quoted, opened = True, line
    return opened if quoted else None


def swallowing_cell(cells: list, width: int, single_line=()) -> int | None:
    """The index of the cell that swallowed rows (a quote opened by mistake and closed rows later), or None.

    A memo or phone cell may hold line breaks of its own; a line in it with as many commas
    as a row has is a row, not a memo. A cell of the single_line columns (the member no.) never
    holds a line break of its own.
    """
    for index, cell in enumerate(cells):
        if "\n" in cell or "\r" in cell:
            if index in single_line or (width > 2 and any(part.count(",") >= width - 1
                                                          for part in cell.splitlines()[1:])):
                return index
    return None


class MembersParse:
    """What every parse of members.csv answers, whichever holds it: a MembersFile (in memory) or a
    CachedMembers (asked of the parse cache). Both have members, by_no, by_phone, problems, encoding,
    header, columns, staff_names, verified, and the methods below; no caller asks which it holds."""
    verified = True                 # the parse can be trusted as it is (a cache file is checked: check())

    def lookup(self, digits: str) -> list[Member]:
        """The members holding these national digits, in file order."""
        return list(self.by_phone.get(digits, ()))

    def search(self, query: str, limit=50) -> list[Member]:
        """Members whose number, name, kana or phone contains the query, in file order (one hit a member)."""
        key = search_key(query)
        if not key:
            return []
        chunks, starts = self.search_index()
        needle = written_number(query) or key
        found = []
        for first, text in chunks:
            base, at = starts[first], 0
            while len(found) < limit:
                at = text.find(needle, at)
                if at < 0:
                    break
                index = bisect.bisect_right(starts, base + at) - 1
                found.append(index)
                at = starts[index + 1] - base       # one hit a member
        return self.members_at(found)

    def check(self) -> bool:
        """Whether what the parse is read from is intact (a cache file: its whole checksum)."""
        return True

    def in_memory(self) -> "MembersFile | None":
        """The full parse this one holds already (its text: a write may reuse it), None when it has none."""
        return self.full()


@dataclass(frozen=True, eq=False)
class MembersFile(MembersParse):
    """One parse of one text of members.csv: an immutable value (nobody changes it after parse).

    encoding is what the file is written in: the one it was read in, except that UTF-8
    without BOM gains one (Japanese Excel reads it garbled otherwise). Record i is
    text[starts[i]:starts[i+1]], first on line lines[i]; its member, if valid, is in by_no.
    """
    name: str
    text: str
    encoding: str
    header: list
    header_end: int
    columns: dict
    phone_columns: list
    starts: array.array
    lines: array.array
    members: list
    by_no: dict
    by_phone: dict
    problems: list

    @classmethod
    def parse(cls, text: str, encoding: str = "utf-8-sig", name: str = "members.csv") -> "MembersFile":
        """Parse members.csv text; MembersError when the file cannot be used at all."""
        encoding = "utf-8-sig" if encoding == "utf-8" else encoding
        members, by_no, by_phone = [], {}, {}
        with collector_paused():
            rows = MemberRows(text, name)
            for row in rows:
                member = Member(*row)
                members.append(member)
                by_no[member.member_no] = member
                for phone in member.phones:
                    by_phone[phone] = by_phone.get(phone, ()) + (member,)
        return cls(name, text, encoding, rows.header, rows.header_end, rows.columns, rows.phone_columns,
                   rows.starts, rows.lines, members, by_no, by_phone, rows.problems)

    def next_member_no(self) -> str:
        return next_member_no([m.member_no for m in self.members])

    def full(self) -> "MembersFile":
        return self

    def members_at(self, indexes: list) -> list[Member]:
        return [self.members[i] for i in indexes]

    @property
    def staff_names(self) -> list[str]:
        return sorted({m.staff for m in self.members if m.staff})

    def search_index(self) -> tuple:
        """The search text (search_index()) for search(): made once a parse."""
        return self._search_index

    @functools.cached_property
    def _search_index(self) -> tuple:        # (cached_property writes the instance's dict: frozen is no bar)
        return search_index(self)

    def record(self, index: int) -> str:
        return self.text[self.starts[index]:self.starts[index + 1]]

    @property
    def newline(self) -> str:
        """The file's own line ending; CRLF (Excel's) when it has none yet."""
        return next((n for n in ("\r\n", "\n", "\r") if n in self.text), "\r\n")


NOWHERE = collections.deque(maxlen=0)      # append() keeps nothing (in C: no call a row)


class CachedFirstLines:
    """MemberRows' first_line for a parse streamed into the cache: member no. -> its member's line
    without a string and an int a member held (120 MB at 1,000,000 members): a bit a slot of 16 a
    member says which may be there, the line is then asked of the cache file's index on member_no
    (a repeat, or about one member in 16 by chance); the members not yet written are held here."""

    def __init__(self, expected: int):
        self.mask = (1 << max(16, (expected * 16).bit_length())) - 1
        self.bits = bytearray((self.mask >> 3) + 1)
        self.pending: dict[str, int] = {}
        self.con = None                         # the cache file being written (set by ParseCache._write)

    def get(self, member_no: str) -> int | None:
        line = self.pending.get(member_no)
        if line is not None:
            return line
        slot = hash(member_no) & self.mask
        if not self.bits[slot >> 3] & 1 << (slot & 7):
            return None
        found = self.con.execute("SELECT line FROM members WHERE member_no = ?", (member_no,)).fetchone()
        return found[0] if found else None

    def __setitem__(self, member_no: str, line: int):
        self.pending[member_no] = line
        slot = hash(member_no) & self.mask
        self.bits[slot >> 3] |= 1 << (slot & 7)

    def written(self):
        """The members given so far are in the cache file."""
        self.pending.clear()


class MemberRows:
    """One pass over members.csv text: its header, then each member as a tuple of Member's fields.

    Shared by MembersFile.parse (members kept) and ParseCache.build (members streamed into
    SQLite, never all held at once). starts, lines and problems fill as the rows go by: record i
    is text[starts[i]:starts[i+1]] from line lines[i]; a skipped row has a problem with its line.
    MembersError when the file cannot be used at all (no member no. or name column, a quote
    that csv cannot get past).
    """

    def __init__(self, text: str, name: str = "members.csv", records=None, first_line=None, spans=True):
        """records: (cells, start, end, line) of the records to read, the header first (default: all);
        first_line: member no. -> its member's line (a later row repeats it), {} by default (a
        CachedFirstLines when streamed into the cache); spans: keep starts and lines (a MembersFile's)."""
        self.text, self.name = text, name
        self.header, self.header_end = list(MEMBERS_HEADER), 0
        self.starts, self.lines = (array.array("q"), array.array("l")) if spans else (NOWHERE, NOWHERE)
        self.problems: list[str] = []
        self.first_line = {} if first_line is None else first_line
        self._records = split_records(text) if records is None else iter(records)
        self._end = 0                               # where the last record read ends
        with self._readable():
            first = next(self._records, None)
        if first is not None:
            if first[0] is None:
                raise MembersError(f"{name} 1行目: セルが長すぎます（見出し行）")
            self.header, self._end = first[0], first[2]
            self.header_end = self._end
        self.columns = map_columns(self.header)
        self.phone_columns = ([self.columns["phone"]] if "phone" in self.columns else []) + self.columns["phone+"]
        missing = [COLUMN_ALIASES[f][0] for f in REQUIRED_COLUMNS if f not in self.columns]
        if missing:
            raise MembersError(f"{name}: 見出し行に {'、'.join(missing)} の列がありません")

    @contextlib.contextmanager
    def _readable(self):
        try:
            yield
        except csv.Error as e:              # e.g. a cell opened with " and never closed, past the field limit
            text, end = self.text, self._end
            line = text.count("\n", 0, end) + 1 if "\n" in text else text.count("\r", 0, end) + 1
            line = unclosed_quote_line(text, end, line) or line
            raise MembersError(f"{self.name} {line}行目から後が CSV として読めません（{e}）。"
                               "\" で始まるセルの閉じる \" を確かめてください") from None

    def __iter__(self):
        """(member_no, name, kana, phones, staff, memo, line) of each member, in file order (once)."""
        text, file_name, width = self.text, self.name, len(self.header)
        columns, phone_columns, first_line = self.columns, self.phone_columns, self.first_line
        no_at, name_at = columns["member_no"], columns["name"]
        kana_at, staff_at, memo_at = (columns.get(f, -1) for f in ("kana", "staff", "memo"))
        needed = max([no_at, name_at, kana_at, staff_at, memo_at] + phone_columns) + 1
        add_start, add_line, problems = self.starts.append, self.lines.append, self.problems.append
        with self._readable():
            for cells, start, end, line in self._records:
                add_start(start)
                add_line(line)
                self._end = end
                if cells is None:
                    problems(f"{file_name} {line}行目: セルが長すぎます（{CELL_LIMIT:,} 文字まで。Excel で短くしてください）")
                    continue
                if end == len(text):
                    opened = unclosed_quote_line(text, start, line)
                    if opened is not None:
                        problems(f"{file_name} {opened}行目: \" で始まるセルが閉じていないため、"
                                 "ここから後の行が 1 つのセルになっています")
                        continue
                if text.find('"', start, end) >= 0 \
                        and max(text.count("\n", start, end), text.count("\r", start, end)) > 1 \
                        and (cell := swallowing_cell(cells, width, (no_at,))) is not None:
                    eaten = len(LINE_END.findall(cells[cell]))
                    opened = line + sum(len(LINE_END.findall(c)) for c in cells[:cell])    # (an empty cell has none)
                    problems(f"{file_name} {opened}行目: \" で始まるセルが閉じていないため、後の {eaten} 行が"
                             " 1 つのセルになっています（この行の \" を確かめてください）")
                    continue
                if len(cells) < needed:
                    cells += [""] * (needed - len(cells))
                member_no = member_no_of(cells[no_at])
                if not member_no:
                    if any(c.strip() for c in cells):       # else a blank line Excel left
                        problems(f"{file_name} {line}行目: 会員番号が空です")
                    continue
                first = first_line.get(member_no)
                if first is not None:
                    problems(f"{file_name} {line}行目: 会員番号 {member_no} が {first}行目と重複しています")
                    continue
                name = cells[name_at].strip()
                if not name:
                    problems(f"{file_name} {line}行目: 名前が空です（会員番号 {member_no}）")
                    continue
                phones = []
                for column in phone_columns:
                    cell = cells[column]
                    if EXCEL_EXPONENT.fullmatch(cell):
                        problems(f"{file_name} {line}行目: 電話番号 {cell} が指数表記になっています"
                                 "（Excel で文字列として入力し直してください）")
                        continue
                    phones = [*phones, *(p for p in split_phones(cell) if p not in phones)] if phones else \
                        split_phones(cell)
                first_line[member_no] = line
                yield (member_no, name, cells[kana_at].strip() if kana_at >= 0 else "", tuple(phones),
                       sys.intern(cells[staff_at].strip()) if staff_at >= 0 else "",
                       cells[memo_at].strip() if memo_at >= 0 else "", line)
            self.starts.append(self._end)


ASCII_SPACES = " \t\x0b\x0c\x1c\x1d\x1e\x1f"      # what str.strip() takes from an ASCII cell (csv keeps no \r, \n)
INSIDE_QUOTES = str.maketrans(",\n\r", "\0\1\2")    # what ends a cell or a record, inside a quoted cell
QUOTES_UNDONE = str.maketrans("\0\1\2", ",\n\r")
LONE_CR = re.compile("\r(?!\n)")


def member_no_of(cell: str) -> str:
    """A member no. as the parse reads it: stripped, NFKC'd (ＡＣ００１ is AC001)."""
    member_no = cell.strip()
    return member_no if member_no.isascii() else nfkc(member_no).strip()


def records_as_lines(text: str) -> str | None:
    """text with what csv reads as cell and record ends inside quoted cells (commas, line ends) made
    \\0 \\1 \\2, of the same length: each line of it is then one record, each comma a cell's end, at the
    same offsets as in text. None when a quote is never closed (csv reads the rest as one cell) or
    text holds \\0 \\1 \\2 itself.

    csv (the excel dialect) opens a quoted cell only with a quote at a cell's start; "" inside one is
    a quote; after its closing quote, or in a cell not opened with one, a quote is a character.
    """
    if '"' not in text:
        return text
    if "\0" in text or "\1" in text or "\2" in text:
        return None
    parts, done, at = [], 0, text.find('"')
    while at >= 0:
        if at and text[at - 1] not in ",\r\n":
            at = text.find('"', at + 1)         # a quote inside a cell: a character of it
            continue
        close = text.find('"', at + 1)
        while close >= 0 and text.startswith('"', close + 1):
            close = text.find('"', close + 2)
        if close < 0:
            return None
        parts += (text[done:at], text[at:close].translate(INSIDE_QUOTES))
        done, at = close, text.find('"', close + 1)
    parts.append(text[done:])
    return "".join(parts)


def scan_lookup(text: str, digits: str, encoding: str, name: str = "members.csv") -> tuple[list[Member], list[str]] | None:
    """(the members holding digits, the problems of the rows read) without parsing every row: only the
    records where the number's last four digits are written (written_tail) are parsed, as a full parse
    parses them; a cheap pass over the member no. column checks that no other row repeats a found
    member's number (the earlier one would win). Quoted cells (a memo with a comma or a line break)
    are found first (records_as_lines). None when it cannot be answered so (lone CRs in the text, a
    quote never closed, digits that are not ASCII, a repeated member no.): the caller parses it all.
    """
    if not (digits.isascii() and digits.isdigit()) or LONE_CR.search(text):
        return None
    lined = records_as_lines(text)
    header = next(split_records(text), None) if lined is not None else None
    positions = tail_positions(text, digits, encoding) if header is not None else None
    if positions is None:
        return None
    records, line, counted = [header], 1, 0
    for at in positions:
        start = lined.rfind("\n", 0, at) + 1                # lined: a record is a line
        if start < records[-1][2]:
            continue                                        # the header, or a record read already
        end = lined.find("\n", at) + 1 or len(text)
        line += text.count("\n", counted, start)
        counted = start
        records.append((next(split_records(text[start:end]))[0], start, end, line))
    rows = MemberRows(text, name, records)
    found = [member for member in (Member(*row) for row in rows) if digits in member.phones]
    column = rows.columns["member_no"]
    read = {member_no_of(cells[column]) for cells, *_ in records[1:]
            if cells is not None and column < len(cells)} - {""}     # None: a cell too long, skipped
    if repeated_member_no(lined, column, read):         # a row not read may come first with one of them
        return None
    return found, rows.problems


def lookup_in_text(text: str, digits: str, encoding: str, name: str = "members.csv") -> tuple[list[Member], list[str]]:
    """(the members holding digits, problems) as a full parse answers: scan_lookup, else one pass of the
    parse keeping only those members (nothing else held, nothing written)."""
    scanned = scan_lookup(text, digits, encoding, name)
    if scanned is not None:
        return scanned
    with collector_paused():
        rows = MemberRows(text, name, spans=False)
        return [Member(*row) for row in rows if digits in row[3]], rows.problems


def repeated_member_no(lined: str, column: int, numbers: set) -> bool:
    """More than one row has one of these member nos. (as a parse reads them), in a text whose every
    line after the header is a record (records_as_lines)."""
    if not numbers:
        return False
    cells = re.findall(f"\n(?:[^,\r\n]*,){{{column}}}([^,\r\n]+)", lined)   # re finds \n fast, ^ slowly
    counts = collections.Counter(cells)         # counted in C: every cell as a parse reads it, as a rule
    joined = "\n".join(cells)
    if not joined.isascii() or '"' in joined or any(space in joined for space in ASCII_SPACES):
        for cell in [c for c in counts if not c.isascii() or '"' in c or c != c.strip()]:
            if cell.startswith('"'):            # a quoted cell: as csv reads it
                as_read = member_no_of(next(csv.reader([cell.translate(QUOTES_UNDONE)]))[0])
            else:
                as_read = member_no_of(cell)
            counts[as_read] += counts.pop(cell)
    return any(counts[number] > 1 for number in numbers)


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# changes: typed values, and pure functions of (file, change) to new text
#
# A change is a Register or a Link; the pending file keeps each as a JSON object
# ({"op": "register"|"link", and its fields}). A member no. once shown to the receptionist
# (on the card, in a 保存待ち message) is hers: auto is then False, and the change is written
# under that number, or, when another program took it meanwhile, under the next free one
# with a Renumbered notice that she acknowledges.

@dataclass(frozen=True)
class Register:
    """A validated new member (phone: national digits or "")."""
    member_no: str
    name: str
    kana: str = ""
    phone: str = ""
    staff: str = ""
    memo: str = ""
    auto: bool = False          # not typed and not shown yet: the file's next number, taken under the lock
    made: float = 0.0           # when the receptionist saved it (time.time()): bookings since then are hers
    op = "register"


@dataclass(frozen=True)
class Link:
    """A number added to a member (phone: national digits)."""
    member_no: str
    phone: str
    made: float = 0.0
    op = "link"


CHANGE_TYPES = {"register": Register, "link": Link}


def change_json(change) -> dict:
    return {"op": change.op, **dataclasses.asdict(change)}


def change_of(data: dict):
    """The change a pending-file object holds; ValueError for anything else."""
    kind = CHANGE_TYPES.get(data.get("op"))
    if kind is None:
        raise ValueError(f"unknown change {data.get('op')!r}")
    try:
        return kind(**{f.name: data[f.name] for f in dataclasses.fields(kind) if f.name in data})
    except TypeError as e:
        raise ValueError(str(e)) from None


@dataclass(frozen=True)
class Renumbered:
    """A member no. shown to the receptionist that could not stay hers: another program wrote that number
    for someone else first. Records cti.db made under old since `since` are hers, under new."""
    name: str
    old: str
    new: str
    since: float


@dataclass(frozen=True)
class Rejected:
    """A kept change that can no longer be written as it was; why, in Japanese."""
    change: object
    why: str


@dataclass(frozen=True)
class Applied:
    """Changes applied to a file: the new file, what was written (the new change last, as written), notes
    for the receptionist, numbers changed, and kept changes that could not be applied."""
    file: MembersFile
    written: tuple
    new: object
    notes: tuple
    renumbered: tuple
    rejected: tuple


def validate_registration(form: dict, table: "MemberTable") -> tuple["Register | None", dict]:
    """(Register, {}) or (None, {field: message in Japanese}) for the register dialog."""
    errors = {}
    name = " ".join(form.get("name", "").split())
    kana = unicodedata.normalize("NFKC", form.get("kana", "")).strip()
    phone_text = form.get("phone", "").strip()
    phone = normalize_phone(phone_text) if phone_text else ""
    member_no = unicodedata.normalize("NFKC", form.get("member_no", "")).strip()
    staff, memo = form.get("staff", "").strip(), form.get("memo", "").strip()
    if not name:
        errors["name"] = "名前を入力してください"
    elif EXCEL_FORMULA.match(name):
        errors["name"] = "名前を = + - @ で始めることはできません"
    if kana and not KANA.fullmatch(kana):
        errors["kana"] = "ふりがなはひらがなかカタカナで入力してください"
    if phone_text and not valid_phone(phone):
        errors["phone"] = PHONE_HINT
    if member_no and member_no in table.by_no:
        errors["member_no"] = f"会員番号 {member_no} は既に使われています"
    for field, value in (("member_no", member_no), ("name", name), ("kana", kana), ("staff", staff), ("memo", memo)):
        char = unstorable(value, table.encoding)
        if char and field not in errors:
            errors[field] = unstorable_text(char, table.encoding)
    if errors:
        return None, errors
    return Register(member_no or table.next_member_no(), name, kana, phone, staff, memo, not member_no), {}


def held_by_text(phone: str, other) -> str:
    return f"{format_phone(phone)} は {other.name} さん（{other.member_no}）にも登録されています"


def held_by_others(file: MembersFile, phone: str) -> list[str]:
    return [held_by_text(phone, other) for other in file.by_phone.get(phone, ())]


def change_written(file: MembersFile, change) -> bool:
    """The change is in the file already (a retry, or another copy of the pending file wrote it)."""
    member = file.by_no.get(change.member_no)
    if isinstance(change, Register):
        return bool(member and member.name in (change.name, excel_safe(change.name))
                    and (not change.phone or change.phone in member.phones))
    return bool(member and change.phone in member.phones)


def apply_change(file: MembersFile, change) -> tuple[str, list[str], object, Renumbered | None]:
    """(new text, notes, the change as written, Renumbered or None) of change applied to file; the same
    text when already in it.

    A register not shown yet (auto) takes the file's next number; one shown whose number another
    program wrote meanwhile gets the next free one, and a Renumbered says so. MembersError when it
    cannot apply (a link to a member deleted meanwhile, a character the file cannot hold).
    """
    for value in dataclasses.astuple(change):
        char = unstorable(str(value), file.encoding)
        if char:
            raise MembersError(unstorable_text(char, file.encoding))
    if change_written(file, change):
        return file.text, [], dataclasses.replace(change, auto=False) if isinstance(change, Register) else change, None
    if isinstance(change, Register):
        renumbered, notes = None, []
        if change.auto or change.member_no in file.by_no:
            new_no = file.next_member_no()
            if not change.auto:
                renumbered = Renumbered(change.name, change.member_no, new_no, change.made)
            elif change.member_no in file.by_no:        # the dialog's suggestion, taken meanwhile
                notes.append(f"会員番号 {change.member_no} は他の PC で使われたため {new_no} にしました")
            change = dataclasses.replace(change, member_no=new_no)
        change = dataclasses.replace(change, auto=False)       # written: shown from now on
        values = {"member_no": change.member_no, "name": change.name, "kana": change.kana,
                  "phone": format_phone(change.phone) if change.phone else "",
                  "staff": change.staff, "memo": change.memo}
        header, cells = cells_for(file, values)
        return render(file, header, {}, [cells]), notes + held_by_others(file, change.phone), change, renumbered
    member = file.by_no.get(change.member_no)
    if member is None:
        raise MembersError(f"会員番号 {change.member_no} が {file.name} にありません"
                           "（他の PC か Excel で削除されたようです）")
    notes = held_by_others(file, change.phone)
    index = bisect.bisect_left(file.lines, member.line)
    cells = next(split_records(file.record(index)))[0]
    header = list(file.header)
    if "phone" not in file.columns:
        header.append(MEMBERS_HEADER[3])
        column = len(header) - 1
    else:
        column = file.columns["phone"]
    cells += [""] * (len(header) - len(cells))
    current = cells[column].strip()
    cells[column] = f"{current}; {format_phone(change.phone)}" if current else format_phone(change.phone)
    return render(file, header, {index: cells}, []), notes, change, None


def apply_changes(file: MembersFile, changes, new=None) -> Applied:
    """The kept changes, then the new one, applied to file.

    A kept change that no longer applies (its member deleted meanwhile, a character the file, now
    CP932, cannot hold) is Rejected, never dropped untold, so that it cannot block every later
    change; only the new change raises.
    """
    notes, written, renumbered, rejected, new_written = [], [], [], [], None
    for change in [*changes, *([new] if new else [])]:
        try:
            text, note, done, moved = apply_change(file, change)
        except MembersError as e:
            if change is new:
                raise
            rejected.append(Rejected(change, str(e)))
            continue
        notes += note
        written.append(done)
        if moved:
            renumbered.append(moved)
        if change is new:
            new_written = done
        if text is not file.text:           # a change already in the file changes nothing
            file = MembersFile.parse(text, file.encoding, file.name)
    return Applied(file, tuple(written), new_written, tuple(notes), tuple(renumbered), tuple(rejected))


def cells_for(file: MembersFile, values: dict):
    """(header, cells) of a new row; a missing known column is added at the end of the header."""
    header = list(file.header)
    columns = dict(file.columns)
    for field, title in zip(("member_no", "name", "kana", "phone", "staff", "memo"), MEMBERS_HEADER):
        if field not in columns and values.get(field):
            header.append(title)
            columns[field] = len(header) - 1
    cells = [""] * len(header)
    for field, value in values.items():
        if field in columns:
            cells[columns[field]] = value
    return header, cells


def render(file: MembersFile, header, changed: dict, added: list) -> str:
    """The file's text with rows changed and added; untouched rows are copied as they are."""
    newline = file.newline
    parts = []
    if header != file.header or not file.text:
        parts.append(csv_rows_text([header], newline))
    else:
        parts.append(file.text[:file.header_end])
    for index in range(len(file.lines)):
        raw = file.record(index)
        if index in changed:
            parts.append(csv_rows_text([changed[index]], newline))
        elif re.search(r'(^|,)"?[=@+\-\t]', raw) and formula_cells(raw):
            parts.append(csv_rows_text([next(split_records(raw))[0]], newline))   # never write back what Excel would run
        else:
            parts.append(raw)
    if added and parts and not parts[-1].endswith(("\n", "\r")):
        parts[-1] += newline
    parts.append(csv_rows_text(added, newline))
    return "".join(parts)


def formula_cells(raw: str) -> bool:
    cells = next(split_records(raw))[0]
    return cells is not None and any(EXCEL_FORMULA.match(c) for c in cells)


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# parse cache: a parse of members.csv kept in SQLite beside cti.db, found by the file's content
#
# members.csv stays the only truth. A parse is looked up by the content key of the bytes just
# read (their size and a checksum of every byte, never the file's time: Excel and copies
# can rewrite it with the same size and timestamp), so what is answered is always a parse of
# what is on disk. A cache file is built under a temp name and renamed into place (never seen
# half written), one file a content, and carries its version and key; anything unexpected in
# it (another version, another key, a wrong count, a truncated or damaged file, an error while
# asking it) and it is deleted and members.csv parsed again. None of this is the receptionist's
# concern, nor a script's: it goes to the log at INFO, never to a command's standard error. Lookups by phone and member no.
# ask the cache's indexes directly, so 1,000,000 members start in a fraction of a second
# without a Member object each; a write re-reads and parses the file itself (under the lock).

CACHE_VERSION = 5       # 2: the search text in chunks; 3: the text kept; 4: in the file's encoding; 5: built as parsed
CACHE_BATCH = 5_000                     # members parsed, then written, at a time
CACHE_SCHEMA = """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value);
    CREATE TABLE members (idx INTEGER PRIMARY KEY, member_no TEXT NOT NULL, name TEXT NOT NULL, kana TEXT NOT NULL,
                          phones TEXT NOT NULL, staff TEXT NOT NULL, memo TEXT NOT NULL, line INTEGER NOT NULL);
    CREATE TABLE phones (phone TEXT NOT NULL, idx INTEGER NOT NULL);
"""
# made after the rows: SQLite sorts once instead of inserting into a B-tree in random order
CACHE_INDEXES = ("CREATE INDEX phones_phone ON phones(phone, idx)",)
MEMBERS_NO_INDEX = "CREATE UNIQUE INDEX members_no ON members(member_no)"   # made first: a parse asks it for repeats
MEMBER_COLUMNS = "member_no, name, kana, phones, staff, memo, line"
CACHE_CHECK_DELAY = 3.0                 # seconds after a warm start before the whole cache file is checked


def content_key(raw: bytes) -> str:
    """What identifies one content of members.csv: its size and a checksum of every byte (CRC-32: 1 GB/s)."""
    return f"{len(raw)}-{zlib.crc32(raw):08x}"


class ParseCache:
    """Parses of members.csv, one SQLite file a content, in a folder of their own (local, beside cti.db)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @classmethod
    def beside(cls, database: Path) -> "ParseCache":
        database = Path(database)
        return cls(database.with_name(database.stem + "-cache"))

    def path_of(self, key: str, name: str, checksum: int) -> Path:
        """The cache file of one content: its own checksum in the name (SQLite keeps none of the data)."""
        return self.folder / f"{Path(name).stem}-{key}.{checksum:08x}.sqlite"

    def files_of(self, key: str, source: Path) -> list[Path]:
        """The cache files of this content (open() checks the one it uses)."""
        return sorted(self.folder.glob(f"{glob.escape(source.stem)}-{key}.*.sqlite"))

    def open(self, key: str, source: Path, verify=True) -> "CachedMembers | None":
        """The cached parse of this content, or None (none yet, or one that cannot be trusted: deleted).

        verify=False leaves the whole-file checksum to the caller (verified(), on another thread).
        """
        found = self.files_of(key, source)
        if not found:
            return None
        path = found[0]
        try:
            if verify and not self.verified(path):
                raise ValueError("the file's checksum differs from its name (damaged)")
            cached = CachedMembers(path, key, source)
            cached.verified = verify
            return cached
        except (sqlite3.Error, OSError, ValueError, KeyError, TypeError) as e:
            log.info("会員台帳のキャッシュを使えないので作り直します（%s）: %s", path.name, e)
            remove_quietly(path)
            return None

    @staticmethod
    def verified(path: Path) -> bool:
        """The cache file holds the bytes it was written with (its name ends in their checksum); a file
        gone meanwhile (another start replaced it, the folder was cleaned) is not."""
        try:
            return path.name.split(".")[-2] == f"{file_checksum(path):08x}"
        except OSError:
            return False

    def build(self, key: str, packed: list, text: str, encoding: str, name: str) -> Path:
        """Parse members.csv's text straight into a cache file, a batch of members at a time (never a
        Member each in memory: the first start's peak); packed: [the bytes text was decoded from,
        compressed], emptied once they are written.

        MembersError when the file cannot be used; sqlite3.Error or OSError when the cache cannot
        be written (the caller parses into memory instead).
        """
        with collector_paused():
            first_lines = CachedFirstLines(text.count("\n") + 1)
            rows = MemberRows(text, name, first_line=first_lines, spans=False)
            return self._write(key, rows, rows, "utf-8-sig" if encoding == "utf-8" else encoding, packed, first_lines)

    def store(self, key: str, file: MembersFile) -> Path:
        """Write a parse made in memory (the file as a change wrote it)."""
        members = ((m.member_no, m.name, m.kana, m.phones, m.staff, m.memo, m.line) for m in file.members)
        return self._write(key, file, members, file.encoding, [zlib.compress(file.text.encode(file.encoding), 1)])

    def _write(self, key: str, parse, members, encoding: str, packed: list, first_lines=None) -> Path:
        """Write one content's parse (temp file, then rename); the older parses of that name are removed.

        parse: its name, header, columns, phone_columns, and its problems once members is read
        through; members: Member's fields a member at a time; packed: [the text's bytes compressed],
        handed over (freed once SQLite has them: 30 MB at 1,000,000 members), for a change to be
        applied to (full()) even when members.csv cannot be read; first_lines: the CachedFirstLines
        members is read with, answered from this file. Raises sqlite3.Error or OSError (the caller
        goes on without a cache), and what reading members raises.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = Path(parse.name).stem
        tmp = self.folder / f".{stem}-{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        count, staff_names, starts, numbers = 0, set(), array.array("q", [0]), MemberNumbers()
        members = iter(members)
        try:
            con = sqlite3.connect(tmp, isolation_level=None)
            try:
                con.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; " + CACHE_SCHEMA)
                con.execute(MEMBERS_NO_INDEX)
                if first_lines is not None:
                    first_lines.con = con
                con.execute("BEGIN")
                # first, while little else is held: SQLite copies the blob (a 33 MB peak more at the end)
                con.execute("INSERT INTO meta VALUES ('text', ?)", (packed.pop(),))
                while batch := list(itertools.islice(members, CACHE_BATCH)):
                    first, count = count, count + len(batch)
                    con.executemany(f"INSERT INTO members (idx, {MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                    ((i, no, name, kana, "\t".join(phones), staff, memo, line)
                                     for i, (no, name, kana, phones, staff, memo, line) in enumerate(batch, first)))
                    if first_lines is not None:
                        first_lines.written()
                    con.executemany("INSERT INTO phones VALUES (?, ?)",        # by_phone, as the rows hold it
                                    ((phone, i) for i, m in enumerate(batch, first) for phone in m[3]))
                    lines = search_lines(batch)
                    for line in lines:
                        starts.append(starts[-1] + len(line) + 1)
                    con.execute("INSERT INTO meta VALUES (?, ?)",      # the search text, a batch a row
                                (f"search_text:{first // CACHE_BATCH:06d}",
                                 ("\n".join(lines) + "\n").encode("utf-16-le", "surrogatepass")))
                    numbers.add(m[0] for m in batch)
                    staff_names.update(m[4] for m in batch)
                for index in CACHE_INDEXES:
                    con.execute(index)
                phone_count, = con.execute("SELECT count(DISTINCT phone) FROM phones").fetchone()
                staff_names.discard("")
                meta = {"version": CACHE_VERSION, "key": key, "name": parse.name, "encoding": encoding,
                        "header": json.dumps(parse.header, ensure_ascii=False), "columns": json.dumps(parse.columns),
                        "phone_columns": json.dumps(parse.phone_columns), "count": count,
                        "phone_count": phone_count, "problems": json.dumps(parse.problems, ensure_ascii=False),
                        "next_member_no": numbers.next(),
                        "staff_names": json.dumps(sorted(staff_names), ensure_ascii=False),
                        "search_starts": starts.tobytes()}
                con.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
                con.execute("COMMIT")
            finally:
                con.close()
            path = self.path_of(key, parse.name, file_checksum(tmp))
            os.replace(tmp, path)
        except BaseException:
            remove_quietly(tmp)
            raise
        ours = re.compile(re.escape(stem) + r"-\d+-[0-9a-f]{8}\.[0-9a-f]{8}\.sqlite")
        for old in self.folder.glob("*.sqlite"):
            if old != path and ours.fullmatch(old.name):     # not members-2024.csv's when this is members.csv
                remove_quietly(old)         # Windows: one another process has open stays till next time
        return path


def sqlite_uri(path) -> str:
    """SQLite's URI of an absolute path: file:///C:/cti/x, file:////server/share/x (a UNC path keeps an
    empty authority, as SQLite requires; Path.as_uri() would name the server there), file:///home/x."""
    posix = path.as_posix()
    return "file://" + urllib.parse.quote(posix if posix.startswith("/") else "/" + posix, safe="/:")


def file_checksum(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def remove_quietly(path: Path):
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as e:
        log.info("キャッシュを消せません: %s", e)


class CachedMembers(MembersParse):
    """A parse of members.csv read from the parse cache: what a MembersFile answers, asked of SQLite.

    Members are made as they are asked for (by phone, member no., index); the search text, the
    problems and the next member no. come stored. The cache file is never changed once written,
    so it is opened read-only and immutable. Should asking it fail, the source file is parsed
    and answers from then on come from that parse.
    """

    def __init__(self, path: Path, key: str, source: Path):
        self.path, self.source = path, source
        self.con = sqlite3.connect(sqlite_uri(path.resolve()) + "?mode=ro&immutable=1", uri=True,
                                   check_same_thread=False, isolation_level=None)
        self.asking = threading.Lock()
        self.parsed: MembersFile | None = None
        try:
            meta = dict(self.con.execute("SELECT key, value FROM meta WHERE key NOT LIKE 'search_%' AND key != 'text'"))
            page_size, = self.con.execute("PRAGMA page_size").fetchone()
            pages, = self.con.execute("PRAGMA page_count").fetchone()
            last, = self.con.execute("SELECT coalesce(max(idx), -1) FROM members").fetchone()
            if (meta["version"] != CACHE_VERSION or meta["key"] != key or meta["name"] != source.name
                    or page_size * pages != path.stat().st_size or last + 1 != meta["count"]):
                raise ValueError("version, key, size or count differ")
            self.name, self.encoding = meta["name"], meta["encoding"]
            self.header = json.loads(meta["header"])
            self.columns, self.phone_columns = json.loads(meta["columns"]), json.loads(meta["phone_columns"])
            self.problems = json.loads(meta["problems"])
            self.staff_names = json.loads(meta["staff_names"])
            self.count, self.phone_count, self._next_no = meta["count"], meta["phone_count"], meta["next_member_no"]
        except BaseException:
            self.con.close()
            raise
        self.kept_by_phone = {}         # by_phone's answers (the parse never changes)
        self._search = None
        self._searching = threading.Lock()         # one read of the search text, whoever asks first
        self.verified = False           # the whole file's checksum checked (ParseCache.open says)

    # views made when asked (none kept: a parse replaced is freed at once, without a cycle for gc to find)
    members = property(lambda self: CachedRows(self))
    by_no = property(lambda self: CachedByNo(self))
    by_phone = property(lambda self: CachedByPhone(self))

    def next_member_no(self) -> str:
        return self._next_no

    def members_at(self, indexes: list) -> list[Member]:
        return self.members.at(indexes)

    def in_memory(self) -> MembersFile | None:
        return self.parsed

    def check(self) -> bool:
        self.verified = self.verified or ParseCache.verified(self.path)
        return self.verified

    def full(self) -> MembersFile:
        """The MembersFile of this content, to apply a change to: parsed from the text the cache keeps
        (members.csv may be held or gone by then). Answers come from that parse from then on."""
        if self.parsed is None:
            rows = self.ask("SELECT value FROM meta WHERE key = 'text'")
            if self.parsed is None:             # (else asking failed and members.csv was parsed instead)
                if not rows:
                    raise MembersError(f"{self.name}: 会員台帳のキャッシュに本文がありません")
                text = zlib.decompress(rows[0][0]).decode(self.encoding)
                self.parsed = MembersFile.parse(text, self.encoding, self.name)
        return self.parsed

    def search_index(self) -> tuple:
        """The search text as stored (search_index()); read once (the window reads it at load, --lookup never)."""
        with self._searching:
            return self._read_search_index()

    def _read_search_index(self) -> tuple:
        if self._search is None:
            # a chunk at a time, each kept as it is: never the stored bytes, the chunks and a text
            # joined from them at once (the warm start's spike: 120 MB at 1,000,000 members)
            keys = self.ask("SELECT key FROM meta WHERE key LIKE 'search_text:%' ORDER BY key") or []
            try:
                chunks, first, length = [], 0, 0
                for key, in keys:
                    text = self.ask("SELECT value FROM meta WHERE key = ?", (key,))[0][0].decode(
                        "utf-16-le", "surrogatepass")
                    chunks.append((first, text))
                    first, length = first + text.count("\n"), length + len(text)
                starts = array.array("q")
                starts.frombytes(self.ask("SELECT value FROM meta WHERE key = 'search_starts'")[0][0])
                if len(starts) != self.count + 1 or first != self.count or starts[-1] != length:
                    raise ValueError("search index differs")
            except (IndexError, ValueError, TypeError, AttributeError) as e:
                log.info("会員台帳のキャッシュの検索索引を使えないので作り直します: %s", e)
                chunks, starts = search_index(self.parsed or self)
            self._search = (chunks, starts)
        return self._search

    def ask(self, sql: str, args=()) -> list | None:
        """Rows of a query; None once the cache failed (self.parsed answers then)."""
        if self.parsed is None:
            try:
                with self.asking:
                    return self.con.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                log.info("会員台帳のキャッシュを読めないので members.csv を読み直します: %s", e)
                remove_quietly(self.path)
                text, encoding = read_text_any(self.source, MembersError)
                self.parsed = MembersFile.parse(text, encoding, self.name)
        return None

    def one(self, column: str, value, from_parse, missing) -> Member:
        """The member whose column is value (idx or member_no, both unique); missing(value) raised if none."""
        rows = self.ask(f"SELECT {MEMBER_COLUMNS} FROM members WHERE {column} = ?", (value,))
        if rows is None:
            return from_parse(self.parsed)
        if not rows:
            raise missing(value)
        return self.member(rows[0])

    @staticmethod
    def member(row) -> Member:
        member_no, name, kana, phones, staff, memo, line = row
        return Member(member_no, name, kana, tuple(phones.split("\t")) if phones else (), staff, memo, line)


class CachedRows(collections.abc.Sequence):
    """members of a CachedMembers: index -> Member."""

    def __init__(self, cached: CachedMembers):
        self.cached = cached

    def __len__(self):
        return len(self.cached.parsed.members) if self.cached.parsed else self.cached.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return self.cached.one("idx", index, lambda parsed: parsed.members[index], IndexError)

    def at(self, indexes: list) -> list[Member]:
        rows = self.cached.ask(f"SELECT idx, {MEMBER_COLUMNS} FROM members WHERE idx IN "
                               f"({','.join('?' * len(indexes))})", indexes) if indexes else []
        if rows is None:
            return [self.cached.parsed.members[i] for i in indexes]
        found = {row[0]: CachedMembers.member(row[1:]) for row in rows}
        return [found[i] for i in indexes]

    def __iter__(self):
        rows = self.cached.ask(f"SELECT {MEMBER_COLUMNS} FROM members ORDER BY idx")
        return iter(self.cached.parsed.members if rows is None else map(CachedMembers.member, rows))


class CachedByNo(collections.abc.Mapping):
    """by_no of a CachedMembers: member no. -> Member."""

    def __init__(self, cached: CachedMembers):
        self.cached = cached

    def __getitem__(self, member_no):
        return self.cached.one("member_no", member_no, lambda parsed: parsed.by_no[member_no], KeyError)

    def __len__(self):
        return len(self.cached.members)

    def __iter__(self):
        return (m.member_no for m in self.cached.members)


class CachedByPhone(collections.abc.Mapping):
    """by_phone of a CachedMembers: national digits -> (Member, ...) in file order.

    Answers are kept (the parse never changes): the history's 100 rows are looked up again on
    every call, and each is then a dictionary access.
    """
    KEPT = 4096

    def __init__(self, cached: CachedMembers):
        self.cached = cached

    def __getitem__(self, phone):
        kept = self.cached.kept_by_phone
        found = kept.get(phone)
        if found is None:
            found = kept[phone] = self._ask(phone)
            if len(kept) > self.KEPT:
                kept.pop(next(iter(kept)))
        if not found:
            raise KeyError(phone)
        return found

    def _ask(self, phone) -> tuple:
        rows = self.cached.ask(f"SELECT {', '.join('m.' + c for c in MEMBER_COLUMNS.split(', '))} FROM phones p "
                               "JOIN members m ON m.idx = p.idx WHERE p.phone = ? ORDER BY p.idx", (phone,))
        if rows is None:
            return self.cached.parsed.by_phone.get(phone, ())
        return tuple(map(CachedMembers.member, rows))

    def __len__(self):
        return len(self.cached.parsed.by_phone) if self.cached.parsed else self.cached.phone_count

    def __iter__(self):
        rows = self.cached.ask("SELECT DISTINCT phone FROM phones")
        return iter(self.cached.parsed.by_phone if rows is None else [phone for phone, in rows])


def members_from(handed: list, source: Path, cache: ParseCache | None, full=False, verify=True):
    """(parse, content key) of members.csv's bytes: from the cache when it holds this content, else
    parsed straight into the cache and answered from there; a MembersFile when full (a change
    needs one to write to) or the cache cannot be written. MembersError when the file cannot be used.

    The bytes come in a list emptied here, so that they are freed before the parse (no caller's
    frame holds them: 10 MB less at a first start's peak at 100,000 members).
    """
    raw = handed.pop()
    key = content_key(raw) if cache else None
    file = cache.open(key, source, verify) if cache and not full else None
    if file is None:
        text, encoding = decode_file_text(raw, source, MembersError)
        packed = [zlib.compress(raw, 1)] if cache and not full else None
        del raw
        if packed:
            file = cached_parse(cache, key, packed, text, encoding, source)
        if file is None:
            file = MembersFile.parse(text, encoding, source.name)
    gc.freeze()                 # what a load made is long-lived: full collections need not look at it again
    return file, key


def cached_parse(cache: ParseCache, key: str, packed: list, text: str, encoding: str,
                 source: Path) -> "CachedMembers | None":
    """Parse text into the cache and open what was written; None when the cache cannot be written."""
    try:
        cache.build(key, packed, text, encoding, source.name)
    except (sqlite3.Error, OSError) as e:
        log.info("会員台帳のキャッシュを書けません: %s", e)
        return None
    return cache.open(key, source)


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the shell: the lock, the pending file, one write under the lock

class LockLost(FileChanged):
    """The lock file we hold is no longer the one at its path (deleted while held): another PC may hold
    the new one, so nothing is replaced; the write starts again under a fresh lock."""


class MembersLock:
    """members.csv.lock: an OS lock (a filelock.FileLock: a crashed process or a PC that drops off
    the share releases it), and whether it is still ours.

    A lock file deleted while held (a share that dropped and came back, a sync or clean-up tool)
    lets another PC lock a new file at the same path at once. held() compares the file we locked
    with the one at the path; a write asks it before every replace. The file stays when released
    (unlinking it on release would let one waiting on the old file and one on a new file both hold).
    """

    def __init__(self, members: Path):
        self.path = Path(str(members) + ".lock")
        self.locked = None                  # (st_dev, st_ino) of the file we hold locked, None when not held
        self.lock = filelock.FileLock(str(self.path), timeout=LOCK_TIMEOUT, is_singleton=False,
                                      preserve_lock_file=True, on_acquired=self._acquired)

    def _acquired(self, fd: int):
        st = os.fstat(fd)
        self.locked = (st.st_dev, st.st_ino)
        if not self.held():                 # replaced between filelock's open and its lock
            self.locked = None
            raise LockLost(f"{self.path.name} was replaced while it was locked")

    def held(self) -> bool:
        if self.locked is None:
            return False
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.locked

    def check(self) -> bool:
        """True while the lock is ours; LockLost when it is not (asked before every replace)."""
        if not self.held():
            raise LockLost(f"{self.path.name} is no longer the file we locked")
        return True

    @contextlib.contextmanager
    def hold(self, timeout: float):
        """The lock, waiting up to timeout; filelock.Timeout, LockLost or OSError when it cannot be had."""
        with self.lock.acquire(timeout=timeout):
            try:
                yield self
            finally:
                self.locked = None


@dataclass(frozen=True)
class Kept:
    """What the pending file holds: changes not written yet, changes written but not yet seen to survive
    a save by a program that takes no lock (Excel) as (time.time() written, change), and member nos.
    changed that the receptionist has not acknowledged yet."""
    changes: tuple = ()
    unconfirmed: tuple = ()
    renumbered: tuple = ()

    def __bool__(self):
        return bool(self.changes or self.unconfirmed or self.renumbered)


class PendingFile:
    """This PC's record of its changes to members.csv, members.csv.<PC>.pending (the PC's name in it:
    PCs running cti from one shared folder keep their own). One JSON object a line, UTF-8:
    a change as change_json() makes it ({"op": "register"|"link", …}) waits to be written; the
    same with "written": <time.time()> was written and is checked against the file until
    CONFIRM_SECONDS have passed (the next start checks it once more); {"op": "renumbered", "name",
    "old", "new", "since"} is a member no. changed and not yet acknowledged. Written whole, atomically,
    before memory claims any of it; removed when it holds nothing."""

    def __init__(self, folder: Path, members: Path):
        self.path = Path(folder) / f"{members.name}.{safe_host_name()}.pending"

    def read(self) -> Kept | None:
        """What the file holds (Kept() when there is none); None when it cannot be read now."""
        try:
            lines = self.path.read_text("utf-8").splitlines()
        except FileNotFoundError:
            return Kept()
        except OSError as e:
            log.warning("保存待ちファイルを読めません: %s", e)
            return None
        changes, unconfirmed, renumbered = [], [], []
        for line in lines:
            try:
                data = json.loads(line)
                if data.get("op") == "renumbered":
                    renumbered.append(Renumbered(data["name"], data["old"], data["new"], data["since"]))
                elif "written" in data:
                    unconfirmed.append((float(data["written"]), change_of(data)))
                else:
                    changes.append(change_of(data))
            except (ValueError, KeyError, TypeError, AttributeError):
                log.warning("保存待ちファイルの壊れた行を飛ばしました")
        return Kept(tuple(changes), tuple(unconfirmed), tuple(renumbered))

    def write(self, kept: Kept):
        """Write kept (or remove the file when it holds nothing); OSError when it cannot be written."""
        if not kept:
            self.path.unlink(missing_ok=True)
            return
        lines = [change_json(c) for c in kept.changes]
        lines += [{**change_json(c), "written": t} for t, c in kept.unconfirmed]
        lines += [{"op": "renumbered", **dataclasses.asdict(r)} for r in kept.renumbered]
        atomic_write(self.path, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8"))


UNSAVED_NAME = "{stem}_保存できなかった変更.txt"


def unsaved_line(rejected: Rejected, when: datetime) -> str:
    """One kept change that could not be written, as the receptionist reads it in the unsaved file."""
    change = rejected.change
    if isinstance(change, Register):
        what = (f"会員登録 会員番号 {change.member_no} 名前 {change.name} ふりがな {change.kana} "
                f"電話番号 {format_phone(change.phone) if change.phone else ''} 主担当 {change.staff} メモ {change.memo}")
    else:
        what = f"電話番号登録 会員番号 {change.member_no} 電話番号 {format_phone(change.phone)}"
    return f"{when:%Y-%m-%d %H:%M} {socket.gethostname()}: {what}（保存できなかった理由: {rejected.why}）\r\n"


def keep_unsaved(folders: list[Path], members: Path, rejected: tuple, now: datetime) -> Path:
    """Add the rejected changes to the unsaved file beside members.csv (else in the next folder that
    takes it); its path, or OSError when no folder does."""
    text = "".join(unsaved_line(r, now) for r in rejected)
    error = None
    for folder in folders:
        path = Path(folder) / UNSAVED_NAME.format(stem=members.stem)
        try:
            with open(path, "ab") as f:
                f.write(("\ufeff" if f.tell() == 0 else "").encode("utf-8") + text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            return path
        except OSError as e:
            error = error or e
    raise error


@dataclass(frozen=True)
class Written:
    """What one write under the lock did: the file now on disk (and its stamp), the changes this PC has
    written and not yet seen confirmed, and what the receptionist is to be told."""
    file: MembersFile
    stamp: tuple | None
    changed: bool               # the text on disk is new (not only what was there)
    applied: Applied
    unsaved: Path | None        # where the rejected changes were kept


class MemberWriter:
    """The shell around the pure changes: under the lock, the file as it is now (compared by content,
    never by its time and size alone), the kept and new changes applied, the new text written (temp
    file, then replace, only while the lock and the file are still the ones we had), and the pending
    file made to hold what this PC wrote and has not yet seen confirmed. The caller swaps the result in.
    """

    def __init__(self, path: Path, pending: PendingFile):
        self.path, self.pending = path, pending
        self.kept = Kept()                  # what the pending file holds
        self.last: tuple | None = None      # (content key, MembersFile) of the text last read or written here

    def reload(self):
        """What the pending file holds now (another start may have left changes in it)."""
        self.kept = self.pending.read() or self.kept

    def keep(self, kept: Kept, must=True):
        """The pending file first, then memory (memory never claims more than disk); must=False: kept in
        memory even when the file cannot be written (what it records was on disk a moment ago)."""
        try:
            self.pending.write(kept)
        except OSError as e:
            if must:
                raise
            log.error("保存待ちファイルを書けません: %s", e)
        self.kept = kept

    @functools.cached_property
    def lock(self) -> MembersLock:
        """Made at the first write (reading needs no lock, nor filelock's import)."""
        return MembersLock(self.path)

    def write(self, read_raw, stat, new=None, known: "MembersFile | None" = None) -> Written:
        """Write the kept changes and new; known: the table's last full parse, used when the file still
        holds exactly its text.

        read_raw(): (bytes, or None for a file that may be created; its stamp); stat(): the file's
        stamp now. Raises FileError (held, locked, the folder or the share), MembersError (the file
        cannot be used), or ValidationError when new no longer applies; nothing is written then
        (changes found lost meanwhile are pending from then on).
        """
        try:
            cause = "held"
            for _ in range(REBASE_ATTEMPTS):
                try:
                    with self.lock.hold(LOCK_TIMEOUT if new else 0) as lock:
                        return self._write_held(lock, read_raw, stat, new, known)
                except FileChanged as e:    # another program saved meanwhile, or the lock file was replaced
                    cause = "locked" if isinstance(e, LockLost) else "held"
            raise FileError(f"{self.path.name}: {FILE_CAUSES[cause]}", cause)     # again and again: kept pending
        except filelock.Timeout:
            raise FileError(f"{self.path.name}: {FILE_CAUSES['locked']}", "locked") from None
        except OSError as e:                # the lock file itself (a read-only or unreachable folder)
            raise file_problem(e, self.path) from None

    def _write_held(self, lock: MembersLock, read_raw, stat, new, known) -> Written:
        raw, based_on = read_raw()
        key = content_key(raw) if raw is not None else None
        if self.last and key == self.last[0]:
            disk = self.last[1]             # the same content as we last read or wrote: its parse
        elif raw is not None and known is not None and known.text.encode(known.encoding) == raw:
            disk = known                    # the same bytes as the table read: its parse
        elif raw is None:
            disk = MembersFile.parse("", "utf-8-sig", self.path.name)
        else:
            disk = MembersFile.parse(*decode_file_text(raw, self.path, MembersError), self.path.name)
        kept = requeued(self.kept, disk)
        if kept != self.kept:
            self.keep(kept, must=False)
        try:
            applied = apply_changes(disk, kept.changes, new)
        except MembersError as e:
            raise ValidationError(str(e)) from None
        file, data = applied.file, applied.file.text.encode(applied.file.encoding)
        still_kept, unsaved = (), None
        if applied.rejected:
            try:
                unsaved = keep_unsaved([self.path.parent, self.pending.path.parent], self.path,
                                       applied.rejected, datetime.now())
            except OSError as e:            # kept in the pending file then, and said so
                log.error("保存できなかった変更をファイルに書けません: %s", e)
                still_kept = tuple(r.change for r in applied.rejected)
        changed = file.text != disk.text or raw is None
        try:
            # Excel takes no lock: a save of its own while we write would be replaced by our text made
            # without its rows; then ours is made again from its file (FileChanged), as when the lock is lost
            st = atomic_write(self.path, data, unchanged=lambda: lock.check() and stat() == based_on) \
                if changed else None
        except FileChanged:
            raise
        except OSError as e:
            raise file_problem(e, self.path, replacing=getattr(e, "replacing", False)) from None
        stamp = stat() if st else based_on
        if st and (not stamp or stamp[0] != st.st_ino):     # replaced again at once: a re-read will see it
            stamp = stamp_of(st)
        self.last = (content_key(data), file)
        # what this PC wrote goes on record at once: an exit, a crash or a power cut before the check ends
        # leaves it to the next start (written before the replace, a kill in between would write later
        # a change the receptionist never saw saved)
        now = time.time()
        self.keep(Kept(still_kept, kept.unconfirmed + tuple((now, c) for c in applied.written),
                       kept.renumbered + applied.renumbered), must=False)
        return Written(file, stamp, changed, applied, unsaved)


def requeued(kept: Kept, disk) -> Kept:
    """kept with the changes written lately that disk no longer holds pending again, and those written
    CONFIRM_SECONDS ago and found in disk forgotten.

    A program that does not take our lock (Excel) may save its older copy over our write; such a
    change is written again, for CONFIRM_SECONDS after it was written (and once more at the next
    start, from the pending file, for one written just before an exit or a crash).
    """
    now = time.time()
    unconfirmed = tuple((t, c) for t, c in kept.unconfirmed if now - t < CONFIRM_SECONDS or not change_written(disk, c))
    lost = tuple(c for _, c in unconfirmed if not change_written(disk, c) and c not in kept.changes)
    if lost:
        log.warning("書いた変更 %d 件が他のプログラムの保存で消えたので、もう一度保存します", len(lost))
    return Kept(kept.changes + lost, tuple(u for u in unconfirmed if u[1] not in lost), kept.renumbered)


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the table: the last good parse (read by MembersReader), re-reads, and changes through the shell

# A change written (or kept pending: WriteDeferred carries the member then): the member as it now
# is, and notes for the receptionist (a number another member holds too).
Saved = namedtuple("Saved", "member notes")


@dataclass(frozen=True)
class Unsaved:
    """Kept changes that can no longer be written as they were: kept in path (None: still in the
    pending file, the unsaved file could not be written either)."""
    rejected: tuple
    path: Path | None


@dataclass(frozen=True)
class PendingSaved:
    """Kept changes written at last (count of them)."""
    count: int


class MembersReader:
    """Reading members.csv, for the shell (MemberTable) to swap in: its bytes and their stamp, their
    parse (from the parse cache when it holds this content, else parsed straight into it; in full
    when a change needs one), and the threads that do it while the window runs: the re-read, the
    search text read at the first load, the cache file's check, a written parse cached.
    """

    def __init__(self, path: Path, cache: "ParseCache | None", background: bool):
        self.path = path
        self.cache = cache              # parses of members.csv by content (see "parse cache"), None: parse every time
        self.background = background    # the window's: re-reads on a thread, taken by take()
        self.existed = False            # the file was there since start: from now on missing is "unavailable"
        self.thread: threading.Thread | None = None     # the re-read, while it runs
        self.found: tuple | None = None     # (parse, None or CtiError, stamp, stamp before) for take()

    def stat(self):
        """(inode, mtime, size, ctime) of the file, None when it is not there, ("error", errno) when it cannot be
        seen. ctime: an in-place copy (robocopy, xcopy) keeping the size and the time still changes it (POSIX)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as e:                    # a share gone or access denied: a re-read will say which
            return "error", e.errno
        return stamp_of(st)

    def read(self, full=False, wait_if_missing=False) -> tuple[MembersParse | None, tuple | None]:
        """(parse, stamp) of the file on disk, (None, None) when it was never there since start (it may be
        created); a MembersFile when full. FileError or MembersError when it cannot be used."""
        raw, stamp = self.read_raw(wait_if_missing)
        if raw is None:
            return None, None
        handed = [raw]                  # handed over: members_from frees the bytes before it parses
        del raw
        return self.parse(handed, full), stamp

    def read_raw(self, wait_if_missing=False) -> tuple[bytes | None, tuple | None]:
        """(bytes, stamp) of the file on disk, (None, None) when it was never there since start (it may
        be created); FileError when it cannot be read.

        A file that was there before and is missing now is unavailable (Excel deletes it
        while saving; an SMB client caches "not found" for seconds): with wait_if_missing
        it is looked for again a few times before giving up.
        """
        for delay in (MISSING_RECHECKS if wait_if_missing else ()) + (None,):
            try:
                with open(self.path, "rb") as f:            # text and stamp of the same file
                    raw, st = f.read(), os.fstat(f.fileno())
                break
            except FileNotFoundError as e:
                if not self.existed and not self.path.parent.is_dir():
                    raise file_problem(e, self.path.parent) from None
                if not self.existed and delay is None:
                    return None, None
                if delay is None:
                    raise FileError(f"{self.path.name} が見つかりません（Excel の保存中か、共有フォルダに届きません）。"
                                    "最後に読めた内容で表示を続けます", "missing") from None
                time.sleep(delay)
            except OSError as e:
                raise file_problem(e, self.path, reading=True) from None
        return raw, stamp_of(st)

    def parse(self, handed: list, full=False) -> MembersParse:
        """The parse of bytes read from members.csv: from the parse cache when it has them.

        A MembersFile (needed to apply changes) when full. Otherwise a fresh parse is stored in
        the cache and answered from it (a few MB, not a Member each): on the re-read thread while
        the window runs, before the window at the first start, so that a start cut short (a kill,
        a PC switched off as soon as the window shows) still leaves the cache for the next one.
        """
        on_ui_thread = self.background and threading.current_thread() is not self.thread
        file, key = members_from(handed, self.path, self.cache, full, verify=not on_ui_thread)
        if self.background and on_ui_thread:
            # the first load: read on a thread while Tk starts (0.2 s at 1,000,000 members), not at the
            # link dialog's first keystroke (which waits for it, should it come sooner)
            threading.Thread(target=file.search_index, name="members-search-index", daemon=True).start()
        elif self.background:
            file.search_index()         # at load, not at the link dialog's first keystroke
        return file

    def reread(self, before, error: str | None, full):
        """Start a re-read on a thread (unless one runs) when the file's stamp is no longer before (or
        it was unreadable and is there): take() has its result once done. full(): whether a
        MembersFile is needed, asked when the thread reads."""
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._reread, args=(before, error, full), name="members-reader",
                                           daemon=True)
            self.thread.start()

    def _reread(self, before, error, full):
        stamp = self.stat()
        if stamp == before and not (error and stamp):
            return
        try:
            parse, stamp = self.read(full())
        except CtiError as e:
            parse, stamp = e, None
        self.found = (parse, stamp, before)

    @property
    def rereading(self) -> bool:
        """A re-read is running on the reader thread."""
        return self.thread is not None and self.thread.is_alive()

    def take(self) -> tuple | None:
        """(parse, None when never there since start, or CtiError; stamp; the stamp it replaces) of the
        last re-read, once; None when there is none."""
        found, self.found = self.found, None
        return found

    def check_later(self, parse: MembersParse, on_damaged):
        """Check a parse's source on a thread once the window is up (a cache file: reading 150 MB at 1,000,000
        members would slow its start on a busy PC); a damaged cache file is removed and on_damaged() called
        (members.csv is then read again, as when it changes)."""
        def check():
            if not parse.check():
                log.info("会員台帳のキャッシュが壊れているので members.csv を読み直します: %s", parse.path.name)
                remove_quietly(parse.path)
                on_damaged()
        timer = threading.Timer(CACHE_CHECK_DELAY, check)
        timer.name, timer.daemon = "members-cache-check", True
        timer.start()

    def cache_later(self, raw: bytes, file: MembersFile, stamp, current):
        """Store a parse on a thread of its own; the window then swaps in the cached one (take()) unless the
        file's stamp is no longer current() by then."""
        if self.cache is None:
            return

        def store():
            cached = self._store(content_key(raw), file)
            if cached is not None and self.background and self.found is None and stamp == current():
                self.found = (cached, stamp, stamp)
        threading.Thread(target=store, name="members-cache", daemon=True).start()

    def _store(self, key: str, file: MembersFile) -> "CachedMembers | None":
        """Write a parse to the cache and open it; None when it cannot be (cti goes on without)."""
        try:
            self.cache.store(key, file)
        except (sqlite3.Error, OSError) as e:
            log.info("会員台帳のキャッシュを書けません: %s", e)
            return None
        return self.cache.open(key, self.path)


class MemberTable:
    """members.csv as the program uses it: the last good MembersFile, re-reads, and changes.

    Every change goes through the shell (MemberWriter): under the lock, against the file as it
    is then, written, and only then swapped in here. A change that cannot be written now (Excel
    holds the file, the share is gone, the disk is full, the folder read-only, another PC keeps
    the lock) is kept in the pending file and merged into whatever the file then holds; if even
    that cannot be written, NotSaved. A file that was loaded and is now missing or unreadable is
    unavailable, never empty. What the receptionist must be told after a write or a retry (a
    member no. changed, changes that could not be written, kept changes saved) waits in notices.
    """

    def __init__(self, path: Path, pending_dir: Path | None = None, background: bool = False,
                 cache: "ParseCache | None" = None):
        self.path = Path(path)
        self.reader = MembersReader(self.path, cache, background)
        # per PC: on a shared folder each reception PC keeps (and retries) only its own changes
        self.pending_file = PendingFile(Path(pending_dir or self.path.parent), self.path)
        self.writer = MemberWriter(self.path, self.pending_file)
        self.pending_cause = ""                         # why the pending changes wait (a FILE_CAUSES key)
        self.notices: list = []                         # Renumbered, Unsaved, PendingSaved: to tell, in order
        self.disk = self.file = MembersFile.parse("", "utf-8-sig", self.path.name)
        self.stamp = None
        self.error: str | None = None
        self.background = background

    pending_path = property(lambda self: self.pending_file.path)
    kept = property(lambda self: self.writer.kept)
    pending = property(lambda self: list(self.kept.changes))        # the changes waiting to be written

    # what the rest of the program reads: the last good file with the pending changes applied
    members = property(lambda self: self.file.members)
    by_no = property(lambda self: self.file.by_no)
    by_phone = property(lambda self: self.file.by_phone)
    problems = property(lambda self: self.file.problems)
    encoding = property(lambda self: self.file.encoding)
    text = property(lambda self: self.file.text)
    header = property(lambda self: self.file.header)

    # - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
    # reading

    def load(self):
        """Read the file (and any pending changes); raise CtiError when it cannot be used now."""
        self.writer.reload()
        self.notices += [r for r in self.kept.renumbered if r not in self.notices]   # told again until acknowledged
        try:
            disk, stamp = self._read()
        except CtiError as e:
            self._unavailable(e)
            raise
        self._adopt(disk, stamp)
        if not disk.verified:
            self.reader.check_later(disk, on_damaged=self._forget_stamp)
        return self

    def _read(self, full=False) -> tuple[MembersParse, tuple | None]:
        """(parse, stamp) of the file on disk (in full when changes are pending); the last good one when it
        was never there since start. FileError or MembersError when it cannot be used."""
        disk, stamp = self.reader.read(full or bool(self.kept.changes))
        return (self.disk, None) if disk is None else (disk, stamp)

    def _forget_stamp(self):
        self.stamp = None               # the next check re-reads (and re-caches) members.csv

    def _adopt(self, disk: MembersFile, stamp):
        """Swap in a file read from disk: check recent writes survived it, apply the pending changes."""
        self.disk, self.stamp, self.error = disk, stamp, None
        self.reader.existed = self.reader.existed or stamp is not None
        self._requeue_lost(disk)
        self.file = apply_changes(disk.full(), self.kept.changes).file if self.kept.changes else disk
        release_freed_memory()              # the parse's work, and the parse it replaced

    def _requeue_lost(self, disk: MembersFile):
        """Changes written lately that disk no longer holds become pending again (requeued)."""
        kept = requeued(self.kept, disk)
        if kept != self.kept:
            self.writer.keep(kept, must=False)

    def _unavailable(self, error: CtiError):
        """The file cannot be read now: keep answering from the last good table, say why."""
        self.error = str(error)
        self.stamp = self.reader.stat()     # looked at again when it changes (or, if there, every time)
        log.warning("members.csv を読めません: %s", error)

    def refresh(self) -> bool:
        """Re-read the file when it changed on disk (cheap: one stat); True when it was re-read.

        In background mode the re-read runs in a thread and take_reread() swaps it in later.
        """
        if self.background:
            self.reader.reread(self.stamp, self.error, full=lambda: bool(self.kept.changes))
            return False
        stamp = self.reader.stat()
        if stamp == self.stamp and not (self.error and stamp):
            return False
        log.info("members.csv が変更されたので読み直します")
        try:
            self._adopt(*self._read())
        except CtiError as e:
            self._unavailable(e)
        return True

    rereading = property(lambda self: self.reader.rereading)

    def take_reread(self) -> bool:
        """On the UI thread: swap in what the background re-read found; True when something changed."""
        result = self.reader.take()
        if result is None:
            return False
        found, stamp, before = result
        found = self.disk if found is None else found       # never there since start: as it was
        if before != self.stamp:
            return False                    # our own write came in between: it is newer
        if isinstance(found, CtiError):
            was = self.error
            self._unavailable(found)
            return was != self.error
        self._adopt(found, stamp)
        return True

    # - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
    # queries

    def lookup_once(self, number: str) -> tuple[list[Member], list[str]] | None:
        """One lookup without loading the table (--lookup), writing nothing: (members, problems) from the
        parse cache when it holds this content, else by lookup_in_text (a window builds the cache; a
        script asking now and then should not wait for it). None when changes are pending or the file
        cannot be read: load() answers (the changes applied in memory) or says why."""
        kept = self.pending_file.read()
        if kept is None or kept.changes or any(time.time() - t < CONFIRM_SECONDS for t, _ in kept.unconfirmed):
            return None
        try:
            raw = self.path.read_bytes()
        except OSError:
            return None
        digits = normalize_phone(number)
        cached = self.reader.cache.open(content_key(raw), self.path) if self.reader.cache else None
        if cached is not None:
            return list(cached.by_phone.get(digits, ())), cached.problems
        text, encoding = decode_file_text(raw, self.path, MembersError)
        del raw
        return ([], []) if not digits else lookup_in_text(text, digits, encoding, self.path.name)

    def lookup(self, number: str) -> list[Member]:
        """The members holding this number (all of them when several share it)."""
        if not self.background:
            self.refresh()
        return self.file.lookup(normalize_phone(number))

    def search(self, query: str, limit=50) -> list[Member]:
        """Members whose number, name, kana or phone contains the query (for the link dialog)."""
        if not self.background:
            self.refresh()
        return self.file.search(query, limit)

    def next_member_no(self) -> str:
        return self.file.next_member_no()

    @property
    def staff_names(self) -> list[str]:
        return list(self.file.staff_names)

    # - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
    # changes

    def register(self, reg: Register) -> "Saved":
        """Add a member; return it and notes for the receptionist.

        WriteDeferred when kept pending; NotSaved or MembersError when nothing was kept.
        """
        return self._change(reg)

    def link(self, member_no: str, phone: str) -> Saved:
        """Add a number to a member; refuse one it has; note when another member holds it."""
        digits = normalize_phone(phone)
        member = self.by_no.get(member_no)
        if member is None:
            raise ValidationError(f"会員番号 {member_no} は members.csv にありません", "member_no")
        if not valid_phone(digits):
            raise ValidationError(PHONE_HINT, "phone")
        if digits in member.phones:
            raise ValidationError(f"{member.name} さんには {format_phone(digits)} が既に登録されています", "phone")
        return self._change(Link(member_no, digits))

    def _change(self, change) -> Saved:
        """Write change (with any kept ones) under the lock; else keep it pending; else NotSaved."""
        for value in dataclasses.astuple(change):   # refused at once: never kept as a change that cannot be written
            if char := unstorable(str(value), self.encoding):
                raise ValidationError(unstorable_text(char, self.encoding))
        change = dataclasses.replace(change, made=change.made or time.time())
        try:
            written = self._write(change)
        except ValidationError:
            raise
        except CtiError as e:
            return self._defer(change, e)
        return Saved(written.file.by_no[written.applied.new.member_no], list(written.applied.notes))

    def _write(self, new=None) -> Written:
        """The kept changes and new written through the shell, then swapped in; what the receptionist must be
        told goes to notices. Raises FileError/MembersError (nothing swapped); ValidationError when the new
        change no longer applies to the file as it is now."""
        written = self.writer.write(lambda: self.reader.read_raw(wait_if_missing=new is not None), self.reader.stat, new,
                                    None if self.error else self.disk.in_memory())
        self.disk = self.file = written.file
        self.stamp, self.error, self.reader.existed = written.stamp, None, True
        applied = written.applied
        self.notices += applied.renumbered
        if applied.rejected:
            self.notices.append(Unsaved(applied.rejected, written.unsaved))
        if written.changed:
            self.reader.cache_later(written.file.text.encode(written.file.encoding), written.file, written.stamp,
                                    current=lambda: self.stamp)
        return written

    def _defer(self, change, error: CtiError):
        """members.csv cannot be written now: keep the change pending (file first, then memory), or NotSaved.

        The change is kept as the last good file shows it: a new member's number is then hers (shown)."""
        self.pending_cause = getattr(error, "cause", "other")
        applied = apply_changes(self.disk.full(), self.kept.changes, change)
        try:
            self.writer.keep(dataclasses.replace(self.kept, changes=self.kept.changes + (applied.new,)))
        except OSError as e:
            raise NotSaved(f"{error}\n保存待ちファイルも書けないため（{file_problem(e, self.pending_path)}）、"
                           "この変更は保存されていません。入力はそのまま残っています") from None
        self.file = applied.file
        raise WriteDeferred(deferred_text(self.path.name, error), self.file.by_no.get(applied.new.member_no))

    def retry_pending(self) -> bool:
        """Try again to write the kept changes (without waiting for the lock); True when nothing is pending.
        A PendingSaved notice says how many were written."""
        count = len(self.kept.changes)
        if not count:
            return True
        try:
            written = self._write()
        except CtiError as e:
            log.info("保存待ちの変更はまだ保存できません: %s", e)
            return False
        if saved := count - len(written.applied.rejected):
            self.notices.append(PendingSaved(saved))
        return True

    def discard_pending(self):
        """Forget the kept changes (the receptionist chose so): they are never written."""
        self.writer.keep(dataclasses.replace(self.kept, changes=()))
        self.file = self.disk

    def take_notices(self) -> list:
        """What the receptionist is to be told since last asked (Renumbered until acknowledge())."""
        notices, self.notices = self.notices, []
        return notices

    def acknowledge(self, renumbered: Renumbered):
        """The receptionist saw a member no. change (and cti.db followed it): the pending file forgets it."""
        self.writer.keep(dataclasses.replace(self.kept, renumbered=tuple(r for r in self.kept.renumbered
                                                                          if r != renumbered)), must=False)


def stamp_of(st: os.stat_result) -> tuple:
    return st.st_ino, st.st_mtime_ns, st.st_size, st.st_ctime_ns


def deferred_text(name: str, error: CtiError) -> str:
    """What the receptionist reads when a change is kept pending: why, and what happens next."""
    cause = getattr(error, "cause", "other")
    why = {"held": f"{name} が Excel などで開かれているため、まだ保存できません。Excel を閉じると自動で保存します",
           "locked": f"他の PC が {name} を保存している最中のため、まだ保存できません。すぐに自動で保存します",
           "missing": f"{name} が見つからないため（Excel の保存中か、共有フォルダに届きません）、まだ保存できません。"
                      "戻りしだい自動で保存します",
           "network": f"{name} のある共有フォルダに届かないため、まだ保存できません。つながりしだい自動で保存します",
           "full": f"{name} のあるディスクがいっぱいのため、まだ保存できません。空きができしだい自動で保存します",
           "readonly": f"{name} のフォルダに書き込む権限がありません（読み取り専用の共有フォルダなど）。"
                       "書き込めるようになりしだい自動で保存します"}.get(cause, f"{error}。あとで自動で保存します")
    return why + "（入力した内容は保存待ちファイルにあり、失われません）"


def search_lines(members) -> list[str]:
    """Each member's line of the search text: its keys (member no., name, kana), then its numbers.

    members: Member's fields. The keys are made for all of them at once, one text NUL-separated
    (NFKC, lower() and the kana table never join characters across a NUL), unless a field holds
    a NUL itself.
    """
    texts = [f"{m[0]}\t{m[1]}\t{m[2]}" for m in members]
    joined = "\0".join(texts)
    if joined.count("\0") == len(texts) - 1:
        keys = search_key(joined).split("\0")
    else:
        keys = [search_key(text) for text in texts]
    return [key + "\t" + "\t".join(m[3]) for key, m in zip(keys, members)]


def search_index(file: MembersFile, chunk=10_000) -> tuple[list, array.array]:
    """Every member's search keys, a line each, as texts of a chunk of members: [(index of the chunk's
    first member, text)], and each member's offset in the texts laid end to end (a chunk at a time: a
    line of keys a member held at once would weigh more than the text itself)."""
    chunks, starts = [], array.array("q", [0])
    members = file.members
    for first in range(0, len(members), chunk):
        lines = search_lines([(m.member_no, m.name, m.kana, m.phones) for m in members[first:first + chunk]])
        for line in lines:
            starts.append(starts[-1] + len(line) + 1)
        chunks.append((first, "\n".join(lines) + "\n"))
    return chunks, starts


###############################################################################
# Store: cti.db ###############################################################
###############################################################################

# a reservation's status and where it may go next: 予約 → 来店 → 退店; 取消 before 退店
# (one who came in and left without service is cancelled too)
NEXT_STATES = {"予約": ("来店", "取消"), "来店": ("退店", "取消"), "退店": (), "取消": ()}
BUSY_STATES = ("予約", "来店")           # a stylist's time is taken by these
VISIT_COLUMNS = {"member_no": ("会員番号", "member_no"), "date": ("来店日", "日付", "date"),
                 "menu": ("メニュー", "menu"), "staff": ("担当", "主担当", "staff"),
                 "amount": ("金額", "amount"), "memo": ("メモ", "備考", "memo")}

SCHEMA = [
    # version 1
    """
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        received TEXT NOT NULL,          -- local time of arrival, ISO
        number TEXT,                     -- national digits, NULL when withheld
        reason TEXT,                     -- private | out_of_area | payphone | conflict
        caller_name TEXT,                -- what the device sent, if anything
        device_time TEXT,
        protocol TEXT
    );
    CREATE INDEX calls_received ON calls(received);
    CREATE TABLE reservations (
        id INTEGER PRIMARY KEY,
        member_no TEXT NOT NULL,
        starts TEXT NOT NULL,            -- YYYY-MM-DDTHH:MM
        menu TEXT NOT NULL DEFAULT '',
        staff TEXT NOT NULL DEFAULT '',
        memo TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT '予約',
        created TEXT NOT NULL,
        arrived TEXT, departed TEXT, cancelled TEXT
    );
    CREATE INDEX reservations_starts ON reservations(starts);
    CREATE INDEX reservations_member ON reservations(member_no, starts);
    CREATE TABLE visits (
        id INTEGER PRIMARY KEY,
        member_no TEXT NOT NULL,
        date TEXT NOT NULL,              -- YYYY-MM-DD
        menu TEXT NOT NULL DEFAULT '',
        staff TEXT NOT NULL DEFAULT '',
        amount INTEGER,
        memo TEXT NOT NULL DEFAULT '',
        reservation_id INTEGER UNIQUE
    );
    CREATE INDEX visits_member ON visits(member_no, date);
    """,
    # version 2: how a call ended, where the source tells (SIP): NULL not known, 1 answered by another
    # phone, 0 missed (the caller hung up while it rang)
    """
    ALTER TABLE calls ADD COLUMN answered INTEGER
    """,
    # version 3: the history in the order calls arrived, whatever the wall clock said: an id that
    # only grows and is never used again (AUTOINCREMENT), old calls numbered in their stored order
    """
    CREATE TABLE calls_by_arrival (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received TEXT NOT NULL,
        number TEXT,
        reason TEXT,
        caller_name TEXT,
        device_time TEXT,
        protocol TEXT,
        answered INTEGER
    );
    INSERT INTO calls_by_arrival (received, number, reason, caller_name, device_time, protocol, answered)
        SELECT received, number, reason, caller_name, device_time, protocol, answered FROM calls
        ORDER BY received, id;
    DROP TABLE calls;
    ALTER TABLE calls_by_arrival RENAME TO calls;
    CREATE INDEX calls_received ON calls(received)
    """,
    # version 4: the callback list (折り返し): per number, the newest call she has returned, when and by whom
    """
    CREATE TABLE callbacks (
        number TEXT PRIMARY KEY,
        upto INTEGER NOT NULL,           -- calls.id of the newest call returned
        done_at TEXT NOT NULL,
        done_by TEXT NOT NULL DEFAULT ''
    )
    """,
]


@dataclass
class CallRecord:
    id: int
    received: datetime
    number: str | None
    reason: str | None
    caller_name: str | None
    protocol: str
    answered: bool | None = None


@dataclass(frozen=True)
class Callback:
    """A number on the callback list: its calls not yet returned (rang times, the last at `last`,
    the newest call `upto`), or returned (done_at, done_by) and rung no more since."""
    number: str
    rang: int
    last: datetime
    upto: int
    done_at: datetime | None = None
    done_by: str = ""


@dataclass
class Reservation:
    id: int
    member_no: str
    starts: datetime
    menu: str
    staff: str
    memo: str
    status: str


@dataclass
class Visit:
    id: int
    member_no: str
    date: str
    menu: str
    staff: str
    amount: int | None
    memo: str


def parse_date(text: str, today, ahead=False) -> "datetime.date | None":
    """A date as receptionists type it: 2026-11-25, 2026/11/25, 11/25, 1125, or as cti shows it: 12/8(火).

    Without a year it is this year's; with ahead (a booking) a date months past is next year's,
    so that 1/10 typed in December books January (yesterday stays yesterday: a slip, not next year).
    """
    text = re.sub(r"\s*\([月火水木金土日]\)$", "", unicodedata.normalize("NFKC", text).strip())   # 12/8(火) as shown
    for pattern, has_year in ((r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", True),
                              (r"(\d{1,2})[-/.月](\d{1,2})日?", False), (r"(\d{2})(\d{2})", False)):
        m = re.fullmatch(pattern, text)
        if m:
            parts = [int(g) for g in m.groups()]
            try:
                day = (datetime(*parts) if has_year else datetime(today.year, *parts)).date()
                if ahead and not has_year and day < today.date() - timedelta(days=60):
                    day = day.replace(year=today.year + 1)
                return day
            except ValueError:
                return None
    return None


def parse_time(text: str) -> tuple[int, int] | None:
    """A time as typed: 14:30, 1430, 14時30分, 9:05."""
    text = unicodedata.normalize("NFKC", text).strip()
    m = re.fullmatch(r"(\d{1,2})[:時]?(\d{2})分?", text) or re.fullmatch(r"(\d{1,2})時", text)
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2)) if m.lastindex > 1 else 0
    return (hour, minute) if hour < 24 and minute < 60 else None


def parse_amount(text: str) -> int | None:
    """Yen as typed or exported: 4500, ４，５００, ¥4,500, 4500円; empty is None. ValueError otherwise."""
    text = re.sub(r"[,円¥￥\\\s]", "", unicodedata.normalize("NFKC", text))
    if not text:
        return None
    if not re.fullmatch(r"\d{1,8}", text):
        raise ValueError(text)
    return int(text)


def booking_minutes(menu: str, menus: tuple, slot: int) -> int:
    """How long a booking takes: its menu's minutes from cti.ini, else the default slot."""
    return dict(menus).get(menu) or slot


def overlapping(starts: datetime, minutes: int, staff: str, bookings: list, minutes_of,
                exclude: int | None = None) -> list:
    """The stylist's bookings (予約 or 来店) that share time with starts..starts+minutes.

    minutes_of(reservation) is each booking's length; exclude is the booking being moved. Back to back
    (one ends at 14:00, the next starts at 14:00) is not an overlap; no stylist named, no overlap.
    """
    if not staff:
        return []
    ends = starts + timedelta(minutes=minutes)
    return [r for r in bookings if r.staff == staff and r.status in BUSY_STATES and r.id != exclude
            and r.starts < ends and starts < r.starts + timedelta(minutes=minutes_of(r))]


def booking_actions(reservation, today) -> tuple:
    """What can be done to a booking now: 変更 and 取消 while booked, 来店 on its day (or after,
    recorded late), 退店 once arrived. Nothing for 退店 or 取消."""
    if reservation.status == "予約":
        arrive = ("来店",) if reservation.starts.date() <= today else ()
        return ("変更",) + arrive + ("取消",)
    return NEXT_STATES[reservation.status]


DATE_HINT = "日付は 12/8 か 12/8(火) の形で入力してください"


def validate_reservation(form: dict, members: MemberTable, now: datetime) -> tuple[dict | None, dict]:
    """({member_no, starts, menu, staff, memo}, {}) or (None, {field: message})."""
    errors = {}
    member_no = form.get("member_no", "").strip()
    if member_no not in members.by_no:
        errors["member_no"] = "会員登録されていない方は予約できません。先に会員登録をしてください"
    day = parse_date(form.get("date", ""), now, ahead=True)
    clock = parse_time(form.get("time", ""))
    if day is None:
        errors["date"] = DATE_HINT
    if clock is None:
        errors["time"] = "時刻は 14:30 の形で入力してください"
    if day and day < now.date():
        errors["date"] = "過去の日付には予約できません"
    if errors:
        return None, errors
    return {"member_no": member_no, "starts": datetime(day.year, day.month, day.day, *clock),
            "menu": form.get("menu", "").strip(), "staff": form.get("staff", "").strip(),
            "memo": form.get("memo", "").strip()}, {}


DB_UI_WAIT_MS = 40          # the longest the UI thread waits for a lock another program holds on cti.db
DB_WRITER_WAIT = 5.0        # the background writer waits this long a try, then tries again


# why SQLite could not write (a FILE_CAUSES key): a full disk, or a read-only one (a new connection
# there cannot even open the -shm file WAL needs)
SQLITE_CAUSES = {sqlite3.SQLITE_FULL: "full", sqlite3.SQLITE_READONLY: "readonly", sqlite3.SQLITE_CANTOPEN: "readonly"}


def sqlite_cause(error: Exception) -> str:
    code = getattr(error, "sqlite_errorcode", None)
    return SQLITE_CAUSES.get(code & 0xFF, "other") if code is not None else "other"


def sqlite_busy(error: Exception) -> bool:
    """Another connection holds the lock (SQLITE_BUSY / SQLITE_LOCKED), as opposed to a damaged file."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return isinstance(error, sqlite3.OperationalError) and ("locked" in str(error) or "busy" in str(error))


CLOCK_JUMP = 180            # seconds the wall clock may move against the monotonic clock (NTP slews far less)


class ClockWatch:
    """Whether the wall clock stepped since cti started: wall time minus the monotonic clock, against
    its value at start. Windows steps the clock after sleep or a time sync; a dead CMOS battery or a
    time zone fixed by hand steps it by hours or days. While it stands off, nothing is removed by age
    (a clock 8 days ahead would take the week's history), and the status line says so."""

    def __init__(self, wall=time.time, monotonic=time.monotonic, limit=CLOCK_JUMP):
        self.wall, self.monotonic, self.limit = wall, monotonic, limit
        self.base = wall() - monotonic()
        self.off = 0.0

    def offset(self) -> float:
        """Seconds the wall clock stands off where it was at start; 0.0 within the limit. A change is logged."""
        off = self.wall() - self.monotonic() - self.base
        off = off if abs(off) > self.limit else 0.0
        if (off == 0.0) != (self.off == 0.0):
            if off:
                log.warning("時計が %+d 秒 変わりました: 時刻が戻るまで着信履歴を日数では削除しません", off)
            else:
                log.warning("時計が元に戻りました: 着信履歴の日数での削除を再開します")
        self.off = off
        return off


class Database:
    """cti.db: call history (pruned), reservations and visits. SQLite in WAL mode, versioned schema.

    A damaged file is set aside as cti.db.broken-YYYYMMDD-HHMM and a fresh one started (notice
    says so). The UI thread waits at most DB_UI_WAIT_MS for a lock another program holds; a
    call it could not store then is stored by a background writer (take_written() tells the window).
    """

    def __init__(self, path, max_entries=100, max_days=7, now=datetime.now, monotonic=time.monotonic):
        self.path, self.max_entries, self.max_days, self.now = Path(path), max_entries, max_days, now
        # the clock as she reads it (local, naive): a time zone fixed by hand is a jump too
        self.clock = ClockWatch(lambda: (self.now() - datetime(1970, 1, 1)).total_seconds(), monotonic)
        self.pruned: list[int] = []                     # ids the last add_call removed (the window drops them)
        self.unsaved, self.unsaved_cause = 0, "other"   # calls shown but not stored (a full or read-only disk)
        self.notice: str | None = None
        self.late = queue.Queue()                       # call rows waiting for the background writer
        self._writer: threading.Thread | None = None
        self._written_late = 0
        self._last_calls: list = []
        try:
            self.conn = self._open()
        except sqlite3.DatabaseError as e:
            if sqlite_busy(e):
                raise DatabaseError(f"{self.path.name} を他のプログラムが使っているため開けません。"
                                    "そのプログラムを閉じてから起動してください") from None
            self.notice = self._set_aside(e)
            self.conn = self._open()
        try:
            self.prune()
        except sqlite3.OperationalError as e:
            if not sqlite_busy(e):
                raise
            log.info("cti.db を他のプログラムが使っているため、起動時の整理は次の着信で行います")

    def _open(self) -> sqlite3.Connection:
        """A connection on a usable, current cti.db; sqlite3.DatabaseError when the file is damaged."""
        conn = sqlite3.connect(str(self.path), timeout=5, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA journal_mode={sqlite_journal_mode(self.path)}")
            conn.execute("PRAGMA synchronous=NORMAL")
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            self.conn = conn
            self._migrate()
            conn.execute(f"PRAGMA busy_timeout = {DB_UI_WAIT_MS}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_aside(self, error) -> str:
        """Move a damaged cti.db (and its -wal, -shm) to cti.db.broken-YYYYMMDD-HHMM; the message saying so."""
        base = f"{self.path.name}.broken-{self.now():%Y%m%d-%H%M}"
        broken = self.path.with_name(base)
        for n in itertools.count(2):
            if not broken.exists():
                break
            broken = self.path.with_name(f"{base}-{n}")
        log.error("%s が壊れています（%s）: %s に移して作り直します", self.path.name, error, broken.name)
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                os.replace(source, Path(f"{broken}{suffix}"))
        return (f"{self.path.name} が壊れていたため {broken.name} として残し、新しい {self.path.name} で始めました。"
                "着信履歴・予約・来店履歴は空から始まります（壊れたファイルは消していません）")

    def close(self):
        if self._writer is not None:
            self.late.put(None)
            self._writer.join(timeout=DB_WRITER_WAIT)
            if self._writer.is_alive():
                log.error("cti.db を他のプログラムが使い続けているため、着信 %d 件を履歴に保存できませんでした",
                          self.late.qsize())
        self.conn.close()

    def _migrate(self):
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(SCHEMA):
            self.conn.close()
            raise DatabaseError(f"{Path(self.path).name} は新しい版の cti で作られています（版 {version}）")
        for number, script in enumerate(SCHEMA[version:], start=version + 1):
            with self.conn:
                self.conn.execute("BEGIN")
                for statement in script.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @staticmethod
    def _iso(when: datetime) -> str:
        return when.isoformat(timespec="seconds")

    # calls

    def add_call(self, call: Call) -> int | None:
        """Store a call and prune, in one transaction (a kill between them leaves neither).

        None when another program holds cti.db: the call is then stored by the background
        writer (in order, behind any already waiting), and the UI thread does not wait for it.
        None too when the disk is full or read-only: counted in unsaved (the status line says so).
        """
        received = call.received or self.now()
        row = (self._iso(received), call.number, call.reason, call.name,
               self._iso(call.time) if call.time else None, call.protocol)
        if self._writer is None or self.late.unfinished_tasks == 0:
            try:
                return self._insert_call(self.conn, row)
            except sqlite3.OperationalError as e:
                if not sqlite_busy(e):
                    self._not_stored(e)
                    return None
        log.info("cti.db を他のプログラムが使っているため、着信はあとで保存します")
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_late, name="cti.db-writer", daemon=True)
            self._writer.start()
        self.late.put(row)
        return None

    def _insert_call(self, conn, row) -> int:
        with conn:
            conn.execute("BEGIN IMMEDIATE")         # the write lock now, or busy at once
            cur = conn.execute("INSERT INTO calls (received, number, reason, caller_name, device_time, protocol) "
                               "VALUES (?,?,?,?,?,?)", row)
            pruned = self._prune(conn, keep=cur.lastrowid)
        if conn is self.conn:
            self.pruned = pruned
        return cur.lastrowid

    def _write_late(self):
        """The background writer: stores the calls the UI thread could not, retrying while cti.db is held."""
        conn = sqlite3.connect(str(self.path), timeout=DB_WRITER_WAIT, isolation_level=None)
        try:
            while (row := self.late.get()) is not None:
                while True:
                    try:
                        self._insert_call(conn, row)
                        break
                    except sqlite3.OperationalError as e:
                        if not sqlite_busy(e):
                            self._not_stored(e)     # no retry: a full or read-only disk stays so
                            break
                self._written_late += 1
                self.late.task_done()
        finally:
            conn.close()

    def _not_stored(self, error):
        """A call that cannot be stored (disk full, read-only): counted for the status line, and logged."""
        log.error("着信を履歴に保存できませんでした: %s", error)
        self.unsaved, self.unsaved_cause = self.unsaved + 1, sqlite_cause(error)

    @contextlib.contextmanager
    def _held_as_error(self):
        """A write the receptionist asked for, with cti.db held by another program: a message, not a freeze."""
        try:
            yield
        except sqlite3.OperationalError as e:
            if not sqlite_busy(e):
                raise
            raise DatabaseError(f"{self.path.name} を他のプログラムが使っているため保存できませんでした。"
                                "少し待ってから、もう一度操作してください") from None

    def take_written(self) -> bool:
        """On the UI thread: True when the background writer stored calls since the last ask."""
        written, self._written_late = self._written_late, 0
        return written > 0

    def prune(self):
        """Keep the newest max_entries calls (by arrival) of the last max_days days."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self._prune(self.conn)

    def _prune(self, conn, keep=None) -> list[int]:
        """The ids deleted: beyond the newest max_entries by arrival, and (while the wall clock has not
        jumped) older than max_days by the received index; never `keep`, the call this insert stored."""
        pruned = []
        if not self.clock.offset():
            oldest = self._iso(self.now() - timedelta(days=self.max_days))
            pruned += [r[0] for r in conn.execute("DELETE FROM calls WHERE received < ? AND id IS NOT ? RETURNING id",
                                                  (oldest, keep)).fetchall()]
        pruned += [r[0] for r in conn.execute(
            "DELETE FROM calls WHERE id <= (SELECT id FROM calls ORDER BY id DESC LIMIT 1 OFFSET ?) RETURNING id",
            (self.max_entries,)).fetchall()]
        conn.execute("DELETE FROM callbacks WHERE number NOT IN (SELECT number FROM calls WHERE number IS NOT NULL)")
        return pruned

    def calls(self) -> list[CallRecord]:
        """The history, newest arrival first; the last one read while another program holds cti.db."""
        try:
            rows = self.conn.execute("SELECT * FROM calls ORDER BY id DESC").fetchall()
        except sqlite3.OperationalError as e:
            if not sqlite_busy(e):
                raise
            return self._last_calls
        self._last_calls = [CallRecord(r["id"], datetime.fromisoformat(r["received"]), r["number"], r["reason"],
                                       r["caller_name"], r["protocol"] or "",
                                       None if r["answered"] is None else bool(r["answered"])) for r in rows]
        return self._last_calls

    def set_answered(self, call_id: int, answered: bool) -> bool:
        """Record how a call ended (answered elsewhere or missed)."""
        with self._held_as_error():
            return self.conn.execute("UPDATE calls SET answered = ? WHERE id = ?",
                                     (int(answered), call_id)).rowcount == 1

    # the callback list: derived from the history (so it prunes with it); only callbacks marks are stored

    def callbacks(self) -> list[Callback]:
        """Numbers to call back, newest call first: their calls since the last one returned, where
        no other phone answered (a source that cannot tell leaves every call on the list); then
        the numbers returned and rung no more since, newest mark first."""
        rows = self.conn.execute(
            "SELECT c.number, COUNT(*) AS rang, MAX(c.received) AS last, MAX(c.id) AS upto FROM calls c "
            "LEFT JOIN callbacks b ON b.number = c.number WHERE c.number IS NOT NULL "
            "AND (c.answered IS NULL OR c.answered = 0) AND c.id > COALESCE(b.upto, 0) "
            "GROUP BY c.number ORDER BY upto DESC").fetchall()
        waiting = [Callback(r["number"], r["rang"], datetime.fromisoformat(r["last"]), r["upto"]) for r in rows]
        open_numbers = {c.number for c in waiting}
        done = self.conn.execute(
            "SELECT b.*, (SELECT COUNT(*) FROM calls c WHERE c.number = b.number AND c.id <= b.upto) AS rang, "
            "(SELECT MAX(received) FROM calls c WHERE c.number = b.number) AS last FROM callbacks b "
            "ORDER BY done_at DESC").fetchall()
        return waiting + [Callback(r["number"], r["rang"], datetime.fromisoformat(r["last"]), r["upto"],
                                   datetime.fromisoformat(r["done_at"]), r["done_by"])
                          for r in done if r["number"] not in open_numbers and r["last"]]

    def mark_called_back(self, callback: Callback, by: str = "") -> bool:
        """折り返し済: the calls up to callback.upto are dealt with (a later call puts the number back)."""
        with self._held_as_error():
            self.conn.execute("INSERT INTO callbacks (number, upto, done_at, done_by) VALUES (?,?,?,?) "
                              "ON CONFLICT(number) DO UPDATE SET upto = excluded.upto, done_at = excluded.done_at, "
                              "done_by = excluded.done_by", (callback.number, callback.upto, self._iso(self.now()), by))
        return True

    def delete_call(self, call_id: int) -> bool:
        with self._held_as_error():
            return self.conn.execute("DELETE FROM calls WHERE id = ?", (call_id,)).rowcount == 1

    # reservations

    def reserve(self, member_no, starts: datetime, menu="", staff="", memo="") -> int:
        with self._held_as_error():
            return self.conn.execute(
                "INSERT INTO reservations (member_no, starts, menu, staff, memo, created) VALUES (?,?,?,?,?,?)",
                (member_no, starts.strftime("%Y-%m-%dT%H:%M"), menu, staff, memo, self._iso(self.now()))).lastrowid

    def move_member(self, old: str, new: str, since: datetime) -> int:
        """The bookings made under member no. old since `since`, and the visits they made, now under new (a
        number shown for a new member that another program had written for someone else: Renumbered)."""
        with self._held_as_error(), self.conn:
            ids = [row[0] for row in self.conn.execute(
                "SELECT id FROM reservations WHERE member_no = ? AND created >= ?", (old, self._iso(since)))]
            self.conn.executemany("UPDATE reservations SET member_no = ? WHERE id = ?", [(new, i) for i in ids])
            self.conn.executemany("UPDATE visits SET member_no = ? WHERE reservation_id = ?", [(new, i) for i in ids])
        return len(ids)

    def set_status(self, reservation_id: int, status: str, amount: int | None = None) -> Reservation:
        """Move a reservation on (予約 → 来店 → 退店, or 取消); 退店 writes the visit."""
        r = self.reservation(reservation_id)
        if status not in NEXT_STATES[r.status]:
            raise BookingError("step", status=r.status, to=status)
        column = {"来店": "arrived", "退店": "departed", "取消": "cancelled"}[status]
        now = self.now()
        with self._held_as_error(), self.conn:
            self.conn.execute("BEGIN")
            self.conn.execute(f"UPDATE reservations SET status = ?, {column} = ? WHERE id = ?",
                              (status, self._iso(now), reservation_id))
            if status == "退店":
                self.conn.execute("INSERT OR IGNORE INTO visits (member_no, date, menu, staff, amount, memo, "
                                  "reservation_id) VALUES (?,?,?,?,?,?,?)",
                                  (r.member_no, now.date().isoformat(), r.menu, r.staff, amount, r.memo, r.id))
        return self.reservation(reservation_id)

    def move(self, reservation_id: int, starts: datetime, menu="", staff="", memo="") -> Reservation:
        """Change a booking still 予約 (another day or time, menu, stylist, memo)."""
        with self._held_as_error(), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            r = self.reservation(reservation_id)
            if r.status != "予約":
                raise BookingError("move", status=r.status)
            self.conn.execute("UPDATE reservations SET starts = ?, menu = ?, staff = ?, memo = ? WHERE id = ?",
                              (starts.strftime("%Y-%m-%dT%H:%M"), menu, staff, memo, reservation_id))
        return self.reservation(reservation_id)

    def reservation(self, reservation_id) -> Reservation:
        row = self.conn.execute("SELECT * FROM reservations WHERE id = ?", (reservation_id,)).fetchone()
        if row is None:
            raise BookingError("missing", id=reservation_id)
        return self._reservation(row)

    @staticmethod
    def _reservation(row):
        return Reservation(row["id"], row["member_no"], datetime.fromisoformat(row["starts"]), row["menu"],
                           row["staff"], row["memo"], row["status"])

    def reservations_on(self, day) -> list[Reservation]:
        rows = self.conn.execute("SELECT * FROM reservations WHERE starts >= ? AND starts < ? ORDER BY starts, id",
                                 (day.isoformat(), (day + timedelta(days=1)).isoformat())).fetchall()
        return [self._reservation(r) for r in rows]

    def upcoming(self, member_no) -> list[Reservation]:
        rows = self.conn.execute("SELECT * FROM reservations WHERE member_no = ? AND starts >= ? AND status = '予約' "
                                 "ORDER BY starts", (member_no, self.now().date().isoformat())).fetchall()
        return [self._reservation(r) for r in rows]

    def today_counts(self, day=None) -> dict:
        """予約人数 (not cancelled), 来店人数 (arrived, including departed), 退店人数 for a day."""
        day = day or self.now().date()
        states = [r.status for r in self.reservations_on(day)]
        return {"reserved": sum(s != "取消" for s in states),
                "arrived": sum(s in ("来店", "退店") for s in states),
                "departed": states.count("退店")}

    # visits

    def visits(self, member_no) -> list[Visit]:
        rows = self.conn.execute("SELECT * FROM visits WHERE member_no = ? ORDER BY date DESC, id DESC",
                                 (member_no,)).fetchall()
        return [Visit(r["id"], r["member_no"], r["date"], r["menu"], r["staff"], r["amount"], r["memo"])
                for r in rows]

    def import_visits(self, path: Path, members: set | None = None) -> tuple[int, list[str]]:
        """Add visits from a CSV (来店日, 会員番号, メニュー, 担当, 金額, メモ); (count, problems with lines).

        Identical rows in one file are real (two visits a day, a family on one card): all are
        kept. Importing the same file again adds nothing: a row is added only as many times as
        the file holds it more often than cti.db already does. A member number not in
        members (when given) is imported and reported with its line.
        """
        header, rows = read_csv_rows(path, VisitsError)
        keys = [unicodedata.normalize("NFKC", h).strip().lower() for h in header]
        columns = {field: next((keys.index(a) for a in aliases if a in keys), None)
                   for field, aliases in VISIT_COLUMNS.items()}
        name = Path(path).name
        if columns["member_no"] is None or columns["date"] is None:
            raise VisitsError(f"{name}: 見出し行に 会員番号 と 来店日 の列が必要です")
        problems, visits = [], []
        for line, cells in rows:
            if cells is None:
                problems.append(f"{name} {line}行目: セルが長すぎます")
                continue
            if not any(c.strip() for c in cells):
                continue
            get = functools.partial(field_of, cells, columns)
            member_no = member_no_of(get("member_no"))     # as members.csv reads it: ＡＣ００００１ is AC00001
            day = parse_date(get("date"), self.now())
            try:
                amount, amount_ok = parse_amount(get("amount")), True
            except ValueError:
                amount, amount_ok = None, False
            if not member_no:
                problems.append(f"{name} {line}行目: 会員番号が空です")
            elif day is None:
                problems.append(f"{name} {line}行目: 来店日 {get('date')!r} が読めません")
            elif not amount_ok:
                problems.append(f"{name} {line}行目: 金額 {get('amount')!r} が読めません")
            else:
                if members is not None and member_no not in members:
                    problems.append(f"{name} {line}行目: 会員番号 {member_no} は members.csv にありません"
                                    "（取り込みました）")
                visits.append((member_no, day.isoformat(), get("menu"), get("staff"), amount, get("memo")))
        wanted = collections.Counter(visits)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            added = 0
            for visit, count in wanted.items():
                have = self.conn.execute("SELECT count(*) FROM visits WHERE member_no = ? AND date = ? AND menu = ? "
                                         "AND staff = ? AND amount IS ? AND memo = ?", visit).fetchone()[0]
                self.conn.executemany("INSERT INTO visits (member_no, date, menu, staff, amount, memo) "
                                      "VALUES (?,?,?,?,?,?)", [visit] * (count - have))
                added += max(0, count - have)
        return added, problems


def export_calls_csv(path: Path, rows: list[list[str]], header=("着信時間", "着信番号", "会員番号", "名前", "ふりがな", "主担当")):
    """The call history as a CSV that Excel opens correctly (UTF-8 with BOM)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[excel_safe(c) for c in row] for row in rows])
    atomic_write(Path(path), out.getvalue().encode("utf-8-sig"))


###############################################################################
# UI: what the window says ####################################################
###############################################################################
# Pure helpers: the words and rows the window shows, tested without a display.

# the windowed cti.exe has no console: its message box sends staff to the console program
CLI_PROGRAM = "cti-cli.exe" if WINDOWS else "cti-cli"
NO_CONSOLE_TEXT = (f"cti.exe は画面だけのプログラムなので、コマンドの結果を表示できません。\n"
                   f"同じフォルダの {CLI_PROGRAM} をコマンド プロンプトから使ってください（例: "
                   f"{CLI_PROGRAM} --lookup 0596-31-0005）。\nCOM ポートの一覧は cti の ? ボタンでも見られます。")


UI_FONTS = ("BIZ UDPGothic", "BIZ UDPゴシック", "Yu Gothic UI", "Meiryo UI", "Meiryo", "MS UI Gothic", "IPAGothic", "IPAPGothic",
            "Noto Sans CJK JP", "Noto Sans JP", "TakaoGothic", "VL Gothic")
HISTORY_COLUMNS = ("着信時間", "着信番号", "会員番号", "名前", "ふりがな", "主担当")
# the widest text each column must show in full, at any scale (widths come from the font's metrics)
HISTORY_SAMPLES = ("12/31(水) 23:59", "0120-444-555", "AC00001", "ペンギン貴子", "ぺんぎんたかこ", "佐藤")
WEEKDAYS = "月火水木金土日"
STATUS_COLOURS = {"connected": "#1b7f3b", "connecting": "#b26a00", "stopped": "#555555"}


def ui_font_family(available) -> str:
    """A Japanese UI font that exists here: Yu Gothic UI / Meiryo UI on Windows, IPA or Noto elsewhere."""
    available = set(available)
    return next((f for f in UI_FONTS if f in available), "TkDefaultFont")


def caller_text(number: str | None, reason: str | None) -> str:
    """The number hyphenated, or why there is none (非通知, 公衆電話, 表示圏外, サービス競合)."""
    if number:
        return format_phone(number)
    return REASONS.get(reason, "番号なし")


def call_heading(record, today) -> str:
    """'090-3333-4444（10:15 の着信）': the call a dialog was opened for (a number looked up says so)."""
    who = caller_text(record.number, record.reason)
    if record.protocol == "manual":
        return f"{who}（番号参照）"
    when = f"{record.received:%H:%M}" if record.received.date() == today else when_text(record.received)
    return f"{who}（{when} の着信）"


def names_text(members: list, limit=3) -> str:
    """Every member on a number: '共有 一・共有 二'; beyond `limit`, 'A・B・C 他2名'."""
    names = [m.name for m in members]
    text = "・".join(names[:limit])
    return text + (f" 他{len(names) - limit}名" if len(names) > limit else "")


def window_title(number, reason, members: list) -> str:
    """'CTI — 0596-31-0005 ペンギン貴子', 'CTI — 0596-31-0009 共有 一・共有 二', 'CTI — 非通知'."""
    if not number:
        return f"CTI — {caller_text(number, reason)}"
    return f"CTI — {format_phone(number)} {names_text(members) if members else '未登録'}"


def history_row(record: CallRecord, members: list) -> tuple:
    """One line of the call history: 着信時間, 着信番号, 会員番号, 名前, ふりがな, 主担当 (a shared number names all)."""
    def each(field):
        return "・".join(dict.fromkeys(getattr(m, field) for m in members if getattr(m, field)))
    name = names_text(members) if members else ("未登録" if record.number else "")
    return (when_text(record.received), caller_text(record.number, record.reason),
            each("member_no"), name, each("kana"), each("staff"))


EXPORT_COLUMNS = ("着信日時", "着信番号", "番号なしの理由", "会員番号", "名前", "ふりがな", "主担当", "受信方法")


def export_row(record: CallRecord, members: list) -> list[str]:
    """One call as data for Excel: the full date and time, the number, the reason apart, every
    member on the number (; between them), never the window's words (未登録, 他N名)."""
    def each(field):
        return ";".join(getattr(m, field) for m in members)
    return [f"{record.received:%Y-%m-%d %H:%M:%S}", format_phone(record.number) if record.number else "",
            REASONS.get(record.reason, "") if not record.number else "", each("member_no"), each("name"),
            each("kana"), each("staff"), record.protocol]


def shared_number_note(digits: str, owners: list) -> str:
    """Before a number is added to a member: whose number it already is (then both are shown on a call)."""
    if not owners:
        return ""
    return (f"この番号 {format_phone(digits)} は {names_text(owners)} さんの番号として登録済みです。"
            "追加すると、この番号の着信ではどちらの方も表示します")


def skipped_rows_heading(path, count: int) -> str:
    return (f"{path} の {count} 行を読み飛ばしました。Excel で直して保存すると、数秒で読み直します。\n"
            "直すまで、その方からの電話は「未登録」と表示されます（二重に登録しないでください）。")


def handoff_values(number: str, member) -> dict:
    """What a hand-off template is filled with ({member_no} and {name} empty for an unknown caller)."""
    return {"number": number, "number_hyphen": format_phone(number) if number else "",
            "member_no": member.member_no if member else "", "name": member.name if member else ""}


def handoff_url(template: str, values: dict) -> str:
    return template.format(**{k: urllib.parse.quote(v, safe="") for k, v in values.items()})


def handoff_command(program: Path, arguments: tuple, values: dict) -> list[str]:
    """The program and its arguments, each filled in separately (a name with spaces stays one argument)."""
    return [str(program), *(argument.format(**values) for argument in arguments)]


# Japanese line breaking (JIS X 4051's rules, in brief): no line starts with closing punctuation or
# a small kana, none ends with an opening bracket, and an honorific stays with the name before it.
NO_LINE_START = "、。，．・：；？！ー）」』】〕〉》”’)]}>,.:;!?%ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々〻"
NO_LINE_END = "（「『【〔〈《“‘([{<"
HONORIFICS = ("様", "さん", "さま")
LINE_TOKEN = re.compile("|".join(HONORIFICS) + r"|[0-9A-Za-z][0-9A-Za-z\-./:@+_]*|\s+|.", re.DOTALL)


def line_units(text: str) -> list[str]:
    """The pieces a line may break between: a Latin word or number whole (a phone number, a member
    number), each other character alone, glued by the rules above; spaces apart (dropped at a break)."""
    tokens = LINE_TOKEN.findall(text)
    units = []
    for i, token in enumerate(tokens):
        follows_honorific = i + 1 < len(tokens) and tokens[i + 1] in HONORIFICS
        glue = units and (token in HONORIFICS or token[0] in NO_LINE_START or units[-1][-1] in NO_LINE_END
                          or (token.isspace() and follows_honorific))
        if glue and not units[-1].isspace():
            units[-1] += token
        else:
            units.append(token)
        if token in HONORIFICS:             # the whole name goes with it (up to a space or punctuation)
            while (len(units) > 1 and len(units[-2]) == 1 and not units[-2].isspace()
                   and units[-2] not in NO_LINE_START + NO_LINE_END + ":：" and len(units[-1]) < 12):
                units[-2:] = [units[-2] + units[-1]]
    return units


def break_lines(text: str, width: float, measure, most: int = 0) -> str:
    """text in lines no wider than width (measure(text) -> pixels), broken only where Japanese allows
    (line_units); a piece wider than a line stays whole on a line of its own. most: only the first
    that many lines (a label of that height: a pasted e-mail is not measured a line at a time to the
    end), each from at most most * width characters (none is narrower than a pixel)."""
    lines = []
    for paragraph in text.split("\n", most) if most else text.split("\n"):
        line = ""
        for unit in line_units(paragraph[:most * int(width)] if most else paragraph):
            if line.strip() and not unit.isspace() and measure((line + unit).rstrip()) > width:
                lines.append(line.rstrip())
                line = unit
            elif line or not unit.isspace():
                line += unit
        lines.append(line.rstrip())
    return "\n".join(lines[:most] if most else lines)


NO_NUMBER_CALL = "{caller}の着信は番号がないため、どなたか分かりません。{action}は会員の番号の着信でできます"
HANDOFF_WORDS = {"no_number": "番号のある着信を選んでください（番号がないと渡せません）",
                 "failed": "{label}を開けませんでした: {error}\ncti.ini の [handoff] を確認してください",
                 "done": "{label}: {who} を渡しました", "copied": "番号をコピーしました: {number}"}
CALLBACK_WORDS = {"title": "折り返し", "button": "不在 {count}", "done": "折り返し済", "by": "担当",
                  "waiting": "未", "marked": "折り返し済 {when}{by}", "select": "折り返した着信を一覧から選んでください",
                  "confirm": "折り返し済にしました: {who}"}
CALLBACK_COLUMNS = (("last", "最後の着信", "12/31(水) 23:59"), ("rang", "回数", "99回"),
                    ("number", "番号", "0120-444-555"), ("name", "名前", "ペンギン貴子"),
                    ("state", "状態", "折り返し済 12/31(水) 23:59 佐藤"))


def callback_row(callback: Callback, members: list) -> tuple:
    """One line of the callback list."""
    state = (CALLBACK_WORDS["marked"].format(when=when_text(callback.done_at), by=f" {callback.done_by}" if callback.done_by else "")
             if callback.done_at else CALLBACK_WORDS["waiting"])
    return (when_text(callback.last), f"{callback.rang}回", format_phone(callback.number),
            names_text(members) if members else "未登録", state)


MESSAGE_BUTTONS = {False: ("OK", None), True: ("はい", "いいえ")}
DIALOG_HOLDS_WINDOW = "「{title}」を閉じるまで、元の窓は使えません（{buttons} を押してください）"


def tray_title(unseen: int, lost: str = "") -> str:
    """The tray icon's tooltip: a lost device (the card's banner) and calls not yet seen, so that a
    hidden window still tells of them."""
    calls = f"不在着信 {unseen}件" if unseen else ""
    if lost:
        return f"CTI — {lost}" + (f"・{calls}" if calls else "")
    return f"CTI — {calls or '着信を待っています'}"


def beside(main: Rect, dialog_w: int, dialog_h: int, work: Rect, gap=8) -> tuple[int, int]:
    """Where a dialog or list goes: left of the main window, else right, else above, inside the work area.

    Never over the caller card when there is room anywhere; when there is none (a tiny screen) it
    is clamped into the work area, its top kept as low as possible so that the card stays readable.
    """
    def clamp(x, y):
        return (max(work.left, min(x, work.right - dialog_w)), max(work.top, min(y, work.bottom - dialog_h)))
    if main.left - gap - dialog_w >= work.left:
        return clamp(main.left - gap - dialog_w, main.top)
    if main.right + gap + dialog_w <= work.right:
        return clamp(main.right + gap, main.top)
    if main.top - gap - dialog_h >= work.top:
        return clamp(main.right - dialog_w, main.top - gap - dialog_h)
    return clamp(main.right - dialog_w, work.bottom)


def day_text(day, with_year=False) -> str:
    """'11/28(土)' (with_year: '2025/11/28(金)'): how a salon writes a date."""
    return f"{f'{day.year}/' if with_year else ''}{day.month}/{day.day}({WEEKDAYS[day.weekday()]})"


def when_text(when: datetime) -> str:
    """'11/28(土) 14:30'."""
    return f"{day_text(when)} {when:%H:%M}"


# The caller card: a calm colour per state (an unknown caller is usually a new customer, not an error).
CARD_COLOURS = {"waiting": "#f4f5f7", "member": "#e6f4ea", "unknown": "#e8f0fe", "withheld": "#eeeeee",
                "lost": "#f7e4e3"}         # the device is lost: the caller shown is from before, not live
CARD_HIGHLIGHT = "#fff3c4"                  # a moment of yellow when a call arrives
DEVICE_LOST_STATES = ("missing", "busy", "lost", "stopped", "refused")
DEVICE_LOST_BANNER = "着信表示装置につながっていません（USB を確認）"


def device_lost_banner(state: str, port: str) -> str:
    """The card's banner when the device is lost, in words that send her to the right thing: a
    network device has no USB to check, and a port another program holds is not unplugged."""
    if is_sip_url(port):
        return ("ひかり電話の内線に登録できません（cti.ini のパスワードを確認）" if state == "refused"
                else "ひかり電話の内線に登録できていません（ネットワークを確認）")
    if port.startswith(("socket://", "udp://")):
        return "着信サーバにつながっていません（ネットワークを確認）"
    if state == "busy":
        return "着信表示装置を他のソフトが使っています（下の説明を確認）"
    return DEVICE_LOST_BANNER


@dataclass(frozen=True)
class CallerPanel:
    """Every word on the caller card, and its state (which colour)."""
    state: str                  # waiting | member | unknown | withheld
    time: str = ""
    number: str = ""
    kana: str = ""
    name: str = ""
    details: str = ""
    memo: str = ""
    history: str = ""


def visit_line(last_visit=None, next_booking=None) -> str:
    """「前回 10/22 カラー（佐藤）・次回 11/28(土) 14:30」 from the last visit and the next booking."""
    parts = []
    if last_visit is not None:
        day = datetime.fromisoformat(last_visit.date)
        staff = f"（{last_visit.staff}）" if last_visit.staff else ""
        parts.append(f"前回 {day.month}/{day.day} {last_visit.menu}{staff}".rstrip())
    if next_booking is not None:
        parts.append(f"次回 {when_text(next_booking.starts)}")
    return "・".join(parts)


def caller_panel(record, members: list, last_visit=None, next_booking=None) -> CallerPanel:
    """The card for a call (None: waiting). A shared number names every member; the visit line is
    for a single member (whose visits and bookings they are)."""
    if record is None:
        return CallerPanel("waiting", name="着信待ち")
    time = f"{record.received.hour:02}:{record.received.minute:02} 着信"   # no strftime: locale-proof
    if not record.number:
        return CallerPanel("withheld", time, name=REASONS.get(record.reason, "番号なし"),
                           details="番号が通知されませんでした")
    number = format_phone(record.number)
    if not members:
        return CallerPanel("unknown", time, number, name="未登録の番号です",
                           details="はじめての方かもしれません。\n会員登録か、登録済みの方への番号追加ができます")
    shown = members[:3]
    return CallerPanel(
        "member", time, number, kana="・".join(m.kana for m in shown if m.kana),
        name=names_text(members) + " 様",
        details=(f"会員番号 {members[0].member_no}" + (f"  主担当 {members[0].staff}" if members[0].staff else "")
                 if len(members) == 1 else
                 "会員番号 " + "・".join(m.member_no + (f"（{m.staff}）" if m.staff else "") for m in shown)),
        memo="  ".join(f"メモ: {m.memo}" if len(shown) == 1 else f"{m.name}: {m.memo}" for m in shown if m.memo),
        history=visit_line(last_visit, next_booking) if len(members) == 1 else "")


def elapsed_text(since: datetime, now: datetime) -> str:
    """たった今 / 3分前 / 2時間前 / 11/25(火): how long ago a call came."""
    seconds = (now - since).total_seconds()
    if seconds < 60:
        return "たった今"
    if seconds < 3600:
        return f"{int(seconds // 60)}分前"
    if seconds < 86400:
        return f"{int(seconds // 3600)}時間前"
    return day_text(since)


def counts_text(counts: dict, day="本日") -> str:
    return f"{day}  予約人数 {counts['reserved']}人   来店人数 {counts['arrived']}人   退店人数 {counts['departed']}人"


NOT_IN_TABLE = "（台帳にない会員）"
BOOKING_WORDS = {
    "new": "新規予約", "change": "変更", "move_title": "予約の変更", "reserve_title": "予約登録",
    "list_title": "予約一覧", "today": "今日", "prev": "◀ 前日", "next": "翌日 ▶", "show": "表示",
    "search": "会員を検索", "search_hint": "会員番号・名前・ふりがな・電話番号の一部で検索できます",
    "pick_member": "予約する会員を一覧から選んでください", "upcoming": "今後の予約",
    "no_upcoming": "今後の予約はありません", "none_that_day": "この日の予約はありません",
    "amount_title": "退店", "amount": "金額（円）", "amount_hint": "空のままでも退店できます",
    "amount_bad": "金額は 4500 や 4,500 のように数字で入力してください", "select": "一覧から予約を選んでください",
    "overlap_ask": "{text}\n\n重なっていますが、このまま予約しますか？",
    "date": "日付", "time": "時刻（例 14:30）", "menu": "メニュー", "staff": "担当", "memo": "メモ",
    "day_heading": "{day} の予約（担当別）", "visits": "来店履歴（新しい順）", "no_visits": "来店履歴はまだありません",
}
# (column, heading, widest sample text) of the booking lists
BOOKING_COLUMNS = {
    "by_staff": (("staff", "担当", "佐藤"), ("span", "時間", "23:00–23:59"), ("name", "名前", "ペンギン貴子"),
                 ("menu", "メニュー", "カット＋カラー"), ("status", "状態", "予約")),
    "day": (("time", "時刻", "23:59"), ("no", "会員番号", "AC00001"), ("name", "名前", "ペンギン貴子"),
            ("menu", "メニュー", "カット＋カラー"), ("staff", "担当", "佐藤"), ("status", "状態", "予約")),
    "upcoming": (("starts", "日時", "12/31(水) 23:59"), ("menu", "メニュー", "カット＋カラー"), ("staff", "担当", "佐藤"),
                 ("memo", "メモ", "メモ欄")),
    "visits": (("date", "日付", "2025/12/31(水)"), ("menu", "メニュー", "カット＋カラー"), ("staff", "担当", "佐藤"),
               ("amount", "金額", "13,200円"), ("memo", "メモ", "メモ欄")),
    "members": (("no", "会員番号", "AC00001"), ("name", "名前", "ペンギン貴子"), ("kana", "ふりがな", "ぺんぎんたかこ"),
                ("phones", "電話番号", "0596-31-0005")),
}


def span_text(starts: datetime, minutes: int) -> str:
    return f"{starts:%H:%M}–{starts + timedelta(minutes=minutes):%H:%M}"


def amount_text(amount: int | None) -> str:
    return f"{amount:,}円" if amount is not None else ""


def staff_choices(configured: tuple, from_members: list) -> list:
    """The stylists offered: cti.ini's [booking] staff, else the 主担当 names in members.csv."""
    return list(configured) or list(from_members)


def member_name(member) -> str:
    return member.name if member else NOT_IN_TABLE


def booked_text(starts: datetime, menu: str, staff: str, moved=False, who: str = "") -> str:
    """共有 二 様 11/28(土) 14:30 カット 田中 で予約しました (moved: …に変更しました). who names the member:
    the card may by now show another caller, and the word must not seem to be about them."""
    return " ".join(part for part in (f"{who} 様" if who else "", when_text(starts), menu, staff) if part) + (
        " に変更しました" if moved else " で予約しました")


def status_done_text(status: str, amount: int | None = None, who: str = "") -> str:
    """ペンギン貴子 様の来店を記録しました / …様の退店を記録しました（8,800円） / …様の予約を取り消しました.
    who names the member, as booked_text does: the card may by now show another caller."""
    whose = f"{who} 様の" if who else ""
    if status == "取消":
        return f"{whose}予約を取り消しました"
    return f"{whose}{status}を記録しました" + (f"（{amount_text(amount)}）" if amount is not None else "")


# what the card says after a members.csv change, before whom it was for
MEMBER_DONE = {"register": "登録しました", "link": "電話番号を追加しました"}


def member_done_text(done: str, member) -> str:
    """登録しました: AC00011 テスト 様"""
    return f"{MEMBER_DONE[done]}: {member.member_no} {member.name} 様"


def exported_text(path) -> str:
    """履歴を保存's word names where the file went (on Linux she was not asked)."""
    return f"保存しました: {path}"


def overlap_text(conflicts: list, by_no: dict, minutes_of) -> str:
    """'佐藤 さんは 14:00–15:30 ペンギン貴子 様（カラー）の予約と重なります' (one line per booking)."""
    return "\n".join(f"{r.staff} さんは {span_text(r.starts, minutes_of(r))} "
                     f"{member_name(by_no.get(r.member_no))} 様" + (f"（{r.menu}）" if r.menu else "") + "の予約と重なります"
                     for r in conflicts)


def booking_label(reservation, member) -> str:
    """11/28(土) 14:30 ペンギン貴子 様（カット）"""
    return f"{when_text(reservation.starts)} {member_name(member)} 様" + (f"（{reservation.menu}）" if reservation.menu else "")


def choice_question(members: list) -> str:
    """Which member on a shared number: the number is named, as a new call may be on the card by then."""
    shared = set(members[0].phones).intersection(*(m.phones for m in members[1:]))
    number = format_phone(min(shared)) if shared else "この番号"
    return f"{number} の会員は {len(members)} 名です。どなたですか？"


def choice_label(member) -> str:
    return f"{member.member_no}  {member.name}" + (f"（{member.kana}）" if member.kana else "")


def member_heading(member_no: str, member) -> str:
    """AC00001  ペンギン貴子 様: whom a booking is for."""
    return f"{member_no}  {member_name(member)} 様"


def cancel_question(reservation, member) -> str:
    return f"{booking_label(reservation, member)}の予約を取り消しますか？"


def staff_day_rows(bookings: list, by_no: dict, minutes_of) -> list:
    """The day's bookings by stylist (担当, 時間, 名前, メニュー, 状態), cancelled ones left out."""
    shown = sorted((r for r in bookings if r.status != "取消"), key=lambda r: (r.staff or "\uffff", r.starts))
    return [(str(r.id), (r.staff or "（担当なし）", span_text(r.starts, minutes_of(r)),
                         member_name(by_no.get(r.member_no)), r.menu, r.status)) for r in shown]


def booking_row(reservation, member) -> tuple:
    """One line of the bookings list: 時刻, 会員番号, 名前, メニュー, 担当, 状態."""
    r = reservation
    return (f"{r.starts:%H:%M}", r.member_no, member_name(member), r.menu, r.staff, r.status)


PENDING_WHEN = {"held": "Excel を閉じると保存します", "locked": "すぐに保存します",
                "missing": "台帳が戻りしだい保存します", "network": "共有フォルダにつながりしだい保存します",
                "full": "ディスクに空きができしだい保存します", "readonly": "書き込めるようになりしだい保存します"}


def member_notice_text(notice, name: str) -> str:
    """What the receptionist is told of a members.csv notice (the store's Renumbered, Unsaved, PendingSaved)."""
    if isinstance(notice, Renumbered):
        return (f"{notice.name} 様の会員番号は {notice.new} になりました（{notice.old} は Excel か他の PC で別の方に"
                f"使われたため）。{notice.old} で入れた予約と来店は {notice.new} に移しました")
    if isinstance(notice, Unsaved):
        whys = "、".join(dict.fromkeys(r.why for r in notice.rejected))
        where = (f"内容は {notice.path} に残してあります" if notice.path
                 else "内容は保存待ちファイルに残っています（そのファイルも書けませんでした）")
        return (f"保存待ちだった変更 {len(notice.rejected)}件は {name} に保存できませんでした（{whys}）。{where}。"
                f"Excel で {name} を開き、手で入力してください")
    return f"{name} に保存待ちの変更を保存しました"


def members_status(table: MemberTable) -> str:
    pending = (f"  未保存の変更 {len(table.pending)}件（{PENDING_WHEN.get(table.pending_cause, 'あとで保存します')}）"
               if table.pending else "")
    if table.error:
        shown = f"（最後に読めた {len(table.members)}件で表示中）" if table.members else ""
        return f"会員台帳を読めません: {table.error}{shown}{pending}"
    text = f"会員 {len(table.members)}件"
    if table.problems:
        text += f"（読み飛ばした行 {len(table.problems)}）"
    return text + pending


# Every action of the main window once: its button, its key, its line in the help and the
# MainWindow method it runs (or a frame's: history.export); the card's buttons take their labels from here too.
Action = namedtuple("Action", "name label key help command where", defaults=("toolbar",))
ACTIONS = (
    Action("lookup", "着信番号参照", "F7", "番号を入力して会員を調べます（着信の履歴には残しません）", "open_lookup"),
    Action("register", "会員登録へ", "F2", "カードの着信の番号で新しい会員を登録します", "open_register"),
    Action("link", "電話番号登録へ", "F3", "カードの着信の番号を、登録済みの会員に追加します", "open_link"),
    Action("reserve", "予約登録へ", "F4", "カードの着信の会員の予約を入れます（番号を共有する方が複数なら、どなたか選びます。"
                                        "着信がない・非通知なら会員を検索して）", "open_reserve"),
    Action("visits", "来店履歴へ", "F5", "カードの着信の会員の来店履歴と今後の予約（変更・取消もここで）を表示します",
           "open_visits"),
    Action("today", "本日の予約", "F6", "予約一覧（今日から。◀ ▶ や日付で他の日）。新規予約・変更・来店・退店・取消をここで",
           "open_today"),
    Action("export", "履歴を保存", "", "着信履歴を Excel で開ける CSV に保存します", "history.export"),
    Action("hide", "閉じる", "", "窓を隠します。cti は動き続け、着信があると窓が前に出ます", "hide"),
    Action("help", "?", "F1", "この説明。cti を終了するのもここ（または通知領域のアイコン）から", "open_help"),
    Action("compact", "小さく", "F9", "着信カードだけの小さな窓にします（もう一度で一覧も表示）", "toggle_compact", "card"),
    Action("callbacks", "折り返し", "", "まだ折り返していない着信の一覧（カードの「不在」ボタン、通知領域のアイコンからも）。"
                                     "かけ直したら「折り返し済」に", "open_callbacks", "card"),
)
ACTION = {action.name: action for action in ACTIONS}
# the caller card's buttons, by its state: an unknown number is registered or linked; a member booked or looked up
CARD_ACTIONS = {"unknown": ("register", "link"), "member": ("reserve", "visits")}


def action_label(action: Action) -> str:
    """'会員登録へ (F2)' as the help lists it."""
    return f"{action.label} ({action.key})" if action.key else action.label


COMPACT_LABELS = {False: action_label(ACTION["compact"]), True: f"一覧も表示 ({ACTION['compact'].key})"}
LOOKUP_LABEL = "番号参照（着信ではありません）"
QUIT_QUESTION = "cti を終了しますか？\n終了すると、電話がかかってきても表示されません。"
QUIT_PENDING = "\n\n{name} にまだ保存できていない変更が {count} 件あります（保存待ちファイルに残り、次回起動時に保存します）。"
QUIT_REFUSED = "「{title}」に入力中の内容があります。保存するかキャンセルしてから終了してください。"


FOLDER_WARNINGS = {
    "onedrive": "注意: OneDrive のフォルダです。会員データがクラウドに送られ、競合コピーもできます。C:\\cti などに移してください",
    "zip": "注意: zip の中から起動しています（一時フォルダは後で消えます）。zip を右クリック →「すべて展開」してから起動してください",
    "network": "注意: ネットワーク上のフォルダです。つながらない間は保存できません（受付 PC の C:\\cti などを勧めます）",
}


def folder_warnings(risks: list[str]) -> list[str]:
    """The status-line warnings for data_folder_risks() (cti still runs)."""
    return [FOLDER_WARNINGS[risk] for risk in risks]


def unsaved_calls_warnings(count: int, cause: str) -> list[str]:
    """The status line when calls were shown but cti.db could not store them."""
    return [f"着信 {count}件を履歴に保存できませんでした（{FILE_CAUSES[cause]}）。着信の表示は続けます"] if count else []


def clock_warnings(offset: float) -> list[str]:
    """The status line while the PC's clock stands off where it was when cti started (ClockWatch)."""
    if not offset:
        return []
    minutes = round(abs(offset) / 60)
    amount = f"{minutes // 1440}日" if minutes >= 1440 else f"{minutes // 60}時間" if minutes >= 60 else f"{minutes}分"
    return [f"パソコンの時計が {amount}{'進み' if offset > 0 else '戻り'}ました。時計が直るまで、"
            "古い着信履歴を日数では消しません（着信は表示・保存しています）"]


def help_text(ini, members, device, ports) -> str:
    lines = "\n".join(f"{action_label(a)}\t{a.help}" for a in ACTIONS)
    return f"""\
着信すると、この窓が画面の隅に出て、かけてきた方を表示します。
× や 閉じる では終わりません: 窓が隠れるだけで、着信があるとまた前に出ます。
終了は、通知領域（時計の近く）の CTI アイコンの「終了」か、下の「cti を終了」で。

{lines}

着信履歴: ダブルクリック（または Enter）で来店履歴、右クリック（または Delete）で削除。

設定ファイル: {ini}
会員台帳: {members}
装置: {device}
見つかったシリアルポート:
{ports}
"""


###############################################################################
# UI: Tk window and dialogs ###################################################
###############################################################################

class Heartbeat:
    """The window's timers on the monotonic clock, so that no step of the wall clock holds one up.

    Tk 8.6 measures `after` in wall-clock time: a clock set back N s holds every pending after N s
    (Windows steps it after sleep and at a time sync; a dead CMOS battery or a time zone fixed by
    hand, by hours). Here every job has a monotonic due time, and tick() runs those due. Two things
    call tick(): one Tk after every `poll` s, enough while the clock is steady (and all there is
    while tests pump update()); and, from start() in the real loop, a thread that waits on the
    monotonic clock and calls into Tcl, which tkinter (threaded Tcl, as Python ships it on Windows
    and Linux) runs in the Tk thread at once whatever its timers wait for. It calls every `beat` s,
    and at once on wake() (a call put on the queue). Each tick arms the after afresh, so one a step
    held is replaced.
    """

    def __init__(self, root, poll: float, beat=0.1, clock=time.monotonic):
        self.root, self.poll, self.beat, self.clock = root, poll, beat, clock
        self.jobs = {}                  # name -> [monotonic due, every (None: once), callback]
        self.after_id = None
        self.nudge, self.stopping = threading.Event(), threading.Event()
        self.command = root.register(self.tick)
        self.arm()

    def every(self, name, seconds, callback):
        self.jobs[name] = [self.clock() + seconds, seconds, callback]

    def once(self, name, seconds, callback):
        self.jobs[name] = [self.clock() + seconds, None, callback]

    def tick(self):
        """Run the jobs due; an error in one is logged (a box every few seconds would bury the screen)."""
        for name, job in list(self.jobs.items()):
            due, every, callback = job
            if self.stopping.is_set():
                return                  # 終了 from a job (the tray's command) destroyed the root
            if due > self.clock() or self.jobs.get(name) is not job:
                continue
            if every is None:
                del self.jobs[name]
            else:
                job[0] = self.clock() + every
            try:
                callback()
            except Exception:
                log.exception("定期処理 %s でエラー", name)
        if not self.stopping.is_set():
            self.arm()

    def arm(self):
        if self.after_id is not None:
            self.root.after_cancel(self.after_id)
        self.after_id = self.root.after(int(self.poll * 1000), self.tick)

    def start(self):
        """In the real loop (mainloop): the thread that ticks whatever the wall clock does."""
        threading.Thread(target=self._beat, name="heartbeat", daemon=True).start()

    def wake(self):
        """From any thread: tick now (a call is on the queue)."""
        self.nudge.set()

    def _beat(self):
        while not self.stopping.is_set():
            self.nudge.wait(self.beat)
            self.nudge.clear()
            if self.stopping.is_set():
                return
            try:
                self.root.tk.call(self.command)
            except (RuntimeError, tk.TclError):   # the loop not running (a start-up box) or ended
                self.stopping.wait(self.beat)

    def stop(self):
        """No job runs after this (tests call it before destroying the root)."""
        self.stopping.set()
        self.nudge.set()
        self.jobs.clear()
        if self.after_id is not None:
            self.root.after_cancel(self.after_id)
            self.after_id = None


class WakingQueue(queue.Queue):
    """A queue that wakes the window's loop (Heartbeat.wake) the moment a thread puts on it."""

    def wake(self):
        """Replaced by the window's Heartbeat.wake once there is a window."""

    def put(self, item, block=True, timeout=None):
        super().put(item, block, timeout)
        self.wake()


class Tray:
    """The icon in the notification area (pystray, in its own thread) with 表示 and 終了.

    Its menu runs in pystray's thread, so it only puts a command on `commands`; the Tk loop takes
    it from there (no Tk call from another thread). Where no tray can be shown (no notification
    area on this desktop, no pystray or Pillow) start() says False and the window does without.
    """

    def __init__(self, commands: queue.Queue):
        self.commands, self.icon, self.unseen, self.lost = commands, None, 0, ""
        self.title = tray_title(0)
        self.x11 = False                    # pystray's bare X backend: its title must be Latin-1
        self.awaiting_host = False          # an X desktop without a notification area, yet

    def start(self) -> bool:
        try:
            import pystray
            self.x11 = pystray.Icon.__module__.endswith("_xorg")
            self.awaiting_host = self.x11 and not x_tray_host()
            if self.awaiting_host:
                return False                # no notification area (Xvfb; a panel that starts after cti)
            self.icon = pystray.Icon("cti", tray_image(self.unseen), self._icon_title(), menu=pystray.Menu(
                pystray.MenuItem("表示", lambda: self.commands.put("show"), default=True),
                pystray.MenuItem("折り返し", lambda: self.commands.put("callbacks")),
                pystray.MenuItem("終了", lambda: self.commands.put("quit"))))
            # icon.run in a daemon thread of ours rather than run_detached: pystray 0.19.5's X backend
            # starts a second setup thread there that never ends, and would keep cti from exiting
            threading.Thread(target=self.icon.run, name="tray", daemon=True).start()
            return True
        except Exception:                   # pystray raises what its backend raises; without it cti still works
            log.warning("通知領域にアイコンを出せません（窓は着信で前に出ます）", exc_info=True)
            self.icon = None
            return False

    def start_when_host(self, unseen: int) -> bool:
        """The icon, once a notification area has appeared (trayer or a panel started after cti),
        made with the count so far (set before it runs: pystray's X backend may not have its window yet)."""
        if not (self.awaiting_host and x_tray_host()):
            return False
        self.unseen, self.title = unseen, tray_title(unseen, self.lost)
        return self.start()

    def _icon_title(self) -> str:
        return f"CTI ({self.unseen}){' !' if self.lost else ''}" if self.x11 else self.title

    def show_lost(self, lost: str):
        """The tooltip says the device is lost (the card's banner), or no more."""
        if self.icon is not None and lost != self.lost:
            self.lost, self.title = lost, tray_title(self.unseen, lost)
            try:
                self.icon.title = self._icon_title()
            except Exception:
                log.warning("通知領域のアイコンを更新できません", exc_info=True)

    def show_unseen(self, unseen: int):
        """Tooltip and badge follow the calls not yet seen."""
        if self.icon is not None and unseen != self.unseen:
            self.unseen, self.title = unseen, tray_title(unseen, self.lost)
            try:                            # the badge must never cost the popup (Pillow's FreeType, the backend)
                self.icon.icon = tray_image(unseen)
                self.icon.title = self._icon_title()
            except Exception:
                log.warning("通知領域のアイコンを更新できません", exc_info=True)

    def stop(self):
        if self.icon is not None:
            self.icon.stop()
            self.icon = None


def tray_image(unseen: int):
    """The tray icon: a blue handset tile, with a red badge counting calls not yet seen."""
    from PIL import Image, ImageDraw
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((2, 2, 62, 62), radius=12, fill="#1f5fa8")
    draw.arc((14, 12, 50, 52), start=120, end=240, fill="white", width=9)
    if unseen:
        draw.ellipse((30, 0, 64, 34), fill="#d93025")
        draw.text((47, 17), str(min(unseen, 99)), fill="white", anchor="mm", font_size=22)
    return image


def column_width(widget, font, *texts) -> int:
    """Pixels a list column needs to show the widest of texts whole, at the current tk scaling."""
    measure = tkfont.Font(widget, font=font).measure
    return max(measure(t) for t in texts) + round(widget.winfo_fpixels("1i") / 96 * 14)


def wrapped(label, text: str, width: int) -> str:
    """text broken into lines for a label width pixels wide by the Japanese rules (break_lines):
    Tk's wraplength breaks before 様 at the space and anywhere in Japanese, leaving a lone 。"""
    font = str(label.cget("font")) or ttk.Style(label).lookup(label.winfo_class(), "font") or "TkDefaultFont"
    height = int(str(label.cget("height") or 0)) if "height" in label.keys() else 0    # lines shown; 0: all
    return break_lines(text, width, tkfont.Font(label, font=font).measure, height)


def widget_rect(window) -> Rect:
    """Where a toplevel is put, from its geometry (known while it is hidden, unlike winfo_rootx)."""
    width, height, x, y = map(int, re.fullmatch(r"(\d+)x(\d+)\+(-?\d+)\+(-?\d+)", window.geometry()).groups())
    return Rect(x, y, x + width, y + height)


class DialogContext:
    """What a dialog or list window may use of the main window: the store, the database, the clock,
    the fonts, a way to post a notice on the card, and the dialogs' submits (a member registered or
    a number linked, a booking saved or moved on), after which the window follows (members_changed,
    bookings_changed). Dialogs get this, never the window itself. Each submit returns {} when done,
    else the errors to show."""

    def __init__(self, root, config: Config, members: MemberTable, db: Database, now, fonts: dict,
                 post_notice, members_changed, bookings_changed):
        self.root, self.config, self.members, self.db, self.now, self.fonts = root, config, members, db, now, fonts
        self.post_notice, self.members_changed, self.bookings_changed = post_notice, members_changed, bookings_changed

    def register(self, registration) -> dict:
        made = dataclasses.replace(registration, made=self.now().timestamp())   # cti.db's clock: its bookings' time
        return self.save_member_change(lambda: self.members.register(made), registration.member_no, "register",
                                       registration.phone)

    def link(self, member_and_phone) -> dict:
        member_no, phone = member_and_phone
        return self.save_member_change(lambda: self.members.link(member_no, phone), member_no, "link",
                                       normalize_phone(phone))

    def save_member_change(self, change, member_no, done, phone="") -> dict:
        """Run a members.csv change: kept pending (Excel holds the file) still counts; unwritable is shown.
        The dialog named the number's other members before saving: the store's note of them is not said twice."""
        warned = {held_by_text(phone, m) for m in self.members.lookup(phone)} if phone else set()
        try:
            member, notes = change()
        except WriteDeferred as e:              # kept in the pending file: the dialog may close
            member, notes = e.member or self.members.by_no.get(member_no), [str(e)]
        except CtiError as e:                   # nothing kept: the dialog keeps the input and says so
            return {getattr(e, "field", "") or "": str(e)}
        self.members_changed([note for note in notes if note not in warned])
        if member is not None:
            self.post_notice(member_done_text(done, member))
        return {}

    def save_booking(self, booking: dict) -> dict:
        """ReserveDialog's submit: a new booking, or one moved (booking has its id); {} when saved."""
        fields = {k: v for k, v in booking.items() if k != "id"}
        try:
            if "id" in booking:
                self.db.move(booking["id"], **{k: v for k, v in fields.items() if k != "member_no"})
            else:
                self.db.reserve(**fields)
        except (ValueError, CtiError, sqlite3.Error) as e:
            return {"": f"予約を保存できませんでした: {e}"}
        self.bookings_changed()
        who = member_name(self.members.by_no.get(booking["member_no"])) if booking.get("member_no") else ""
        self.post_notice(booked_text(booking["starts"], booking["menu"], booking["staff"], moved="id" in booking,
                                     who=who))
        return {}

    def change_status(self, reservation_id: int, status: str, amount: int | None = None) -> dict:
        """来店 / 退店 (with the amount) / 取消; {} when done, else {"": why}."""
        try:
            reservation = self.db.set_status(reservation_id, status, amount)
        except (ValueError, CtiError, sqlite3.Error) as e:
            return {"": str(e)}
        self.bookings_changed()
        self.post_notice(status_done_text(status, amount, member_name(self.members.by_no.get(reservation.member_no))))
        return {}


class Window(tk.Toplevel):
    """Every window besides the main one (dialogs, lists, help): transient, and placed by one rule,
    beside the main window inside the work area, so that a call arriving meanwhile stays in view."""

    def __init__(self, context: DialogContext, title: str, *, call: CallRecord | None = None, _utest=False):
        """call: the call it was opened for, named in its title and first line."""
        super().__init__(context.root)
        self.withdraw()                     # hidden while it is built and placed
        self.context, self.call, self._utest = context, call, _utest
        if call is not None:
            title = f"{call_heading(call, context.now().date())}の{title}"
            self.heading = ttk.Label(self, text=title, font=context.fonts["bold"], padding=(12, 12, 12, 0))
            self.heading.pack(anchor="w")
        self.title(title)
        self.transient(context.root)
        self.body = ttk.Frame(self, padding=12)
        self.body.pack(fill="both", expand=True)

    def place_beside_main(self):
        self.update_idletasks()
        x, y = beside(widget_rect(self.context.root), self.winfo_reqwidth(), self.winfo_reqheight(),
                      work_area(self.context.root))
        self.geometry(f"+{x}+{y}")


class Dialog(Window):
    """A form in the manner of IDLE's query.Query: entry_ok() validates and returns a value (or shows
    the field errors and returns None); the caller acts on it through one submit(value) callback,
    which returns {} (done: the dialog closes) or the field errors to show ("" for the whole form).

    With _utest the dialog is neither modal nor waited for, so tests fill its fields and invoke()
    its buttons.
    """
    ok_text = "OK"
    cancel_text = "キャンセル"
    saving = False                      # ok() is checking and saving (a note may be on screen)

    def __init__(self, context: DialogContext, title: str, submit, *, call=None, _utest=False):
        super().__init__(context, title, call=call, _utest=_utest)
        self.result, self.submit = None, submit
        self.vars, self.errors, self.widgets = {}, {}, {}
        self.body.columnconfigure(1, weight=1)
        self.row = 0
        self.create_widgets()
        self.message = ttk.Label(self.body, foreground="#b00020", wraplength=420, justify="left")
        self.message.grid(row=self.row, column=0, columnspan=3, sticky="w", pady=(6, 0))
        buttons = ttk.Frame(self.body)
        buttons.grid(row=self.row + 1, column=0, columnspan=3, sticky="e", pady=(10, 0))
        self.button_ok = ttk.Button(buttons, text=self.ok_text, command=self.ok, default="active")
        self.button_cancel = ttk.Button(buttons, text=self.cancel_text or "", command=self.cancel)
        self.button_ok.pack(side="left", padx=4)
        if self.cancel_text:                # a message has OK alone (Escape still closes it)
            self.button_cancel.pack(side="left")
        self.bind("<Return>", self.ok)
        self.bind("<KP_Enter>", self.ok)
        self.bind("<Escape>", self.cancel)
        self.bind("<ButtonPress>", self.clicked_outside, add=True)
        for key in {action.key for action in ACTIONS if action.key}:    # F1–F9 are the main window's keys
            self.bind(f"<{key}>", lambda e, key=key: self.main_window_key(key))
        self.protocol("WM_DELETE_WINDOW", self.cancel)
        self.initial = {name: var.get() for name, var in self.vars.items()}
        self.place_beside_main()
        if not _utest:
            held = self.grab_current()      # a question over another dialog gives the grab back to it
            self.deiconify()
            self.grab_set()
            self.take_focus()
            self.wait_window()
            if held is not None and held.winfo_exists():
                held.grab_set()

    def clicked_outside(self, event):
        """While the dialog holds the window (its grab), Tk hands it the clicks on the main window,
        which would otherwise do nothing without a word: say why, and how to go on."""
        inside = (self.winfo_rootx() <= event.x_root < self.winfo_rootx() + self.winfo_width()
                  and self.winfo_rooty() <= event.y_root < self.winfo_rooty() + self.winfo_height())
        if not inside:
            self.say_window_held()

    def say_window_held(self):
        self.bell()
        buttons = " か ".join(text for text in (self.ok_text, self.cancel_text) if text)
        self.message["text"] = wrapped(self.message, DIALOG_HOLDS_WINDOW.format(title=self.title(), buttons=buttons),
                                       int(str(self.message["wraplength"])))

    def main_window_key(self, key):
        """One of the main window's keys (F4 予約登録…) typed while this dialog holds the window: say why
        nothing else happens (a message box instead steps aside for it: MessageDialog)."""
        self.say_window_held()
        return "break"

    def unsaved(self) -> bool:
        """Something typed that would be lost by closing now."""
        return self.winfo_exists() and self.form() != self.initial

    def create_widgets(self):
        raise NotImplementedError

    def take_focus(self):
        self.first_focus().focus_set()

    def first_focus(self):
        return next(iter(self.widgets.values()), self.button_ok)

    def add_field(self, name, label, value="", widget=None, width=28):
        """A labelled entry (or the given widget), its error under it at a fixed width (the form never
        widens), shown only while there is one and cleared as soon as the field is changed."""
        var = tk.StringVar(self, value)
        ttk.Label(self.body, text=label).grid(row=self.row, column=0, sticky="w", padx=(0, 8), pady=3)
        widget = widget(self.body, var) if widget else ttk.Entry(self.body, textvariable=var, width=width)
        widget.grid(row=self.row, column=1, sticky="we", pady=3)
        error = ttk.Label(self.body, foreground="#b00020", justify="left",
                          wraplength=tkfont.Font(self, font=self.context.fonts["base"]).measure("0" * 24))
        error.grid(row=self.row + 1, column=1, sticky="w")
        error.grid_remove()
        var.trace_add("write", lambda *_: (error.configure(text=""), error.grid_remove()))
        self.vars[name], self.widgets[name], self.errors[name] = var, widget, error
        self.row += 2
        return widget

    def form(self) -> dict:
        return {name: var.get() for name, var in self.vars.items()}

    def add_owner_note(self):
        """Under the phone field, said before saving, not after: whose number it already is."""
        self.owner_note = ttk.Label(self.body, foreground="#8a5a00", justify="left",
                                    wraplength=tkfont.Font(self, font=self.context.fonts["base"]).measure("0" * 48))
        self.owner_note.grid(row=self.row, column=0, columnspan=3, sticky="w")
        self.row += 1
        self.vars["phone"].trace_add("write", lambda *_: self.refresh_owner_note())

    def owners(self) -> list:
        """The members the typed number already belongs to (besides the one it is for)."""
        digits = normalize_phone(self.vars["phone"].get())
        return self.context.members.lookup(digits) if digits else []

    def refresh_owner_note(self):
        self.owner_note["text"] = shared_number_note(normalize_phone(self.vars["phone"].get()), self.owners())

    def keep_on_screen(self):
        """Errors beside the fields widen the form: keep it inside the work area, where it is now
        (the receptionist may have moved it; one moved to another screen is left alone)."""
        self.update_idletasks()
        m = re.search(r"\+(-?\d+)\+(-?\d+)$", self.geometry())
        x, y = (int(m[1]), int(m[2])) if m else (0, 0)
        work = work_area(self.context.root)
        if work.left <= x < work.right:
            x = max(work.left, min(x, work.right - self.winfo_reqwidth()))
        if work.top <= y < work.bottom:
            y = max(work.top, min(y, work.bottom - self.winfo_reqheight()))
        self.geometry(f"+{x}+{y}")

    def show_errors(self, errors: dict):
        """Each error under its field, broken by the Japanese rules (wrapped) within the field's width."""
        def within(label, text):
            width = str(label["wraplength"])         # "" where the label is not wrapped
            return wrapped(label, text, label.winfo_pixels(width)) if width and text else text
        for name, label in self.errors.items():
            label["text"] = within(label, errors.get(name, ""))
            label.grid() if errors.get(name) else label.grid_remove()
        self.message["text"] = within(self.message, errors.get("", ""))
        self.keep_on_screen()
        for name in errors:
            if name in self.widgets:
                self.widgets[name].focus_set()
                break

    def entry_ok(self):
        """The result, or None after showing what is wrong."""
        raise NotImplementedError

    def ok(self, event=None):
        # A note or question while saving runs a nested event loop with this dialog still there (on
        # Windows it stays clickable behind the box): a second 登録 meanwhile must not save twice.
        if self.saving:
            return "break"
        self.saving = True
        try:
            value = self.entry_ok()
            errors = self.submit(value) if value is not None else None
        finally:
            self.saving = False
        if value is not None:
            if errors:
                self.show_errors({name if name in self.errors else "": text for name, text in errors.items()})
            else:
                self.result = value
                self.destroy()
        return "break"

    def cancel(self, event=None):
        """Close without saving; ask first when something was typed, so that nothing is lost by a slip."""
        if self.unsaved() and not messagebox.askyesno("CTI", "入力した内容を破棄して閉じますか？", parent=self):
            return "break"
        self.destroy()
        return "break"


class MessageDialog(Dialog):
    """A message, or a question with はい / いいえ, in Japanese and in the window's look (Tk's own
    boxes are English on Linux). The default (Enter) is the safe answer: いいえ. entry_ok() is the
    answer yes; the caller reads `result` (None: no, or closed)."""

    def __init__(self, context, title, text, question=False, **kw):
        self.text, self.question = text, question
        self.ok_text, self.cancel_text = MESSAGE_BUTTONS[question]
        super().__init__(context, title, lambda value: {}, **kw)

    def create_widgets(self):
        self.label = ttk.Label(self.body, justify="left")
        self.label["text"] = wrapped(self.label, self.text, tkfont.nametofont("TkDefaultFont").measure("あ") * 30)
        self.label.grid(row=self.row, column=0, columnspan=3, sticky="w")
        self.row += 1

    def first_focus(self):
        return self.button_cancel if self.question else self.button_ok

    def take_focus(self):
        """A box with no cti window shown (a message before the window, or from the windowless exe)
        takes the keyboard: she just started cti. Over the window it leaves the keyboard where it is."""
        if self.context.root.winfo_viewable():
            super().take_focus()
        else:
            self.first_focus().focus_force()

    def ok(self, event=None):
        """Enter answers with the button that has the focus: いいえ unless she moved it to はい."""
        if self.question and event is not None and self.focus_get() is not self.button_ok:
            return self.cancel()
        return super().ok(event)

    def main_window_key(self, key):
        """A message asks nothing: the main window's key (F2 会員登録 after 「未登録の番号です」) closes
        it and does what it says there. A question still waits for its answer."""
        if self.question:
            return super().main_window_key(key)
        owner = self.master
        self.destroy()
        # a virtual event: a key event would go where the keyboard focus is, which the box just left
        owner.after_idle(lambda: owner.winfo_exists() and owner.event_generate(f"<<{key}>>"))
        return "break"

    def entry_ok(self):
        return True


BoxContext = namedtuple("BoxContext", "root fonts")     # what a message box needs of DialogContext


class JapaneseMessageBoxes:
    """tkinter.messagebox's calls (showinfo, showwarning, showerror, askyesno), answered by
    MessageDialog: the same words everywhere cti asks or tells, in Japanese."""

    @staticmethod
    def _show(title, message, parent, question) -> bool:
        parent = parent or tk._default_root
        context = BoxContext(parent.winfo_toplevel(), {"base": "TkDefaultFont"})
        return MessageDialog(context, title, message, question=question).result is not None

    def showinfo(self, title=None, message=None, parent=None, **options):
        self._show(title, message, parent, False)
        return "ok"

    showwarning = showerror = showinfo

    def askyesno(self, title=None, message=None, parent=None, **options) -> bool:
        return self._show(title, message, parent, True)


messagebox = JapaneseMessageBoxes()


def staff_box(choices):
    """A factory for a combobox of the staff already in the file, which also takes a new name."""
    return lambda parent, var: ttk.Combobox(parent, textvariable=var, values=choices, width=26)


class RegisterDialog(Dialog):
    """会員登録: a new member with the selected number."""
    ok_text = "登録"

    def __init__(self, context, phone="", submit=None, **kw):
        self.phone = phone
        super().__init__(context, "会員登録", submit or context.register, **kw)

    def create_widgets(self):
        table = self.context.members
        self.add_field("member_no", "会員番号", table.next_member_no())
        self.add_field("name", "名前（必須）")
        self.add_field("kana", "ふりがな")
        self.add_field("phone", "電話番号", format_phone(self.phone) if self.phone else "")
        self.add_owner_note()
        self.refresh_owner_note()
        self.add_field("staff", "主担当", widget=staff_box(table.staff_names))
        self.add_field("memo", "メモ", width=40)

    def first_focus(self):
        return self.widgets["name"]

    def follow_members(self):
        """members.csv changed (Excel or another PC added a member): an untouched suggestion follows it."""
        if self.vars["member_no"].get() == self.initial["member_no"]:
            self.initial["member_no"] = self.context.members.next_member_no()
            self.vars["member_no"].set(self.initial["member_no"])

    def entry_ok(self):
        form = self.form()
        if form["member_no"] == self.initial["member_no"]:
            form["member_no"] = ""          # the suggestion, not typed: the number is taken inside the file's lock
        registration, errors = validate_registration(form, self.context.members)
        if errors:
            self.show_errors(errors)
        return registration


def tree(parent, columns, height, font, selectmode="browse") -> ttk.Treeview:
    """A list with headings: columns are (name, heading, widest sample text), widths from the font at the
    current scaling; the last one takes the spare width."""
    table = ttk.Treeview(parent, columns=[c for c, _, _ in columns], show="headings", height=height,
                         selectmode=selectmode)
    for column, title, sample in columns:
        table.heading(column, text=title)
        table.column(column, width=column_width(table, font, title, sample), stretch=column == columns[-1][0])
    return table


class MemberSearch:
    """A search field in a dialog and the members it finds; on_pick(member) when one is selected."""

    def __init__(self, dialog: Dialog, on_pick=None, height=5):
        self.dialog, self.on_pick = dialog, on_pick
        self.entry = dialog.add_field("query", BOOKING_WORDS["search"])
        ttk.Label(dialog.body, text=BOOKING_WORDS["search_hint"], foreground="#555555").grid(
            row=dialog.row, column=1, columnspan=2, sticky="w")
        self.results = tree(dialog.body, BOOKING_COLUMNS["members"], height, dialog.context.fonts["bold"])
        self.results.grid(row=dialog.row + 1, column=0, columnspan=3, sticky="nsew", pady=(4, 0))
        dialog.errors["member"] = ttk.Label(dialog.body, foreground="#b00020")
        dialog.errors["member"].grid(row=dialog.row + 2, column=0, columnspan=3, sticky="w")
        dialog.row += 3
        dialog.vars["query"].trace_add("write", lambda *_: self.refresh())
        self.results.bind("<<TreeviewSelect>>", lambda e: self.picked())
        self.entry.bind("<Down>", self.to_results)

    def refresh(self):
        self.results.delete(*self.results.get_children())
        for member in self.dialog.context.members.search(self.dialog.vars["query"].get(), limit=100):
            self.results.insert("", "end", iid=member.member_no, values=(
                member.member_no, member.name, member.kana, "、".join(format_phone(p) for p in member.phones)))
        children = self.results.get_children()
        if len(children) == 1:
            self.results.selection_set(children[0])

    def to_results(self, event=None):
        children = self.results.get_children()
        if children:
            self.results.focus_set()
            self.results.selection_set(children[0])
            self.results.focus(children[0])
        return "break"

    def picked(self):
        selected = self.results.selection()
        member = self.dialog.context.members.by_no.get(selected[0]) if selected else None
        if member and self.on_pick:
            self.on_pick(member)


class LinkDialog(Dialog):
    """電話番号登録: add the selected number to a member found by number, name or kana."""
    ok_text = "この会員に追加"

    def __init__(self, context, phone="", submit=None, **kw):
        self.phone = phone
        super().__init__(context, "電話番号登録", submit or context.link, **kw)

    def create_widgets(self):
        self.add_field("phone", "追加する電話番号", format_phone(self.phone) if self.phone else "")
        self.add_owner_note()
        self.results = MemberSearch(self, height=8).results
        self.results.bind("<<TreeviewSelect>>", lambda e: self.refresh_owner_note(), add=True)
        self.refresh_owner_note()
        self.results.bind("<Double-1>", self.ok)

    def first_focus(self):
        return self.widgets["query"]

    def owners(self) -> list:
        selected = self.results.selection()
        return [m for m in super().owners() if m.member_no not in selected]

    def entry_ok(self):
        selected = self.results.selection()
        errors = {}
        if not selected:
            errors["member"] = "追加する会員を一覧から選んでください"
        if not normalize_phone(self.vars["phone"].get()):
            errors["phone"] = "電話番号を入力してください"
        if errors:
            self.show_errors(errors)
            return None
        return selected[0], self.vars["phone"].get()


class ReserveDialog(Dialog):
    """予約登録 / 予約の変更: a booking for a member (the caller, or one found by search: walk-ins,
    callbacks), with the day's bookings by stylist under the form and a warning when the stylist
    is already booked then. The caller's submit (DialogContext.save_booking) writes it."""
    ok_text = "予約する"

    def __init__(self, context, member: Member | None = None, reservation: Reservation | None = None,
                 day=None, submit=None, **kw):
        self.member, self.reservation, self.day = member, reservation, day
        title = BOOKING_WORDS["move_title" if reservation else "reserve_title"]
        super().__init__(context, title, submit or context.save_booking, **kw)

    def create_widgets(self):
        context, r = self.context, self.reservation
        config = context.config
        self.minutes_of = lambda booking: booking_minutes(booking.menu, config.menus, config.slot)
        member_no = r.member_no if r else self.member.member_no if self.member else ""
        self.search = None
        if member_no:
            member = context.members.by_no.get(member_no)
            ttk.Label(self.body, text=member_heading(member_no, member), font=context.fonts["bold"]).grid(
                row=self.row, column=0, columnspan=3, sticky="w", pady=(0, 6))
            self.row += 1
        else:
            self.search = MemberSearch(self, self.pick)
        day = r.starts.date() if r else self.day or context.now().date()
        words = BOOKING_WORDS
        self.add_field("date", words["date"], day_text(day, with_year=day.year != context.now().year))
        self.add_field("time", words["time"], f"{r.starts:%H:%M}" if r else "")
        self.add_field("menu", words["menu"], r.menu if r else "", widget=lambda p, v: ttk.Combobox(
            p, textvariable=v, values=[name for name, _ in config.menus], width=26))
        staff = r.staff if r else self.member.staff if self.member else ""
        self.add_field("staff", words["staff"], staff,
                       widget=staff_box(staff_choices(config.staff, context.members.staff_names)))
        self.add_field("memo", words["memo"], r.memo if r else "", width=40)
        self.vars["member_no"] = tk.StringVar(self, member_no)
        self.day_label = ttk.Label(self.body, font=context.fonts["bold"])
        self.day_label.grid(row=self.row, column=0, columnspan=3, sticky="w", pady=(8, 2))
        self.day_list = tree(self.body, BOOKING_COLUMNS["by_staff"], 6, context.fonts["bold"], selectmode="none")
        self.day_list.tag_configure("stylist", background="#e4eefb")
        self.day_list.grid(row=self.row + 1, column=0, columnspan=3, sticky="nsew")
        self.warning = ttk.Label(self.body, foreground="#8a4b00", wraplength=460, justify="left")
        self.warning.grid(row=self.row + 2, column=0, columnspan=3, sticky="w", pady=(4, 0))
        self.row += 3
        for name in ("date", "time", "menu", "staff", "member_no"):
            self.vars[name].trace_add("write", lambda *_: self.refresh_day())
        self.refresh_day()

    def first_focus(self):
        return self.search.entry if self.search else self.widgets["time"]

    def pick(self, member: Member):
        """A member found by search: booked for her, with her 主担当 unless a stylist is already chosen."""
        self.vars["member_no"].set(member.member_no)
        if not self.vars["staff"].get().strip():
            self.vars["staff"].set(member.staff)
        self.errors["member"]["text"] = ""

    def when(self):
        """(day, start) as typed so far; either may be None."""
        day = parse_date(self.vars["date"].get(), self.context.now(), ahead=True)
        clock = parse_time(self.vars["time"].get())
        return day, datetime(day.year, day.month, day.day, *clock) if day and clock else None

    def conflicts(self, bookings: list, starts: datetime | None, menu: str, staff: str) -> list:
        if starts is None:
            return []
        minutes = booking_minutes(menu, self.context.config.menus, self.context.config.slot)
        return overlapping(starts, minutes, staff, bookings, self.minutes_of,
                           exclude=self.reservation.id if self.reservation else None)

    def refresh_day(self):
        """The chosen day's bookings by stylist, hers highlighted, and the overlap warning."""
        self.day_list.delete(*self.day_list.get_children())
        day, starts = self.when()
        if day is None:
            self.day_label["text"], self.warning["text"] = "", ""
            return
        bookings = self.context.db.reservations_on(day)
        staff = self.vars["staff"].get().strip()
        rows = staff_day_rows(bookings, self.context.members.by_no, self.minutes_of)
        for iid, values in rows:
            self.day_list.insert("", "end", iid=iid, values=values, tags=("stylist",) if values[0] == staff else ())
        self.day_label["text"] = (BOOKING_WORDS["day_heading"].format(day=day_text(day))
                                  + ("" if rows else f"  {BOOKING_WORDS['none_that_day']}"))
        self.warning["text"] = overlap_text(self.conflicts(bookings, starts, self.vars["menu"].get().strip(), staff),
                                            self.context.members.by_no, self.minutes_of)

    def entry_ok(self):
        """The booking ({member_no, starts, menu, staff, memo}, and id when moved), or None.

        A stylist already booked then is a question (default いいえ), not an error: salons do double up.
        """
        form = self.form()
        if self.search and not form["member_no"]:
            self.show_errors({"member": BOOKING_WORDS["pick_member"]})
            return None
        booking, errors = validate_reservation(form, self.context.members, self.context.now())
        if errors:
            errors["member" if self.search else ""] = errors.pop("member_no", "")
            self.show_errors(errors)
            return None
        conflicts = self.conflicts(self.context.db.reservations_on(booking["starts"].date()), booking["starts"],
                                   booking["menu"], booking["staff"])
        if conflicts and not messagebox.askyesno("CTI", BOOKING_WORDS["overlap_ask"].format(
                text=overlap_text(conflicts, self.context.members.by_no, self.minutes_of)), parent=self, default="no"):
            return None
        return {**booking, "id": self.reservation.id} if self.reservation else booking


class AmountDialog(Dialog):
    """退店: the amount paid (optional, whole yen), stored in the visit."""
    ok_text = "退店"

    def __init__(self, context, reservation: Reservation, submit, **kw):
        self.reservation = reservation
        super().__init__(context, BOOKING_WORDS["amount_title"], submit, **kw)

    def create_widgets(self):
        r = self.reservation
        ttk.Label(self.body, text=booking_label(r, self.context.members.by_no.get(r.member_no)),
                  font=self.context.fonts["bold"]).grid(
            row=self.row, column=0, columnspan=3, sticky="w", pady=(0, 6))
        self.row += 1
        self.add_field("amount", BOOKING_WORDS["amount"], width=14)
        ttk.Label(self.body, text=BOOKING_WORDS["amount_hint"], foreground="#555555").grid(
            row=self.row, column=1, columnspan=2, sticky="w")
        self.row += 1

    def entry_ok(self):
        try:
            return {"amount": parse_amount(self.vars["amount"].get())}
        except ValueError:
            self.show_errors({"amount": BOOKING_WORDS["amount_bad"]})
            return None


class LookupDialog(Dialog):
    """着信番号参照: look a typed number up as if it had called."""
    ok_text = "参照"

    def create_widgets(self):
        self.add_field("phone", "電話番号")

    def entry_ok(self):
        digits = normalize_phone(self.vars["phone"].get())
        if not valid_phone(digits):
            self.show_errors({"phone": "0 から始まる電話番号を入力してください"})
            return None
        return digits


class ListWindow(Window):
    """A window with one or more lists (visit history, today's reservations, help)."""

    def __init__(self, context, title, *, call=None, _utest=False):
        super().__init__(context, title, call=call, _utest=_utest)
        self.create_widgets()
        self.button_close = ttk.Button(self.body, text="閉じる", command=self.destroy)
        self.button_close.pack(anchor="e", pady=(8, 0))
        self.bind("<Escape>", lambda e: self.destroy())
        self.place_beside_main()
        if not _utest:
            self.deiconify()
            self.focus_set()

    def table(self, columns, height=8):
        """A list; columns are (name, heading, widest sample text): widths come from the font."""
        table = tree(self.body, columns, height, self.context.fonts["bold"])
        table.pack(fill="both", expand=True)
        return table


class BookingActions:
    """Buttons acting on the booking selected in self.bookings (a Treeview whose iids are reservation
    ids): only those that apply to it now are enabled (booking_actions)."""
    ACTION_NAMES = ("変更", "来店", "退店", "取消")

    def action_buttons(self, parent, names):
        self.buttons = {}
        for name in names:
            text = BOOKING_WORDS["change"] if name == "変更" else BOOKING_WORDS["new"] if name == "new" else name
            self.buttons[name] = ttk.Button(parent, text=text, command=lambda n=name: self.act(n))
            self.buttons[name].pack(side="left", padx=(0, 6))
        self.bookings.bind("<<TreeviewSelect>>", lambda e: self.update_buttons(), add=True)
        for sequence in ("<Double-1>", "<Return>"):         # open a booking to change it
            self.bookings.bind(sequence, lambda e: self.act("変更") if self.can("変更") else None)
        # another reception PC may have booked meanwhile (cti.db on a shared folder): read again on coming back
        self.bind("<FocusIn>", lambda e: self.refresh() if e.widget is self else None, add=True)

    def can(self, name) -> bool:
        r = self.selected_booking()
        return r is not None and name in booking_actions(r, self.context.now().date())

    def selected_booking(self) -> Reservation | None:
        selected = self.bookings.selection()
        return self.context.db.reservation(int(selected[0])) if selected and selected[0].isdigit() else None

    def update_buttons(self):
        for name, button in self.buttons.items():
            if name in self.ACTION_NAMES:
                button.state(["!disabled"] if self.can(name) else ["disabled"])

    def act(self, name):
        """新規予約, or one of ACTION_NAMES on the selected booking; 取消 asks first (default いいえ)."""
        context = self.context
        if name == "new":
            return ReserveDialog(context, self.booking_member(), day=self.booking_day(), _utest=self._utest)
        if not self.can(name):
            messagebox.showinfo("CTI", BOOKING_WORDS["select"], parent=self)
            return None
        r = self.selected_booking()
        member = context.members.by_no.get(r.member_no)
        if name == "変更":
            return ReserveDialog(context, member, reservation=r, _utest=self._utest)
        if name == "退店":
            return AmountDialog(context, r, lambda value: context.change_status(r.id, "退店", value["amount"]),
                                _utest=self._utest)
        if name == "取消" and not messagebox.askyesno("CTI", cancel_question(r, member), parent=self, default="no"):
            return None
        errors = context.change_status(r.id, name)
        if errors:
            messagebox.showerror("CTI", errors[""], parent=self)
        return None

    def booking_member(self) -> Member | None:
        return None

    def booking_day(self):
        return None

    def refresh(self):
        raise NotImplementedError


class VisitHistoryWindow(BookingActions, ListWindow):
    """来店履歴: a member's visits, newest first, and her future bookings (new, change, cancel)."""

    def __init__(self, context, member: Member, **kw):
        self.member = member
        super().__init__(context, f"来店履歴 — {member.name}", **kw)

    def create_widgets(self):
        m = self.member
        ttk.Label(self.body, text=choice_label(m) + (f"  主担当 {m.staff}" if m.staff else ""),
                  font=self.context.fonts["bold"]).pack(anchor="w")
        # "none yet" is said by a list's heading: in a row it was cut to the first column's width
        self.visits_heading = ttk.Label(self.body, text=BOOKING_WORDS["visits"])
        self.visits_heading.pack(anchor="w", pady=(8, 2))
        self.visits = self.table(BOOKING_COLUMNS["visits"])
        this_year = self.context.now().year
        for v in self.context.db.visits(m.member_no):
            day = datetime.fromisoformat(v.date)
            self.visits.insert("", "end", values=(day_text(day, day.year != this_year), v.menu, v.staff,
                                                  amount_text(v.amount), v.memo))
        if not self.visits.get_children():
            self.visits_heading["text"] = BOOKING_WORDS["no_visits"]
        self.upcoming_heading = ttk.Label(self.body, text=BOOKING_WORDS["upcoming"])
        self.upcoming_heading.pack(anchor="w", pady=(8, 2))
        self.bookings = self.table(BOOKING_COLUMNS["upcoming"], height=4)
        actions = ttk.Frame(self.body)
        actions.pack(anchor="w", pady=(6, 0))
        self.action_buttons(actions, ("new", "変更", "取消"))
        self.refresh()

    def booking_member(self):
        return self.member

    def refresh(self):
        selected = self.bookings.selection()
        self.bookings.delete(*self.bookings.get_children())
        for r in self.context.db.upcoming(self.member.member_no):
            self.bookings.insert("", "end", iid=str(r.id), values=(when_text(r.starts), r.menu, r.staff, r.memo))
        self.upcoming_heading["text"] = BOOKING_WORDS["upcoming" if self.bookings.get_children() else "no_upcoming"]
        if selected and self.bookings.exists(selected[0]):
            self.bookings.selection_set(selected[0])
        self.update_buttons()


class BookingsWindow(BookingActions, ListWindow):
    """予約一覧 (F6 本日の予約): one day's bookings, today first; ◀ ▶ or a typed date for another day.
    新規予約 books anyone by search; 変更 / 来店 / 退店 / 取消 are enabled only where they apply."""

    def __init__(self, context, day=None, **kw):
        self.day = day or context.now().date()
        super().__init__(context, BOOKING_WORDS["list_title"], **kw)

    def create_widgets(self):
        nav = ttk.Frame(self.body)
        nav.pack(fill="x", pady=(0, 6))
        self.day_label = ttk.Label(nav, font=self.context.fonts["bold"], width=12, anchor="center")
        self.day_entry = ttk.Entry(nav, width=12)
        self.day_entry.bind("<Return>", self.show_typed_day)
        self.nav = {name: ttk.Button(nav, text=BOOKING_WORDS[name], command=command) for name, command in (
            ("prev", lambda: self.show_day(self.day - timedelta(days=1))),
            ("next", lambda: self.show_day(self.day + timedelta(days=1))),
            ("today", lambda: self.show_day(self.context.now().date())), ("show", self.show_typed_day))}
        for widget in (self.nav["prev"], self.day_label, self.nav["next"], self.nav["today"], self.day_entry,
                       self.nav["show"]):
            widget.pack(side="left", padx=(0, 6))
        self.counts = ttk.Label(self.body, font=self.context.fonts["bold"])
        self.counts.pack(anchor="w", pady=(0, 6))
        self.bookings = self.list = self.table(BOOKING_COLUMNS["day"], height=10)
        actions = ttk.Frame(self.body)
        actions.pack(anchor="w", pady=(6, 0))
        self.action_buttons(actions, ("new",) + self.ACTION_NAMES)
        self.refresh()
        children = self.list.get_children()
        if children:                        # ready for the arrow keys and Tab to the buttons
            self.list.selection_set(children[0])
            self.list.focus(children[0])
            self.update_buttons()
        self.list.focus_set()

    def booking_day(self):
        return self.day

    def show_day(self, day):
        self.day = day
        self.refresh()

    def show_typed_day(self, event=None):
        day = parse_date(self.day_entry.get(), self.context.now(), ahead=True)
        if day is None:
            messagebox.showinfo("CTI", DATE_HINT, parent=self)
        else:
            self.day_entry.delete(0, "end")
            self.show_day(day)
        return "break"

    def refresh(self, select=None):
        selected = select or next(iter(self.list.selection()), None)
        self.list.delete(*self.list.get_children())
        for r in self.context.db.reservations_on(self.day):
            self.list.insert("", "end", iid=str(r.id), values=booking_row(r, self.context.members.by_no.get(r.member_no)))
        if selected and self.list.exists(str(selected)):
            self.list.selection_set(str(selected))
        today = self.context.now().date()
        self.day_label["text"] = day_text(self.day, self.day.year != today.year)
        self.counts["text"] = counts_text(self.context.db.today_counts(self.day),
                                          "本日" if self.day == today else day_text(self.day, self.day.year != today.year))
        self.update_buttons()


class CallbackWindow(ListWindow):
    """折り返し: the calls not yet returned, a number a line (how many times it rang, the last time),
    then those returned; 折り返し済 marks the selected one, with who (担当) and when."""

    def __init__(self, context, changed, **kw):
        self.changed = changed          # the card's 不在 count follows
        super().__init__(context, CALLBACK_WORDS["title"], **kw)

    def create_widgets(self):
        self.list = self.table(CALLBACK_COLUMNS, height=8)
        row = ttk.Frame(self.body)
        row.pack(fill="x", pady=(8, 0))
        ttk.Label(row, text=CALLBACK_WORDS["by"]).pack(side="left")
        self.by = tk.StringVar(self)
        ttk.Combobox(row, textvariable=self.by, width=12, values=staff_choices(
            self.context.config.staff, self.context.members.staff_names)).pack(side="left", padx=(4, 8))
        self.button_done = ttk.Button(row, text=CALLBACK_WORDS["done"], command=self.mark)
        self.button_done.pack(side="left")
        self.refresh()

    def refresh(self):
        self.callbacks = {}
        self.list.delete(*self.list.get_children())
        for callback in self.context.db.callbacks():
            iid = callback.number
            self.callbacks[iid] = callback
            self.list.insert("", "end", iid=iid, values=callback_row(callback, self.context.members.lookup(callback.number)),
                             tags=("done",) if callback.done_at else ())
        self.list.tag_configure("done", foreground="#777777")
        waiting = [iid for iid, c in self.callbacks.items() if c.done_at is None]
        if waiting:
            self.list.selection_set(waiting[0])
            self.list.focus(waiting[0])

    def mark(self) -> bool:
        selection = self.list.selection()
        callback = self.callbacks.get(selection[0]) if selection else None
        if callback is None or callback.done_at is not None:
            messagebox.showinfo("CTI", CALLBACK_WORDS["select"], parent=self)
            return False
        self.context.db.mark_called_back(callback, self.by.get().strip())
        members = self.context.members.lookup(callback.number)
        self.context.post_notice(CALLBACK_WORDS["confirm"].format(
            who=f"{names_text(members)} 様" if members else format_phone(callback.number)))
        self.refresh()
        self.changed()
        return True


class HelpWindow(ListWindow):
    """? / F1: what each button and key does, where the files are, and 終了."""

    def __init__(self, context, device_text: str, on_skipped_rows, on_quit, **kw):
        self.device_text, self.on_skipped_rows, self.on_quit = device_text, on_skipped_rows, on_quit
        super().__init__(context, "CTI の使い方", **kw)

    def create_widgets(self):
        context = self.context
        ports = "\n".join(f"  {d}  {desc}" for d, desc in list_ports()) or "  （見つかりません: USB ケーブルを確認してください）"
        text = help_text(ini=context.config.path or app_dir() / "cti.ini", members=context.config.members,
                         device=self.device_text, ports=ports)
        font = tkfont.Font(font=context.fonts["base"])
        tab = max(font.measure(action_label(a)) for a in ACTIONS) + font.measure("  ")
        # Japanese has no spaces for word wrap to break at: a description would jump whole below its label
        self.text = tk.Text(self.body, width=60, height=24, wrap="char", font=context.fonts["base"], padx=8, pady=6,
                            tabs=(tab,))
        self.text.tag_configure("action", lmargin2=tab)       # a wrapped description stays in its column
        self.text.insert("1.0", text)
        for number, line in enumerate(text.splitlines(), start=1):
            if "\t" in line:
                self.text.tag_add("action", f"{number}.0", f"{number}.end")
        self.text.configure(state="disabled")
        self.text.pack(fill="both", expand=True)
        buttons = ttk.Frame(self.body)
        buttons.pack(anchor="w", pady=(8, 0))
        self.button_skipped = ttk.Button(buttons, text=f"読み飛ばした行（{len(context.members.problems)}）",
                                         command=self.on_skipped_rows)
        self.button_quit = ttk.Button(buttons, text="cti を終了", command=self.on_quit)
        self.button_skipped.pack(side="left", padx=(0, 8))
        self.button_quit.pack(side="left")


class SkippedRowsWindow(ListWindow):
    """読み飛ばした行: each members.csv row cti could not use, with its line and why (else such a
    customer calls in as 未登録 and may be registered twice)."""

    def __init__(self, context, **kw):
        super().__init__(context, "会員台帳の読み飛ばした行", **kw)

    def create_widgets(self):
        problems = self.context.members.problems
        ttk.Label(self.body, text=skipped_rows_heading(self.context.config.members, len(problems)),
                  justify="left").pack(anchor="w", pady=(0, 6))
        self.text = tk.Text(self.body, width=70, height=min(16, max(3, len(problems))), wrap="word",
                            font=self.context.fonts["base"])
        self.text.insert("1.0", "\n".join(problems) or "読み飛ばした行はありません")
        self.text.configure(state="disabled")
        self.text.pack(fill="both", expand=True)


class MemberChoice(ListWindow):
    """A number shared by several members: which of them? One button each; then(member) goes on."""

    def __init__(self, context, title, members: list, then, **kw):
        self.members, self.then = members, then
        super().__init__(context, title, **kw)

    def create_widgets(self):
        ttk.Label(self.body, text=choice_question(self.members)).pack(anchor="w", pady=(0, 6))
        self.choices = []
        for member in self.members:
            button = ttk.Button(self.body, text=choice_label(member), command=lambda m=member: self.choose(m))
            button.pack(fill="x", pady=2)
            self.choices.append(button)
        self.after_idle(lambda: self.choices[0].focus_set() if self.choices and self.winfo_exists() else None)

    def choose(self, member):
        self.destroy()
        return self.then(member)


class CallerCard(tk.Frame):
    """The caller card: the call it shows (`shown`) in large type, in its state's colour, the device's
    banner (or a brief notice) on its top line, and the buttons that fit the caller. Its size is
    measured once and held, so no caller, banner or button set moves the layout."""

    HIGHLIGHT_MS = 1500                 # the yellow of a new call
    BANNER_PADY = 4

    def __init__(self, parent, fonts: dict, command_of, later):
        """command_of(name): the command of an ACTIONS entry; later(name, ms, callback): the window's timers."""
        super().__init__(parent, padx=12, pady=8, highlightthickness=1, highlightbackground="#c8ccd2")
        self.fonts, self.later = fonts, later
        self.shown = None               # the call on the card
        self.state = "waiting"          # its CallerPanel state: the card's colour
        self.lost = False               # the device is lost: the card says so in its colour
        self.width = None               # held once measured (fix_size)
        self.name_font = tkfont.Font(self, family=fonts["card"][0], size=28, weight="bold")
        self.columnconfigure(1, weight=1)
        self.banner = tk.Label(self, font=fonts["small"], anchor="w", padx=6)
        self.banner.grid(row=0, column=0, columnspan=3, sticky="we", pady=(0, self.BANNER_PADY))
        self.labels = {
            "time": tk.Label(self, font=fonts["card"], anchor="w"),
            "elapsed": tk.Label(self, font=fonts["card"], fg="#555555", anchor="w"),
            "number": tk.Label(self, font=fonts["number"], anchor="e"),
            "kana": tk.Label(self, font=fonts["kana"], fg="#444444", anchor="w"),
            "name": tk.Label(self, font=self.name_font, anchor="w"),
            "details": tk.Label(self, font=fonts["card"], anchor="w", justify="left"),
            "memo": tk.Label(self, font=fonts["memo"], fg="#7a4b00", anchor="nw", justify="left", height=2),
            "history": tk.Label(self, font=fonts["card"], anchor="w"),
        }
        c = self.labels
        c["time"].grid(row=1, column=0, sticky="w")
        c["elapsed"].grid(row=1, column=1, sticky="w", padx=(10, 0))
        c["number"].grid(row=1, column=2, sticky="e")
        for row, key in enumerate(("kana", "name", "details", "memo", "history"), start=2):
            c[key].grid(row=row, column=0, columnspan=3, sticky="we")
        # one action row for every state, always there (an unknown call no longer adds a row)
        self.actions = tk.Frame(self)
        self.actions.grid(row=7, column=0, columnspan=3, sticky="we", pady=(6, 0))
        self.buttons = {name: ttk.Button(self.actions, text=ACTION[name].label, style="Action.TButton",
                                         command=command_of(name))
                        for name in dict.fromkeys(n for names in CARD_ACTIONS.values() for n in names)}
        self.compact_toggle = ttk.Button(self.actions, text=COMPACT_LABELS[False], command=command_of("compact"))
        self.compact_toggle.pack(side="right")
        self.handoff = None             # the [handoff] button, when cti.ini has one
        self.callbacks = ttk.Button(self.actions, text=CALLBACK_WORDS["button"].format(count=0),
                                    command=command_of("callbacks"))
        self.callbacks.pack(side="right", padx=(0, 8))

    def add_handoff(self, label: str, command):
        """The hand-off button (cti.ini's [handoff]): for any caller with a number. Before fix_size."""
        self.handoff = ttk.Button(self.actions, text=label, style="Action.TButton", command=command)
        self.handoff.pack(side="right", padx=(0, 8))

    def show(self, record: CallRecord | None, panel: CallerPanel):
        """record's words (panel) and the buttons that fit it; a call arriving is yellow for a moment.
        The layout never moves (every row is always there)."""
        self.shown, self.state = record, panel.state
        for key in ("time", "number", "kana", "name"):
            self.labels[key]["text"] = getattr(panel, key)
        for key in ("details", "memo", "history"):
            self.labels[key]["text"] = wrapped(self.labels[key], getattr(panel, key), self.width - 24)
        self.fit_name()
        for button in self.buttons.values():
            button.pack_forget()
        for name in CARD_ACTIONS.get(panel.state, ()):
            self.buttons[name].pack(side="left", padx=(0, 8))
        if self.handoff is not None:
            self.handoff.state(["!disabled"] if record is not None and record.number else ["disabled"])

    def highlight(self):
        self.paint(CARD_HIGHLIGHT)
        self.later("highlight", self.HIGHLIGHT_MS, self.paint)

    def show_elapsed(self, now: datetime):
        self.labels["elapsed"]["text"] = f"（{elapsed_text(self.shown.received, now)}）" if self.shown else ""

    def show_lookup(self):
        """A number looked up, not a call: said on the time line."""
        self.labels["time"]["text"] = LOOKUP_LABEL
        self.labels["elapsed"]["text"] = ""

    def fit_name(self):
        """A long name (or several on one number) steps down from 28 pt rather than being cut."""
        text, room = self.labels["name"]["text"], self.width - 24
        for size in (28, 24, 20, 16):
            self.name_font.configure(size=size)
            if self.name_font.measure(text) <= room:
                return

    def fix_size(self, beside) -> int:
        """The card's width and height, measured once with every row filled at its largest font, then
        held; at least as wide as the widget `beside` (the history). Returns the width."""
        self.banner.configure(text="あ", font=self.fonts["banner"])
        for label in self.labels.values():
            label["text"] = "あ"
        self.labels["memo"]["text"] = "あ\nあ"
        self.labels["details"]["text"] = "あ\nあ"          # the unknown caller's hint wraps at some fonts
        register = self.buttons["register"]
        register.pack(side="left")
        self.update_idletasks()
        self.width = max(self.winfo_reqwidth(), beside.winfo_reqwidth())
        for key in ("details", "memo", "history"):
            self.labels[key].configure(wraplength=self.width - 24)
        self.configure(width=self.width, height=self.winfo_reqheight())
        self.grid_propagate(False)
        # the banner's row keeps its largest height (its pady counted) for the small status line too
        self.grid_rowconfigure(0, minsize=self.banner.winfo_reqheight() + self.BANNER_PADY)
        register.pack_forget()
        return self.width

    def paint(self, colour=None):
        """The card's background: the state's calm colour, or the arrival highlight for a moment."""
        colour = colour or CARD_COLOURS["lost" if self.lost else self.state]
        for widget in (self, self.actions, *self.labels.values()):
            widget.configure(background=colour)

    def show_device(self, status: Status, port: str):
        """The device's state on the top line; when it is lost, a banner a receptionist acts on."""
        self.lost = status.state in DEVICE_LOST_STATES
        self.banner.configure(text=device_lost_banner(status.state, port) if self.lost else f"装置: {status.text}",
                              font=self.fonts["banner" if self.lost else "small"],
                              background="#fde2e1" if self.lost else CARD_COLOURS[self.state],
                              foreground="#a50e0e" if self.lost else "#555555")
        if self["background"] != CARD_HIGHLIGHT:      # a new call's moment of yellow runs its course
            self.paint()

    def show_notice(self, text: str):
        """A brief word after a success (登録しました…) on the top line."""
        self.banner.configure(text=text, font=self.fonts["banner"], background="#d7f0dd", foreground="#135c2b")

    def show_compact(self, compact: bool):
        self.compact_toggle["text"] = COMPACT_LABELS[compact]


class HistoryList(ttk.Frame):
    """Today's counts over the call history: the list, the record behind each row, its right-click
    menu, whether the row the receptionist picked is hers to keep when a call arrives, and 履歴を保存."""

    SELECTION_HOLD = timedelta(minutes=1)

    def __init__(self, parent, context: DialogContext, open_visits, on_choose):
        """open_visits(record=None): 来店履歴 (of the call on the card when None); on_choose(record): she
        chose a row (a click on it, the arrow keys, a right-click)."""
        super().__init__(parent)
        self.context, self.open_visits, self.on_choose = context, open_visits, on_choose
        self.records = {}               # iid -> CallRecord
        self.user_selected_at = None    # when she last picked a row herself
        self.menu_row = None            # the row the right-click menu was opened on, while it is open
        fonts = context.fonts
        self.counts = ttk.Label(self, font=fonts["bold"])
        self.counts.pack(anchor="w", pady=(8, 4))
        table = ttk.Frame(self)
        table.pack(fill="both", expand=True)
        self.tree = ttk.Treeview(table, columns=HISTORY_COLUMNS, show="headings", height=8, selectmode="browse")
        for column, sample in zip(HISTORY_COLUMNS, HISTORY_SAMPLES):
            self.tree.heading(column, text=column)
            self.tree.column(column, width=column_width(self.tree, fonts["bold"], column, sample),
                             stretch=column == "名前")
        scroll = ttk.Scrollbar(table, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.pack(side="left", fill="both", expand=True)
        scroll.pack(side="left", fill="y")
        self.tree.tag_configure("unknown", foreground="#1a4fa0")   # calm: usually a new customer
        self.menu = tk.Menu(context.root, tearoff=False)
        self.menu.add_command(label="来店履歴")
        self.menu.add_separator()
        self.menu.add_command(label="削除")
        t = self.tree
        t.bind("<Double-1>", lambda e: self.open_visits())
        t.bind("<Return>", lambda e: self.open_visits())
        t.bind("<Delete>", lambda e: self.delete_selected())
        t.bind("<Button-3>", self._context_menu)
        t.bind("<ButtonRelease-1>", lambda e: self._user_selected() if t.identify_row(e.y) else None, add=True)
        for key in ("<KeyRelease-Up>", "<KeyRelease-Down>", "<KeyRelease-Prior>", "<KeyRelease-Next>",
                    "<KeyRelease-Home>", "<KeyRelease-End>"):
            t.bind(key, self._user_selected, add=True)
        self.menu.bind("<Unmap>", lambda e: setattr(self, "menu_row", None))

    def show_counts(self, text: str):
        self.counts["text"] = text

    def refresh(self, select=None):
        """Every call in cti.db again (members.csv or the history changed); the selection kept."""
        tree, members = self.tree, self.context.members
        keep = select or (tree.selection() or (None,))[0]
        tree.delete(*tree.get_children())
        self.records = {}
        found = {}
        for record in self.context.db.calls():
            if record.number not in found:
                found[record.number] = members.lookup(record.number) if record.number else []
            iid = str(record.id)
            self.records[iid] = record
            tree.insert("", "end", iid=iid, values=history_row(record, found[record.number]),
                        tags=("unknown",) if record.number and not found[record.number] else ())
        keep = str(keep) if keep is not None else None
        if keep and tree.exists(keep):
            self.select(keep)

    def select(self, iid):
        self.tree.selection_set(iid)
        self.tree.focus(iid)
        self.tree.see(iid)

    def add(self, record: CallRecord, members: list, select=True):
        """A new call at the top (selected unless `select` is False), and the rows the database pruned
        with it (db.pruned) dropped: a popup costs the same with 20,000 calls kept as with 100 (refresh
        rebuilds them all)."""
        tree = self.tree
        iid = str(record.id)
        for old in [iid, *map(str, self.context.db.pruned)]:    # an id shown already is replaced, never a TclError
            if tree.exists(old):
                tree.delete(old)
                self.records.pop(old, None)
        self.records[iid] = record
        tree.insert("", 0, iid=iid, values=history_row(record, members),
                    tags=("unknown",) if record.number and not members else ())
        if select:
            self.select(iid)

    def selected_record(self) -> CallRecord | None:
        """The row selected, else the latest call."""
        selection = self.tree.selection()
        if selection:
            return self.records.get(selection[0])
        children = self.tree.get_children()
        return self.records.get(children[0]) if children else None

    def is_held(self, window_open: bool) -> bool:
        """A row the receptionist picked herself in the last minute, or with a menu or (window_open) a
        window of cti open, stays selected when a call arrives (it is what she is working on)."""
        if self.menu_row is not None:
            return True
        if window_open:
            return bool(self.tree.selection())
        return (self.user_selected_at is not None and bool(self.tree.selection())
                and self.context.now() - self.user_selected_at < self.SELECTION_HOLD)

    def _user_selected(self, event=None):
        """She chose the selected row: it is hers for a while, and the card shows it (the target of every action)."""
        self.user_selected_at = self.context.now()
        record = self.selected_record()
        if record is not None:
            self.on_choose(record)

    def _context_menu(self, event):
        """The menu acts on the row it was opened on, whatever a call does to the selection meanwhile."""
        row = self.tree.identify_row(event.y)
        if row:
            self.tree.selection_set(row)
            self._user_selected()
            self.menu_row = row
            self.menu.entryconfigure(0, command=lambda: self.open_visits(self.records.get(row)))
            self.menu.entryconfigure(2, command=lambda: self.delete_row(row))
            self.menu.tk_popup(event.x_root, event.y_root)

    def delete_selected(self, confirm=True):
        selection = self.tree.selection()
        return self.delete_row(selection[0], confirm) if selection else False

    def delete_row(self, iid, confirm=True):
        record = self.records.get(iid)
        if record is None:
            return False
        if confirm and not messagebox.askyesno(
                "CTI", f"{when_text(record.received)} の着信（{caller_text(record.number, record.reason)}）を"
                       "履歴から削除しますか？", parent=self.context.root):
            return False
        self.context.db.delete_call(record.id)
        self.refresh()
        return True

    def export(self):
        """履歴を保存: the calls from cti.db (not the list's words) to a CSV in Documents. Windows asks
        where with its own (Japanese) dialog; elsewhere Tk's would be English, so it is saved
        there under a new name and the confirmation says where."""
        context = self.context
        documents = Path.home() / "Documents"
        folder = documents if documents.is_dir() else Path.home()
        name = f"着信履歴_{context.now():%Y%m%d}"
        if WINDOWS:
            path = filedialog.asksaveasfilename(parent=context.root, title="着信履歴を保存", defaultextension=".csv",
                                                initialdir=str(folder), initialfile=f"{name}.csv",
                                                filetypes=[("CSV", "*.csv")])
        else:
            path = next(str(p) for n in itertools.count(1)
                        if not (p := folder / (f"{name}.csv" if n == 1 else f"{name}_{n}.csv")).exists())
        if not path:
            return None
        found = {}
        rows = [export_row(r, found.setdefault(r.number, context.members.lookup(r.number) if r.number else []))
                for r in context.db.calls()]
        try:
            export_calls_csv(Path(path), rows, header=EXPORT_COLUMNS)
        except OSError as e:
            messagebox.showerror("CTI", f"保存できませんでした: {e}", parent=context.root)
            return None
        context.post_notice(exported_text(path))
        return path


class Toolbar(ttk.Frame):
    """The buttons under the history, one per toolbar entry of ACTIONS, in two rows (the window stays
    narrow enough to sit beside the POS)."""

    PER_ROW = 5

    def __init__(self, parent, command_of):
        """command_of(name): the command of an ACTIONS entry."""
        super().__init__(parent)
        self.buttons = {}
        for index, action in enumerate(a for a in ACTIONS if a.where == "toolbar"):
            self.buttons[action.name] = ttk.Button(self, text=action.label, command=command_of(action.name))
            self.buttons[action.name].grid(row=index // self.PER_ROW, column=index % self.PER_ROW, sticky="we",
                                           padx=(0, 4), pady=(0, 4))
        for column in range(self.PER_ROW):
            self.columnconfigure(column, weight=1, uniform="buttons")


class StatusLine(ttk.Frame):
    """The bottom lines: the device's state in its colour, and members.csv's (a click lists the rows skipped)."""

    def __init__(self, parent, fonts: dict, on_members_click):
        super().__init__(parent)
        self.device_line = ttk.Label(self, font=fonts["small"])
        self.device_line.pack(anchor="w")
        self.members_line = ttk.Label(self, font=fonts["small"], foreground="#444444", cursor="hand2")
        self.members_line.pack(anchor="w")
        self.members_line.bind("<Button-1>", lambda e: on_members_click())

    def show(self, status: Status, members_text: str):
        self.device_line["text"] = f"装置: {status.text}"
        self.device_line["foreground"] = STATUS_COLOURS.get(status.state, "#b00020")
        self.members_line["text"] = members_text

    def hold_width(self, width: int):
        self.device_line.configure(wraplength=width)     # a long device message wraps, never cut


class MainWindow:
    """The reception window: composes the caller card, the history, the toolbar and the status line,
    and routes to them what arrives (calls, the device's state, members.csv re-read, the tray's
    commands) and what the receptionist asks (each ACTIONS entry, by its button or key)."""

    POLL_MS = 20                        # the queue is checked 50 times a second: a popup within ~20 ms
    GIL_SWITCH_S = 0.0005               # a thread parsing members.csv gives the GIL back this soon
    MEMBERS_CHECK_MS = 2000
    PENDING_RETRY_MS = 10000
    ELAPSED_MS = 20000                  # たった今 → 1分前 … on the card
    CONFIRM_MS = 5000                   # 登録しました and friends
    TRAY_CHECK_MS = 3000                # a notification area that was not there at start
    CLOCK_CHECK_MS = 1000               # the date for today's counts, and whether the clock jumped

    def __init__(self, root: tk.Tk, config: Config, members: MemberTable, db: Database,
                 events: queue.Queue, now=datetime.now, _utest=False):
        self.root, self.config, self.members, self.db, self.events = root, config, members, db, events
        self._utest = _utest
        self.device_status = Status("connecting", "着信表示装置を探しています", shown_port(config.port))
        self.ringing = {}               # a SIP call's key -> its row in cti.db, until it ends
        self.today_window = None        # the 本日の予約 window while it is open
        self.timers = Heartbeat(root, self.POLL_MS / 1000)    # every timer of the window, by name
        self.commands = queue.Queue()   # from the tray's thread: "show", "quit"
        self.tray = None                # a started Tray, when this desktop has a notification area
        self.unseen = 0                 # calls since the receptionist last looked at the window
        self.ended = False              # 終了 (or logoff): the window is gone for good
        self.demo = None                # the demo's simulated device: hiding the window rings it again
        self.compact = False            # the caller card only (F9, or the screen is too small for the lists)
        self.layout_chosen = False      # she pressed F9: the screen no longer chooses
        self.frame = None               # (width, height) the window manager's frame adds, once measured
        root.report_callback_exception = self.report_exception
        self.context = DialogContext(root, config, members, db, now, self._fonts(root), self.confirm,
                                     self.members_changed, self.reservations_changed)
        root.title("CTI — 着信待ち")
        self._build()
        self._bind_keys()
        self.history.refresh()
        self.status.hold_width(self.card.fix_size(beside=self.history.tree))
        self.show_caller(next(iter(db.calls()), None), arriving=False)      # after a restart: the last call
        self.refresh_callbacks()
        self.refresh_counts()
        self.refresh_status()
        self.hold_minimum_size()
        self.place_in_corner()
        root.attributes("-topmost", bool(config.topmost))
        # Every Tk call lets the GIL go; a re-read thread then keeps it for the switch interval
        # (5 ms), so a popup of some 40 Tk calls took 140 ms while members.csv was parsed
        sys.setswitchinterval(self.GIL_SWITCH_S)
        self._schedule("poll", self.POLL_MS, self.poll)
        self._schedule("members", self.MEMBERS_CHECK_MS, self.check_members)
        self._schedule("pending", self.PENDING_RETRY_MS, self.retry_pending)
        self._schedule("elapsed", self.ELAPSED_MS, self.refresh_elapsed)
        self._schedule("clock", self.CLOCK_CHECK_MS, self.follow_clock)

    @property
    def now(self):
        """The clock (datetime.now, or a test's): the dialogs' context holds it, for all."""
        return self.context.now

    @now.setter
    def now(self, clock):
        self.context.now = clock

    @property
    def fonts(self) -> dict:
        return self.context.fonts

    # - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
    # layout

    @staticmethod
    def _fonts(root) -> dict:
        """The fonts by use, and ttk's styles set from them."""
        family = ui_font_family(tkfont.families(root))
        # the card is read from a metre away: name 28 pt, furigana 14, number 18, the rest 12
        fonts = {"base": (family, 10), "bold": (family, 11, "bold"), "big": (family, 20, "bold"),
                 "small": (family, 9), "number": (family, 18, "bold"), "kana": (family, 14),
                 "card": (family, 12), "memo": (family, 12, "bold"), "banner": (family, 12, "bold")}
        root.option_add("*Font", fonts["base"])
        style = ttk.Style(root)
        for widget in ("TLabel", "TButton", "Treeview", "TEntry", "TCombobox"):
            style.configure(widget, font=fonts["base"])
        style.configure("Treeview.Heading", font=fonts["bold"])
        style.configure("Treeview", rowheight=int(tkfont.Font(root, font=fonts["base"]).metrics("linespace") * 1.5))
        style.configure("Action.TButton", font=fonts["bold"])
        return fonts

    def _build(self):
        outer = ttk.Frame(self.root, padding=8)
        outer.pack(fill="both", expand=True)
        self.card = CallerCard(outer, self.fonts, self.action, self.later)
        self.card.pack(fill="x")
        if self.config.handoff:
            self.card.add_handoff(f"{self.config.handoff_label} ({self.config.handoff_key})", self.hand_off)
        self.history = HistoryList(outer, self.context, self.open_visits, self.show_chosen)
        self.toolbar = Toolbar(outer, self.action)
        self.status = StatusLine(outer, self.fonts,
                                 lambda: self.open_skipped_rows() if self.members.problems else None)
        # what compact mode hides, with how each is packed back (in this order, below the card); the
        # status and the buttons are packed from the bottom before the list, so a long (wrapped) device
        # message takes its room from the list and is never cut
        self.below_card = {self.status: dict(side="bottom", fill="x", pady=(6, 0)),
                           self.toolbar: dict(side="bottom", fill="x", pady=(8, 0)),
                           self.history: dict(fill="both", expand=True)}
        for part, options in self.below_card.items():
            part.pack(**options)

    def _bind_keys(self):
        for action in ACTIONS:
            if action.key:     # and its virtual twin, which a message box passes on (MessageDialog.main_window_key)
                for sequence in (f"<{action.key}>", f"<<{action.key}>>"):
                    self.root.bind(sequence, lambda e, command=self.action(action.name): command())
        if self.config.handoff:
            self.root.bind(f"<{self.config.handoff_key}>", lambda e: self.hand_off())
        self.root.bind("<Control-c>", lambda e: self.copy_number())
        # ×, Alt+F4 and 閉じる hide: cti goes on showing calls; only 終了 (tray or help) ends it
        self.root.protocol("WM_DELETE_WINDOW", self.hide)
        self.root.bind("<Alt-F4>", lambda e: self.hide())
        # not FocusIn: a window popping up under a resting pointer gets it without anyone looking
        for sequence in ("<ButtonPress>", "<KeyPress>"):
            self.root.bind(sequence, self._looked_at, add=True)

    def place_in_corner(self, frame: tuple[int, int] | None = None):
        """Put the window in the corner set in cti.ini, inside the work area of its monitor (clear of
        the taskbar wherever it is). frame: what the title bar and borders add, once measured.
        Where the full window does not fit (a 1366x768 laptop at 125 or 150 %) the card alone is
        shown, until she asks for the lists (F9)."""
        root = self.root
        if frame is not None:
            self.frame = frame
        root.update_idletasks()
        width, height = root.winfo_reqwidth(), root.winfo_reqheight()
        extra_w, extra_h = self.frame or estimated_frame_extra(root.winfo_fpixels("1i") / 96, WINDOWS)
        work = work_area(root)
        if not self.compact and not self.layout_chosen and not fits(work, width + extra_w, height + extra_h, 8):
            log.info("一覧まで画面に入らないので、着信カードだけの窓にします（F9 で一覧も表示）")
            return self.show_compact(True)      # places it again
        x, y = corner_position(work, width + extra_w, height + extra_h, self.config.corner, 8)
        root.geometry(f"{width}x{height}+{x}+{y}")
        if self.frame is None and not hasattr(self, "_frame_measured"):
            self._frame_measured = False
            # <Visibility>, not <Map>: a move asked for at the Map the window manager undoes as it places it
            root.bind("<Visibility>", self._place_measured, add="+")

    def _place_measured(self, event):
        """Once mapped, the frame can be measured: place again with it (once; then the window is the user's)."""
        root = self.root
        if event.widget is not root or self._frame_measured or not root.winfo_viewable():
            return
        outer = frame_rect(root)
        if outer is None:
            return
        extra = frame_extra(outer, root.winfo_width(), root.winfo_height())
        # no frame yet may mean not yet decorated: the window manager's reparenting shows it again
        self._frame_measured = extra != (0, 0)
        self.place_in_corner(extra)

    def toggle_compact(self):
        """F9: the card only, or the lists too; her choice holds (even where the lists do not fit)."""
        self.layout_chosen = True
        self.show_compact(not self.compact)

    def show_compact(self, compact: bool):
        """Compact mode: the caller card only, for a small screen."""
        self.compact = compact
        for part in self.below_card:
            if self.compact:
                part.pack_forget()
            else:
                part.pack(**self.below_card[part])
        self.card.show_compact(self.compact)
        self.root.geometry("")              # the window takes the size of what it shows
        self.hold_minimum_size()
        self.place_in_corner()

    def hold_minimum_size(self):
        """No smaller than what it shows (measured from the fonts): buttons and scrollbar never vanish."""
        self.root.update_idletasks()
        self.root.minsize(self.root.winfo_reqwidth(), self.root.winfo_reqheight())

    # - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
    # timers, and the queues polled (the only way in from the reader's and the tray's threads)

    def _schedule(self, name, ms, callback):
        """Run callback every ms (by the monotonic clock: see Heartbeat)."""
        self.timers.every(name, ms / 1000, callback)

    def later(self, name, ms, callback):
        """callback once, in ms (a timer of the same name is replaced as the last one to run)."""
        self.timers.once(name, ms / 1000, callback)

    def follow_clock(self):
        """Today's counts follow the date she sees (midnight, or a clock set to another day), and the
        status line says when the clock has jumped (history is then not removed by age)."""
        if self.now().date() != self.counts_day:
            self.refresh_counts()
        if self.db.clock.offset() != self.clock_shown:
            self.refresh_status()

    def stop(self):
        """Cancel the timers (tests call this before destroying the root)."""
        self.timers.stop()

    def poll(self):
        """Take what the device reader and the tray put on their queues (the only way in from their threads)."""
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                break
            {"show": self.show, "callbacks": self.open_callbacks, "quit": self.quit}[command]()
            if self.ended:
                return
        if self.members.take_reread():        # a re-read of members.csv finished: names fill in
            self.members_changed([])
            self.retry_pending()
        if self.db.take_written():            # calls cti.db could not take at once are in it now (or failed)
            self.history.refresh()
            self.refresh_status()
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, Call):
                (self.on_call if event.answered is None else self.on_call_ended)(event)
            elif isinstance(event, Status):
                self.device_status = event
                self.refresh_status()

    # - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
    # shown, hidden, ended

    def dock_tray(self, tray: Tray):
        """Look again for a notification area (on X11 it may start after cti) until the icon docks;
        then it tells what the window would: the calls not yet seen, a lost device."""
        if not tray.start_when_host(self.unseen):
            if tray.awaiting_host:
                self.later("tray", self.TRAY_CHECK_MS, lambda: self.dock_tray(tray))
            return
        log.info("通知領域にアイコンを出しました")
        self.tray = tray
        self.refresh_status()

    def hide(self):
        """× / Alt+F4 / 閉じる: out of the way, never off. To the tray; without one (and off Windows,
        where iconify needs a window manager) withdrawn: the next call brings it back."""
        if self.tray is None and WINDOWS:
            self.root.iconify()             # pragma: no cover - the taskbar button stays
        else:
            self.root.withdraw()
        log.info("窓を隠しました（着信があれば前に出ます）")
        if self.demo is not None:
            self.demo.ring_again()          # the demo shows what a call does to a hidden window

    def show(self):
        """表示 from the tray (or a second start): the receptionist asked for it, so it may take the keyboard."""
        self.root.deiconify()
        self.root.lift()
        self.root.focus_force()
        self._looked_at()

    def bring_to_front(self):
        """Up even when minimised, hidden or behind, without taking the keyboard from the program in use."""
        root = self.root
        if WINDOWS and root.state() == "withdrawn":
            # hidden by ×: Tk minimises it without activating (SW_SHOWMINNOACTIVE), and
            # show_without_focus restores an iconic window; deiconify would take the keyboard
            root.iconify()
        show_without_focus(root)
        flash_taskbar(root)                 # another topmost window may cover it
        if not self.config.topmost:
            self.later("untop", 1500, lambda: root.attributes("-topmost", False))

    def open_windows(self) -> list:
        """cti's other windows now open (dialogs, lists, help)."""
        return [w for w in self.root.winfo_children() if isinstance(w, Window) and w.winfo_exists()]

    def quit(self) -> bool:
        """終了: asks first, and refuses while a dialog holds typed input (finish or cancel it first)."""
        busy = [w for w in self.open_windows() if isinstance(w, Dialog) and w.unsaved()]
        if busy:
            busy[0].deiconify()
            busy[0].lift()
            messagebox.showwarning("CTI", QUIT_REFUSED.format(title=busy[0].title()), parent=busy[0])
            return False
        question = QUIT_QUESTION
        if self.members.pending:
            question += QUIT_PENDING.format(name=self.members.path.name, count=len(self.members.pending))
        if not messagebox.askyesno("CTI", question, parent=self.root):
            return False
        log.info("終了しました")
        self.logoff()
        if self.tray is not None:
            self.tray.stop()
        return True

    def logoff(self):
        """終了, or the session ending: the window goes for good (run_window then stops the rest)."""
        self.ended = True
        self.stop()
        self.root.destroy()

    def _looked_at(self, event=None):
        """A click or a key in the window (or 表示): the calls so far have been seen."""
        if self.unseen:
            self.unseen = 0
            if self.tray is not None:
                self.tray.show_unseen(0)

    # - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
    # a call, and what the frames show

    def on_call(self, call: Call, bring_to_front=True):
        call = call if call.received else dataclasses.replace(call, received=self.now())
        try:
            record_id = self.db.add_call(call)
        except sqlite3.Error:              # the caller is shown all the same; only the history misses it
            log.exception("着信を履歴に保存できませんでした")
            record_id = None
        if call.key and record_id is not None:
            self.ringing[call.key] = record_id
            while len(self.ringing) > 100:  # calls end within minutes: only the latest can still end
                del self.ringing[next(iter(self.ringing))]
        record = CallRecord(record_id or 0, call.received, call.number, call.reason, call.name, call.protocol)
        held = self.history.is_held(bool(self.open_windows()))   # before the new row: what she is working on
        members = self.show_caller(record)
        if record_id is not None:           # else the background writer stores it; take_written() refreshes
            self.history.add(record, members, select=not held)
        if bring_to_front:
            self.unseen += 1
            if self.tray is not None:
                self.tray.show_unseen(self.unseen)
        log.info("着信を表示しました (%s): %s", call.protocol,
                 f"会員 {len(members)}名" if members else "未登録" if call.number else "番号なし")
        if bring_to_front:
            self.bring_to_front()
        self.refresh_callbacks()
        if self.config.handoff_auto and len(members) == 1:
            self.hand_off(record)

    def on_call_ended(self, call: Call):
        """A call shown earlier ended (SIP's CANCEL): answered by another phone, or missed."""
        record_id = self.ringing.pop(call.key, None)
        if record_id is None:
            return
        try:
            self.db.set_answered(record_id, call.answered)
        except (sqlite3.Error, DatabaseError):
            log.exception("着信の終わり方を履歴に保存できませんでした")
        self.refresh_callbacks()

    def show_chosen(self, record: CallRecord):
        """A history row she chose: on the card, and so the call every action acts on."""
        if record is not self.card.shown:
            self.show_caller(record, arriving=False)

    def show_caller(self, record: CallRecord | None, arriving=True) -> list:
        """record on the card (its members, her last visit and next booking) and in the title, yellow for
        a moment when arriving. Returns the members."""
        members = self.members.lookup(record.number) if record and record.number else []
        last_visit = next_booking = None
        if len(members) == 1:
            visits, upcoming = self.db.visits(members[0].member_no), self.db.upcoming(members[0].member_no)
            last_visit, next_booking = (visits or [None])[0], (upcoming or [None])[0]
        self.card.show(record, caller_panel(record, members, last_visit, next_booking))
        if record is not None:
            self.root.title(window_title(record.number, record.reason, members))
        self.refresh_elapsed()
        if record is not None and arriving:
            self.card.highlight()
        else:
            self.card.paint()
        return members

    def refresh_elapsed(self):
        self.card.show_elapsed(self.now())

    def refresh_counts(self):
        self.counts_day = self.now().date()
        self.history.show_counts(counts_text(self.db.today_counts(self.counts_day)))

    def refresh_status(self):
        """The status lines, and on the card (and the tray's tooltip) a banner a receptionist acts on
        when the device is lost."""
        self.clock_shown = self.db.clock.offset()
        self.status.show(self.device_status, "\n".join([members_status(self.members),
                                                        *folder_warnings(data_folder_risks(self.config)),
                                                        *clock_warnings(self.clock_shown),
                                                        *unsaved_calls_warnings(self.db.unsaved, self.db.unsaved_cause)]))
        self.card.show_device(self.device_status, self.config.port)
        if self.tray is not None:               # a hidden window still tells that calls cannot come
            self.tray.show_lost(device_lost_banner(self.device_status.state, self.config.port)
                                if self.card.lost else "")

    def check_members(self):
        """Ask for a re-read (a thread does it when the file changed); poll() swaps it in."""
        if self.members.refresh():
            self.members_changed([])

    def retry_pending(self):
        if self.members.pending and self.members.retry_pending():
            self.members_changed([])

    def members_changed(self, notes):
        """After a register/link (or the file changed): history rows and the caller card follow, and what
        the store has to tell (a member no. changed, changes it could not write) is told."""
        notices = self.members.take_notices()
        renumbered = [n for n in notices if isinstance(n, Renumbered)]
        for notice in renumbered:           # cti.db follows at once; the box asks her to acknowledge
            self.db.move_member(notice.old, notice.new, datetime.fromtimestamp(notice.since))
        notes = notes + [member_notice_text(n, self.members.path.name) for n in notices]
        self.history.refresh()
        shown = self.history.records.get(str(self.card.shown.id)) if self.card.shown else None
        self.show_caller(shown or self.history.selected_record(), arriving=False)   # the same call: not new
        self.refresh_status()
        for window in self.open_windows():
            if isinstance(window, RegisterDialog):
                window.follow_members()
        if renumbered:
            self.confirm(member_notice_text(renumbered[-1], self.members.path.name))
        if notes:
            # Shown once the caller has returned: a modal box waits for OK in a nested event loop,
            # and opened inside poll() it kept calls and re-reads (Excel's next save) waiting for OK.
            self.root.after_idle(self.notify, "\n".join(notes), renumbered)

    def reservations_changed(self):
        self.refresh_counts()
        for window in self.open_windows():      # every open list of bookings follows
            if isinstance(window, BookingActions):
                window.refresh()

    def notify(self, text, renumbered=()):
        """A box that waits for OK; a member no. change it tells is acknowledged only then."""
        messagebox.showinfo("CTI", text, parent=self.root)
        for notice in renumbered:
            self.members.acknowledge(notice)

    def confirm(self, text):
        """A brief word after a success (登録しました…) on the card's top line; then the device's state again."""
        self.card.show_notice(text)
        self.later("confirm", self.CONFIRM_MS, self.refresh_status)

    # 着信番号参照's submit: the card's (the others' are the DialogContext's)

    def look_up(self, digits) -> dict:
        """着信番号参照: the card as for a call from that number, but no call is recorded."""
        self.show_caller(CallRecord(0, self.now(), digits, None, None, "manual"))
        self.card.show_lookup()
        return {}

    # - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
    # actions: each ACTIONS entry names its method here

    def action(self, name):
        """The command behind an ACTIONS entry (its button and its key): a method here or of a frame."""
        return operator.attrgetter(ACTION[name].command)(self)

    def target(self) -> CallRecord | None:
        """The call every action acts on: the one on the card (a new call, or the row she chose)."""
        return self.card.shown

    def selected_members(self, action, record=None) -> list[Member]:
        """Everyone on the card's (or given) call's number; a message instead when there is no one."""
        record = record or self.target()
        members = self.members.lookup(record.number) if record and record.number else []
        if not members:
            if record and record.number:
                self.notify(f"{format_phone(record.number)} は未登録の番号です。{action}の前に会員登録をしてください")
            elif record:
                self.notify(NO_NUMBER_CALL.format(caller=caller_text(record.number, record.reason), action=action))
            else:
                self.notify(f"{action}をする着信を履歴から選んでください")
        return members

    def open_callbacks(self):
        return CallbackWindow(self.context, self.refresh_callbacks, _utest=self._utest)

    def refresh_callbacks(self):
        """The card's 不在 N: the numbers still to call back."""
        waiting = sum(1 for c in self.db.callbacks() if c.done_at is None)
        self.card.callbacks["text"] = CALLBACK_WORDS["button"].format(count=waiting)

    def hand_off(self, record: CallRecord | None = None) -> bool:
        """The caller to the salon's own system ([handoff]): its URL opened and/or its program started
        with the number (and the member, when the number is one member's). Never through a shell."""
        record = record or self.target()
        if record is None or not record.number:
            self.notify(HANDOFF_WORDS["no_number"])
            return False
        members = self.members.lookup(record.number)
        values = handoff_values(record.number, members[0] if len(members) == 1 else None)
        config = self.config
        try:
            if config.handoff_url:
                webbrowser.open(handoff_url(config.handoff_url, values))
            if config.handoff_program:
                subprocess.Popen(handoff_command(config.handoff_program, config.handoff_arguments, values),
                                 cwd=config.handoff_program.parent if config.handoff_program.parent.is_dir() else None,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, webbrowser.Error) as e:
            log.warning("引き渡しに失敗しました: %s", type(e).__name__)
            messagebox.showerror("CTI", HANDOFF_WORDS["failed"].format(label=config.handoff_label, error=e),
                                 parent=self.root)
            return False
        self.confirm(HANDOFF_WORDS["done"].format(label=config.handoff_label,
                                                  who=member_name(members[0]) + " 様" if len(members) == 1
                                                  else format_phone(record.number)))
        return True

    def copy_number(self) -> str:
        """Ctrl+C: the number on the card to the clipboard (digits, as a search box takes them)."""
        record = self.target()
        if record is None or not record.number:
            return ""
        self.root.clipboard_clear()
        self.root.clipboard_append(record.number)
        self.confirm(HANDOFF_WORDS["copied"].format(number=format_phone(record.number)))
        return record.number

    def for_member(self, members: list, title: str, then, call: CallRecord):
        """then(member) for the one member, or after asking which when the number is shared."""
        if not members:
            return None
        if len(members) == 1:
            return then(members[0])
        return MemberChoice(self.context, title, members, then, call=call, _utest=self._utest)

    def for_number(self, dialog, number):
        """dialog (会員登録, 電話番号登録) for the number given, else for the call on the card, named in it."""
        call = self.target() if number is None else None
        if call is not None:
            number = call.number or ""
        return dialog(self.context, number or "", call=call, _utest=self._utest)

    def open_register(self, number=None):
        return self.for_number(RegisterDialog, number)

    def open_link(self, number=None):
        return self.for_number(LinkDialog, number)

    def open_reserve(self, record=None):
        record = record or self.target()
        if record is None or not record.number:     # a walk-in, or a caller without a number: find her
            return ReserveDialog(self.context, _utest=self._utest)
        return self.for_member(self.selected_members("予約", record), "予約登録 — どなたの予約ですか",
                               lambda m: ReserveDialog(self.context, m, call=record, _utest=self._utest), record)

    def open_visits(self, record=None):
        record = record or self.target()
        return self.for_member(self.selected_members("来店履歴の表示", record), "来店履歴 — どなたの履歴ですか",
                               lambda m: VisitHistoryWindow(self.context, m, call=record, _utest=self._utest), record)

    def open_today(self):
        if self.today_window is not None and self.today_window.winfo_exists():
            self.today_window.show_day(self.now().date())   # F6 is 本日の予約, whatever day was shown
            self.today_window.lift()
            return self.today_window
        self.today_window = BookingsWindow(self.context, _utest=self._utest)
        return self.today_window

    def open_lookup(self):
        return LookupDialog(self.context, "着信番号参照", self.look_up, _utest=self._utest)

    def open_help(self):
        return HelpWindow(self.context, self.device_status.text, self.open_skipped_rows, self.quit, _utest=self._utest)

    def open_skipped_rows(self):
        return SkippedRowsWindow(self.context, _utest=self._utest)

    def report_exception(self, exc, value, tb):
        """An error in a Tk callback: to cti.log and one clear message, and the window carries on."""
        if isinstance(value, CtiError):         # an expected problem: its own words (e.g. cti.db held)
            log.warning("画面の処理: %s", value)
            messagebox.showerror("CTI", str(value), parent=self.root)
            return
        log.error("画面の処理でエラー", exc_info=(exc, value, tb))
        messagebox.showerror("CTI", f"思わぬエラーが起きました（{exc.__name__}）。処理は続けます。\n"
                                    f"詳しくは {self.config.log.name} を見てください。", parent=self.root)


###############################################################################
# App: start-up, logging, one instance, demo ##################################
###############################################################################

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(threadName)s %(message)s"


def setup_logging(config: Config) -> logging.Handler:
    """cti.log beside the program, rotating; stderr only where there is one (a windowed exe has none)."""
    handler = logging.handlers.RotatingFileHandler(config.log, maxBytes=300_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if config.debug else logging.INFO)
    if sys.stderr is not None:
        console = logging.StreamHandler()
        console.setLevel(logging.WARNING)
        log.addHandler(console)

    def thread_error(args):
        log.error("スレッド %s でエラー", args.thread.name if args.thread else "?",
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
    threading.excepthook = thread_error
    sys.excepthook = lambda *exc: log.critical("予期しないエラー", exc_info=exc)
    return handler


def write_first_run_files(config_path: Path, config: Config) -> list[str]:
    """A first start writes the documented cti.ini and an empty members.csv (header only, UTF-8 with BOM).

    members.csv only beside cti.ini: one elsewhere (a shared folder) may be missing only for a
    moment, as Excel saves it; a header-only file there would replace the table for every PC.
    """
    written = []
    if not config_path.exists():
        atomic_write(config_path, DEFAULT_INI.encode("utf-8-sig"))
        written.append(config_path.name)
    if config.members.parent == config_path.parent and not config.members.exists():
        atomic_write(config.members, (",".join(MEMBERS_HEADER) + "\r\n").encode("utf-8-sig"))
        written.append(config.members.name)
    return written


class SingleInstance:
    """One cti per folder: started again from the same cti.ini, it brings the running window up.

    The key is the cti.ini's path: a second double-click on the same cti.exe finds the first,
    while a copy in another folder (its own cti.ini, cti.db and device, as on another reception
    PC) is another cti. Windows: a named mutex (the OS frees it when the process dies). Elsewhere:
    flock on a lock file. A second start leaves a 'raise' file that the first polls, then exits.
    Both live in the temp folder, which is per user and PC (tests point TMPDIR elsewhere).
    """

    def __init__(self, folder: Path | None = None, key: str = ""):
        self.folder = Path(folder or tempfile.gettempdir())
        suffix = f"-{zlib.crc32(os.path.normcase(key).encode('utf-8')):08x}" if key else ""
        self.mutex = f"Local\\cti-callerid{suffix}"
        self.lock_path = self.folder / f"cti{suffix}.lock"
        self.raise_path = self.folder / f"cti{suffix}.raise"
        self.handle = None

    @classmethod
    def for_config(cls, config_path: Path) -> "SingleInstance":
        return cls(key=str(Path(config_path).resolve()))

    def acquire(self) -> bool:
        first, self.handle = instance_lock(self.mutex, self.lock_path)
        return first

    def ask_first_to_raise(self):
        allow_foreground()                 # the user started us: the first cti may take the keyboard
        self.raise_path.write_text(str(os.getpid()), encoding="ascii")

    def raise_requested(self) -> bool:
        if self.raise_path.exists():
            self.raise_path.unlink(missing_ok=True)
            return True
        return False


DEMO_MEMBERS = """\
会員番号,名前,ふりがな,電話番号,主担当,メモ,誕生日,住所\r
AC00001,ペンギン貴子,ぺんぎんたかこ,0596-31-0005,佐藤,カラーは 6 トーン。ハーブティー,1985/04/12,三重県伊勢市\r
AC00002,山田花子,やまだはなこ,090-1234-5678; 03-1234-5678,鈴木,肌が弱いのでパッチテスト,1990/11/03,東京都千代田区\r
AC00003,鈴木一郎,すずきいちろう,045-123-4567,佐藤,,1978/01/30,横浜市中区\r
AC00004,高橋美咲,たかはしみさき,080-2345-6789,田中,縮毛矯正 3 か月ごと,1995/07/21,\r
AC00005,伊藤 さくら,いとうさくら,06-6234-5678,鈴木,,2001/03/15,大阪市北区\r
AC00006,渡辺健,わたなべけん,0467-12-3456,田中,メンズカット,1982/09/09,神奈川県藤沢市\r
AC00007,中村由美,なかむらゆみ,070-3456-7890,佐藤,予約は午後希望,1988/12/24,\r
AC00008,小林真理子,こばやしまりこ,050-1234-5678,田中,,1975/05/05,名古屋市\r
"""
# A member, an unknown number and a withheld one first, then one call every few seconds.
DEMO_CALLS = (("0596310005", None), ("09087654321", None), (None, "P"), ("09012345678", None),
              (None, "C"), ("0451234567", None), ("0120444555", None), (None, "O"), ("0467123456", None))


class DemoDevice(threading.Thread):
    """A simulated caller-ID modem on loop://: the demo's calls go through the real reader and decoder.

    It rings `rings` times, then waits: F8 (or hiding the window) rings once more.
    """

    def __init__(self, first_delay=1.5, interval=6.0, rings=4):
        super().__init__(name="demo-device", daemon=True)
        self.port = serial.serial_for_url("loop://", timeout=IDLE_TIMEOUT)
        self.first_delay, self.interval, self.rings = first_delay, interval, rings
        self.stopping, self.again = threading.Event(), threading.Event()

    def ring_again(self):
        self.again.set()

    def opener(self, *args):
        return self.port

    def run(self):
        delay = self.first_delay
        for index in itertools.count():
            if index >= self.rings:         # then only on request, a couple of seconds later
                while not self.again.wait(0.2):
                    if self.stopping.is_set():
                        return
                self.again.clear()
                delay = 2.0
            if self.stopping.wait(delay):
                return
            number, code = DEMO_CALLS[index % len(DEMO_CALLS)]
            now = datetime.now()
            self.port.write(f"RING\r\n\r\nDATE = {now:%m%d}\r\nTIME = {now:%H%M}\r\nNMBR = {number or code}\r\n\r\n"
                            .encode("ascii"))
            delay = 2.0 if index < 2 else self.interval


def demo_folder() -> tuple[Path, Config]:
    """A temporary folder with the sample members, reservations and visits; nothing real is touched."""
    folder = Path(tempfile.mkdtemp(prefix="cti-demo-"))
    (folder / "members.csv").write_bytes(DEMO_MEMBERS.encode("utf-8-sig"))
    config = Config(port="デモ装置", protocol="modem", init=(), members=folder / "members.csv",
                    database=folder / "cti.db", log=folder / "cti.log", path=None)
    db = Database(config.database)
    today = datetime.now().replace(second=0, microsecond=0)
    for member_no, hour, menu, staff, status in (("AC00003", 10, "カット", "佐藤", "退店"),
                                                 ("AC00004", 11, "縮毛矯正", "田中", "来店"),
                                                 ("AC00001", 15, "カラー", "佐藤", None),
                                                 ("AC00007", 17, "カット＋カラー", "佐藤", None)):
        rid = db.reserve(member_no, today.replace(hour=hour, minute=0), menu, staff)
        for step in ("来店", "退店")[:("来店", "退店").index(status) + 1] if status else ():
            db.set_status(rid, step)
    for member_no, days, menu, staff, amount in (("AC00001", 35, "カラー", "佐藤", 8800),
                                                 ("AC00001", 90, "カット＋カラー", "佐藤", 13200),
                                                 ("AC00002", 20, "トリートメント", "鈴木", 5500)):
        db.conn.execute("INSERT INTO visits (member_no, date, menu, staff, amount) VALUES (?,?,?,?,?)",
                        (member_no, (today - timedelta(days=days)).date().isoformat(), menu, staff, amount))
    db.close()
    return folder, config


def apply_icon(root):
    """cti's icon in the title bar, taskbar and Alt-Tab (else Tk's feather). Windows reads cti.ico itself
    (16 to 64 px stored as BMP, which every Windows renders); X11 takes its PNG entry (256 px)."""
    path = bundled_path("cti.ico")
    try:
        if WINDOWS:
            root.iconbitmap(default=str(path))
            return
        data = path.read_bytes()
        for index in range(int.from_bytes(data[4:6], "little")):       # ICONDIR, then 16-byte entries
            size, offset = (int.from_bytes(data[14 + 16 * index + k:18 + 16 * index + k], "little") for k in (0, 4))
            if data[offset:offset + 4] == b"\x89PNG":
                root.iconphoto(True, tk.PhotoImage(master=root, data=data[offset:offset + size]))
    except (OSError, tk.TclError) as e:
        log.warning("アイコンを読めません（%s）: %s", path, e)


def run_window(config: Config, problems: list[str], demo: DemoDevice | None = None,
               instance: SingleInstance | None = None) -> int:
    """The reception window with its device reader, until 終了. A window another program destroys
    (X: xdotool windowclose, xkill -id) is built again, hidden: the next call brings it up."""
    enable_hidpi()
    survive_windows_destroyed_by_others()
    # the pending file beside cti.db: on this PC's disk, writable when the share is full, read-only or gone
    members = MemberTable(config.members, pending_dir=config.database.parent, background=True,
                          cache=ParseCache.beside(config.database))
    try:
        members.load()                  # before Tk: a first start's parse peaks with less beside it
    except CtiError as e:
        log.warning("会員台帳を読めません: %s", e)
    db = Database(config.database, config.max_entries, config.max_days)
    events = WakingQueue()
    reader = DeviceReader(config, events, opener=demo.opener if demo else open_port)
    tray = Tray(WakingQueue())
    tray.start()
    try:
        for rebuilt in itertools.count():
            root = tk.Tk()
            apply_icon(root)
            window = MainWindow(root, config, members, db, events)
            window.commands = tray.commands
            events.wake = tray.commands.wake = window.timers.wake
            window.tray = tray if tray.icon is not None else None
            if window.tray is None:
                window.dock_tray(tray)
            if instance:
                window._schedule("raise", 500, lambda w=window: instance.raise_requested() and (
                    w.bring_to_front(), take_foreground(w.root)))
            if demo:
                root.title("CTI — デモ（模擬装置）")
                window.demo = demo
                root.bind("<F8>", lambda e: demo.ring_again())

            def logoff(window=window):
                """Tk's WM_SAVE_YOURSELF (Windows: WM_QUERYENDSESSION): close now, Windows ends the process soon after."""
                window.logoff()
                reader.stop()
                db.close()
            root.protocol("WM_SAVE_YOURSELF", logoff)
            if rebuilt:
                window.hide()
            else:
                if demo:
                    demo.start()
                reader.start()
                if problems:
                    messagebox.showwarning("CTI", "cti.ini に問題があります（既定値で動きます）:\n" + "\n".join(problems),
                                           parent=root)
                if members.error:
                    messagebox.showerror("CTI", f"会員台帳を読めません:\n{members.error}", parent=root)
                if db.notice:
                    messagebox.showwarning("CTI", db.notice, parent=root)
                if members.notices:         # a member no. changed that the last run could not tell
                    window.members_changed([])
            window.timers.start()            # ticks whatever the wall clock does (Heartbeat)
            root.mainloop()
            window.stop()
            if window.ended:
                break
            log.warning("窓が他のプログラムに壊されました。作り直します（着信で前に出ます）")
            del root, window
            gc.collect()                    # the dead Tcl interpreter goes here, in the main thread
    finally:
        tray.stop()
        if demo:
            demo.stopping.set()
        reader.stop()
        db.close()
    return 0


def import_by_name(names=BY_NAME_MODULES) -> list[str]:
    """Import every module cti loads by name ("pkg.*": each module of pkg); the names imported."""
    imported = []
    for name in names:
        if name.endswith(".*"):
            package = importlib.import_module(name[:-2])
            found = [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
            if not found:
                raise ImportError(f"{name}: no module bundled")
        else:
            found = [name]
        for module in found:
            importlib.import_module(module)
        imported += found
    return imported


def selftest_ports():
    """A call through open_port over loop:// and over socket:// to a listener on 127.0.0.1 (closed at once),
    and hwgrep:// answering 'no such port' rather than 'protocol not known'."""
    line = b"CID: *DATE*11242026*TIME*1405*LINE*-*NMBR*09087654321*MESG*NONE*NAME*NO NAME*\r\n"
    port = open_port("loop://", "ncid", 9600)
    try:
        port.write(line)
        assert port.read(len(line)) == line, "loop:// gave back other bytes"
    finally:
        port.close()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = open_port(f"socket://127.0.0.1:{server.getsockname()[1]}", "ncid", 9600)
        try:
            peer, _ = server.accept()
            with peer:
                peer.sendall(line)
            assert port.read(len(line)) == line, "socket:// gave back other bytes"
        finally:
            port.close()
    try:
        serial.serial_for_url("hwgrep://^cti-selftest-no-such-port$").close()
    except serial.SerialException:
        pass                                        # the handler is there and found nothing, as it should


def selftest_sip():
    """sip:// through open_port: a REGISTER to a registrar stand-in on 127.0.0.1 that challenges with
    SHA-256 digest, checks the answer and accepts it (the hashes and the UDP path of the built program)."""
    assert DIGEST_HASHES["MD5"](b"").hexdigest() == "d41d8cd98f00b204e9800998ecf8427e", "MD5"
    password = "cti-selftest-" + sip_token(4)          # never printed: a failure names no secret
    challenge = {"realm": "selftest", "nonce": sip_token(8), "algorithm": "SHA-256", "qop": "auth"}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as registrar:
        registrar.bind(("127.0.0.1", 0))
        registrar.setblocking(False)
        port = open_port(f"sip://selftest:{password}@127.0.0.1:{registrar.getsockname()[1]}", "auto", 9600)
        try:
            events, deadline = port.start(), time.monotonic() + 5
            while not any(isinstance(e, SipHealth) and e.state == "connected" for e in events):
                assert time.monotonic() < deadline, f"sip:// did not register: {events}"
                events += port.exchange(0.05)
                with contextlib.suppress(BlockingIOError):
                    data, source = registrar.recvfrom(65535)
                    register = parse_sip(data)
                    answer = dict(DIGEST_PARAM.findall(register.header("authorization") or ""))
                    cnonce = answer.get("cnonce", '""')[1:-1]
                    expected = digest_authorization(challenge, "REGISTER", register.uri, "selftest", password, cnonce)
                    if answer and f'response={answer["response"]}' in expected:
                        registrar.sendto(sip_response(register, 200, "OK", "selftest"), source)
                    else:
                        offer = 'WWW-Authenticate: Digest realm="selftest", nonce="{nonce}", algorithm=SHA-256, qop="auth"'
                        registrar.sendto(sip_response(register, 401, "Unauthorized", "selftest",
                                                      [offer.format(**challenge)]), source)
        finally:
            port.close()


def selftest() -> int:
    """--selftest: what the built program needs, without a window: the config, every module loaded by
    name, loop://, socket:// and sip:// through open_port, Tcl, SQLite, the icon, and a sample of every format."""
    load_config(app_dir() / "cti.ini")
    samples = {"nd": bytes.fromhex("9081879082c00c820a3033b1b233b43536b7b89003fb52"),
               "aloha": b"\x021124209310120444555\x03", "modem": b"NMBR = 0596310005\r\n\r\n",
               "whozz": b"01 I S 0000 G A1 11/24 03:20 PM 0451234567     TANAKA\r\n",
               "ncid": b"CID: *DATE*11242026*TIME*1405*LINE*-*NMBR*09087654321*MESG*NONE*NAME*NO NAME*\r\n"}

    def decoders():
        for protocol, raw in samples.items():
            calls = [e for e in decode_capture(raw, protocol) if isinstance(e, Call)]
            assert len(calls) == 1 and calls[0].number, f"{protocol} decoded {calls}"

    def phone():
        assert format_phone("0596310005") == "0596-31-0005", format_phone("0596310005")
        assert format_phone("01012125551234")          # a number from abroad loads region_US by name

    def encodings():                                # codecs are modules too, found by name
        for encoding in ("cp932", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"):
            assert "会員".encode(encoding).decode(encoding) == "会員", encoding

    def icon():
        assert bundled_path("cti.ico").read_bytes()[:4] == b"\0\0\1\0", "cti.ico is not an icon file"

    def store():                                    # filelock's OS lock and the atomic write, in a temp folder
        with tempfile.TemporaryDirectory(prefix="cti-selftest-") as folder:
            table = MemberTable(Path(folder) / "members.csv").load()
            member, _ = table.register(validate_registration({"name": "試験", "phone": "0596310005"}, table)[0])
            assert MemberTable(table.path).load().by_no[member.member_no].name == "試験"

    def tray():                                     # pystray loads its backend by name when imported;
        from PIL import Image                       # X's connects to a display, so only Windows' is imported here
        Image.new("RGBA", (16, 16))
        if WINDOWS:
            import pystray
            assert pystray.Icon.__module__ == "pystray._win32", pystray.Icon.__module__
        else:
            assert importlib.util.find_spec("pystray"), "pystray is not bundled"

    checks = {"modules": import_by_name, "ports": selftest_ports, "sip": selftest_sip, "decoders": decoders,
              "phone": phone, "encodings": encodings, "tray": tray,
              "tcl": lambda: tk.Tcl().eval("info patchlevel"),
              "sqlite": lambda: sqlite3.connect(":memory:").execute("SELECT sqlite_version()").fetchone(),
              "icon": icon, "store": store}
    failed = []
    for name, check in checks.items():
        try:
            check()
        except Exception as e:                      # every failure is reported, not just the first
            failed.append(name)
            print(f"selftest: {name} failed: {type(e).__name__}: {e}", file=sys.stderr)
    if failed:
        return 1
    print(f"cti {__version__} selftest ok: {', '.join(checks)} ({', '.join(samples)}; "
          f"{len(BY_NAME_MODULES)} names in BY_NAME_MODULES); phone {format_phone('0596310005')}")
    return 0


###############################################################################
# Main ########################################################################
###############################################################################


def prints_output(argv) -> bool:
    """Whether the arguments ask for printed output: all but the window, --demo and --selftest."""
    streams = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = io.StringIO()          # argparse prints --help, --version and usage errors
    try:
        args = parse_args(argv)
    except SystemExit:
        return True
    finally:
        sys.stdout, sys.stderr = streams
    return any(value is not None for value in (args.decode, args.lookup, args.import_visits)) or args.list_ports


def utf8_when_redirected():
    """Output to a file or pipe in UTF-8, so that names outside CP932 (𠮷, 﨑) survive; a console
    takes Unicode as it is."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and not stream.isatty():
            stream.reconfigure(encoding="utf-8")


def cmd_decode(path: str, protocol: str) -> int:
    if not path:
        print(f"--decode: 記録ファイルの名前を指定してください（標準入力からは {CLI_PROGRAM} --decode - < cti.log）",
              file=sys.stderr)
        return 2
    if path == "-" and sys.stdin is None:
        print(f"-: 標準入力がありません。記録ファイルの名前を指定するか、{CLI_PROGRAM} --decode - < cti.log "
              "のように渡してください", file=sys.stderr)
        return 2
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        print(f"{path}: 読めません: {e.strerror}", file=sys.stderr)
        return 2
    for event in decode_capture(raw, protocol):
        if isinstance(event, Call):
            print(event.to_json())
        elif isinstance(event, Garbled):
            print(f"{path}: {event.offset} バイト目: {event.message}", file=sys.stderr)
    return 0


def cmd_lookup(number: str, config_path) -> int:
    config, problems = load_config(config_path)
    for problem in problems:
        print(f"{Path(config_path).name}: {problem}", file=sys.stderr)
    if not normalize_phone(number):
        print(f"--lookup: 電話番号を指定してください（例 {CLI_PROGRAM} --lookup 0596-31-0005）", file=sys.stderr)
        return 2
    table = MemberTable(config.members, pending_dir=config.database.parent, cache=ParseCache.beside(config.database))
    scanned = table.lookup_once(number)
    if scanned is None:
        members, problems = table.load().lookup(number), table.problems
        if not table.reader.existed:
            print(f"{config.members}: 会員台帳がありません（cti.ini の [files] members に members.csv の場所を"
                  "書いてください）", file=sys.stderr)
            return 2
    else:
        members, problems = scanned
    for problem in problems:
        print(problem, file=sys.stderr)
    print(json.dumps([m.to_dict() for m in members], ensure_ascii=False, indent=1))
    return 0


def cmd_import_visits(path: str, config_path) -> int:
    """--import-visits: problems on stderr with their lines; a file that cannot be read is exit 2."""
    if not path:
        print("--import-visits: 来店履歴の CSV ファイルの名前を指定してください", file=sys.stderr)
        return 2
    config, _ = load_config(config_path)
    try:
        members = set(MemberTable(config.members, pending_dir=config.database.parent).load().by_no)
    except CtiError as e:
        print(f"会員番号は確かめずに取り込みます（{e}）", file=sys.stderr)
        members = None
    db = Database(config.database, config.max_entries, config.max_days)
    if db.notice:
        print(db.notice, file=sys.stderr)
    try:
        count, problems = db.import_visits(Path(path), members)
    finally:
        db.close()
    for problem in problems:
        print(problem, file=sys.stderr)
    skipped = sum(not p.endswith("（取り込みました）") for p in problems)
    print(f"来店履歴を {count} 件取り込みました（読み飛ばした行 {skipped}）")
    return 0


def cmd_list_ports() -> int:
    ports = list_ports()
    for device, description in ports:
        print(f"{device}\t{description}")
    if not ports:
        print("シリアルポートが見つかりません（着信表示装置の USB ケーブルを確認してください）", file=sys.stderr)
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cti", description="着信表示（CTI）: 着信した番号の会員を表示します")
    parser.add_argument("--config", metavar="PATH", help="cti.ini の場所（既定: プログラムと同じフォルダ）")
    parser.add_argument("--protocol", choices=PROTOCOL_NAMES, help="装置の形式（--decode と共に、既定 auto）")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--decode", metavar="FILE", help="記録ファイルを解読し、着信を 1 行 1 件の JSON で出力")
    action.add_argument("--list-ports", action="store_true", help="見つかったシリアルポートを表示")
    action.add_argument("--lookup", metavar="NUMBER", help="その番号の会員を JSON で表示")
    action.add_argument("--import-visits", metavar="CSV", help="来店履歴を CSV（来店日, 会員番号, メニュー, 担当, 金額, メモ）から取り込む")
    action.add_argument("--demo", action="store_true", help="模擬装置と見本データで画面を試す（実データには触れません）")
    action.add_argument("--selftest", action="store_true", help="設定を読み、見本の着信を解読して終了（画面なし）")
    parser.add_argument("--version", action="version", version=f"cti {__version__}")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if sys.stdout is None or sys.stderr is None:      # the windowed cti.exe: no console to print to
        if prints_output(argv):
            error_box(NO_CONSOLE_TEXT)
            return 2
    else:
        utf8_when_redirected()
    args = parse_args(argv)
    if args.decode is not None:
        return cmd_decode(args.decode, args.protocol or "auto")
    if args.list_ports:
        return cmd_list_ports()
    config_path = Path(args.config) if args.config else app_dir() / "cti.ini"
    if args.config and not config_path.exists():
        print(f"{config_path}: 設定ファイルがありません", file=sys.stderr)
        return 2
    try:
        if args.lookup is not None:
            return cmd_lookup(args.lookup, config_path)
        if args.import_visits is not None:
            return cmd_import_visits(args.import_visits, config_path)
        if args.selftest:
            return selftest()
    except CtiError as e:
        print(e, file=sys.stderr)
        return 2
    return window_main(args, config_path)


def window_main(args, config_path: Path) -> int:
    """The window modes: a bug at start-up goes to the log and one message box, not a silent exit."""
    try:
        if args.demo:
            folder, config = demo_folder()
            setup_logging(config)
            try:
                return run_window(config, [], demo=DemoDevice())
            finally:
                logging.shutdown()
                shutil.rmtree(folder, ignore_errors=True)
        return cmd_window(config_path)
    except CtiError as e:
        error_box(str(e))
        return 2
    except Exception as e:
        log.critical("起動できませんでした", exc_info=True)
        error_box(f"cti を起動できませんでした（{type(e).__name__}: {e}）。\n詳しくは cti.log を見てください。")
        return 1


def error_box(text: str):
    """One message box, also when there is no window yet (a windowed exe has no console)."""
    print(text, file=sys.stderr)
    try:
        root = tk._default_root or tk.Tk()
        root.withdraw()
        messagebox.showerror("CTI", text, parent=root)
    except tk.TclError:
        pass                               # no display at all: the log and stderr have it


def cmd_window(config_path: Path) -> int:
    """The normal start: one instance, first-run files, logging, the window."""
    instance = SingleInstance.for_config(config_path)
    if not instance.acquire():
        instance.ask_first_to_raise()
        return 0
    config, problems = load_config(config_path)
    try:
        written = write_first_run_files(config_path, config)
        setup_logging(config)
    except OSError as e:
        cause = file_cause(e)
        raise FileError(f"{config_path.parent} に書き込めません（{e.strerror if cause == 'other' else FILE_CAUSES[cause]}）。"
                        "cti のフォルダを、書き込める場所（C:\\cti など。OneDrive のフォルダは避けます）"
                        "にコピーしてから起動してください", cause) from None
    log.info("cti %s 起動 (%s)", __version__, config_path)
    for name in written:
        log.info("初回起動: %s を作りました", name)
    for problem in problems:
        log.warning("cti.ini: %s", problem)
    return run_window(config, problems, instance=instance)


if __name__ == "__main__":
    sys.exit(main())
