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
import contextlib
import os
import py_compile
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import gen  # noqa: E402
import cti  # noqa: E402
from bench.popup import Display, MapWatcher, emit, nd_frame, proc_status  # noqa: E402

CSV_PASS = ("import csv, sys\n"
            "with open(sys.argv[1], encoding=sys.argv[2], newline='') as f:\n"
            "    for row in csv.reader(f):\n"
            "        pass\n")
BUILT = ROOT / "dist" / "cti" / "cti"


PRIVATE_TMP = None                      # TMPDIR of the processes started here: their own instance lock


def env_as_given() -> dict:
    return dict(os.environ, TMPDIR=str(PRIVATE_TMP)) if PRIVATE_TMP else dict(os.environ)


def mid_number(size: int) -> str:
    """The number of the member in the middle of the file (one the generator wrote plainly)."""
    for i, row in enumerate(gen.rows(size)):
        if i >= size // 2 and row[3][:1] == "0" and row[3].replace("-", "").isdigit():
            return row[3]
    raise ValueError("no plain number after the middle")


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


def cache_state(folder: Path) -> set:
    """(name, size, mtime) of each file in the parse cache's folder: what a run must leave as it was."""
    return {(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in cache_of(folder).glob("*")} \
        if cache_of(folder).exists() else set()


def compiled(work: Path) -> dict:
    """The environment of a run of `python -m cti` with cti compiled ahead, as the built program has it
    (a copy of cti.py in a folder of its own, its __pycache__ beside it: nothing written beside
    cti.py, and the standard library's own bytecode used as always)."""
    folder = work / "compiled"
    folder.mkdir(exist_ok=True)
    shutil.copy2(ROOT / "cti.py", folder / "cti.py")
    py_compile.compile(str(folder / "cti.py"), doraise=True)
    return dict(env_as_given(), PYTHONPATH=str(folder))


def lookup_figures(folder: Path, work: Path, size: int, numbers: dict, runs: int, cold_runs: int):
    """--lookup as a process beside a bare csv.reader pass over the same file, each case in turn with
    the baseline between (the same load for both): cached (the window made the cache), and not cached
    (the scan) for each number of `numbers` (first in the file, mid-file, nobody's). With cti compiled
    ahead (`python -m cti`: judged) and as a script (`python cti.py`: compiled at every run). Every run
    must leave the cache folder as it found it."""
    ini, members = folder / "cti.ini", folder / "members.csv"
    env = env_as_given()
    env_compiled = compiled(work)

    def ours(number, script=False):
        how = [str(ROOT / "cti.py")] if script else ["-m", "cti"]
        return [sys.executable, *how, "--lookup", number, "--config", str(ini)]
    bare = [sys.executable, "-c", CSV_PASS, str(members), "cp932"]
    wall(bare, env, folder)                             # the page cache warm for both
    times, csv_pass, written = {}, [], 0

    def timed(case, command, environment):
        nonlocal written
        before = cache_state(folder)
        times.setdefault(case, []).append(wall(command, environment, folder))
        written += cache_state(folder) != before
        csv_pass.append(wall(bare, env, folder))
    shutil.rmtree(cache_of(folder), ignore_errors=True)
    for _ in range(cold_runs):
        for case, number in numbers.items():
            timed(f"cold_{case}", ours(number), env_compiled)
        timed("script_cold_first", ours(numbers["first"], script=True), env)
    # the cache as the window makes it (--lookup itself never writes one)
    cti.MemberTable(members, cache=cti.ParseCache.beside(folder / "cti.db")).load()
    for _ in range(runs):
        timed("warm", ours(numbers["mid"]), env_compiled)
        timed("script_warm", ours(numbers["mid"], script=True), env)
    source = (ROOT / "cti.py").read_text(encoding="utf-8")
    compiling = []
    for _ in range(runs):
        t0 = time.perf_counter()
        compile(source, "cti.py", "exec")
        compiling.append(time.perf_counter() - t0)
    baseline = statistics.median(csv_pass)
    emit(f"csv_reader_pass_{size}_cp932", baseline, "s")
    for case, values in times.items():
        emit(f"cli_lookup_{case}_{size}_cp932", statistics.median(values), "s")
        emit(f"cli_lookup_{case}_vs_csv_reader_{size}", statistics.median(values) / baseline, "x")
    cold = [statistics.median(times[f"cold_{case}"]) for case in numbers]
    emit(f"cli_lookup_cold_worst_vs_csv_reader_{size}", max(cold) / baseline, "x")
    emit("compile_cti_py", statistics.median(compiling), "s")       # in every run of the script, ours only
    emit(f"cli_lookup_runs_writing_the_cache_{size}", written, "runs")
    emit("cli_lookup_runs", runs, "runs")


def set_port(folder: Path, port: str):
    ini = folder / "cti.ini"
    ini.write_text(re.sub(r"(?m)^port = .*$", f"port = {port}", ini.read_text(encoding="utf-8")), encoding="utf-8")


def log_says(folder: Path, words: str) -> bool:
    try:
        return words in (folder / "cti.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def saved_changed(members: Path, original: bytes, turn: int):
    """members.csv saved as Excel saves it (a temp file renamed over it), the first member renamed."""
    first = next(gen.rows(1))[1].encode("cp932")
    tmp = members.with_name("~$members.tmp")
    tmp.write_bytes(original.replace(first, first + f"{turn}".encode("cp932"), 1))
    os.replace(tmp, members)


def start_once(command, folder: Path, digits: str, settle: float, wait_cache=False, rereads=0,
               timeout=600.0) -> dict:
    """One start of the window on a pseudo-terminal that carries a call from the first moment (as a
    caller ringing while cti starts): seconds from Popen to the window mapped ("mapped") and to the
    caller named ("named": the log's line for a call shown, written once the card shows it);
    VmRSS and VmHWM (MB) `settle` s after that (cold, wait_cache: once the cache is written); with
    rereads, members.csv then saved that many times (a name changed), each re-read by the window
    (its cache file written, then swapped in), and VmHWM / VmRSS read after the last."""
    for p in folder.glob("cti.log*"):
        p.unlink()
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    set_port(folder, os.ttyname(slave))
    frame, named = nd_frame(digits), []
    watcher = MapWatcher()
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=folder, env=env_as_given(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)

    def ring():                         # the frame again every 50 ms until the caller is named
        while not named and proc.poll() is None and time.perf_counter() - t0 < timeout:
            with contextlib.suppress(BlockingIOError):
                os.write(master, frame)
            if log_says(folder, "着信を表示しました"):
                named.append(time.perf_counter() - t0)
                return
            time.sleep(0.01)
    ringer = threading.Thread(target=ring, daemon=True)
    ringer.start()
    try:
        found = {"mapped": watcher.wait(proc, t0, timeout)}
        ringer.join(timeout)
        if not named:
            raise RuntimeError("the caller was never named")
        found["named"] = named[0]
        time.sleep(settle)
        if wait_cache:
            deadline = time.monotonic() + timeout
            while not list(cache_of(folder).glob("*.sqlite")) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(0.5)                             # the window swaps the cached parse in
        found.update(proc_status(proc.pid))
        if rereads:
            members = folder / "members.csv"
            original = members.read_bytes()
            for turn in range(rereads):
                saved_changed(members, original, turn)
                key = cti.content_key(members.read_bytes())
                deadline = time.monotonic() + timeout
                while not list(cache_of(folder).glob(f"members-{key}.*.sqlite")) and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(1.5)                         # the new parse opened, its search text read, swapped in
            after = proc_status(proc.pid)
            found["reread_VmRSS"], found["reread_VmHWM"] = after["VmRSS"], after["VmHWM"]
            tmp = members.with_name("~$members.tmp")
            tmp.write_bytes(original)
            os.replace(tmp, members)
        return found
    finally:
        watcher.close()
        proc.kill()
        proc.wait()
        proc.stderr.close()
        ringer.join(5)
        os.close(master)
        os.close(slave)


def window_figures(folder: Path, digits: str, runs: int, cold_runs: int, command=None, rereads=0):
    """Warm start-ups of the window in folder, the last of them re-reading members.csv `rereads` times,
    and cold ones (cold_runs: the parse cache removed first)."""
    command = command or [sys.executable, str(ROOT / "cti.py"), "--config", str(folder / "cti.ini")]
    start_once(command, folder, digits, settle=0, wait_cache=True)          # the cache made, the page cache warm
    warm = [start_once(command, folder, digits, settle=1.0) for _ in range(runs)]
    reread = None
    if rereads:
        reread = start_once(command, folder, digits, settle=1.0, rereads=rereads)
        start_once(command, folder, digits, settle=0, wait_cache=True)      # the cache of the file as it was
    cold = []
    for _ in range(cold_runs):
        shutil.rmtree(cache_of(folder), ignore_errors=True)
        cold.append(start_once(command, folder, digits, settle=0, wait_cache=True))
    return warm, cold, reread


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
        digits = gen.rows(1).__next__()[3].replace("-", "")        # the first member's number
        empty_runs, _, _ = window_figures(empty_folder, digits, runs, 0)
        empty_named = statistics.median(r["named"] for r in empty_runs)
        for size in sizes:
            print(f"# startup {size}: generating", file=sys.stderr, flush=True)
            members = gen.members_file(files, size, "cp932")
            numbers = {"first": next(gen.rows(2))[3].split(";")[0],          # the first member's number
                       "mid": mid_number(size), "miss": "060-1234-5678"}   # 060: no one's
            folder = folder_for(work, members, f"m{size}")
            print(f"# startup {size}: --lookup and csv.reader", file=sys.stderr, flush=True)
            lookup_figures(folder, work, size, numbers, runs, cold_runs=1 if size > 100_000 else (2 if args.quick else 3))
            print(f"# startup {size}: the window", file=sys.stderr, flush=True)
            warm, cold, reread = window_figures(folder, digits, runs, 1 if size > 100_000 or args.quick else 2,
                                                rereads=2 if size <= 100_000 else 0)
            for name, key in (("startup", "mapped"), ("startup_named", "named")):
                emit(f"{name}_warm_{size}", statistics.median(r[key] for r in warm), "s")
                emit(f"{name}_cold_{size}", statistics.median(r[key] for r in cold), "s")
            emit(f"startup_named_warm_vs_empty_{size}", statistics.median(r["named"] for r in warm) / empty_named, "x")
            emit(f"rss_warm_{size}", statistics.median(r["VmRSS"] for r in warm), "MB")
            emit(f"rss_peak_warm_{size}", max(r["VmHWM"] for r in warm), "MB")
            emit(f"rss_warm_spike_{size}", statistics.median(r["VmHWM"] - r["VmRSS"] for r in warm), "MB")
            emit(f"rss_peak_cold_{size}", max(r["VmHWM"] for r in cold), "MB")
            if reread:
                emit(f"rss_before_reread_{size}", reread["VmRSS"], "MB")
                emit(f"rss_after_reread_{size}", reread["reread_VmRSS"], "MB")
                emit(f"rss_peak_reread_{size}", reread["reread_VmHWM"], "MB")
                emit(f"rss_held_after_reread_{size}", reread["reread_VmRSS"] - reread["VmRSS"], "MB")
            if BUILT.exists():
                built = folder_for(work, members, f"built{size}")
                built_runs, _, _ = window_figures(built, digits, runs, 0,
                                                  command=[str(BUILT), "--config", str(built / "cti.ini")])
                emit(f"built_startup_named_warm_{size}", statistics.median(r["named"] for r in built_runs), "s")
            else:
                print(f"# built program: {BUILT.relative_to(ROOT)} not found (build with PyInstaller first): skipped",
                      flush=True)
        emit("startup_empty", statistics.median(r["mapped"] for r in empty_runs), "s")
        emit("startup_named_empty", empty_named, "s")
        emit("rss_peak_empty", max(r["VmHWM"] for r in empty_runs), "MB")
        emit("startup_runs", runs, "runs")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        display.close()


if __name__ == "__main__":
    sys.exit(main())
