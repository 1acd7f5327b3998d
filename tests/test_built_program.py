"""The program PyInstaller built, run as a salon runs it: from a copy of the release folder.

Skipped unless CTI_BUILT names the release folder (dist/cti); .ci/run builds build.spec and sets it,
so that CI fails when the built program fails. A stale dist/ is never picked up by itself.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

import cti
from conftest import poll_until
from test_sip import (PASSWORD, URL_PASSWORD, Kamailio, assert_sipp_ok, extension_url, needs_sip,
                      ring_then_cancel, sipp)

BUILT = os.environ.get("CTI_BUILT")
pytestmark = pytest.mark.skipif(not BUILT, reason="CTI_BUILT is not set: build build.spec and point it at dist/cti")
EXE = ".exe" if sys.platform == "win32" else ""
PENGUIN_ROW = "AC00001,ペンギン貴子,ぺんぎんたかこ,0596-31-0005,佐藤,カラーは 6 トーン\r\n"


@pytest.fixture
def site(tmp_path):
    """A copy of the release folder, as the IT helper puts it on the reception PC."""
    folder = tmp_path / "cti"
    shutil.copytree(BUILT, folder, symlinks=True)
    return folder


def env_for(tmp_path):
    """The lock and raise files of SingleInstance go to the temp folder: one per test."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    env.pop("PYTHONIOENCODING", None)
    return env


def run(site, program, *args, tmp_path):
    return subprocess.run([str(site / (program + EXE)), *args], cwd=site, capture_output=True,
                          env=env_for(tmp_path), timeout=120)


def window_titles(pattern):
    """Titles of the visible windows whose title matches the regular expression."""
    ids = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", pattern], capture_output=True,
                         text=True).stdout.split()
    titles = []
    for window in ids:
        name = subprocess.run(["xdotool", "getwindowname", window], capture_output=True, text=True)
        titles.append(name.stdout.strip())
    return titles


def wait_for_title(process, pattern, timeout=60.0):
    """The first title matching pattern while process runs (every title seen on the way, too)."""
    deadline = time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline and process.poll() is None:
        titles = window_titles(pattern)
        if titles:
            return titles[0], seen
        seen.update(window_titles("CTI"))
        time.sleep(0.2)
    return None, seen


@pytest.fixture
def display():
    """CTI_BUILT asks for the whole check: a missing display fails rather than skips."""
    if not os.environ.get("DISPLAY") or not shutil.which("xdotool"):
        pytest.fail("the window checks need a display (pytest-xvfb provides one) and xdotool")


def test_release_folder_is_what_a_salon_copies():
    folder = Path(BUILT)
    assert {p.name for p in folder.iterdir()} == {f"cti{EXE}", f"cti-cli{EXE}", "_internal", "cti.ini",
                                                  "members.csv", "README.txt"}
    assert (folder / "cti.ini").read_bytes() == cti.DEFAULT_INI.encode("utf-8-sig")
    assert (folder / "members.csv").read_bytes() == ("\ufeff" + ",".join(cti.MEMBERS_HEADER) + "\r\n").encode()
    with zipfile.ZipFile(folder.parent / f"cti-{cti.__version__}.zip") as archive:
        zipped = {name for name in archive.namelist() if not name.endswith("/")}
    assert zipped == {f"cti/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("program", ["cti", "cti-cli"])
def test_selftest(site, program, tmp_path):
    result = run(site, program, "--selftest", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert f"cti {cti.__version__} selftest ok" in result.stdout.decode("utf-8")


def test_lookup_through_the_console_program(site, tmp_path):
    with open(site / "members.csv", "a", encoding="utf-8", newline="") as members:    # as the salon adds one
        members.write(PENGUIN_ROW)
    result = run(site, "cti-cli", "--lookup", "0596-31-0005", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert json.loads(result.stdout.decode("utf-8")) == [
        {"member_no": "AC00001", "name": "ペンギン貴子", "kana": "ぺんぎんたかこ", "phones": ["0596310005"],
         "staff": "佐藤", "memo": "カラーは 6 トーン"}]
    assert result.stderr == b""


def test_demo_shows_a_caller_in_the_window_title(site, tmp_path, display):
    process = subprocess.Popen([str(site / f"cti{EXE}"), "--demo"], cwd=site, env=env_for(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        title, _ = wait_for_title(process, "0596-31-0005")
        assert title, f"no caller in the title; exit {process.poll()}: {process.stderr.read1() if process.poll() is not None else ''}"
        assert "ペンギン貴子" in title
    finally:
        process.kill()
        process.wait(30)
    assert sorted(p.name for p in site.iterdir()) == sorted(p.name for p in Path(BUILT).iterdir())   # demo touched nothing


class NcidServer(threading.Thread):
    """An NCID server on 127.0.0.1: banner, a replayed call log, then a live call, all the moment the
    client connects (cti must keep what arrives while pyserial opens the socket), for one client."""

    def __init__(self, live: bytes):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(60)
        self.port = self.listener.getsockname()[1]
        self.live = live
        self.served = threading.Event()

    def run(self):
        with self.listener:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with client:
                client.sendall(b"200 NCID Server: ncidd (NCID) 1.13\r\n"
                               b"CIDLOG: *DATE*11252026*TIME*0915*LINE*-*NMBR*0312345678*MESG*NONE*NAME*YAMADA*\r\n"
                               b"CIDLOG: *DATE*11252026*TIME*1002*LINE*-*NMBR*0451234567*MESG*NONE*NAME*SUZUKI*\r\n"
                               b"300 End of server startup\r\n")
                client.sendall(self.live)
                self.served.set()
                client.settimeout(60)
                try:
                    client.recv(1)              # hold the line open until cti goes
                except OSError:
                    pass


def test_live_call_from_an_ncid_server_over_socket(site, tmp_path, display):
    now = datetime.now()
    server = NcidServer(f"CID: *DATE*{now:%m%d%Y}*TIME*{now:%H%M}*LINE*-*NMBR*0596310005*MESG*NONE*NAME*PENGUIN*\r\n"
                        .encode("ascii"))
    server.start()
    ini = cti.DEFAULT_INI.replace("port = auto", f"port = socket://127.0.0.1:{server.port}") \
                         .replace("protocol = auto", "protocol = ncid")
    assert ini != cti.DEFAULT_INI
    (site / "cti.ini").write_bytes(ini.encode("utf-8-sig"))
    with open(site / "members.csv", "a", encoding="utf-8", newline="") as members:
        members.write(PENGUIN_ROW)
    process = subprocess.Popen([str(site / f"cti{EXE}")], cwd=site, env=env_for(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        title, seen = wait_for_title(process, "0596-31-0005")
        log = (site / "cti.log").read_text("utf-8") if (site / "cti.log").exists() else ""
        assert title, f"no call in the title (served: {server.served.is_set()}); log:\n{log}"
        assert "ペンギン貴子" in title
        assert not [t for t in seen if "03-1234-5678" in t or "045-123-4567" in t]   # the replayed log is history
        assert f"socket://127.0.0.1:{server.port}" in log and "接続しました" in log
    finally:
        process.kill()
        process.wait(30)


@needs_sip
def test_a_call_through_kamailio_to_the_built_programs_sip_extension(site, tmp_path, display):
    """port = sip://… from the release folder: the built cti registers to Kamailio, SIPp calls, the title shows it."""
    server = Kamailio(tmp_path).start()
    (site / "cti.ini").write_bytes(cti.DEFAULT_INI.replace("port = auto", f"port = {extension_url(server)}")
                                   .encode("utf-8-sig"))
    with open(site / "members.csv", "a", encoding="utf-8", newline="") as members:
        members.write(PENGUIN_ROW)
    process = subprocess.Popen([str(site / f"cti{EXE}")], cwd=site, env=env_for(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = site / "cti.log"
    try:
        assert poll_until(lambda: log.exists() and "に登録しました" in log.read_text("utf-8"), 60, 0.2), \
            log.read_text("utf-8") if log.exists() else f"no log; exit {process.poll()}"
        assert_sipp_ok(sipp(tmp_path, ring_then_cancel("<sip:+81596310005@127.0.0.1>"), f"127.0.0.1:{server.port}"),
                       tmp_path)
        title, _ = wait_for_title(process, "0596-31-0005")
        assert title and "ペンギン貴子" in title, log.read_text("utf-8")
        assert PASSWORD not in log.read_text("utf-8") and URL_PASSWORD not in log.read_text("utf-8")
    finally:
        process.kill()
        process.wait(30)
        server.stop()
