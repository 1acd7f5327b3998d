"""One members.csv shared by several reception PCs, Excel and failing disks: real processes, real files.

Each scenario has its home here: two real cti processes writing at once, Excel's
delete-then-rename save, a file gone or unreadable after it was loaded, a full disk and a
read-only folder. Waits are on files and pipes with timeouts, never on fixed sleeps.
"""

import csv
import errno
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cti

ROOT = Path(__file__).resolve().parents[1]
HEADER = "会員番号,名前,ふりがな,電話番号,主担当,メモ,誕生日"
ORIGINAL = [HEADER,
            "AC00001,ペンギン貴子,ぺんぎんたかこ,0596-31-0005,佐藤,カラーは 6 トーン,1985/04/12",
            "AC00002,山田花子,やまだはなこ,090-1234-5678,鈴木,,1990/11/03",
            "AC00003,鈴木一郎,すずきいちろう,045-123-4567,佐藤,,1978/01/30"]


def rows(path: Path, encoding="utf-8-sig"):
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def start_all(barrier: Path, script: str, *args_list, timeout=60):
    """Start one python process a set of args, all waiting for barrier to appear; then let them go together."""
    procs = [subprocess.Popen([sys.executable, "-c", script, str(barrier), *map(str, args)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in args_list]
    ready = [barrier.with_name(f"{barrier.name}.ready{args[0]}") for args in args_list]
    deadline = time.monotonic() + timeout
    while not all(r.exists() for r in ready):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
            [p.communicate()[1] for p in procs if p.poll() is not None]
        time.sleep(0.01)
    barrier.write_text("go")
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout * 4)
        assert proc.returncode == 0, err
        results.append(out.splitlines())
    return results


# -----------------------------------------------------------------------------
# two reception PCs registering at the same moment

REGISTERER = r"""
import sys, time
from pathlib import Path
import cti
barrier, worker, count, members = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
table = cti.MemberTable(members, pending_dir=members.parent / f"pc{worker}").load()
barrier.with_name(f"{barrier.name}.ready{worker}").write_text("")
while not barrier.exists():
    time.sleep(0.001)
for i in range(count):
    registration, errors = cti.validate_registration(
        {"name": f"会員{worker}-{i}", "phone": f"090{worker}{i:07d}"}, table)
    assert not errors, errors
    try:
        member, notes = table.register(registration)
        print("OK", member.member_no, registration.name, flush=True)
    except cti.WriteDeferred as e:
        print("PENDING", e.member.member_no, registration.name, flush=True)
deadline = time.monotonic() + 60
while not table.retry_pending():
    assert time.monotonic() < deadline, "pending never written"
    time.sleep(0.05)
"""


def test_two_processes_registering_at_once_keep_every_member_with_distinct_numbers(tmp_path):
    members = tmp_path / "members.csv"
    members.write_bytes(("\r\n".join(ORIGINAL) + "\r\n").encode("utf-8-sig"))
    for worker in (1, 2):
        (tmp_path / f"pc{worker}").mkdir()
    count = 150
    outputs = start_all(tmp_path / "go", REGISTERER, (1, count, members), (2, count, members))
    final = rows(members)
    assert final[:4] == list(csv.reader(ORIGINAL))                      # the original rows intact
    names = [r[1] for r in final[4:]]
    numbers = [r[0] for r in final[1:]]
    expected = {f"会員{w}-{i}" for w in (1, 2) for i in range(count)}
    assert sorted(names) == sorted(expected)                            # none lost, none twice
    assert len(numbers) == len(set(numbers)) == 3 + 2 * count           # numbers distinct
    acknowledged = [line.split() for out in outputs for line in out]
    assert len(acknowledged) == 2 * count
    by_name = {r[1]: r[0] for r in final[1:]}
    ok = [(no, name) for status, no, name in acknowledged if status == "OK"]
    assert all(by_name[name] == no for no, name in ok)                   # what the dialog said is in the file
    assert not list(tmp_path.glob(".members.csv.*.tmp"))
    print(f"2 processes: {2 * count} registrations, {len(ok)} written at once, "
          f"{2 * count - len(ok)} kept pending then written, lost 0")
