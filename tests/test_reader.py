"""DeviceReader through real pseudo-terminals, TCP (NCID), UDP (CallerID.com) and loop://.

The test plays the device: it writes to the pty master (or serves the socket) and reads what the
reader sends back. Waiting is always queue.get(timeout=...) or select() with a timeout.
"""

import os
import queue
import select
import socket
import threading
import time
import types
from datetime import datetime

import pytest
import serial
import serial.tools.list_ports
import serial.tools.list_ports_common

import cti
from conftest import poll_until
from conftest import Events, FakeClock, FakeMonotonic, aloha_record

BACKOFF = (0.05, 0.1)
NOW = datetime(2026, 11, 25, 12, 0)
WAIT = 5.0                  # the longest any single event may take; normally milliseconds


fixed_now = FakeClock(NOW)


@pytest.fixture
def start_reader():
    """start_reader(port, protocol, **config) -> (reader, Events); every reader is stopped at teardown."""
    readers = []

    def start(port, protocol="nd", opener=cti.open_port, now=fixed_now, clock=time.monotonic, backoff=BACKOFF,
              keepalive_after=cti.KEEPALIVE_AFTER, **config):
        q = queue.Queue()
        reader = cti.DeviceReader(cti.Config(port=str(port), protocol=protocol, **config), q,
                                  opener=opener, backoff=backoff, now=now, probe_seconds=0.3, clock=clock,
                                  keepalive_after=keepalive_after)
        readers.append((reader, q))
        reader.start()
        return reader, Events(q)

    yield start
    for reader, q in readers:
        reader.stop()
        assert not reader.is_alive()


def read_master(fd, size, timeout=WAIT) -> bytes:
    """Exactly `size` bytes the reader wrote to the port (fewer only on timeout)."""
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < size:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        got += os.read(fd, size - len(got))
    return got


def nothing_written(fd) -> bool:
    return not select.select([fd], [], [], 0)[0]


def point(link, target):
    """(Re)point the symlink `link` at `target` in one step, as a device node reappearing would."""
    tmp = link.with_name(link.name + ".new")
    os.symlink(target, tmp)
    os.replace(tmp, link)


###############################################################################
# Serial ports (pty)

def test_calls_arrive_as_call_events_after_connected(pty_pair, start_reader, nd_frame):
    master, path = pty_pair
    before = datetime.now()
    reader, events = start_reader(path, "nd", now=datetime.now)
    events.status("connected")
    assert events.states() == ["connecting", "connected"]
    assert all(e.port == path for e in events.seen)
    os.write(master, b"\x00\xff noise " + nd_frame([(0x02, b"0312345678")]))
    call = events.call()
    assert (call.number, call.reason, call.name, call.time, call.protocol) == ("0312345678", None, None, None, "nd")
    assert isinstance(call.received, datetime) and before <= call.received <= datetime.now()
    frame = nd_frame([(0x04, b"P")]) + nd_frame([(0x02, b"09087654321")])
    os.write(master, frame[:9])
    os.write(master, frame[9:])
    assert [(c.number, c.reason) for c in (events.call(), events.call())] == [(None, "private"), ("09087654321", None)]
    assert nothing_written(master)                 # no init commands, no replies for a raw ND decoder


def test_unplug_is_lost_then_missing_and_retried(pty_pair, start_reader, nd_frame):
    master, path = pty_pair
    reader, events = start_reader(path, "nd")
    events.status("connected")
    os.write(master, nd_frame([(0x02, b"0451234567")]))
    assert events.call().number == "0451234567"
    os.close(master)                               # the USB cable is pulled: the pty goes away
    lost = events.status("lost")
    assert lost.port == path
    first = events.status("missing")
    events.status("missing")                       # and again: the reader keeps retrying
    assert path in first.text
    assert f"（{BACKOFF[0]} 秒後に" in first.text      # a loss starts the back-off table from its first delay
    assert reader.is_alive()
    after = events.states()[events.states().index("lost") + 1:]
    assert set(after) == {"connecting", "missing"}     # each retry: connecting, then missing; never connected


def test_unplugged_device_is_picked_up_again_at_the_same_path(tmp_path, make_pty, start_reader, nd_frame):
    master, slave = make_pty()
    link = tmp_path / "ttyCTI"
    point(link, slave)
    reader, events = start_reader(link, "nd")
    events.status("connected")
    os.write(master, nd_frame([(0x02, b"0312345678")]))
    assert events.call().number == "0312345678"

    os.close(master)
    events.status("lost")
    events.status("missing")
    master2, slave2 = make_pty()                   # plugged in again: a new device behind the same name
    assert slave2 != slave
    point(link, slave2)
    events.status("connected")
    os.write(master2, nd_frame([(0x02, b"0596310005")]))
    assert events.call().number == "0596310005"
    assert reader.is_alive()
    assert [c.number for c in events.calls()] == ["0312345678", "0596310005"]
    assert {e.port for e in events.seen if isinstance(e, cti.Status)} == {str(link)}


def test_a_port_missing_at_start_is_retried_until_it_appears(tmp_path, make_pty, start_reader, nd_frame):
    link = tmp_path / "ttyUSB9"
    reader, events = start_reader(link, "nd")
    events.status("missing")
    events.status("missing")
    assert "connected" not in events.states()
    master, slave = make_pty()
    point(link, slave)
    events.status("connected")
    os.write(master, nd_frame([(0x04, b"C")]))
    call = events.call()
    assert (call.number, call.reason) == (None, "payphone")


def test_aloha_handshake(pty_pair, start_reader):
    master, path = pty_pair
    reader, events = start_reader(path, "aloha")
    events.status("connected")

    os.write(master, aloha_record("112431015" "0120444555"))
    assert read_master(master, 1) == b"\x06"                       # ACK
    call = events.call()
    assert (call.number, call.time, call.protocol) == ("0120444555", datetime(2026, 11, 24, 10, 15), "aloha")

    os.write(master, aloha_record("112431020" "09087654321", flip=5))   # one byte with odd parity
    assert read_master(master, 1) == b"\x95"                       # NAK (0x15 with even parity)
    os.write(master, aloha_record("112431020" "09087654321"))      # the adapter sends it again
    assert read_master(master, 1) == b"\x06"
    os.write(master, aloha_record("112431020" "09087654321"))      # ... and repeats it (our ACK "got lost")
    assert read_master(master, 1) == b"\x06"
    os.write(master, aloha_record("112431025E"))                   # reception error: ACKed, not a call
    assert read_master(master, 1) == b"\x06"
    os.write(master, aloha_record("112431030P"))                   # a last call marks the end
    assert read_master(master, 1) == b"\x06"
    events.wait(lambda e: isinstance(e, cti.Call) and e.reason == "private", what="the private call")
    assert [(c.number, c.reason, c.time) for c in events.calls()] == [
        ("0120444555", None, datetime(2026, 11, 24, 10, 15)),
        ("09087654321", None, datetime(2026, 11, 24, 10, 20)),     # exactly once
        (None, "private", datetime(2026, 11, 24, 10, 30))]
    assert nothing_written(master)


def test_modem_init_commands_and_idle_flush(pty_pair, start_reader):
    master, path = pty_pair
    reader, events = start_reader(path, "modem")
    assert read_master(master, len(b"ATZ\rAT+VCID=1\r")) == b"ATZ\rAT+VCID=1\r"
    os.write(master, b"\r\nOK\r\n\r\nOK\r\n")
    events.status("connected")
    # a caller-ID block with no RING after it: the read timeout completes it
    os.write(master, b"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = 0451234567\r\nNAME = TANAKA\r\n")
    call = events.call(timeout=2.0)
    assert (call.number, call.name, call.time, call.protocol) == \
           ("0451234567", "TANAKA", datetime(2026, 11, 24, 10, 15), "modem")
    os.write(master, b"RING\r\n\r\nRING\r\n\r\nDATE=1124\r\nTIME=1016\r\nNMBR=P\r\n\r\nRING\r\n")
    call = events.call()
    assert (call.number, call.reason, call.time) == (None, "private", datetime(2026, 11, 24, 10, 16))
    assert len(events.calls()) == 2                # the rings of the first call were no second call


def test_modem_init_commands_come_from_the_config(pty_pair, start_reader):
    master, path = pty_pair
    reader, events = start_reader(path, "modem", init=("AT&F", "AT+GCI=00", "AT#CID=1"))
    expected = b"AT&F\rAT+GCI=00\rAT#CID=1\r"
    assert read_master(master, len(expected)) == expected
    events.status("connected")


def test_auto_protocol_on_a_named_port_sends_no_at_commands_then_detects_the_format(pty_pair, start_reader, nd_frame):
    master, path = pty_pair
    reader, events = start_reader(path, "auto")
    events.status("connected")
    assert nothing_written(master)                  # not a modem, as far as anyone knows: no ATZ to a printer
    os.write(master, b"\x00\x13\xfe" + nd_frame([(0x02, b"0467123456")]))
    call = events.call()
    assert (call.number, call.protocol) == ("0467123456", "nd")      # the format auto detection settled on
    os.write(master, nd_frame([(0x04, b"O")]))
    call = events.call()
    assert (call.reason, call.protocol) == ("out_of_area", "nd")
    assert nothing_written(master)


def test_auto_protocol_on_a_named_port_windows_calls_a_modem_sends_the_init(monkeypatch, pty_pair, start_reader):
    master, path = pty_pair
    PortsFound(monkeypatch).add(path, "Conexant USB CX93010 ACF Modem", "USB VID:PID=0572:1329")
    reader, events = start_reader(path, "auto")
    assert read_master(master, len(b"ATZ\rAT+VCID=1\r")) == b"ATZ\rAT+VCID=1\r"
    events.status("connected")


def test_modem_ring_only_cycle_after_a_call_through_a_pty(pty_pair, start_reader):
    """Hidden-check shape: a call, then (past the repeat window) a ring cycle with no caller ID,
    then another call: exactly the two calls sent come out, the first never again."""
    master, path = pty_pair
    clock = FakeMonotonic()
    reader, events = start_reader(path, "modem", init=(), clock=clock)
    events.status("connected")
    os.write(master, b"RING\r\n\r\nDATE = 1124\r\nTIME = 1015\r\nNMBR = 0451234567\r\nNAME = TANAKA\r\n\r\n")
    assert events.call().number == "0451234567"
    clock.t += 60                                   # far past the repeat window
    os.write(master, b"RING\r\n\r\nRING\r\n\r\nRING\r\n")   # nobody's number: a line with no caller ID
    clock.t += 60
    os.write(master, b"RING\r\n\r\nDATE = 1124\r\nTIME = 1030\r\nNMBR = 0596310005\r\n\r\n")
    assert events.call().number == "0596310005"
    assert [c.number for c in events.calls()] == ["0451234567", "0596310005"]


def test_busy_port_is_reported_as_busy(start_reader):
    def opener(url, protocol, baudrate):
        raise serial.SerialException(f"[Errno 16] could not open port {url}: [Errno 16] Device or resource busy")

    reader, events = start_reader("/dev/ttyUSB0", "nd", opener=opener)
    busy = events.status("busy")
    events.status("busy")
    assert "他のプログラムが使っています" in busy.text


###############################################################################
# Network devices

NCID_STARTUP = (b"200 Server: ncidd (NCID) 1.13\r\n210 API: 1.11 Feature Set 1 2 3 4\r\n"
                b"CIDLOG: *DATE*11232026*TIME*1700*LINE*-*NMBR*05099998888*MESG*NONE*NAME*NO NAME*\r\n"
                b"250 End of call log\r\nOPT: hangup-1\r\n300 End of connection startup\r\n")


def ncid_cid(number, hhmm):
    return f"CID: *DATE*11242026*TIME*{hhmm}*LINE*-*NMBR*{number}*MESG*NONE*NAME*NO NAME*\r\n".encode()


def test_ncid_over_tcp_with_reconnects(start_reader):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT)
    port = listener.getsockname()[1]
    url = f"socket://127.0.0.1:{port}"
    try:
        reader, events = start_reader(url, "ncid")
        conn, _ = listener.accept()
        events.status("connected")
        conn.sendall(NCID_STARTUP + ncid_cid("09087654321", "1405"))
        call = events.call()                        # the CIDLOG history line before it was no call
        assert (call.number, call.time, call.protocol) == ("09087654321", datetime(2026, 11, 24, 14, 5), "ncid")

        conn.close()                                # the server drops the connection
        assert events.status("lost").port == url
        conn, _ = listener.accept()                 # ... and takes the reconnect
        events.status("connected")
        conn.sendall(NCID_STARTUP + ncid_cid("PRIVATE", "1410"))
        call = events.call()
        assert (call.number, call.reason) == (None, "private")

        listener.close()                            # the server goes away altogether
        conn.close()
        events.status("lost")
        missing = events.status("missing")
        assert "127.0.0.1" in missing.text
        listener = socket.create_server(("127.0.0.1", port))   # back on the same port
        listener.settimeout(WAIT)
        conn, _ = listener.accept()
        events.status("connected")
        conn.sendall(NCID_STARTUP + ncid_cid("0120444555", "1415"))
        assert events.call().number == "0120444555"
        assert [c.number or c.reason for c in events.calls()] == ["09087654321", "private", "0120444555"]
        conn.close()
    finally:
        listener.close()


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_whozz_over_udp(start_reader):
    port = free_udp_port()
    reader, events = start_reader(f"udp://127.0.0.1:{port}", "whozz")
    events.status("connected")
    header = b"^^<U>000001<S>345678$"
    datagrams = [
        b"01 I S 0000 G A1 11/24 03:20 PM 0451234567     TANAKA         ",
        b"01 I S 0000 G A1 11/24 03:20 PM 0451234567     TANAKA         ",     # the unit repeats itself
        b"01 R             11/24 15:20:31",
        b"01 I E 0042 G A2 11/24 03:21 PM 0451234567     TANAKA         ",
        b"01 I S 0000 G A1 11/24 03:50 PM 09087654321                   ",
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for record in datagrams:
            sender.sendto(header + record, ("127.0.0.1", port))          # no newline, as the units send
    events.wait(lambda e: isinstance(e, cti.Call) and e.number == "09087654321", what="the last call")
    assert [(c.number, c.name, c.time, c.protocol) for c in events.calls()] == [
        ("0451234567", "TANAKA", datetime(2026, 11, 24, 15, 20), "whozz"),
        ("09087654321", None, datetime(2026, 11, 24, 15, 50), "whozz")]


def test_udp_port_in_use_is_busy(start_reader):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        reader, events = start_reader(f"udp://127.0.0.1:{port}", "whozz")
        assert "他のプログラム" in events.status("busy").text


def test_loop_url(start_reader, nd_frame):
    ports = []

    def opener(url, protocol, baudrate):
        port = cti.open_port(url, protocol, baudrate)
        ports.append(port)
        return port

    reader, events = start_reader("loop://", "nd", opener=opener)
    events.status("connected")
    assert len(ports) == 1 and ports[0].timeout == cti.IDLE_TIMEOUT
    ports[0].write(nd_frame([(0x02, b"05012345678")]))    # what is written comes back to the reader
    call = events.call()
    assert (call.number, call.received) == ("05012345678", NOW)


def test_stop_reports_stopped(pty_pair, start_reader, wait_for):
    master, path = pty_pair
    reader, events = start_reader(path, "nd")
    events.status("connected")
    reader.stopping.set()                          # what stop() does, without its join
    assert wait_for(lambda: not reader.is_alive(), timeout=2.0)
    events.status("stopped", timeout=0.5)
    assert events.queue.empty()


###############################################################################
# Pieces of the reader

def test_port_settings():
    assert cti.port_settings("aloha", 1200)["baudrate"] == 9600           # the adapter's fixed speed
    assert cti.port_settings("modem", 1200) == {"baudrate": 1200, "timeout": cti.IDLE_TIMEOUT, "write_timeout": 1}


NOT_RESPONDING = "装置が応答しません。USB を抜き差ししてください"


@pytest.mark.parametrize("url, error, state", [
    # Windows, as pyserial 3.5 words it: "could not open port {!r}: {!r}".format(port, ctypes.WinError())
    ("COM3", "could not open port 'COM3': PermissionError(13, 'アクセスが拒否されました。', None, 5)", "busy"),
    ("COM3", "could not open port 'COM3': PermissionError(13, 'Access is denied.', None, 5)", "busy"),
    ("COM3", "could not open port 'COM3': PermissionError(13, 'プロセスはファイルにアクセスできません。"
             "別のプロセスが使用中です。', None, 32)", "busy"),
    ("COM3", "could not open port 'COM3': FileNotFoundError(2, 'The system cannot find the file specified.', None, 2)",
     "missing"),
    ("COM3", "could not open port 'COM3': FileNotFoundError(2, '指定されたファイルが見つかりません。', None, 2)", "missing"),
    ("COM3", "could not open port 'COM3': FileNotFoundError(2, 'The system cannot find the path specified.', None, 3)",
     "missing"),
    ("COM3", "could not open port 'COM3': PermissionError(13, 'A device attached to the system is not functioning.', "
             "None, 31)", "no_response"),
    ("COM3", "could not open port 'COM3': PermissionError(13, 'システムに接続されたデバイスが機能していません。', None, 31)",
     "no_response"),
    ("COM5", "could not open port 'COM5': OSError(22, 'The semaphore timeout period has expired.', None, 121)",
     "no_response"),
    ("COM5", "could not open port 'COM5': OSError(22, 'セマフォがタイムアウトしました。', None, 121)", "no_response"),
    ("COM3", "could not open port 'COM3': OSError(22, 'The device is not connected.', None, 1167)", "no_response"),
    ("COM3", "could not open port 'COM3': OSError(22, 'The parameter is incorrect.', None, 87)", "no_response"),
    ("COM3", "could not open port 'COM3': OSError(22, 'The device does not recognize the command.', None, 22)",
     "no_response"),
    ("COM3", "Cannot configure port, something went wrong. Original message: "
             "PermissionError(13, 'A device attached to the system is not functioning.', None, 31)", "no_response"),
    # Linux
    ("/dev/ttyUSB0", "[Errno 2] could not open port /dev/ttyUSB0: [Errno 2] No such file or directory", "missing"),
    ("/dev/ttyUSB0", "[Errno 16] could not open port /dev/ttyUSB0: [Errno 16] Device or resource busy", "busy"),
    ("/dev/ttyUSB0", "[Errno 13] could not open port /dev/ttyUSB0: [Errno 13] Permission denied: '/dev/ttyUSB0'",
     "busy"),
    ("/dev/ttyUSB0", "[Errno 5] could not open port /dev/ttyUSB0: [Errno 5] Input/output error", "no_response"),
    ("socket://192.168.1.20:3333", "Could not open port socket://192.168.1.20:3333: [Errno 111] Connection refused",
     "missing"),
    # words only: the fallback
    ("COM3", "could not open port COM3: access is denied", "busy"),
])
def test_describe_port_error(url, error, state):
    got_state, text = cti.describe_port_error(url, serial.SerialException(error))
    assert got_state == state
    assert ("192.168.1.20:3333" if url.startswith("socket://") else url) in text
    assert (NOT_RESPONDING in text) == (state == "no_response")
    assert ("他のプログラム" in text) == (state == "busy")


@pytest.mark.parametrize("text, state", [
    ("PermissionError(13, 'x', None, 5)", "busy"),
    ("PermissionError(13, 'x', None, 31)", "no_response"),       # a PermissionError, yet no other program
    ("OSError(22, \"the device's gone, None, 5) - oh\", None, 121)", "no_response"),   # repr's quotes
    ("OSError(22, \"can't\", None, 2)", "missing"),
    ("[Errno 16] busy", "busy"),
    ("something else", None),
])
def test_port_error_state_reads_the_number_first(text, state):
    assert cti.port_error_state(text) == state


def test_udp_socket_options_windows_takes_the_port_exclusively():
    windows = types.SimpleNamespace(SOL_SOCKET=0xFFFF, SO_REUSEADDR=4, SO_EXCLUSIVEADDRUSE=-5)
    assert cti.udp_socket_options(windows) == [(0xFFFF, -5, 1)]            # no SO_REUSEADDR there
    posix = types.SimpleNamespace(SOL_SOCKET=1, SO_REUSEADDR=2)
    assert cti.udp_socket_options(posix) == [(1, 2, 1)]


def test_udp_url_must_name_a_port():
    with pytest.raises(serial.SerialException, match="udp://:3520"):
        cti.UdpPort("udp://127.0.0.1")


###############################################################################
# port = auto

class PortsFound:
    """What serial.tools.list_ports.comports() reports: the OS's list of ports, here our ptys."""

    def __init__(self, monkeypatch):
        self.ports = []
        monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: list(self.ports))

    def add(self, device, description, hwid="n/a"):
        info = serial.tools.list_ports_common.ListPortInfo(device, skip_link_detection=True)
        info.description, info.hwid = description, hwid
        self.ports.append(info)


def answer_ok(master):
    """Play a modem: answer the init commands with OK."""
    got = read_master(master, len(b"ATZ\rAT+VCID=1\r"))
    assert got == b"ATZ\rAT+VCID=1\r"
    os.write(master, b"ATZ\r\r\nOK\r\nAT+VCID=1\r\r\nOK\r\n")


def test_auto_port_keeps_the_one_that_answers(monkeypatch, make_pty, start_reader):
    found = PortsFound(monkeypatch)
    silent_master, silent = make_pty()
    modem_master, modem = make_pty()
    found.add(silent, "Communications Port (COM1)")
    found.add(modem, "USB Modem (COM4)", "USB VID:PID=0572:1340")
    reader, events = start_reader("auto", "auto")
    answer_ok(modem_master)
    connected = events.status("connected")
    assert connected.port == modem and modem in connected.text
    os.write(modem_master, b"RING\r\n\r\nDATE = 1125\r\nTIME = 1130\r\nNMBR = 0596310005\r\n\r\n")
    assert events.call().number == "0596310005"


def test_auto_port_keeps_only_the_last_patience_of_bytes_heard_while_probing(monkeypatch, make_pty, start_reader):
    """A port that streams noise while probed (a receipt printer's status bytes) holds at most
    AutoDecoder.PATIENCE bytes, and the device found after it is still found by its first call."""
    found = PortsFound(monkeypatch)
    master, path = make_pty()
    found.add(path, "USB Serial Port (COM3)", "USB VID:PID=0403:6001")
    heard = []
    real_answered = cti.answered
    monkeypatch.setattr(cti, "answered", lambda data, asked: heard.append(len(data)) or real_answered(data, asked))
    reader, events = start_reader("auto", "auto")
    noise = bytes(range(0x80, 0x100)) * 16                      # 2 KiB that no signature begins
    assert poll_until(lambda: heard, WAIT)                      # listening (the open flushed what came before)
    for _ in range(6):
        os.write(master, noise)
        assert poll_until(lambda: heard and heard[-1] >= len(noise), WAIT), heard[-5:]
        heard.clear()
    os.write(master, b"RING\r\n\r\nDATE = 1125\r\nTIME = 1130\r\nNMBR = 0596310005\r\n\r\n")
    events.status("connected")
    assert events.call().number == "0596310005"
    assert max(heard) <= cti.AutoDecoder.PATIENCE


def test_auto_port_never_calls_a_silent_port_connected_and_takes_the_one_whose_first_call_comes(
        monkeypatch, make_pty, start_reader):
    found = PortsFound(monkeypatch)
    builtin_master, builtin = make_pty()
    adapter_master, adapter = make_pty()
    found.add(builtin, "Communications Port (COM1)", "ACPI\\PNP0501\\1")
    found.add(adapter, "Prolific USB-to-Serial Comm Port (COM3)", "USB VID:PID=067B:2303")
    reader, events = start_reader("auto", "auto")
    silent = events.wait(lambda e: isinstance(e, cti.Status) and "応答する装置がありません" in e.text, what="silent")
    assert silent.state != "connected" and adapter in silent.text and builtin in silent.text
    assert silent.text.index(adapter) < silent.text.index(builtin)          # the known adapter chip first
    assert "connected" not in events.states()
    os.write(adapter_master, bytes(cti.even_parity(b) for b in b"\x02" + b"112521130" + b"0596310005\x03"))
    connected = events.status("connected")
    assert connected.port == adapter
    call = events.call()                                              # the first call is not lost
    assert (call.number, call.protocol) == ("0596310005", "aloha")
    assert read_master(adapter_master, 1) == b"\x06"                  # and the adapter gets its ACK
    assert nothing_written(builtin_master)                            # no AT commands to a printer


def test_auto_port_with_no_port_at_all_says_what_to_check(monkeypatch, start_reader):
    PortsFound(monkeypatch)
    reader, events = start_reader("auto", "auto")
    missing = events.status("missing")
    assert "着信表示装置が見つかりません" in missing.text and "デバイス マネージャー" in missing.text
    assert "port =" in missing.text
    events.status("missing")                                          # and it keeps looking


def test_back_off_past_its_table_keeps_the_reader_alive_waits_the_last_delay_then_opens(pty_pair, start_reader,
                                                                                       nd_frame):
    """An adapter unplugged for longer than the table reaches (or a COM port another program holds):
    every failure past the table's end waits its last delay, and the port opens once it can."""
    master, path = pty_pair
    backoff = (0.01, 0.02, 0.03)
    failures = 7                        # more than the table has entries
    opened = []

    def opener(url, protocol, baudrate):
        opened.append(time.monotonic())
        if len(opened) <= failures:
            raise serial.SerialException(f"[Errno 2] could not open port {url}: [Errno 2] No such file or directory")
        return cti.open_port(url, protocol, baudrate)

    reader, events = start_reader(path, "nd", opener=opener, backoff=backoff)
    events.status("connected")
    retries = [e.text for e in events.seen if isinstance(e, cti.Status) and e.health == "retrying"]
    delays = [float(t.split("（")[-1].split(" 秒後")[0]) for t in retries]
    assert delays == [0.01, 0.02, 0.03, 0.03, 0.03, 0.03, 0.03]
    waited = [b - a for a, b in zip(opened, opened[1:])]
    assert all(w >= d for w, d in zip(waited, delays))          # each delay really waited
    os.write(master, nd_frame([(0x02, b"0451234567")]))
    assert events.call().number == "0451234567"
    assert reader.is_alive()


def test_every_state_a_source_reports_has_one_of_the_five_health_words():
    states = {"connecting", "connected", "missing", "busy", "no_response", "lost", "stopped", "refused"}
    assert {cti.Status(s, "").health for s in states} == {"connecting", "connected", "retrying", "lost", "stopped"}


def test_default_back_off_is_one_two_five_ten_seconds():
    assert cti.BACKOFF == (1, 2, 5, 10)


@pytest.mark.parametrize("source", ["serial", "ncid", "udp"])
def test_every_source_reports_health_in_the_same_words(source, pty_pair, start_reader, nd_frame):
    """connecting, connected, lost, retrying: a COM port, an NCID server and a UDP port alike."""
    master, path = pty_pair
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT)
    udp_port = free_udp_port()
    url = {"serial": path, "ncid": f"socket://127.0.0.1:{listener.getsockname()[1]}",
           "udp": f"udp://127.0.0.1:{udp_port}"}[source]
    fail_next = []

    def opener(url, protocol, baudrate):
        if fail_next:
            raise serial.SerialException(fail_next.pop())
        port = cti.open_port(url, protocol, baudrate)
        if source == "udp":             # a UDP port has no peer to lose: the test pulls it as a driver would
            read = port.read
            port.read = lambda size=1: (_ for _ in ()).throw(OSError(9, "Bad file descriptor")) \
                if lose.is_set() else read(size)
        return port

    lose = threading.Event()
    try:
        reader, events = start_reader(url, {"serial": "nd", "ncid": "ncid", "udp": "whozz"}[source], opener=opener)
        events.status("connected")
        conn = listener.accept()[0] if source == "ncid" else None
        fail_next.append("[Errno 2] could not open port: [Errno 2] No such file or directory")
        if source == "serial":
            os.write(master, b"\x00")           # any byte; then the cable is pulled
            os.close(master)
        elif source == "ncid":
            conn.close()
        else:
            lose.set()
        events.wait(lambda e: isinstance(e, cti.Status) and e.health == "retrying", what="retrying")
        health = [e.health for e in events.seen if isinstance(e, cti.Status)]
        assert health[:2] == ["connecting", "connected"]
        assert health[2:] == ["lost", "connecting", "retrying"]
    finally:
        listener.close()


def test_a_silent_ncid_server_on_a_half_open_connection_is_noticed_and_reopened(start_reader):
    """The server's end of the connection vanishes without a FIN or a reset (its PC lost power, a
    router dropped the connection): Linux's TCP_REPAIR lets the test close its socket that way on
    127.0.0.1. The reader's keepalive line is answered by a reset; it reconnects, and calls come."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT)
    try:
        reader, events = start_reader(f"socket://127.0.0.1:{listener.getsockname()[1]}", "ncid",
                                      keepalive_after=0.5)
        conn, _ = listener.accept()
        conn.sendall(NCID_STARTUP)
        events.status("connected")
        try:
            conn.setsockopt(socket.IPPROTO_TCP, 19, 1)    # TCP_REPAIR: close() then sends nothing
        except OSError as e:
            pytest.skip(f"TCP_REPAIR needs CAP_NET_ADMIN (root on Linux): {e}")
        conn.close()
        reconnected, _ = listener.accept()          # within keepalive_after + a read: seconds, not minutes
        assert events.status("lost")
        events.status("connected")
        reconnected.sendall(NCID_STARTUP + ncid_cid("0596310005", "1420"))
        assert events.call().number == "0596310005"
        reconnected.close()
    finally:
        listener.close()


def test_a_quiet_ncid_server_that_answers_is_kept_and_hears_the_keepalive_line(start_reader):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT)
    try:
        reader, events = start_reader(f"socket://127.0.0.1:{listener.getsockname()[1]}", "ncid",
                                      keepalive_after=0.2)
        conn, _ = listener.accept()
        conn.settimeout(WAIT)
        conn.sendall(NCID_STARTUP)
        events.status("connected")
        assert conn.recv(1) == b"\n"                # NCID's own keep-alive: a bare newline
        assert conn.recv(1) == b"\n"                # and again, while the server stays quiet
        conn.sendall(ncid_cid("0596310005", "1420"))
        assert events.call().number == "0596310005"
        assert "lost" not in events.states()
        conn.close()
    finally:
        listener.close()


def test_a_quiet_serial_port_has_no_keepalive_and_is_never_reopened_for_silence(pty_pair, start_reader, nd_frame):
    """Silence is normal on a COM port (no calls for hours): only a source with keepalive() is asked."""
    master, path = pty_pair
    reads = []

    def opener(url, protocol, baudrate):
        port = cti.open_port(url, protocol, baudrate)
        read = port.read
        port.read = lambda size=1: reads.append(size) or read(size)
        return port

    reader, events = start_reader(path, "nd", keepalive_after=0.01, opener=opener)
    events.status("connected")
    quiet_until = time.monotonic() + 3 * cti.IDLE_TIMEOUT       # several idle reads, each past keepalive_after
    assert poll_until(lambda: time.monotonic() >= quiet_until, WAIT)
    quiet_reads = len(reads)
    os.write(master, nd_frame([(0x02, b"0451234567")]))
    assert events.call().number == "0451234567"
    assert events.states() == ["connecting", "connected"]
    assert 1 <= quiet_reads <= 6 and set(reads[:quiet_reads]) == {1}    # each read waits its timeout: no spin


def test_an_ncid_connection_has_tcp_keepalive():
    """A server that vanishes without closing (power cut) must show as lost: the socket probes it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = cti.open_port(f"socket://127.0.0.1:{server.getsockname()[1]}", "ncid", 9600)
        try:
            sock = port._socket
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            if hasattr(socket, "TCP_KEEPIDLE"):
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 10
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 30_000
        finally:
            port.close()


###############################################################################
# port = auto: the choice, as a pure function over what Windows' list_ports gives

def port_info(device, description, hwid):
    info = serial.tools.list_ports_common.ListPortInfo(device, skip_link_detection=True)
    info.description, info.hwid = description, hwid
    return info


WINDOWS_PORTS = [
    port_info("COM10", "USB-SERIAL CH340 (COM10)", "USB VID:PID=1A86:7523 SER=5 LOCATION=1-2"),
    port_info("COM1", "通信ポート (COM1)", "ACPI\\PNP0501\\0"),
    port_info("COM5", "Standard Serial over Bluetooth link (COM5)",
              "BTHENUM\\{00001101-0000-1000-8000-00805F9B34FB}_LOCALMFG&0002\\7&1A2B3C4D&0&000000000000_00000000"),
    port_info("COM6", "Bluetooth リンク経由の標準シリアル (COM6)",
              "BTHENUM\\{00001101-0000-1000-8000-00805F9B34FB}_VID&0001009E_PID&400A\\8&2D9F3A2E&0&D8A35C1D0F2B_C00000000"),
    port_info("COM4", "Intel(R) Active Management Technology - SOL (COM4)", "PCI\\VEN_8086&DEV_A13D&SUBSYS_"),
    port_info("COM2", "USB Serial Port (COM2)", "USB VID:PID=0403:6015 SER=DN0123 LOCATION=1-4"),
    port_info("COM3", "Prolific USB-to-Serial Comm Port (COM3)", "USB VID:PID=067B:2303 SER=6 LOCATION=1-3"),
    port_info("COM7", "Conexant USB CX93010 ACF Modem", "USB VID:PID=0572:1329 SER=24680246 LOCATION=1-1"),
    port_info("COM8", "EPSON TM-T88V Receipt", "USB VID:PID=04B8:0202 SER=X LOCATION=1-5"),
    port_info("COM9", "com0com - serial port emulator CNCA0 (COM9)", "COM0COM\\PORT\\CNCA0"),
    port_info("COM11", "標準 56000 bps モデム", "ROOT\\MDMGEN\\0000"),
]


def test_probe_plan_on_a_windows_reception_pc():
    plan = cti.probe_plan(WINDOWS_PORTS, "auto")
    assert [t.device for t in plan] == ["COM3", "COM10", "COM2", "COM7", "COM8", "COM1"]
    # known caller-ID adapter chips (PL2303, CH340) first in natural order; other USB next; built-in last;
    # Bluetooth, AMT serial-over-LAN, com0com and the software modem left out
    assert [t.device for t in plan if t.modem] == ["COM7"]          # AT commands only to the modem


def test_probe_plan_sends_at_commands_everywhere_only_for_protocol_modem():
    assert all(t.modem for t in cti.probe_plan(WINDOWS_PORTS, "modem"))
    for protocol in ("nd", "aloha", "whozz", "ncid"):
        assert not any(t.modem for t in cti.probe_plan(WINDOWS_PORTS, protocol)), protocol


def test_probe_plan_natural_order_as_pyserial_sorts():
    ports = [port_info(f"COM{n}", "通信ポート", "ACPI\\PNP0501\\0") for n in (10, 2, 1, 21, 3)]
    assert [t.device for t in cti.probe_plan(ports, "nd")] == ["COM1", "COM2", "COM3", "COM10", "COM21"]
    assert [t.device for t in cti.probe_plan(ports, "nd")] == [p.device for p in sorted(ports)]


@pytest.mark.parametrize("vid_pid", sorted(cti.CALLER_ID_USB_IDS))
def test_every_known_adapter_chip_comes_before_other_usb(vid_pid):
    ports = [port_info("COM2", "USB device", "USB VID:PID=04B8:0202"),
             port_info("COM12", "USB adapter", f"USB VID:PID={vid_pid.lower()} SER=1")]
    assert [t.device for t in cti.probe_plan(ports, "auto")] == ["COM12", "COM2"]


def test_list_ports_in_natural_order(monkeypatch):
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: [WINDOWS_PORTS[0], WINDOWS_PORTS[1],
                                                                     WINDOWS_PORTS[5]])
    assert [d for d, _ in cti.list_ports()] == ["COM1", "COM2", "COM10"]


def test_answered_needs_a_signature_or_a_modem_reply():
    assert cti.answered(b"\x00junk\x02112431015" b"0312345678\x03", False)
    assert not cti.answered(b"OK\r\n", False)                      # a printer's OK is no modem we asked
    assert cti.answered(b"ATZ\r\r\nOK\r\n", True)
    assert not cti.answered(b"\x11\x13 status \x00", True)


def test_auto_port_says_it_is_waiting_once_naming_the_port_and_never_with_an_empty_list(monkeypatch, make_pty,
                                                                                         start_reader):
    """The waiting line comes after probe_seconds, once for the ports it names; when the only port listened
    to is pulled out, the status goes to "not found" at the next look, never to a waiting line naming no port."""
    monkeypatch.setattr(cti.DeviceReader, "PROBE_RESCAN", 0.5)
    found = PortsFound(monkeypatch)
    master, adapter = make_pty()
    found.add(adapter, "USB-SERIAL CH340 (COM3)", "USB VID:PID=1A86:7523")
    began = time.monotonic()
    reader, events = start_reader("auto", "auto")
    waiting = lambda e: isinstance(e, cti.Status) and "応答する装置がありません" in e.text   # noqa: E731
    events.wait(waiting, what="waiting")
    assert time.monotonic() - began >= 0.3                          # probe_seconds, not at once
    found.ports.clear()
    os.close(master)                                                # the adapter pulled out while listened to
    missing = events.status("missing")
    assert "着信表示装置が見つかりません" in missing.text
    said = [e.text for e in events.seen if waiting(e)]
    assert len(said) == 1 and f"（{adapter} で着信を待っています）" in said[0], said


def test_auto_port_opens_no_bluetooth_port(monkeypatch, make_pty, start_reader):
    found = PortsFound(monkeypatch)
    _, bluetooth = make_pty()
    master, adapter = make_pty()
    found.add(bluetooth, "Standard Serial over Bluetooth link (COM5)", WINDOWS_PORTS[2].hwid)
    found.add(adapter, "USB-SERIAL CH340 (COM3)", "USB VID:PID=1A86:7523 SER=5 LOCATION=1-2")
    opened = []

    def opener(url, protocol, baudrate):
        opened.append(url)
        return cti.open_port(url, protocol, baudrate)

    reader, events = start_reader("auto", "auto", opener=opener)
    events.wait(lambda e: isinstance(e, cti.Status) and "応答する装置がありません" in e.text, what="listening")
    os.write(master, b"\x90\x81\x87\x90\x82" + b"\x00" * 3)     # an ND frame start: a caller-ID device
    assert events.status("connected").port == adapter
    assert opened == [adapter]


def test_auto_port_all_busy_names_the_busy_port(monkeypatch, start_reader):
    found = PortsFound(monkeypatch)
    found.add("COM3", "USB-SERIAL CH340 (COM3)", "USB VID:PID=1A86:7523 SER=5 LOCATION=1-2")

    def opener(url, protocol, baudrate):
        raise serial.SerialException(f"could not open port '{url}': PermissionError(13, 'アクセスが拒否されました。', None, 5)")

    reader, events = start_reader("auto", "auto", opener=opener)
    busy = events.status("busy")
    assert busy.port == "COM3" and busy.text.startswith("COM3 は他のプログラムが使っています")


def test_auto_port_that_cannot_be_opened_names_the_port_and_a_busy_one_wins(monkeypatch, start_reader):
    """The first port's failure names it (COM2 が見つかりません); a busy port met later says more and wins."""
    found = PortsFound(monkeypatch)
    found.add("COM2", "USB Serial Port (COM2)", "USB VID:PID=0403:6015")
    failures = {"COM2": "[Errno 2] could not open port COM2: [Errno 2] No such file or directory"}

    def opener(url, protocol, baudrate):
        raise serial.SerialException(failures[url])

    reader, events = start_reader("auto", "auto", opener=opener)
    missing = events.status("missing")
    assert missing.port == "COM2" and missing.text.startswith("COM2 が見つかりません")
    found.add("COM3", "USB-SERIAL CH340 (COM3)", "USB VID:PID=1A86:7523")
    failures["COM3"] = "could not open port 'COM3': PermissionError(13, 'アクセスが拒否されました。', None, 5)"
    busy = events.status("busy")
    assert busy.port == "COM3"


def test_probe_plan_puts_any_usb_port_before_a_modem_and_a_modem_before_a_built_in_port():
    ports = [port_info("COM1", "通信ポート (COM1)", "ACPI\\PNP0501\\0"),
             port_info("COM4", "PCI ソフト データ ファクス モデム", "PCI\\VEN_14F1&DEV_2F20"),
             port_info("COM9", "EPSON TM-T88V Receipt", "USB VID:PID=04B8:0202 SER=X")]
    assert [t.device for t in cti.probe_plan(ports, "auto")] == ["COM9", "COM4", "COM1"]


@pytest.mark.skipif(not hasattr(socket, "SO_EXCLUSIVEADDRUSE"), reason="Windows only (runs in the Windows workflow)")
def test_udp_port_cannot_be_taken_by_another_program_on_windows():
    port = free_udp_port()
    ours = cti.UdpPort(f"udp://127.0.0.1:{port}")
    try:
        assert ours.sock.getsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE) == 1
        assert ours.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)      # what a rude program does
            with pytest.raises(OSError):
                other.bind(("127.0.0.1", port))
    finally:
        ours.close()


@pytest.mark.skipif(os.name != "nt", reason="Windows only (runs in the Windows workflow)")
def test_a_missing_com_port_as_windows_words_it_is_missing():
    """The real pyserial text on Windows ("could not open port 'COM249': FileNotFoundError(2, …, None, 2)")."""
    with pytest.raises(serial.SerialException) as raised:
        serial.Serial("COM249")
    assert cti.port_error_state(str(raised.value)) == "missing", str(raised.value)
    state, text = cti.describe_port_error("COM249", raised.value)
    assert state == "missing" and "COM249 が見つかりません" in text
