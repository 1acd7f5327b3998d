"""members.csv benchmark: load, lookup and search at 10,000 / 100,000 / 1,000,000 members.

    python bench/members.py                      # 10k, 100k, 1M in UTF-8 (BOM) and CP932: a few minutes
    python bench/members.py --quick              # 10k and 100k, fewer repetitions: well under a minute
    python bench/members.py --sizes 100000 --encodings cp932

One figure a line on standard output, `name value unit` (progress goes to standard error):

    members_load_100000_utf8 0.62 s

For each size and encoding, from a generated file (bench/gen.py) in a temporary folder:
- load: MemberTable(path).load() wall time; peak Python memory of the load (tracemalloc, in a
  process of its own since tracing slows the load) and the growth of the peak RSS (getrusage).
- lookup: 10,000 random lookups (half members' numbers, half numbers nobody has), p50/p99 in µs
  (printed as `us`); beside it the fair naive way, a dict built in one csv.reader pass over the
  file (its build time, then its lookups), and the ratio of the p50s. The same lookups through the
  parse cache (as the window and --lookup answer from the second start on), with the cache's
  write time after a parse, the load from the cache, and the search index read from it.
- search as the link dialog types it: prefixes of 1..4 characters of names, of kana (typed in
  hiragana, matching katakana data) and of numbers, limit 100 as the dialog asks; p50/p99 in ms,
  plus queries that match nothing (the slowest case, a full scan) and the build of the search
  text (the window builds it at load, or reads it from the cache; never at a keystroke). Beside it the naive way: LIKE '%q%' over the same four columns of an
  unindexed SQLite table in memory, and the ratio.
- register: one new member written to a copy of the file (re-read, merged, atomic write), up to
  200,000 members (20,000 with --quick): it re-parses the file, so at 1,000,000 it takes long
  (--register-all times it at every size).

Every lookup answer is checked (hits found, misses empty), so a fast wrong answer cannot pass.
"""

import argparse
import csv
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cti  # noqa: E402
from bench import gen  # noqa: E402

try:
    import resource
except ImportError:                     # Windows: no getrusage; the RSS figure is left out
    resource = None

SEARCH_LIMIT = 100                      # what the link dialog asks for
MISS_QUERIES = ["ゑびす", "ヱヴァンゲリ", "zzqx", "鬱鬱"]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def peak_rss_mb():
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


# -----------------------------------------------------------------------------
# the naive ways

def naive_phone_index(path: Path, encoding: str) -> dict:
    """The fair naive lookup: a dict {digits: [member no.]} built in one csv.reader pass over the file
    (cheap normalising: the digits of each ;-separated part of the phone columns)."""
    index = {}
    with open(path, encoding=encoding, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        columns = [i for i, h in enumerate(header) if cti.header_key(h) in ("phone", "phone+")]
        for row in reader:
            for c in columns:
                if c < len(row):
                    for part in row[c].split(";"):
                        digits = "".join(ch for ch in part if ch.isdigit())
                        if digits:
                            index.setdefault(digits, []).append(row[0])
    return index


def naive_search_db(members) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE m (member_no TEXT, name TEXT, kana TEXT, phones TEXT)")
    con.executemany("INSERT INTO m VALUES (?, ?, ?, ?)",
                    ((m.member_no, m.name, cti.search_key(m.kana), " ".join(m.phones)) for m in members))
    return con


NAIVE_SQL = ("SELECT member_no FROM m WHERE member_no LIKE ?1 OR name LIKE ?1 OR kana LIKE ?1 OR phones LIKE ?1 "
             f"LIMIT {SEARCH_LIMIT}")


# -----------------------------------------------------------------------------
# measurements (each in a child process, so that memory and caches start clean)

def child_peak(path: Path) -> list:
    import tracemalloc
    tracemalloc.start()
    cti.MemberTable(path).load()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return [("load_tracemalloc_peak", round(peak / 1e6, 1), "MB")]


def child_main(path: Path, size: int, quick: bool, register: bool, seed: int) -> list:
    figures = []
    encoding_label = path.stem.rsplit("_", 1)[1]
    codec = gen.ENCODINGS[encoding_label]

    rss_before = peak_rss_mb()
    started = time.perf_counter()
    table = cti.MemberTable(path).load()
    load_s = time.perf_counter() - started
    rss_after = peak_rss_mb()
    # the generator's Excel damage: a number Excel made 9.01235E+09 is the one problem a row may have
    assert len(table.members) == size and all("指数表記" in p for p in table.problems), \
        (len(table.members), table.problems[:3])
    figures.append(("load", round(load_s, 3), "s"))
    if rss_before is not None:
        figures.append(("load_rss_growth", round(rss_after - rss_before, 1), "MB"))

    # lookup -----------------------------------------------------------------
    rng = random.Random(seed)
    count = 2000 if quick else 10000
    with_phones = [m for m in table.members if m.phones]
    hits = [rng.choice(with_phones).phones[0] for _ in range(count // 2)]
    misses = [gen.miss_number(rng, table.by_phone) for _ in range(count - count // 2)]
    queries = [(q, True) for q in hits] + [(q, False) for q in misses]
    rng.shuffle(queries)
    times = []
    clock = time.perf_counter_ns
    for number, hit in queries:
        t0 = clock()
        found = table.lookup(number)
        times.append(clock() - t0)
        assert bool(found) == hit and (not hit or any(number in m.phones for m in found)), number
    ours_p50 = percentile(times, 50) / 1000
    figures += [("lookup_p50", round(ours_p50, 1), "us"), ("lookup_p99", round(percentile(times, 99) / 1000, 1), "us")]

    t0 = time.perf_counter()
    index = naive_phone_index(path, codec)
    figures.append(("lookup_naive_dict_build", round(time.perf_counter() - t0, 3), "s"))
    naive = []
    for number, _ in queries:
        t0 = clock()
        index.get(number, [])
        naive.append(clock() - t0)
    del index
    figures += [("lookup_naive_dict_p50", round(percentile(naive, 50) / 1000, 2), "us"),
                ("lookup_naive_dict_p99", round(percentile(naive, 99) / 1000, 2), "us"),
                ("lookup_vs_naive_dict_p50", round(ours_p50 / max(percentile(naive, 50) / 1000, 0.001), 1), "x")]

    # the same through the parse cache (as the window and --lookup use it from the second start on)
    cache = cti.ParseCache(path.parent / f"cache-{os.getpid()}")
    try:
        t0 = time.perf_counter()
        cti.MemberTable(path, cache=cache).load()
        # members.csv parsed straight into the cache (as at a first start), beyond the parse into memory
        figures.append(("cache_write", round(time.perf_counter() - t0 - load_s, 3), "s"))
        rss_before = peak_rss_mb()
        t0 = time.perf_counter()
        cached = cti.MemberTable(path, cache=cache).load()
        figures.append(("load_cached", round(time.perf_counter() - t0, 3), "s"))
        assert isinstance(cached.file, cti.CachedMembers) and len(cached.members) == size
        times = []
        for number, hit in queries:
            t0 = clock()
            found = cached.lookup(number)
            times.append(clock() - t0)
            assert bool(found) == hit, number
        figures += [("lookup_cached_p50", round(percentile(times, 50) / 1000, 1), "us"),
                    ("lookup_cached_p99", round(percentile(times, 99) / 1000, 1), "us")]
        t0 = time.perf_counter()
        cached.file.search_index()
        figures.append(("search_index_read_from_cache", round(time.perf_counter() - t0, 3), "s"))
    finally:
        cached = None
        shutil.rmtree(cache.folder, ignore_errors=True)

    # search -----------------------------------------------------------------
    t0 = time.perf_counter()
    assert table.search(MISS_QUERIES[0], limit=SEARCH_LIMIT) == []
    figures.append(("search_index_build", round(time.perf_counter() - t0, 3), "s"))
    sample = [rng.choice(with_phones) for _ in range(40 if quick else 200)]
    typed = []
    for m in sample:
        kana = cti.search_key(m.kana)
        for k in range(1, 5):
            typed += [m.name[:k], kana[:k], m.phones[0][:k]]
    times = []
    for q in typed:
        t0 = clock()
        found = table.search(q, limit=SEARCH_LIMIT)
        times.append(clock() - t0)
        assert found, q
    miss_times = []
    for q in MISS_QUERIES * (2 if quick else 5):
        t0 = clock()
        found = table.search(q, limit=SEARCH_LIMIT)
        miss_times.append(clock() - t0)
        assert found == [], q
    ours_p50 = percentile(times, 50) / 1e6
    figures += [("search_p50", round(ours_p50, 3), "ms"), ("search_p99", round(percentile(times, 99) / 1e6, 3), "ms"),
                ("search_miss_p50", round(percentile(miss_times, 50) / 1e6, 2), "ms")]

    con = naive_search_db(table.members)
    naive_count = 30 if quick else (240 if size <= 100_000 else 60)
    naive, naive_miss = [], []
    for q in rng.sample(typed, min(naive_count, len(typed))):
        t0 = clock()
        con.execute(NAIVE_SQL, (f"%{q}%",)).fetchall()
        naive.append(clock() - t0)
    for q in MISS_QUERIES:
        t0 = clock()
        assert con.execute(NAIVE_SQL, (f"%{q}%",)).fetchall() == []
        naive_miss.append(clock() - t0)
    con.close()
    naive_p50 = percentile(naive, 50) / 1e6
    figures += [("search_naive_like_p50", round(naive_p50, 3), "ms"),
                ("search_naive_like_p99", round(percentile(naive, 99) / 1e6, 3), "ms"),
                ("search_naive_like_miss_p50", round(percentile(naive_miss, 50) / 1e6, 2), "ms"),
                ("search_speedup", round(naive_p50 / ours_p50, 1), "x"),
                ("search_miss_speedup", round(percentile(naive_miss, 50) / max(1, percentile(miss_times, 50)), 1), "x")]

    # register ---------------------------------------------------------------
    if register:
        copy = path.with_name(f"register_{os.getpid()}.csv")
        shutil.copyfile(path, copy)
        try:
            other = cti.MemberTable(copy).load()
            registration, errors = cti.validate_registration(
                {"name": "新規会員", "kana": "しんきかいいん", "phone": "090-0000-0001"}, other)
            assert not errors
            t0 = time.perf_counter()
            member, _ = other.register(registration)
            figures.append(("register", round(time.perf_counter() - t0, 3), "s"))
            assert member.member_no in cti.MemberTable(copy).load().by_no
        finally:
            copy.unlink(missing_ok=True)
    return figures


def run_child(mode: str, path: Path, size: int, args) -> list:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(path), "--sizes", str(size),
               "--seed", str(args.seed)]
    if args.quick:
        command.append("--quick")
    if args.register_all or size <= (20_000 if args.quick else 200_000):
        command.append("--register")
    result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8")
    if result.returncode != 0:
        raise RuntimeError(f"{mode} {path.name} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -----------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(prog="bench/members.py", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", help="comma-separated member counts (default 10000,100000,1000000; "
                                        "--quick: 10000,100000)")
    parser.add_argument("--encodings", help="utf8 (with BOM, as Excel writes) and/or cp932 (default both; --quick: cp932)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (and smaller default sizes)")
    parser.add_argument("--dir", help="keep the generated files in this folder (reused by the next run)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--register-all", action="store_true", help="time a register at every size, 1M too")
    parser.add_argument("--register", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = [int(s.replace("_", "")) for s in (args.sizes or ("10000,100000" if args.quick else
                                                              "10000,100000,1000000")).split(",")]
    if args.child:
        mode, path = args.child
        figures = (child_peak(Path(path)) if mode == "peak" else
                   child_main(Path(path), sizes[0], args.quick, args.register, args.seed))
        print(json.dumps(figures))
        return 0
    labels = [e.strip() for e in (args.encodings or ("cp932" if args.quick else "utf8,cp932")).split(",") if e.strip()]
    unknown = [e for e in labels if e not in gen.ENCODINGS]
    if unknown:
        print(f"unknown encoding {unknown}: choose from {', '.join(gen.ENCODINGS)}", file=sys.stderr)
        return 2
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="cti-bench-members-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for size in sizes:
            for label in labels:
                started = time.perf_counter()
                print(f"# members {size} {label}: generating", file=sys.stderr, flush=True)
                path = gen.members_file(folder, size, label, seed=args.seed)
                print(f"members_file_{size}_{label} {path.stat().st_size / 1e6:.1f} MB", flush=True)
                print(f"# members {size} {label}: measuring", file=sys.stderr, flush=True)
                figures = run_child("main", path, size, args)
                peak = run_child("peak", path, size, args)
                for name, value, unit in figures[:1] + peak + figures[1:]:
                    print(f"members_{name}_{size}_{label} {value} {unit}", flush=True)
                print(f"# members {size} {label}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
