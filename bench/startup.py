"""Whole processes, each figure beside its baseline from the same run: `--lookup` against a bare
csv.reader pass over the same file, and the window's start-up (cold: no parse cache; warm: the
cache of this content present) and peak memory against starting with an empty members.csv.

    python bench/startup.py [--quick] [--sizes 100000,1000000] [--runs N]

One figure a line, `name value unit`:

- `cli_lookup_warm_N_cp932`, `cli_lookup_cold_N_cp932`, `csv_reader_pass_N_cp932` (s, medians) and
  `cli_lookup_vs_csv_reader_N`, `cli_lookup_cold_vs_csv_reader_N` (x, median / csv median): `python cti.py --lookup NUMBER --config INI`
  and `python -c "for row in csv.reader(open(FILE, encoding='cp932', newline='')): pass"`, each
  from Popen to exit, run in turn so that both meet the same load. Warm: the parse cache made (as the
  window makes it); cold: no cache (the folder removed before each run), so --lookup scans members.csv
  for the rows that write the number (it writes no cache itself). Every run of the script compiles cti.py
  (Python never caches a script's own bytecode); `compile_cti_py` is that share (the built program
  carries its bytecode compiled).
- `startup_warm_N`, `startup_cold_N`, `startup_empty` (s, medians): `python cti.py --config INI` (port =
  loop://) from Popen to the X server mapping its window (bench/popup.py's MapWatcher), and
  `startup_warm_vs_empty_N` (x). Cold runs start with no cache; the cache is then written on a thread.
- `rss_peak_warm_N`, `rss_peak_cold_N`, `rss_peak_empty` (MB): the process's VmHWM (the peak, not the
  steady size): warm and empty 1 s after the window shows; cold once the cache is written (the
  parse and the cache write are the cold start's peak). `rss_warm_N` (VmRSS) beside it.
- `built_startup_warm_N` (s): the same with dist/cti/cti (PyInstaller build), when dist/ exists.

Sizes: 100,000 (--quick) and 1,000,000 too (full run). Generated files: bench/gen.py, CP932.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import gen  # noqa: E402
import cti  # noqa: E402
from bench.popup import Display, MapWatcher, emit, proc_status  # noqa: E402

CSV_PASS = ("import csv, sys\n"
            "with open(sys.argv[1], encoding=sys.argv[2], newline='') as f:\n"
            "    for row in csv.reader(f):\n"
            "        pass\n")
BUILT = ROOT / "dist" / "cti" / "cti"


PRIVATE_TMP = None                      # TMPDIR of the processes started here: their own instance lock


def env_as_given() -> dict:
    return dict(os.environ, TMPDIR=str(PRIVATE_TMP)) if PRIVATE_TMP else dict(os.environ)


def wall(command, env, cwd) -> float:
    t0 = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(f"{command[:3]} exited {result.returncode}: {result.stderr.decode(errors='replace')}")
    return elapsed


def folder_for(work: Path, members: Path, name: str) -> Path:
    """A cti folder: members.csv (hard-linked when it can be), cti.ini with port = loop://."""
    folder = work / name
    folder.mkdir()
    try:
        os.link(members, folder / "members.csv")
    except OSError:
        shutil.copyfile(members, folder / "members.csv")
    (folder / "cti.ini").write_text("[device]\nport = loop://\nprotocol = nd\n\n[files]\nmembers = members.csv\n"
                                    "database = cti.db\nlog = cti.log\n", encoding="utf-8")
    return folder


def cache_of(folder: Path) -> Path:
    return folder / "cti-cache"


def lookup_figures(folder: Path, size: int, number: str, runs: int, cold_runs: int):
    ini, members = folder / "cti.ini", folder / "members.csv"
    ours = [sys.executable, str(ROOT / "cti.py"), "--lookup", number, "--config", str(ini)]
    bare = [sys.executable, "-c", CSV_PASS, str(members), "cp932"]
    env = env_as_given()
    wall(bare, env, folder)                             # the page cache warm for both
    # the cache as the window makes it (--lookup itself never writes one: it scans a content not cached)
    cti.MemberTable(members, cache=cti.ParseCache.beside(folder / "cti.db")).load()
    warm, csv_pass = [], []
    for _ in range(runs):
        warm.append(wall(ours, env, folder))
        csv_pass.append(wall(bare, env, folder))
    source = (ROOT / "cti.py").read_text(encoding="utf-8")
    compiling = []
    for _ in range(runs):
        t0 = time.perf_counter()
        compile(source, "cti.py", "exec")
        compiling.append(time.perf_counter() - t0)
    cold = []
    for _ in range(cold_runs):
        shutil.rmtree(cache_of(folder), ignore_errors=True)
        cold.append(wall(ours, env, folder))
        csv_pass.append(wall(bare, env, folder))
    emit(f"csv_reader_pass_{size}_cp932", statistics.median(csv_pass), "s")
    emit(f"cli_lookup_warm_{size}_cp932", statistics.median(warm), "s")
    emit(f"cli_lookup_vs_csv_reader_{size}", statistics.median(warm) / statistics.median(csv_pass), "x")
    emit("compile_cti_py", statistics.median(compiling), "s")       # in every run of the script, ours only
    emit(f"cli_lookup_cold_{size}_cp932", statistics.median(cold), "s")
    emit(f"cli_lookup_cold_vs_csv_reader_{size}", statistics.median(cold) / statistics.median(csv_pass), "x")
    emit("cli_lookup_runs", runs, "runs")


def start_once(command, folder: Path, settle: float, wait_cache=False, timeout=600.0):
    """(seconds from Popen to the window mapped, VmRSS MB, VmHWM MB)."""
    for p in folder.glob("cti.log*"):
        p.unlink()
    watcher = MapWatcher()
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=folder, env=env_as_given(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        elapsed = watcher.wait(proc, t0, timeout)
        time.sleep(settle)
        if wait_cache:
            deadline = time.monotonic() + timeout
            while not list(cache_of(folder).glob("*.sqlite")) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(0.5)                             # the window swaps the cached parse in
        memory = proc_status(proc.pid)
        return elapsed, memory["VmRSS"], memory["VmHWM"]
    finally:
        watcher.close()
        proc.kill()
        proc.wait()
        proc.stderr.close()


def window_figures(folder: Path, tag: str, runs: int, cold_runs: int, command=None):
    """Warm (and cold unless cold_runs is 0) start-ups of the window in folder."""
    command = command or [sys.executable, str(ROOT / "cti.py"), "--config", str(folder / "cti.ini")]
    start_once(command, folder, settle=0, wait_cache=True)          # the cache made, the page cache warm
    warm = [start_once(command, folder, settle=1.0) for _ in range(runs)]
    cold = []
    for _ in range(cold_runs):
        shutil.rmtree(cache_of(folder), ignore_errors=True)
        cold.append(start_once(command, folder, settle=0, wait_cache=True))
    return warm, cold


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench/startup.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 members only, fewer runs")
    parser.add_argument("--sizes", help="comma-separated member counts (default 100000,1000000; --quick 100000)")
    parser.add_argument("--runs", type=int, help="warm runs (default 3 quick, 5 full)")
    parser.add_argument("--dir", help="keep the generated files in this folder (reused by the next run)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("100000" if args.quick else "100000,1000000")).split(",")]
    runs = args.runs or (3 if args.quick else 5)
    display = Display()
    work = Path(tempfile.mkdtemp(prefix="cti-bench-startup-"))
    global PRIVATE_TMP
    PRIVATE_TMP = work / "tmp"
    PRIVATE_TMP.mkdir()
    files = Path(args.dir) if args.dir else work / "files"
    files.mkdir(parents=True, exist_ok=True)
    try:
        empty = work / "empty.csv"
        empty.write_bytes((",".join(gen.HEADER) + "\r\n").encode("cp932"))
        empty_folder = folder_for(work, empty, "empty")
        empty_runs, _ = window_figures(empty_folder, "empty", runs, 0)
        for size in sizes:
            print(f"# startup {size}: generating", file=sys.stderr, flush=True)
            members = gen.members_file(files, size, "cp932")
            number = next(gen.rows(2))[3].split(";")[0]           # the first member's number
            folder = folder_for(work, members, f"m{size}")
            print(f"# startup {size}: --lookup and csv.reader", file=sys.stderr, flush=True)
            lookup_figures(folder, size, number, runs, cold_runs=1 if size > 100_000 else (2 if args.quick else 3))
            print(f"# startup {size}: the window", file=sys.stderr, flush=True)
            warm, cold = window_figures(folder, str(size), runs, 1 if size > 100_000 or args.quick else 2)
            emit(f"startup_warm_{size}", statistics.median(r[0] for r in warm), "s")
            emit(f"startup_cold_{size}", statistics.median(r[0] for r in cold), "s")
            emit(f"startup_warm_vs_empty_{size}", statistics.median(r[0] for r in warm)
                 / statistics.median(r[0] for r in empty_runs), "x")
            emit(f"rss_warm_{size}", statistics.median(r[1] for r in warm), "MB")
            emit(f"rss_peak_warm_{size}", max(r[2] for r in warm), "MB")
            emit(f"rss_peak_cold_{size}", max(r[2] for r in cold), "MB")
            if BUILT.exists():
                built = folder_for(work, members, f"built{size}")
                built_runs, _ = window_figures(built, str(size), runs, 0,
                                               command=[str(BUILT), "--config", str(built / "cti.ini")])
                emit(f"built_startup_warm_{size}", statistics.median(r[0] for r in built_runs), "s")
            else:
                print(f"# built program: {BUILT.relative_to(ROOT)} not found (build with PyInstaller first): skipped",
                      flush=True)
        emit("startup_empty", statistics.median(r[0] for r in empty_runs), "s")
        emit("rss_peak_empty", max(r[2] for r in empty_runs), "MB")
        emit("startup_runs", runs, "runs")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        display.close()


if __name__ == "__main__":
    sys.exit(main())
