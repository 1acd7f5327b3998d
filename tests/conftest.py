"""Shared fixtures: pseudo-terminals, an ND frame builder and a poll helper.

Test files add their own fixtures in their own files; keep this one small.
"""

import os
import sys
import time
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
