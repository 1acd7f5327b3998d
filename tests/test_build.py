"""What the built program needs, checked without building it: the modules cti loads by name,
build.spec's output (run with recording stand-ins for PyInstaller's build steps), the icon, and the
command line in a windowed program that has no console (real processes with closed streams)."""

import importlib
import json
import os
import pkgutil
import select
import shutil
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

import cti

ROOT = Path(__file__).resolve().parents[1]


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# modules loaded by name

def test_every_url_handler_the_installed_pyserial_ships_is_in_the_list():
    """serial_for_url imports serial.urlhandler.protocol_<scheme> by name: a handler missing from
    BY_NAME_MODULES is missing from the exe. One that cannot be imported here (protocol_cp2110
    without hidapi) cannot work in the exe either."""
    import serial.urlhandler
    for module in pkgutil.iter_modules(serial.urlhandler.__path__):
        name = f"serial.urlhandler.{module.name}"
        if name not in cti.BY_NAME_MODULES:
            with pytest.raises(ImportError):
                importlib.import_module(name)


def test_every_country_phonenumbers_loads_by_name_is_in_the_list():
    import phonenumbers.data
    # In a child: every country's metadata would otherwise stay loaded in this test process.
    child = subprocess.run([sys.executable, "-c", "import json, cti; print(json.dumps(cti.import_by_name()))"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    imported = json.loads(child.stdout)
    regions = {f"phonenumbers.data.{m.name}" for m in pkgutil.iter_modules(phonenumbers.data.__path__)
               if m.name.startswith("region_")}
    assert {"phonenumbers.data.region_JP", "phonenumbers.data.region_US"} <= regions <= set(imported)
    assert set(n for n in cti.BY_NAME_MODULES if not n.endswith(".*")) <= set(imported)


def test_import_by_name_fails_on_a_module_that_is_not_there():
    with pytest.raises(ImportError):
        cti.import_by_name(("serial.urlhandler.protocol_loop", "serial.urlhandler.protocol_nosuch"))


BLOCK_SOCKET_HANDLER = """
import runpy, sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name == "serial.urlhandler.protocol_socket":
            raise ModuleNotFoundError(name)      # as in an exe built without it
sys.meta_path.insert(0, Missing())
sys.argv = ["cti.py", "--selftest"]
runpy.run_path({cti!r}, run_name="__main__")
"""


def test_selftest_fails_when_a_handler_is_missing_from_the_program(tmp_path):
    code = BLOCK_SOCKET_HANDLER.format(cti=str(ROOT / "cti.py"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8",
                            env=dict(os.environ, PYTHONIOENCODING="utf-8"), timeout=60)
    assert result.returncode == 1
    assert "selftest: modules failed: ModuleNotFoundError" in result.stderr
    assert "selftest: ports failed" in result.stderr and "socket" in result.stderr
    assert "selftest ok" not in result.stdout


def test_selftest_opens_loop_and_socket_urls():
    cti.selftest_ports()            # raises on any failure; the built program runs the same code


def test_socket_open_keeps_what_an_ncid_server_sends_at_once(monkeypatch):
    """An NCID server sends its banner, its log and maybe a ringing call the moment a client connects.
    pyserial's open() throws away what has already arrived; here the connect returns only once the
    server has sent (the race a real network loses now and then, made certain)."""
    import socket
    sent = b"200 NCID Server: ncidd (NCID) 1.13\r\nCID: *DATE*11262026*TIME*1430*LINE*-*NMBR*0596310005*MESG*NONE*NAME*X*\r\n"
    server = socket.create_server(("127.0.0.1", 0))
    done, held = threading.Event(), []

    def serve():
        client, _ = server.accept()
        client.sendall(sent)
        held.append(client)
        done.set()
    threading.Thread(target=serve, daemon=True).start()
    connect = socket.create_connection

    def connect_then_wait(*args, **kwargs):
        sock = connect(*args, **kwargs)
        assert done.wait(10)
        deadline = time.monotonic() + 10                  # until the bytes are in our receive buffer
        while not select.select([sock], [], [], 0.05)[0] and time.monotonic() < deadline:
            pass
        return sock
    monkeypatch.setattr(socket, "create_connection", connect_then_wait)
    port = cti.open_port(f"socket://127.0.0.1:{server.getsockname()[1]}", "ncid", 9600)
    try:
        got = b""
        for _ in range(20):
            got += port.read(len(sent) - len(got))
            if len(got) == len(sent):
                break
        assert got == sent
        assert port._socket.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        port.reset_input_buffer()                         # pyserial's own again once open
        assert "reset_input_buffer" not in vars(port)
    finally:
        port.close()
        server.close()
        for client in held:
            client.close()


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# build.spec, run with stand-ins that record what it asks PyInstaller to build

class Recorder:
    def __init__(self, log, kind):
        self.log, self.kind = log, kind

    def __call__(self, *args, **kwargs):
        self.log.append((self.kind, args, kwargs))
        return type("Built", (), {"pure": [], "scripts": [], "binaries": [], "datas": []})()


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    """(calls by kind, dist folder) after running build.spec with recording stand-ins."""
    pytest.importorskip("PyInstaller", reason="PyInstaller is in requirements-test.txt")
    dist = tmp_path_factory.mktemp("dist")
    log = []
    names = {kind: Recorder(log, kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT")}
    exec(compile((ROOT / "build.spec").read_text(encoding="utf-8"), "build.spec", "exec"),
         dict(names, SPECPATH=str(ROOT), DISTPATH=str(dist), workpath=str(dist.parent / "work"),
              __name__="build_spec"))
    calls = {}
    for kind, args, kwargs in log:
        calls.setdefault(kind, []).append((args, kwargs))
    return calls, dist


def test_spec_bundles_every_module_loaded_by_name(spec):
    [(args, kwargs)] = spec[0]["Analysis"]
    hidden = set(kwargs["hiddenimports"])
    assert {n for n in cti.BY_NAME_MODULES if not n.endswith(".*")} <= hidden
    assert {"phonenumbers.data.region_JP", "phonenumbers.data.region_US", "phonenumbers.data.region_GB"} <= hidden
    assert ("cti.ico", ".") in kwargs["datas"]


def test_spec_builds_a_windowed_and_a_console_program_into_one_folder(spec):
    exes = {kwargs["name"]: kwargs for _, kwargs in spec[0]["EXE"]}
    assert set(exes) == {"cti", "cti-cli"}
    assert (exes["cti"]["console"], exes["cti-cli"]["console"]) == (False, True)
    for kwargs in exes.values():
        assert kwargs["exclude_binaries"] is True and kwargs["upx"] is False and kwargs["icon"] == "cti.ico"
    [(args, kwargs)] = spec[0]["COLLECT"]
    assert kwargs["name"] == "cti" and len(args) == 4          # both programs, one _internal


def version_info(path):
    """The version file as PyInstaller reads it on Windows (eval of the text), with stand-in classes."""
    def record(kind):
        return lambda *args, **kwargs: (kind, args, kwargs)
    kinds = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct", "VarFileInfo", "VarStruct")
    return eval(Path(path).read_text(encoding="utf-8"), {kind: record(kind) for kind in kinds})


def test_spec_version_resource_comes_from_the_version_constant(spec):
    exes = {kwargs["name"]: kwargs for _, kwargs in spec[0]["EXE"]}
    _, _, info = version_info(exes["cti"]["version"])
    numbers = tuple(int(n) for n in cti.__version__.split("."))
    numbers += (0,) * (4 - len(numbers))
    assert info["ffi"][2]["filevers"] == info["ffi"][2]["prodvers"] == numbers
    [(_, ([(_, (language, structs), _)],), _), (_, ([(_, translation, _)],), _)] = info["kids"]
    strings = dict(struct[1] for struct in structs)
    assert language == "041104B0" and translation == ("Translation", [0x0411, 1200])
    assert strings["FileDescription"] == "着信表示 CTI" and strings["CompanyName"] == "cti"
    assert strings["FileVersion"] == strings["ProductVersion"] == cti.__version__
    assert strings["OriginalFilename"] == "cti.exe"
    cli = version_info(exes["cti-cli"]["version"])[2]
    assert ("OriginalFilename", "cti-cli.exe") in [s[1] for s in cli["kids"][0][1][0][0][1][1]]


def test_pyinstaller_reads_the_version_file_into_a_resource(spec, monkeypatch):
    """PyInstaller's own loader (run on Windows by EXE) turns the file into the binary resource.
    Off Windows its module wants pywin32's win32api, which the loader does not use: a stand-in."""
    import PyInstaller.compat
    if sys.platform != "win32":
        monkeypatch.setattr(PyInstaller.compat, "win32api", object(), raising=False)
    versioninfo = pytest.importorskip("PyInstaller.utils.win32.versioninfo")
    exes = {kwargs["name"]: kwargs for _, kwargs in spec[0]["EXE"]}
    raw = versioninfo.load_version_info_from_text_file(exes["cti"]["version"]).toRaw()
    for text in ("着信表示 CTI", cti.__version__, "cti.exe", "FileDescription"):
        assert text.encode("utf-16-le") in raw, text


def test_release_folder_holds_what_a_salon_edits_fresh_from_cti_py(spec):
    release = spec[1] / "cti"
    assert (release / "cti.ini").read_bytes() == cti.DEFAULT_INI.encode("utf-8-sig")
    assert (release / "members.csv").read_bytes() == "\ufeff会員番号,名前,ふりがな,電話番号,主担当,メモ\r\n".encode()
    table = cti.MemberTable(release / "members.csv").load()
    assert table.members == [] and table.problems == []        # no sample people in what a salon gets


def test_quick_start_is_plain_japanese_text_for_notepad(spec):
    raw = (spec[1] / "cti" / "README.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                          # UTF-8 with BOM
    assert raw.count(b"\n") == raw.count(b"\r\n") > 20              # CRLF only
    text = raw.decode("utf-8-sig")
    for words in ("C:\\cti", "すべて展開", "許可する", "OneDrive", "Program Files", "デバイス マネージャー",
                  "CH340", "shell:startup", "ファイアウォール", "cti-cli.exe --lookup", "cti.db", "バックアップ"):
        assert words in text, words
    assert "**" not in text and "`" not in text and "<!--" not in text


def test_release_zip_is_the_folder(spec):
    dist = spec[1]
    with zipfile.ZipFile(dist / f"cti-{cti.__version__}.zip") as archive:
        names = set(archive.namelist())
        assert {"cti/cti.ini", "cti/members.csv", "cti/README.txt"} <= names
        assert archive.read("cti/cti.ini") == (dist / "cti" / "cti.ini").read_bytes()


def test_windows_workflow_builds_and_runs_the_programs():
    """The workflow's syntax is actionlint's job (.ci/run); this pins what it must do."""
    workflow = (ROOT / ".github" / "workflows" / "windows.yml").read_text(encoding="utf-8")
    for words in ("runs-on: windows-latest", 'python-version: "3.12"', "-r requirements.txt -r requirements-test.txt",
                  "python -m pytest", "PyInstaller --noconfirm --clean build.spec", "cti.exe\" -ArgumentList '--selftest'",
                  "cti-cli.exe\" --lookup", "actions/upload-artifact", "dist/cti-*.zip", "refs/tags/v",
                  "gh release create"):
        assert words in workflow, words


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the icon

def test_icon_has_the_sizes_windows_asks_for_and_small_ones_as_bmp():
    """16/20/24/32/40/48 px are what the title bar, taskbar and Alt-Tab use at 100-200 % scaling;
    entries up to 64 px are stored as BMP (every Windows and Tk read them), 256 px as PNG."""
    data = (ROOT / "cti.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1)
    entries = {}
    for index in range(count):
        width, _, _, _, _, bits, size, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * index)
        entries[width or 256] = (bits, data[offset:offset + 4] == b"\x89PNG")
    assert {16, 20, 24, 32, 40, 48, 256} <= set(entries)
    assert all(bits == 32 and not png for width, (bits, png) in entries.items() if width <= 64)
    assert entries[256][1]                                          # the PNG entry X11 uses


def test_window_gets_the_icon():
    if not os.environ.get("DISPLAY") or not shutil.which("xprop") or not shutil.which("xdotool"):
        pytest.skip("needs a display (pytest-xvfb), xdotool and xprop")
    import tkinter as tk
    root = tk.Tk()
    try:
        root.title("cti-icon-test")
        cti.apply_icon(root)
        root.update()
        [window] = subprocess.run(["xdotool", "search", "--name", "^cti-icon-test$"], capture_output=True,
                                  text=True).stdout.split()
        icon = subprocess.run(["xprop", "-id", window, "-notype", "-len", "8", "_NET_WM_ICON"],
                              capture_output=True, text=True).stdout
        assert "Icon (256 x 256)" in icon                       # Tk's feather would be its own small one
    finally:
        root.destroy()


# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
# the command line without a console (cti.exe is windowed: stdin, stdout, stderr are None)

@pytest.mark.parametrize("argv, prints", [
    (["--lookup", "0596310005"], True), (["--list-ports"], True), (["--decode", "-"], True),
    (["--import-visits", "a.csv"], True), (["--help"], True), (["--version"], True), (["--nosuch"], True),
    ([], False), (["--demo"], False), (["--selftest"], False), (["--config", "x.ini"], False),
])
def test_prints_output(argv, prints, monkeypatch):
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    assert cti.prints_output(argv) is prints
    assert (sys.stdout, sys.stderr) == (None, None)


posix_shell = pytest.mark.skipif(sys.platform == "win32", reason="closes the streams with sh's <&- >&- (POSIX)")


def closed_streams(*args, display=False, tmp_path):
    """cti.py run with stdin, stdout and stderr closed, as Windows starts a windowed exe."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    if not display:
        env.pop("DISPLAY", None)
    command = " ".join(f"'{a}'" for a in (sys.executable, str(ROOT / "cti.py"), *args))
    return subprocess.Popen(["sh", "-c", f"exec {command} <&- >&- 2>&-"], env=env, cwd=tmp_path)


@posix_shell
def test_command_line_mode_without_a_console_exits_2_and_writes_nothing(tmp_path):
    process = closed_streams("--lookup", "0596310005", tmp_path=tmp_path)
    assert process.wait(60) == 2                                    # no display: the box cannot show either
    assert list(tmp_path.iterdir()) == []


@posix_shell
def test_selftest_without_a_console_still_runs(tmp_path):
    assert closed_streams("--selftest", tmp_path=tmp_path).wait(60) == 0


@posix_shell
def test_command_line_mode_without_a_console_shows_a_box_naming_cti_cli(tmp_path):
    if not os.environ.get("DISPLAY") or not shutil.which("xdotool"):
        pytest.skip("needs a display (pytest-xvfb) and xdotool")
    process = closed_streams("--list-ports", display=True, tmp_path=tmp_path)
    try:
        deadline = time.monotonic() + 30
        found = ""
        while not found and time.monotonic() < deadline and process.poll() is None:
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^CTI$"],
                                   capture_output=True, text=True).stdout.split()
            found = found[0] if found else ""
            time.sleep(0.1)
        assert found, "no message box came up"
        subprocess.run(["xdotool", "key", "--window", found, "Return"], check=True)
        assert process.wait(30) == 2
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@posix_shell
def test_decode_from_a_missing_stdin_says_so(tmp_path):
    result = subprocess.run(f"exec '{sys.executable}' '{ROOT / 'cti.py'}' --decode - <&-", shell=True,
                            capture_output=True, env=dict(os.environ, PYTHONIOENCODING="utf-8"), timeout=60)
    assert result.returncode == 2
    assert "標準入力がありません" in result.stderr.decode("utf-8") and result.stdout == b""


def test_redirected_output_is_utf8_for_names_outside_cp932(tmp_path):
    """A redirected cti-cli.exe on Japanese Windows would encode in CP932, which has no 𠮷."""
    (tmp_path / "cti.ini").write_text("[files]\nmembers = members.csv\n", encoding="utf-8")
    (tmp_path / "members.csv").write_bytes("会員番号,名前,電話番号\r\nA1,𠮷田花子,0596-31-0005\r\n".encode("utf-8-sig"))
    result = subprocess.run([sys.executable, str(ROOT / "cti.py"), "--lookup", "0596310005",
                             "--config", str(tmp_path / "cti.ini")], capture_output=True, timeout=60,
                            env=dict(os.environ, PYTHONIOENCODING="cp932"))
    assert result.returncode == 0, result.stderr
    assert [m["name"] for m in json.loads(result.stdout.decode("utf-8"))] == ["𠮷田花子"]
