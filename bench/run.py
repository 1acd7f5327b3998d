"""Every benchmark, one command: one figure a line, `name value unit`.

    python bench/run.py            the full run (a few minutes on 2 cores)
    python bench/run.py --quick    a short run (under two minutes): smaller sizes, fewer repetitions

Runs bench/members.py (load, lookup, search at 10k/100k/1M members, each beside its naive
counterpart), bench/popup.py (popup latency, start-up and memory of the real window at
100,000 members) and bench/decoders.py (CPU of the decoders and the reader on a port full
of garbage, auto beside the fixed decoders and the former auto), each in a process of its
own so that one's memory does not weigh on the other's. Progress goes to standard error; the
figures to standard output, followed by the issue's targets as comment lines
(`# target ...: met` / `missed`).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BENCHMARKS = ["members", "popup", "decoders"]       # bench/<name>.py, each with main(argv)

# (figure names to look at, the worst of them is judged, limit, unit, words)
TARGETS = [
    (("members_lookup_p99_1000000_utf8", "members_lookup_p99_1000000_cp932"), 50, "us",
     "lookup p99 < 50 µs at 1,000,000 members"),
    (("members_search_p99_100000_utf8", "members_search_p99_100000_cp932"), 50, "ms",
     "search p99 < 50 ms at 100,000 members"),
    (("popup_latency_p99_100000",), 100, "ms", "popup p99 < 100 ms at 100,000 members"),
    (("startup_p50_100000",), 1.5, "s", "start-up < 1.5 s at 100,000 members"),
    (("rss_100000",), 150, "MB", "memory < 150 MB at 100,000 members"),
    (("reader_auto_over_nd_1b", "reader_auto_over_nd_16b"), 1.5, "x",
     "protocol = auto within 1.5x the CPU of a fixed decoder (reader on 9600-baud garbage)"),
]


def run(name: str, argv: list, figures: dict) -> int:
    """Run bench/<name>.py's main(argv) in a child; echo and collect its figures; its exit code."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench import {name}; "
            f"sys.exit({name}.main(sys.argv[1:]) or 0)")
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            encoding="utf-8", bufsize=1)
    for line in proc.stdout:
        line = line.rstrip("\n")
        print(line, flush=True)
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            try:
                figures[parts[0]] = (float(parts[1]), parts[2])
            except ValueError:
                pass
    return proc.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (passed on to every benchmark)")
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run only this one (repeatable)")
    args = parser.parse_args(argv)
    passed = ["--quick"] if args.quick else []
    figures, failed = {}, []
    started = time.perf_counter()
    for name in args.only or BENCHMARKS:
        if not (HERE / f"{name}.py").exists():
            print(f"# bench/{name}.py is missing: skipped", file=sys.stderr, flush=True)
            continue
        print(f"# {name}", flush=True)
        began = time.perf_counter()
        code = run(name, passed, figures)
        print(f"# {name}: {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
        if code:
            failed.append(name)
            print(f"# bench/{name}.py failed (exit {code})", file=sys.stderr, flush=True)
    print("# targets", flush=True)
    for names, limit, unit, words in TARGETS:
        found = [figures[n] for n in names if n in figures]
        if not found:
            print(f"# target {words}: not measured in this run" + (" (--quick)" if args.quick else ""))
            continue
        worst = max(value for value, _ in found)
        assert all(u == unit for _, u in found), (names, found)
        print(f"# target {words}: {worst:g} {unit}, {'met' if worst < limit else 'missed'}")
    print(f"# total {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
