"""The README's benchmark table, made from a saved run of bench/run.py (so that it matches a run).

    nice python bench/run.py > run.txt
    python bench/table.py run.txt          # Markdown on standard output, to paste under "### Benchmarks"
    python bench/table.py run.txt again.txt     # a figure in a later file replaces the earlier one's

A figure the run did not print shows as "—" (e.g. the built program when dist/ was not there).
The targets are judged here again, as bench/run.py judges them, on the figures given.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.run import TARGETS  # noqa: E402

# (what, cti's figures, the baseline's figures, target words): figures are "{name}" placeholders
ROWS = [
    ("`--lookup NUMBER` as a whole process, 100,000 CP932 members (quoted memos, line breaks in cells), "
     "cti compiled (`python -m cti`): cache made / not yet, number first in the file / mid-file / a miss",
     "{cli_lookup_warm_100000_cp932} s ({cli_lookup_warm_vs_csv_reader_100000}×) / "
     "{cli_lookup_cold_first_100000_cp932} ({cli_lookup_cold_first_vs_csv_reader_100000}×), "
     "{cli_lookup_cold_mid_100000_cp932} ({cli_lookup_cold_mid_vs_csv_reader_100000}×), "
     "{cli_lookup_cold_miss_100000_cp932} s ({cli_lookup_cold_miss_vs_csv_reader_100000}×)",
     "{csv_reader_pass_100000_cp932} s (bare csv.reader pass over the same file)",
     "≤ 1.0× / ≤ 1.5×"),
    ("the same as a script (`python cti.py`: compiled at every run): cache made / not yet (first)",
     "{cli_lookup_script_warm_100000_cp932} s ({cli_lookup_script_warm_vs_csv_reader_100000}×) / "
     "{cli_lookup_script_cold_first_100000_cp932} s ({cli_lookup_script_cold_first_vs_csv_reader_100000}×)",
     "{csv_reader_pass_100000_cp932} s", ""),
    ("`--lookup`, 1,000,000 members (compiled): cache made / not yet (first, mid-file, miss)",
     "{cli_lookup_warm_1000000_cp932} s ({cli_lookup_warm_vs_csv_reader_1000000}×) / "
     "{cli_lookup_cold_first_1000000_cp932}, {cli_lookup_cold_mid_1000000_cp932}, "
     "{cli_lookup_cold_miss_1000000_cp932} s (worst {cli_lookup_cold_worst_vs_csv_reader_1000000}×)",
     "{csv_reader_pass_1000000_cp932} s", ""),
    ("`--lookup` runs that changed the cache folder, 100,000 / 1,000,000",
     "{cli_lookup_runs_writing_the_cache_100000} / {cli_lookup_runs_writing_the_cache_1000000}", "", "0"),
    ("compiling cti.py (in every run of the script; the built program and `python -m cti` have it compiled)",
     "{compile_cti_py} s", "", ""),
    ("window start-up to the caller named (a call on the port from the first moment), 100,000 members, "
     "warm / first start",
     "{startup_named_warm_100000} s / {startup_named_cold_100000} s",
     "{startup_named_empty} s (empty members.csv)", "warm < 1.5 s"),
    ("the same, 1,000,000 members, warm / first start",
     "{startup_named_warm_1000000} s / {startup_named_cold_1000000} s", "{startup_named_empty} s (empty members.csv)",
     "warm < 1 s, ≤ 3× empty: {startup_named_warm_vs_empty_1000000}×; first < 15 s"),
    ("window start-up to the window mapped, 100,000 / 1,000,000 members, warm",
     "{startup_warm_100000} s / {startup_warm_1000000} s", "{startup_empty} s (empty)", ""),
    ("built program (dist/cti/cti) start-up to the caller named, 100,000 members, warm",
     "{built_startup_named_warm_100000} s", "", ""),
    ("peak memory (VmHWM), 100,000 members, warm / first start / across two re-reads",
     "{rss_peak_warm_100000} / {rss_peak_cold_100000} / {rss_peak_reread_100000} MB", "{rss_peak_empty} MB (empty)",
     "< 100 MB"),
    ("memory in use (VmRSS) before two re-reads / after them (held: {rss_held_after_reread_100000} MB), 100,000",
     "{rss_before_reread_100000} / {rss_after_reread_100000} MB", "", "held < 10 MB"),
    ("peak memory (VmHWM), 1,000,000 members, warm / first start; warm peak over steady use",
     "{rss_peak_warm_1000000} / {rss_peak_cold_1000000} MB; {rss_warm_spike_1000000} MB",
     "{rss_peak_empty} MB (empty)", "< 400 MB; spike < 40 MB"),
    ("popup: last byte on the port → caller shown, p50 / p99 (100,000 members)",
     "{popup_latency_p50_100000} / {popup_latency_p99_100000} ms",
     "{popup_latency_naive_p50_100000} / {popup_latency_naive_p99_100000} ms (csv scan per call)", "p99 < 50 ms"),
    ("the same while a re-read of members.csv is running, p50 / p99 / max ({popup_during_reread_calls} calls)",
     "{popup_during_reread_p50_100000} / {popup_during_reread_p99_100000} / {popup_during_reread_max_100000} ms",
     "{popup_latency_p50_100000} / {popup_latency_p99_100000} ms (no re-read)", "p99 < 50 ms"),
    ("the same with the queue polled every 50 ms (the former POLL_MS) instead of 20",
     "{popup_latency_poll50ms_p50_100000} / {popup_latency_poll50ms_p99_100000} ms", "", ""),
    ("a call right after members.csv is saved: number shown (worst) / new name shown (p50)",
     "{call_after_save_number_max_100000} ms / {call_after_save_name_p50_100000} s",
     "{popup_latency_p50_100000} ms (popup without a save, p50)", "number < 0.5 s"),
    ("link dialog: keystroke → results drawn, first keystroke p50 / p99 (100,000)",
     "{link_first_keystroke_p50_100000} / {link_first_keystroke_p99_100000} ms",
     "{link_first_keystroke_naive_scan_p99_100000} ms p99 (list scan)", "p99 < 50 ms"),
    ("link dialog: the first keystroke right after a fresh start, p50 / max ({link_fresh_starts} starts)",
     "{link_first_keystroke_fresh_p50_100000} / {link_first_keystroke_fresh_max_100000} ms",
     "{link_keystroke_p50_100000} ms (every keystroke, p50)", "< 50 ms"),
    ("link dialog: every keystroke p50 / p99 (100,000)",
     "{link_keystroke_p50_100000} / {link_keystroke_p99_100000} ms",
     "{link_keystroke_naive_scan_p50_100000} / {link_keystroke_naive_scan_p99_100000} ms (list scan)", ""),
    ("lookup p50 / p99, 1,000,000 members, through the cache (as the window)",
     "{members_lookup_cached_p50_1000000_cp932} / {members_lookup_cached_p99_1000000_cp932} µs",
     "{members_lookup_naive_dict_p50_1000000_cp932} / {members_lookup_naive_dict_p99_1000000_cp932} µs "
     "(dict from one csv.reader pass, built in {members_lookup_naive_dict_build_1000000_cp932} s)", "p99 < 50 µs"),
    ("lookup p50 / p99, 1,000,000 members, parsed table",
     "{members_lookup_p50_1000000_cp932} / {members_lookup_p99_1000000_cp932} µs", "", "p99 < 50 µs"),
    ("search p50 / p99, 100,000 members (the function alone)",
     "{members_search_p50_100000_cp932} / {members_search_p99_100000_cp932} ms",
     "{members_search_naive_like_p50_100000_cp932} / {members_search_naive_like_p99_100000_cp932} ms "
     "(`LIKE '%q%'`)", "p99 < 50 ms"),
    ("members.csv parse into memory, 100,000 / 1,000,000 (as a change does; the same rows)",
     "{members_load_100000_cp932} / {members_load_1000000_cp932} s", "", ""),
    ("load from the parse cache, 100,000 / 1,000,000 (search text read: 1,000,000)",
     "{members_load_cached_100000_cp932} / {members_load_cached_1000000_cp932} s "
     "({members_search_index_read_from_cache_1000000_cp932} s)", "", ""),
    ("parse into the parse cache (first start, or after a change), 100,000 / 1,000,000",
     "{members_cache_write_100000_cp932} / {members_cache_write_1000000_cp932} s", "", ""),
    ("register one member, 10,000 / 100,000", "{members_register_10000_cp932} / {members_register_100000_cp932} s",
     "", ""),
    ("protocol = auto: reader CPU on 9600-baud garbage over a fixed decoder's, 1- / 16-byte reads",
     "{reader_auto_over_nd_1b}× / {reader_auto_over_nd_16b}×", "", "≤ 1.5×"),
]


def figures_of(text: str) -> dict:
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            found[parts[0]] = parts[1]
    return found


def fill(template: str, figures: dict) -> str:
    class Missing(dict):
        def __missing__(self, key):
            return "—"
    return template.format_map(Missing(figures))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    texts = [Path(a).read_text(encoding="utf-8") for a in argv] or [sys.stdin.read()]
    figures = {}
    for text in texts:
        figures.update(figures_of(text))
    print("| figure | cti | baseline, same run | target |")
    print("| --- | --- | --- | --- |")
    for what, ours, theirs, target in ROWS:
        print(f"| {what} | {fill(ours, figures)} | {fill(theirs, figures)} | {fill(target, figures)} |")
    print("\nTargets, judged as bench/run.py judges them:\n")
    for names, limit, unit, words in TARGETS:
        found = [float(figures[n]) for n in names if n in figures]
        verdict = f"{max(found):g} {unit}, {'met' if max(found) < limit else 'missed'}" if found else "not measured"
        print(f"- {words}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
