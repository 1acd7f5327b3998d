"""Every benchmark, one command: one figure a line, `name value unit`.

    python bench/run.py            the full run (1,000,000 members too: long, run it with nice)
    python bench/run.py --quick    a short run (about three minutes): smaller sizes, fewer repetitions

Runs bench/members.py (load, lookup, search at 10k/100k/1M members, each beside its naive
counterpart), bench/popup.py (popup latency, the link dialog's keystrokes (also the first of a
fresh start), a call right after a save and calls while a re-read runs, in the real window at
100,000 members), bench/startup.py (--lookup against a bare csv.reader pass in every case,
the window's cold and warm start-up to the caller named, peak memory at 100,000 and 1,000,000,
memory across re-reads, the built program's start-up) and bench/decoders.py (CPU of the decoders and the reader on a
port full of garbage, auto beside the fixed decoders and the former auto), each in a process of
its own so that one's memory does not weigh on the other's. The machine may be shared and busy:
compare each figure with its baseline from the same run, not with another run's. Progress goes
to standard error; the figures to standard output, followed by the issue's targets as comment
lines (`# target ...: met` / `missed`).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BENCHMARKS = ["members", "popup", "startup", "decoders"]       # bench/<name>.py, each with main(argv)

# (figure names to look at, the worst of them is judged, limit, unit, words); limits are the issues'
# targets. Memory is judged at its peak (VmHWM), not its steady size.
TARGETS = [
    (("cli_lookup_warm_vs_csv_reader_100000",), 1.0, "x",
     "--lookup ≤ 1.0× a bare csv.reader pass at 100,000 CP932 members, the parse cache made (compiled cti)"),
    (("cli_lookup_cold_worst_vs_csv_reader_100000",), 1.5, "x",
     "--lookup ≤ 1.5× a bare csv.reader pass at 100,000 CP932 members with quoted cells and line breaks, "
     "not cached: the worst of a number first in the file, mid-file and a miss (compiled cti)"),
    (("cli_lookup_runs_writing_the_cache_100000", "cli_lookup_runs_writing_the_cache_1000000"), 1, "runs",
     "--lookup writes nothing (runs that changed the cache folder)"),
    (("startup_named_warm_1000000",), 1, "s", "warm start to the caller named at 1,000,000 members < 1 s"),
    (("startup_named_warm_vs_empty_1000000",), 3, "x",
     "warm start to the caller named at 1,000,000 members within 3× of an empty table"),
    (("startup_named_warm_100000",), 1.5, "s", "warm start to the caller named at 100,000 members < 1.5 s"),
    (("startup_named_cold_1000000",), 15, "s", "first start to the caller named at 1,000,000 members < 15 s"),
    (("rss_peak_warm_100000",), 100, "MB", "peak memory < 100 MB at 100,000 members (warm start)"),
    (("rss_peak_cold_100000",), 100, "MB", "peak memory < 100 MB at 100,000 members (first start: parse, cache write)"),
    (("rss_peak_reread_100000",), 100, "MB", "peak memory < 100 MB at 100,000 members across two re-reads"),
    (("rss_held_after_reread_100000",), 10, "MB", "memory held after two re-reads over before them < 10 MB"),
    (("rss_peak_warm_1000000",), 400, "MB", "peak memory < 400 MB at 1,000,000 members (warm start)"),
    (("rss_peak_cold_1000000",), 400, "MB", "peak memory < 400 MB at 1,000,000 members (first start)"),
    (("rss_warm_spike_1000000",), 40, "MB", "warm start at 1,000,000: peak over steady use < 40 MB (the spike gone)"),
    (("link_first_keystroke_p99_100000",), 50, "ms", "link dialog first keystroke to results drawn p99 < 50 ms at 100,000"),
    (("link_first_keystroke_fresh_max_100000",), 50, "ms",
     "link dialog first keystroke right after a fresh start < 50 ms at 100,000 (every one)"),
    (("popup_latency_p99_100000",), 50, "ms", "popup p99 < 50 ms at 100,000 members"),
    (("call_after_save_number_max_100000",), 500, "ms",
     "a call right after members.csv is saved shows its number within 0.5 s (every one)"),
    (("popup_during_reread_p99_100000",), 50, "ms", "popup p99 < 50 ms while members.csv is being re-read"),
    (("members_lookup_p99_1000000_utf8", "members_lookup_p99_1000000_cp932"), 50, "us",
     "lookup p99 < 50 µs at 1,000,000 members (parsed table)"),
    (("members_lookup_cached_p99_1000000_utf8", "members_lookup_cached_p99_1000000_cp932"), 50, "us",
     "lookup p99 < 50 µs at 1,000,000 members (through the parse cache, as the window)"),
    (("members_search_p99_100000_utf8", "members_search_p99_100000_cp932"), 50, "ms",
     "search p99 < 50 ms at 100,000 members"),
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
