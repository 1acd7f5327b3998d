"""CPU the caller-ID decoders spend on a port that carries nothing but garbage.

    python bench/decoders.py [--quick] [--seconds N]

A 9600-baud port delivers 960 bytes a second. The reader feeds the decoder whatever each
read returned (`read(in_waiting or 1)`), which on a slow port is often a single byte: the
costliest case, measured here beside 8-byte reads. Two kinds of garbage: random bytes (a
wrong baud rate, line noise) and printable text lines (a receipt printer, a terminal).

Prints one figure a line, `name value unit`: the CPU (time.process_time) to decode N
seconds of stream, as a percentage of one core, for `protocol = auto`, for every fixed
decoder, and for the naive auto (the former one, which searched everything it held, with
each format's pattern in turn, on every read) as the baseline from the same run; then
auto's cost over the dearest and the cheapest fixed decoder.

Then the whole reader, as the salon runs it: a real cti.DeviceReader on a pseudo-terminal,
fed random bytes at 9600 baud, a byte a millisecond (as a UART delivers them) and 16 bytes
every 16.7 ms (a USB-serial chip's latency timer), for `auto`, `nd` and the naive auto; the figure is the
reader thread's own CPU time (utime + stime from /proc/self/task/TID/stat) over the run,
as a percentage of one core. Linux only.
"""

import argparse
import os
import queue
import random
import sys
import threading
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cti  # noqa: E402

BAUD_BYTES = 960                        # bytes a second at 9600 baud, 8N1
FIXED = ("nd", "aloha", "modem", "whozz", "ncid")


class NaiveAutoDecoder(cti.AutoDecoder):
    """The baseline: every signature searched over the whole held buffer on every read."""

    def feed(self, data):
        self.offset += len(data)
        if self.inner:
            return self.inner.feed(data)
        self.pending += data
        found = [(m.start(), name) for name, rx in cti.SIGNATURES if (m := rx.search(self.pending))]
        if not found:
            if len(self.pending) > self.PATIENCE:
                drop = len(self.pending) - self.PATIENCE
                del self.pending[:drop]
                return [cti.Garbled(self.offset - len(self.pending) - drop, "skipped")]
            return []
        raise AssertionError("garbage matched a signature: pick another seed")


def garbage(kind: str, size: int, seed=12) -> bytes:
    rng = random.Random(seed)
    if kind == "random":
        return bytes(rng.randrange(256) for _ in range(size))
    words = ["TOTAL", "CASH", "CHANGE", "*****", "1,980", "ITEM", "TAX", "2026/11/25", "THANK", "YOU", "#0042"]
    out = bytearray()
    while len(out) < size:
        out += (" ".join(rng.choice(words) for _ in range(rng.randint(1, 6))) + "\r\n").encode()
    return bytes(out[:size])


def cpu_percent(decoder, stream: bytes, chunk: int, seconds: float) -> float:
    start = time.process_time()
    feed = decoder.feed
    for i in range(0, len(stream), chunk):
        feed(stream[i:i + chunk])
    return (time.process_time() - start) / seconds * 100


def thread_cpu_seconds(tid: int) -> float:
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")     # utime, stime


def reader_cpu_percent(protocol: str, seconds: float, naive=False, burst=16) -> float:
    """A real DeviceReader on a pty fed garbage at 9600 baud: its thread's CPU, % of one core."""
    master, slave = os.openpty()
    tty.setraw(slave)
    make_decoder = cti.make_decoder
    if naive:
        cti.make_decoder = lambda protocol, **kw: NaiveAutoDecoder(**kw)
    reader = cti.DeviceReader(cti.Config(port=os.ttyname(slave), protocol=protocol, init=()), queue.Queue())
    stream = garbage("random", int(seconds * BAUD_BYTES) + BAUD_BYTES, seed=13)
    try:
        reader.start()
        while reader.native_id is None:
            time.sleep(0.01)
        time.sleep(0.5)                                 # opened and reading
        start_cpu, start = thread_cpu_seconds(reader.native_id), time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * BAUD_BYTES)
            if due > sent:
                os.write(master, stream[sent:due])
                sent = due
            time.sleep(burst / BAUD_BYTES)
        used = thread_cpu_seconds(reader.native_id) - start_cpu
        return used / (time.monotonic() - start) * 100
    finally:
        reader.stop()
        cti.make_decoder = make_decoder
        os.close(master)
        os.close(slave)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench/decoders.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a short run: 5 s of stream instead of 60 s, a shorter reader run")
    parser.add_argument("--seconds", type=float, help="seconds of 9600-baud stream to decode")
    args = parser.parse_args(argv)
    seconds = args.seconds or (5 if args.quick else 60)
    for kind in ("random", "text"):
        stream = garbage(kind, int(seconds * BAUD_BYTES))
        for chunk in (1, 8):
            # Best of five, taken in turns: the machine is shared, and a slow spell should
            # weigh on every decoder alike rather than on whichever ran during it.
            runs = {name: [] for name in ("auto", "naive", *FIXED)}
            for _ in range(5):
                for name in runs:
                    decoder = NaiveAutoDecoder() if name == "naive" else cti.make_decoder(name)
                    runs[name].append(cpu_percent(decoder, stream, chunk, seconds))
            figures = {name: min(values) for name, values in runs.items()}
            for name, value in figures.items():
                label = "auto_naive" if name == "naive" else name
                print(f"decoder_cpu_{kind}_{chunk}b_{label} {value:.3f} %core", flush=True)
            dearest = max(figures[name] for name in FIXED)
            cheapest = min(figures[name] for name in FIXED)
            print(f"decoder_auto_over_dearest_fixed_{kind}_{chunk}b {figures['auto'] / dearest:.2f} x")
            print(f"decoder_auto_over_cheapest_fixed_{kind}_{chunk}b {figures['auto'] / cheapest:.2f} x")
            print(f"decoder_naive_over_auto_{kind}_{chunk}b {figures['naive'] / figures['auto']:.1f} x", flush=True)
    if sys.platform.startswith("linux"):
        reader_seconds, turns = (5, 1) if args.quick else (30, 2)
        for burst in (1, 16):
            runs = {"auto": [], "nd": [], "naive": []}
            for _ in range(turns):                      # in turns, the best kept (a shared machine)
                for name in runs:
                    runs[name].append(reader_cpu_percent("nd" if name == "nd" else "auto", reader_seconds,
                                                         naive=name == "naive", burst=burst))
            figures = {name: min(values) for name, values in runs.items()}
            for name, value in figures.items():
                label = "auto_naive" if name == "naive" else name
                print(f"reader_cpu_9600_garbage_{burst}b_{label} {value:.2f} %core", flush=True)
            print(f"reader_auto_over_nd_{burst}b {figures['auto'] / figures['nd']:.2f} x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
