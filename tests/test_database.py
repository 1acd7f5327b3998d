"""cti.db on real SQLite in tmp_path: schema, call history and pruning, reservations, visits, imports."""

import csv
import io
import logging
import os
import time
import sqlite3
import sys
from datetime import date, datetime, timedelta

import pytest

import cti
from conftest import FakeClock

NOW = datetime(2026, 11, 25, 10, 0, 0)


@pytest.fixture
def db(tmp_path, clock):
    database = cti.Database(tmp_path / "cti.db", max_entries=100, max_days=7, now=clock)
    yield database
    database.close()


def call(number, at, reason=None, protocol="modem"):
    return cti.Call(number, reason, protocol=protocol, received=at)


# -----------------------------------------------------------------------------
# schema

def test_schema_is_versioned_and_in_wal_mode(db, tmp_path):
    raw = sqlite3.connect(tmp_path / "cti.db")
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 4 == len(cti.SCHEMA)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"calls", "reservations", "visits"} <= tables
    finally:
        raw.close()


def test_reopening_does_not_migrate_again(tmp_path, clock):
    cti.Database(tmp_path / "cti.db", now=clock).close()
    again = cti.Database(tmp_path / "cti.db", now=clock)      # CREATE TABLE twice would raise
    assert again.conn.execute("PRAGMA user_version").fetchone()[0] == 4
    again.close()


def test_a_version_1_database_keeps_its_calls_and_learns_how_a_call_ended(tmp_path, clock):
    """Schema 2 adds calls.answered (SIP's CANCEL says answered elsewhere or missed); older calls: NULL."""
    path = tmp_path / "cti.db"
    raw = sqlite3.connect(path)
    raw.executescript(cti.SCHEMA[0])
    raw.execute("INSERT INTO calls (received, number, protocol) VALUES ('2026-11-25T09:00:00', '0596310005', 'nd')")
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()
    database = cti.Database(path, now=clock)
    try:
        [old] = database.calls()
        assert (old.number, old.answered) == ("0596310005", None)
        missed = database.add_call(call("0312345678", clock(), protocol="sip"))
        assert database.set_answered(missed, False)
        assert [(c.number, c.answered) for c in database.calls()] == [("0312345678", False), ("0596310005", None)]
    finally:
        database.close()


def test_a_version_2_database_numbers_its_calls_by_arrival_and_never_reuses_an_id(tmp_path, clock):
    """Schema 3: ids from AUTOINCREMENT. Version 2's ids could be reused (a pruned row's id given to
    the next call) and its order was the wall clock's; the calls keep their stored order."""
    path = tmp_path / "cti.db"
    raw = sqlite3.connect(path)
    raw.executescript(cti.SCHEMA[0])
    raw.executescript(cti.SCHEMA[1])
    raw.executemany("INSERT INTO calls (id, received, number, protocol) VALUES (?, ?, ?, 'nd')",
                    [(7, "2026-11-25T09:00:00", "0311111111"), (3, "2026-11-25T08:00:00", "0322222222")])
    raw.execute("PRAGMA user_version = 2")
    raw.commit()
    raw.close()
    database = cti.Database(path, max_entries=2, now=clock, monotonic=clock.monotonic)
    try:
        assert [c.number for c in database.calls()] == ["0311111111", "0322222222"]
        newest = database.add_call(call("0333333333", clock()))
        assert [c.number for c in database.calls()] == ["0333333333", "0311111111"]
        database.delete_call(newest)
        again = database.add_call(call("0344444444", clock()))
        assert again > newest                   # the deleted id is not handed out again
    finally:
        database.close()


def test_history_is_in_arrival_order_whatever_the_clock_said(tmp_path, clock):
    db = cti.Database(tmp_path / "cti.db", max_entries=100, now=clock, monotonic=clock.monotonic)
    first = db.add_call(call("0311111111", NOW))
    back = db.add_call(call("0322222222", NOW - timedelta(hours=1)))    # the clock was set back an hour
    assert [r.id for r in db.calls()] == [back, first]
    db.close()


def test_a_clock_set_back_never_removes_the_calls_it_stores(tmp_path, clock):
    """The report: 100 kept, the clock set back an hour; both new calls were deleted by the very
    transaction that stored them, and the reused id broke the window."""
    db = cti.Database(tmp_path / "cti.db", max_entries=5, now=clock, monotonic=clock.monotonic)
    for minute in range(5):
        db.add_call(call("0311111111", NOW - timedelta(minutes=10 - minute)))
    clock.when = NOW - timedelta(hours=1)
    new = [db.add_call(call(f"032222222{i}", clock())) for i in range(2)]
    assert [r.id for r in db.calls()][:2] == new[::-1]
    assert len(db.calls()) == 5 and len(set(r.id for r in db.calls())) == 5
    db.close()


def test_clock_forward_eight_days_and_back_keeps_the_history(tmp_path, clock):
    """The report: 49 of 50 calls gone for good. A jump stops removal by age until the clock is back."""
    db = cti.Database(tmp_path / "cti.db", max_entries=50, now=clock, monotonic=clock.monotonic)
    kept = [db.add_call(call("0311111111", NOW - timedelta(minutes=50 - i))) for i in range(49)]
    clock.when = NOW + timedelta(days=8)
    ahead = db.add_call(call("0322222222", clock()))
    assert db.clock.offset() == pytest.approx(8 * 86400)
    assert [r.id for r in db.calls()] == [ahead] + kept[::-1]
    clock.when = NOW + timedelta(minutes=1)                # put right
    back = db.add_call(call("0333333333", clock()))
    assert db.clock.offset() == 0.0
    assert [r.id for r in db.calls()] == [back, ahead] + kept[:0:-1]    # only the count rule took one
    db.close()


def test_a_step_within_the_limit_is_no_jump_and_one_past_it_is(clock):
    watch = cti.ClockWatch(lambda: clock().timestamp(), clock.monotonic)
    clock.when += timedelta(seconds=cti.CLOCK_JUMP)
    assert watch.offset() == 0.0
    clock.when += timedelta(seconds=1)
    assert watch.offset() == cti.CLOCK_JUMP + 1
    clock.when -= timedelta(seconds=2 * cti.CLOCK_JUMP + 2)
    assert watch.offset() == -(cti.CLOCK_JUMP + 1)
    clock.advance(86400)                                    # a day passing is no jump
    assert watch.offset() == -(cti.CLOCK_JUMP + 1)


def test_a_jump_is_logged_once_and_its_end_too(clock, caplog):
    watch = cti.ClockWatch(lambda: clock().timestamp(), clock.monotonic)
    clock.when -= timedelta(hours=1)
    for _ in range(3):
        watch.offset()
    clock.when += timedelta(hours=1)
    watch.offset()
    texts = [r.getMessage() for r in caplog.records if "時計" in r.getMessage()]
    assert len(texts) == 2 and "-3600 秒" in texts[0] and "元に戻りました" in texts[1]


def test_pruning_by_age_waits_while_the_clock_stands_off(tmp_path, clock):
    db = cti.Database(tmp_path / "cti.db", max_entries=100, max_days=7, now=clock, monotonic=clock.monotonic)
    old = db.add_call(call("0311111111", NOW - timedelta(days=6)))
    clock.when = NOW + timedelta(days=2)                  # stepped: old looks 8 days old
    db.prune()
    assert [r.id for r in db.calls()] == [old]
    clock.when = NOW                                      # put right
    clock.advance(2 * 86400)                              # and two real days pass: now it is 8 days old
    db.prune()
    assert db.calls() == []
    db.close()


def test_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "cti.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 7")
    raw.close()
    with pytest.raises(cti.DatabaseError) as caught:
        cti.Database(path)
    assert "cti.db" in str(caught.value) and "7" in str(caught.value)
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0   # nothing created
    raw.close()


# -----------------------------------------------------------------------------
# calls

def test_calls_are_stored_and_read_newest_first(db):
    first = db.add_call(call("0596310005", NOW - timedelta(minutes=30)))
    second = db.add_call(call(None, NOW - timedelta(minutes=10), reason="private", protocol="nd"))
    third = db.add_call(cti.Call("09087654321", name="TANAKA", protocol="whozz"))   # received: now()
    records = db.calls()
    assert [r.id for r in records] == [third, second, first]
    assert (records[0].number, records[0].received, records[0].caller_name, records[0].protocol) == \
        ("09087654321", NOW, "TANAKA", "whozz")
    assert (records[1].number, records[1].reason, records[1].protocol) == (None, "private", "nd")
    assert records[2].received == NOW - timedelta(minutes=30)


def test_calls_in_the_same_second_keep_their_order(db):
    ids = [db.add_call(call(f"090000000{i:02d}", NOW)) for i in range(5)]
    assert [r.id for r in db.calls()] == ids[::-1]


def test_pruned_to_max_entries(tmp_path, clock):
    db = cti.Database(tmp_path / "cti.db", max_entries=5, max_days=7, now=clock)
    ids = [db.add_call(call(f"0900000{i:04d}", NOW - timedelta(minutes=60 - i))) for i in range(8)]
    assert [r.id for r in db.calls()] == ids[:2:-1]
    assert db.conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 5
    db.close()


def test_pruned_to_max_days(tmp_path, clock):
    db = cti.Database(tmp_path / "cti.db", max_entries=100, max_days=7, now=clock, monotonic=clock.monotonic)
    stale = db.add_call(call("0311111111", NOW - timedelta(days=7, seconds=1)))
    assert [r.id for r in db.calls()] == [stale]               # never removed by its own insert
    edge = db.add_call(call("0322222222", NOW - timedelta(days=7)))
    recent = db.add_call(call("0333333333", NOW - timedelta(days=6, hours=23)))
    assert [r.id for r in db.calls()] == [recent, edge]        # ... but by the next
    assert db.pruned == []
    clock.advance(3600)
    newest = db.add_call(call("0344444444", clock.when))
    assert [r.number for r in db.calls()] == ["0344444444", "0333333333"]
    assert db.pruned == [edge] and newest > recent > edge > stale
    db.close()


def test_pruned_at_start(tmp_path, clock):
    db = cti.Database(tmp_path / "cti.db", now=clock)
    for days in (5, 3, 1):
        db.add_call(call("0596310005", NOW - timedelta(days=days)))
    db.close()
    later = FakeClock(NOW + timedelta(days=4))
    db = cti.Database(tmp_path / "cti.db", max_entries=100, max_days=7, now=later)
    assert [(later.when - r.received).days for r in db.calls()] == [5, 7]
    db.close()
    db = cti.Database(tmp_path / "cti.db", max_entries=1, max_days=7, now=later)
    assert [(later.when - r.received).days for r in db.calls()] == [5]
    db.close()


def test_delete_one_entry(db):
    keep = db.add_call(call("0311111111", NOW - timedelta(minutes=2)))
    gone = db.add_call(call("0322222222", NOW - timedelta(minutes=1)))
    assert db.delete_call(gone) is True
    assert db.delete_call(gone) is False
    assert db.delete_call(99999) is False
    assert [r.id for r in db.calls()] == [keep]


def test_history_survives_reopening(tmp_path, clock):
    db = cti.Database(tmp_path / "cti.db", now=clock)
    db.add_call(call("0596310005", NOW - timedelta(hours=2)))
    db.add_call(call(None, NOW - timedelta(hours=1), reason="payphone"))
    before = db.calls()
    db.close()
    db = cti.Database(tmp_path / "cti.db", now=clock)
    assert db.calls() == before and len(before) == 2
    db.close()


# -----------------------------------------------------------------------------
# reservations

def row(db, reservation_id):
    return dict(db.conn.execute("SELECT * FROM reservations WHERE id = ?", (reservation_id,)).fetchone())


def test_reservation_goes_through_its_states_with_times(db, clock):
    rid = db.reserve("AC00001", datetime(2026, 11, 25, 14, 30), "カラー", "佐藤", "ハーブティー")
    r = db.reservation(rid)
    assert (r.member_no, r.starts, r.menu, r.staff, r.memo, r.status) == \
        ("AC00001", datetime(2026, 11, 25, 14, 30), "カラー", "佐藤", "ハーブティー", "予約")
    assert row(db, rid)["created"] == "2026-11-25T10:00:00"
    clock.when = datetime(2026, 11, 25, 14, 25)
    assert db.set_status(rid, "来店").status == "来店"
    clock.when = datetime(2026, 11, 25, 16, 5)
    assert db.set_status(rid, "退店", amount=8800).status == "退店"
    stored = row(db, rid)
    assert (stored["arrived"], stored["departed"], stored["cancelled"]) == \
        ("2026-11-25T14:25:00", "2026-11-25T16:05:00", None)
    [visit] = db.visits("AC00001")
    assert (visit.date, visit.menu, visit.staff, visit.amount, visit.memo) == \
        ("2026-11-25", "カラー", "佐藤", 8800, "ハーブティー")


def test_cancel_records_its_time(db, clock):
    rid = db.reserve("AC00001", datetime(2026, 11, 26, 11, 0))
    clock.when = datetime(2026, 11, 25, 18, 0)
    assert db.set_status(rid, "取消").status == "取消"
    assert row(db, rid)["cancelled"] == "2026-11-25T18:00:00"
    arrived = db.reserve("AC00002", datetime(2026, 11, 25, 11, 0))
    db.set_status(arrived, "来店")
    assert db.set_status(arrived, "取消").status == "取消"      # came in, then left without service
    assert db.visits("AC00001") == [] and db.visits("AC00002") == []


@pytest.mark.parametrize("steps, refused", [
    ((), "退店"),                   # 予約 -> 退店 skips 来店
    (("来店",), "予約"),
    (("来店",), "来店"),
    (("来店", "退店"), "退店"),
    (("来店", "退店"), "取消"),
    (("取消",), "来店"),
    (("取消",), "予約"),
    ((), "予約"),
    ((), "done"),
])
def test_invalid_transitions_are_refused(db, steps, refused):
    rid = db.reserve("AC00001", NOW + timedelta(hours=2))
    for step in steps:
        db.set_status(rid, step)
    before = row(db, rid)
    with pytest.raises(cti.BookingError) as refusal:
        db.set_status(rid, refused)
    assert str(refusal.value) == f"「{before['status']}」の予約を「{refused}」にはできません"
    assert isinstance(refusal.value, cti.CtiError) and refusal.value.kind == "step"
    assert row(db, rid) == before


def test_unknown_reservation_is_refused(db):
    with pytest.raises(cti.BookingError, match="^予約 12345 はありません$"):
        db.set_status(12345, "来店")


def test_checkout_writes_exactly_one_visit(db):
    rid = db.reserve("AC00001", NOW + timedelta(hours=1), "カット", "田中")
    db.set_status(rid, "来店")
    db.set_status(rid, "退店", amount=5500)
    with pytest.raises(ValueError):
        db.set_status(rid, "退店", amount=5500)
    assert len(db.visits("AC00001")) == 1
    assert db.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 1


def test_checkout_from_two_windows_writes_one_visit(tmp_path, clock):
    """Two connections (two windows on one db) both see 来店 and check out."""
    a = cti.Database(tmp_path / "cti.db", now=clock)
    b = cti.Database(tmp_path / "cti.db", now=clock)
    rid = a.reserve("AC00001", NOW + timedelta(hours=1))
    a.set_status(rid, "来店")
    stale = b.reservation(rid)
    a.set_status(rid, "退店", amount=1000)
    with pytest.raises(ValueError):
        b.set_status(stale.id, "退店", amount=1000)
    assert len(b.visits("AC00001")) == 1
    a.close()
    b.close()


def test_today_counts(db, clock):
    today = NOW.replace(hour=0)
    ids = [db.reserve(f"AC0000{i}", today.replace(hour=10 + i)) for i in range(1, 7)]
    db.reserve("AC00009", today + timedelta(days=1, hours=10))            # tomorrow
    db.reserve("AC00009", today - timedelta(days=1, hours=-10))           # yesterday
    db.set_status(ids[0], "来店")
    db.set_status(ids[1], "来店")
    db.set_status(ids[1], "退店")
    db.set_status(ids[2], "来店")
    db.set_status(ids[2], "退店")
    db.set_status(ids[3], "取消")
    assert db.today_counts() == {"reserved": 5, "arrived": 3, "departed": 2}
    assert db.today_counts(date(2026, 11, 26)) == {"reserved": 1, "arrived": 0, "departed": 0}
    assert db.today_counts(date(2026, 12, 1)) == {"reserved": 0, "arrived": 0, "departed": 0}
    clock.when = datetime(2026, 11, 26, 9, 0)
    assert db.today_counts() == {"reserved": 1, "arrived": 0, "departed": 0}


def test_reservations_on_a_day_in_time_order(db):
    late = db.reserve("AC00002", datetime(2026, 11, 27, 17, 0))
    early = db.reserve("AC00001", datetime(2026, 11, 27, 9, 30))
    db.reserve("AC00003", datetime(2026, 11, 28, 0, 0))                  # midnight next day: not on the 27th
    db.reserve("AC00003", datetime(2026, 11, 26, 23, 59))
    midnight = db.reserve("AC00004", datetime(2026, 11, 27, 0, 0))
    assert [r.id for r in db.reservations_on(date(2026, 11, 27))] == [midnight, early, late]
    assert db.reservations_on(date(2026, 11, 29)) == []


def test_upcoming_for_a_member(db, clock):
    later = db.reserve("AC00001", datetime(2026, 12, 10, 15, 0), "カラー")
    sooner = db.reserve("AC00001", datetime(2026, 11, 30, 11, 0), "カット")
    today = db.reserve("AC00001", datetime(2026, 11, 25, 16, 0))
    db.reserve("AC00001", datetime(2026, 11, 20, 11, 0))                 # past
    cancelled = db.reserve("AC00001", datetime(2026, 12, 1, 11, 0))
    db.set_status(cancelled, "取消")
    db.reserve("AC00002", datetime(2026, 11, 29, 11, 0))                 # someone else
    assert [r.id for r in db.upcoming("AC00001")] == [today, sooner, later]
    db.set_status(today, "来店")
    assert [r.id for r in db.upcoming("AC00001")] == [sooner, later]
    assert db.upcoming("AC09999") == []
    clock.when = datetime(2026, 12, 5, 9, 0)
    assert [r.id for r in db.upcoming("AC00001")] == [later]


# -----------------------------------------------------------------------------
# visits

def test_visits_newest_first(db, clock):
    for day, menu in ((date(2026, 9, 1), "カット"), (date(2026, 11, 1), "カラー"), (date(2026, 10, 1), "パーマ")):
        clock.when = datetime.combine(day, datetime.min.time()).replace(hour=10)
        rid = db.reserve("AC00001", clock.when, menu)
        db.set_status(rid, "来店")
        db.set_status(rid, "退店")
    clock.when = NOW
    rid = db.reserve("AC00002", NOW, "ヘッドスパ")
    db.set_status(rid, "来店")
    db.set_status(rid, "退店")
    assert [(v.date, v.menu) for v in db.visits("AC00001")] == \
        [("2026-11-01", "カラー"), ("2026-10-01", "パーマ"), ("2026-09-01", "カット")]
    assert [v.menu for v in db.visits("AC00002")] == ["ヘッドスパ"]


VISITS_CSV = [
    "来店日,会員番号,メニュー,担当,金額,メモ",
    '2026/11/01,AC00001,カット,佐藤,"5,500円",髙島屋の紙袋',
    "2026-10-15,AC00001,カラー,佐藤,￥12000,",
    "11/20,AC00002,パーマ,鈴木,,",
    "",
    "2026/13/40,AC00001,カット,佐藤,3000,",
    ",,,,,",
    "2026/11/02,,カット,佐藤,3000,",
    "2026/11/03,AC00003,カット,佐藤,五千円,",
    "2026年11月4日,AC00003,トリートメント,田中,\"3,300\",①回目",
]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_import_visits(db, tmp_path, encoding):
    path = tmp_path / "来店履歴.csv"
    path.write_bytes(("\r\n".join(VISITS_CSV) + "\r\n").encode(encoding))
    count, problems = db.import_visits(path)
    assert count == 4
    assert problems == [
        "来店履歴.csv 6行目: 来店日 '2026/13/40' が読めません",
        "来店履歴.csv 8行目: 会員番号が空です",
        "来店履歴.csv 9行目: 金額 '五千円' が読めません",
    ]
    assert [(v.date, v.menu, v.staff, v.amount, v.memo) for v in db.visits("AC00001")] == [
        ("2026-11-01", "カット", "佐藤", 5500, "髙島屋の紙袋"),
        ("2026-10-15", "カラー", "佐藤", 12000, ""),
    ]
    assert [(v.date, v.amount) for v in db.visits("AC00002")] == [("2026-11-20", None)]
    assert [(v.date, v.amount, v.memo) for v in db.visits("AC00003")] == [("2026-11-04", 3300, "①回目")]


def test_importing_the_same_file_twice_adds_nothing_the_second_time(db, tmp_path):
    path = tmp_path / "来店履歴.csv"
    path.write_bytes(("\r\n".join(VISITS_CSV) + "\r\n").encode("utf-8-sig"))
    assert db.import_visits(path)[0] == 4
    assert db.import_visits(path)[0] == 0
    assert len(db.visits("AC00001")) == 2


def test_import_visits_english_headers_and_column_order(db, tmp_path):
    path = tmp_path / "visits.csv"
    path.write_text("amount,memo,member_no,date,staff,menu\n1000,x,AC00005,2026-11-02,s,m\n", encoding="utf-8")
    assert db.import_visits(path) == (1, [])
    [visit] = db.visits("AC00005")
    assert (visit.date, visit.menu, visit.staff, visit.amount, visit.memo) == ("2026-11-02", "m", "s", 1000, "x")


def test_import_visits_without_required_columns(db, tmp_path):
    path = tmp_path / "visits.csv"
    path.write_text("会員番号,メニュー\nAC00001,カット\n", encoding="utf-8-sig")
    with pytest.raises(cti.VisitsError) as caught:
        db.import_visits(path)
    assert "visits.csv" in str(caught.value) and "来店日" in str(caught.value)
    assert db.conn.execute("SELECT count(*) FROM visits").fetchone()[0] == 0


def test_import_visits_unreadable_file(db, tmp_path):
    path = tmp_path / "visits.csv"
    path.write_bytes("来店日,会員番号\r\n".encode("cp932") + b"2026/11/01,\x81\x20\r\n")
    with pytest.raises(cti.VisitsError) as caught:
        db.import_visits(path)
    assert "visits.csv" in str(caught.value)


# -----------------------------------------------------------------------------
# the reservation form

@pytest.fixture
def members(tmp_path):
    path = tmp_path / "members.csv"
    path.write_bytes("会員番号,名前\r\nAC00001,ペンギン貴子\r\n".encode("utf-8-sig"))
    return cti.MemberTable(path).load()


def test_validate_reservation_accepts_a_good_form(members):
    result, errors = cti.validate_reservation(
        {"member_no": " AC00001 ", "date": "11/26", "time": "14時30分", "menu": " カット ", "staff": "佐藤",
         "memo": ""}, members, NOW)
    assert errors == {}
    assert result == {"member_no": "AC00001", "starts": datetime(2026, 11, 26, 14, 30), "menu": "カット",
                      "staff": "佐藤", "memo": ""}
    result, errors = cti.validate_reservation({"member_no": "AC00001", "date": "1125", "time": "1800"},
                                              members, NOW)
    assert errors == {} and result["starts"] == datetime(2026, 11, 25, 18, 0)


@pytest.mark.parametrize("form, fields", [
    ({"member_no": "AC09999", "date": "11/26", "time": "14:30"}, {"member_no"}),
    ({"member_no": "", "date": "11/26", "time": "14:30"}, {"member_no"}),
    ({"member_no": "AC00001", "date": "2026/02/30", "time": "14:30"}, {"date"}),
    ({"member_no": "AC00001", "date": "あした", "time": "14:30"}, {"date"}),
    ({"member_no": "AC00001", "date": "11/26", "time": "25:00"}, {"time"}),
    ({"member_no": "AC00001", "date": "11/26", "time": ""}, {"time"}),
    ({"member_no": "AC00001", "date": "2026-11-24", "time": "14:30"}, {"date"}),
    ({"member_no": "AC09999", "date": "x", "time": "y"}, {"member_no", "date", "time"}),
])
def test_validate_reservation_errors(members, form, fields):
    result, errors = cti.validate_reservation(form, members, NOW)
    assert result is None and set(errors) == fields
    assert all(isinstance(m, str) and m for m in errors.values())


def test_a_booking_typed_without_a_year_in_december_for_january_is_next_year(members):
    december = datetime(2026, 12, 20, 12, 0)
    result, errors = cti.validate_reservation({"member_no": "AC00001", "date": "1/10", "time": "10:00"},
                                              members, december)
    assert errors == {} and result["starts"] == datetime(2027, 1, 10, 10, 0)
    assert cti.parse_date("1/10", december) == datetime(2026, 1, 10).date()      # a visit import: the past


def test_past_date_message(members):
    _, errors = cti.validate_reservation({"member_no": "AC00001", "date": "11/24", "time": "10:00"}, members, NOW)
    assert errors == {"date": "過去の日付には予約できません"}


@pytest.mark.parametrize("text, expected", [
    ("2026-11-25", date(2026, 11, 25)),
    ("2026/11/25", date(2026, 11, 25)),
    ("2026/1/5", date(2026, 1, 5)),
    ("2027.01.05", date(2027, 1, 5)),
    ("2026年11月25日", date(2026, 11, 25)),
    ("１１／２５", date(2026, 11, 25)),
    ("11/25", date(2026, 11, 25)),
    ("12-31", date(2026, 12, 31)),
    ("1125", date(2026, 11, 25)),
    ("0105", date(2026, 1, 5)),
    (" 11/25 ", date(2026, 11, 25)),
    ("11/31", None),
    ("1340", None),
    ("2026/11", None),
    ("abc", None),
    ("", None),
])
def test_parse_date(text, expected):
    assert cti.parse_date(text, NOW) == expected


@pytest.mark.parametrize("text, expected", [
    ("14:30", (14, 30)),
    ("1430", (14, 30)),
    ("930", (9, 30)),
    ("9:05", (9, 5)),
    ("14時30分", (14, 30)),
    ("14時30", (14, 30)),
    ("9時", (9, 0)),
    ("１４：３０", (14, 30)),
    ("0:00", (0, 0)),
    ("24:00", None),
    ("12:60", None),
    ("14", None),
    ("abc", None),
    ("", None),
])
def test_parse_time(text, expected):
    assert cti.parse_time(text) == expected


# -----------------------------------------------------------------------------
# export

def test_export_calls_csv_for_excel(tmp_path):
    path = tmp_path / "着信履歴.csv"
    rows = [["11/25 10:00", "0596-31-0005", "AC00001", "ペンギン貴子", "ぺんぎんたかこ", "佐藤"],
            ["11/25 10:05", "非通知", "", "", "", ""],
            ["11/25 10:07", "03-1234-5678", "AC00009", "=HYPERLINK(\"x\")", "", "田中, 鈴木"]]
    cti.export_calls_csv(path, rows)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.count("\r\n") == 4 and "\n" not in text.replace("\r\n", "")
    back = list(csv.reader(io.StringIO(text, newline="")))
    assert back[0] == ["着信時間", "着信番号", "会員番号", "名前", "ふりがな", "主担当"]
    assert back[1:3] == rows[:2]
    assert back[3] == ["11/25 10:07", "03-1234-5678", "AC00009", "'=HYPERLINK(\"x\")", "", "田中, 鈴木"]
    assert list(tmp_path.iterdir()) == [path]


# -----------------------------------------------------------------------------
# bookings: amounts, lengths, overlaps, what may be done, moving

@pytest.mark.parametrize("text, amount", [("4500", 4500), ("４，５００", 4500), ("¥4,500", 4500), ("4500円", 4500),
                                          ("￥12,000", 12000), (" 3 000 ", 3000), ("0", 0), ("", None),
                                          ("　", None)])
def test_parse_amount_takes_yen_as_typed(text, amount):
    assert cti.parse_amount(text) == amount


@pytest.mark.parametrize("text", ["-500", "4500.5", "四千五百", "4500ドル", "123456789", "1e3"])
def test_parse_amount_refuses_what_is_not_whole_yen(text):
    with pytest.raises(ValueError):
        cti.parse_amount(text)


MENUS = (("カット", 60), ("カラー", 90), ("眉カット", None))


@pytest.mark.parametrize("menu, minutes", [("カット", 60), ("カラー", 90), ("眉カット", 45), ("", 45), ("特別", 45)])
def test_booking_minutes_from_the_menu_else_the_slot(menu, minutes):
    assert cti.booking_minutes(menu, MENUS, 45) == minutes


def at(hour, minute=0):
    return datetime(2026, 11, 28, hour, minute)


def reservation(id, starts, menu="カット", staff="佐藤", status="予約"):
    return cti.Reservation(id, "AC00001", starts, menu, staff, "", status)


def minutes_of(r):
    return cti.booking_minutes(r.menu, MENUS, 60)


@pytest.mark.parametrize("starts, minutes, staff, expected", [
    (at(14), 60, "佐藤", [1]),                  # the same time
    (at(13, 30), 60, "佐藤", [1]),              # runs into it
    (at(15), 60, "佐藤", [1]),                  # starts during its 90 minutes of カラー
    (at(15, 30), 60, "佐藤", []),               # back to back after it
    (at(13), 60, "佐藤", []),                   # back to back before it
    (at(12), 330, "佐藤", [1, 2]),              # a long one spans both
    (at(14), 60, "鈴木", []),                   # another stylist
    (at(14), 60, "", []),                       # no stylist named: nothing to clash with
])
def test_overlapping_bookings_of_the_stylist(starts, minutes, staff, expected):
    day = [reservation(1, at(14), "カラー"), reservation(2, at(17)), reservation(3, at(14), status="取消"),
           reservation(4, at(14), status="退店"), reservation(5, at(13), staff="鈴木", status="来店")]
    assert [r.id for r in cti.overlapping(starts, minutes, staff, day, minutes_of)] == expected


def test_overlapping_counts_an_arrived_customer_and_skips_the_booking_being_moved():
    day = [reservation(1, at(14), status="来店"), reservation(2, at(14, 30))]
    assert [r.id for r in cti.overlapping(at(14), 60, "佐藤", day, minutes_of)] == [1, 2]
    assert [r.id for r in cti.overlapping(at(14), 60, "佐藤", day, minutes_of, exclude=2)] == [1]


@pytest.mark.parametrize("status, day, actions", [
    ("予約", date(2026, 11, 28), ("変更", "来店", "取消")),       # today
    ("予約", date(2026, 11, 27), ("変更", "来店", "取消")),       # yesterday's, recorded late
    ("予約", date(2026, 12, 5), ("変更", "取消")),                # a future booking: no 来店 yet
    ("来店", date(2026, 11, 28), ("退店", "取消")),
    ("退店", date(2026, 11, 28), ()),
    ("取消", date(2026, 12, 5), ()),
])
def test_booking_actions_offer_only_what_applies(status, day, actions):
    r = reservation(1, datetime(day.year, day.month, day.day, 14), status=status)
    assert cti.booking_actions(r, date(2026, 11, 28)) == actions
    assert set(actions) - {"変更"} <= set(cti.NEXT_STATES[status])     # never one set_status refuses


def test_move_a_future_booking(db):
    rid = db.reserve("AC00001", datetime(2026, 12, 5, 14, 0), "カット", "佐藤", "初回")
    moved = db.move(rid, datetime(2026, 12, 6, 10, 30), "カラー", "鈴木", "日曜に")
    assert (moved.starts, moved.menu, moved.staff, moved.memo, moved.status) == (
        datetime(2026, 12, 6, 10, 30), "カラー", "鈴木", "日曜に", "予約")
    assert db.reservations_on(date(2026, 12, 5)) == [] and db.reservations_on(date(2026, 12, 6)) == [moved]


@pytest.mark.parametrize("steps", [("来店",), ("取消",), ("来店", "退店")])
def test_only_a_booking_still_booked_can_be_moved(db, steps):
    rid = db.reserve("AC00001", NOW + timedelta(hours=2), "カット")
    for step in steps:
        db.set_status(rid, step)
    before = row(db, rid)
    with pytest.raises(cti.BookingError, match="の予約は変更できません$"):
        db.move(rid, NOW + timedelta(days=1), "カラー")
    assert row(db, rid) == before


def test_leaving_records_the_amount_in_the_visit(db):
    rid = db.reserve("AC00001", NOW, "カラー", "佐藤", "6トーン")
    db.set_status(rid, "来店")
    db.set_status(rid, "退店", 8800)
    [visit] = db.visits("AC00001")
    assert (visit.date, visit.menu, visit.staff, visit.amount, visit.memo) == ("2026-11-25", "カラー", "佐藤", 8800, "6トーン")


# -----------------------------------------------------------------------------
# a damaged cti.db, one held by another program, a long history

@pytest.mark.parametrize("damage", [b"this is not a database at all" * 100, b""])
def test_damaged_database_is_set_aside_and_a_fresh_one_started(tmp_path, clock, damage):
    path = tmp_path / "cti.db"
    good = cti.Database(path, now=clock)
    good.add_call(call("0596310005", NOW))
    good.close()
    data = bytearray(path.read_bytes())
    data[100:] = damage or bytes(len(data) - 100)               # pages overwritten (or zeroed) past the header
    if damage:
        data[:16] = damage[:16]                                  # not even a SQLite header
    path.write_bytes(bytes(data))
    db = cti.Database(path, now=clock)
    try:
        broken = tmp_path / "cti.db.broken-20261125-1000"
        assert broken.read_bytes() == bytes(data)                # kept as it was, never deleted
        assert db.notice.startswith("cti.db が壊れていたため cti.db.broken-20261125-1000 として残し")
        assert db.calls() == []
        assert db.add_call(call("0312345678", NOW)) is not None  # the fresh one works
    finally:
        db.close()
    again = cti.Database(path, now=clock)                        # a second start: nothing to set aside
    assert again.notice is None and len(again.calls()) == 1
    again.close()


def test_a_second_damage_in_the_same_minute_gets_its_own_name(tmp_path, clock):
    path = tmp_path / "cti.db"
    for _ in range(2):
        path.write_bytes(b"garbage" * 1000)
        cti.Database(path, now=clock).close()
    assert sorted(p.name for p in tmp_path.glob("cti.db.broken-*")) == ["cti.db.broken-20261125-1000",
                                                                          "cti.db.broken-20261125-1000-2"]


HOLDER = r"""
import sqlite3, sys, time
from pathlib import Path
db, ready, release = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")                 # another program holding cti.db's write lock
conn.execute("INSERT INTO reservations (member_no, starts, created) VALUES ('X', '2026-11-25T10:00', 'x')")
ready.write_text("")
while not release.exists():
    time.sleep(0.01)
conn.execute("COMMIT")
"""


def test_locked_by_another_program_the_call_is_kept_and_written_in_the_background(tmp_path, clock, wait_for):
    import subprocess
    path = tmp_path / "cti.db"
    db = cti.Database(path, now=clock)
    db.add_call(call("0596310005", NOW - timedelta(minutes=5)))
    before = db.calls()
    ready, release = tmp_path / "ready", tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(ready), str(release)],
                              stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: ready.exists() or holder.poll() is not None, timeout=30) and ready.exists(), \
            holder.stderr.read()
        waits = []
        for n in range(3):
            started = time.perf_counter()
            assert db.add_call(call(f"031234567{n}", NOW + timedelta(seconds=n))) is None   # not stored yet...
            history = db.calls()                                 # ...and the history still reads
            waits.append(time.perf_counter() - started)
        assert [c.number for c in history] == [c.number for c in before]
        # the UI thread waits on the lock for DB_UI_WAIT_MS at most (generous bound: this machine is loaded)
        assert min(waits) < 2.0, waits                           # not the 5 s SQLite would wait by default
        assert not db.take_written()
        release.write_text("")
        assert holder.wait(timeout=30) == 0
        assert wait_for(lambda: len(db.calls()) == 4, timeout=30)
        assert [c.number for c in db.calls()][:3] == ["0312345672", "0312345671", "0312345670"]   # in order
        assert db.take_written() and not db.take_written()
        assert db.add_call(call("0999999999", NOW + timedelta(minutes=1))) is not None   # back to direct writes
    finally:
        release.write_text("")
        holder.wait(timeout=30)
        db.close()
    print(f"add_call with cti.db held by another process: {max(waits) * 1000:.0f} ms at most (3 calls)")


def test_pruning_does_not_scan_the_history(tmp_path, clock):
    """A call with 20,000 kept costs about what it costs with 100: the pruning walks the index from the old end."""
    db = cti.Database(tmp_path / "cti.db", max_entries=20000, max_days=7, now=clock)
    plan = " ".join(r[3] for r in db.conn.execute(
        "EXPLAIN QUERY PLAN DELETE FROM calls WHERE id <= (SELECT id FROM calls ORDER BY id DESC LIMIT 1 OFFSET 5)"))
    assert "INTEGER PRIMARY KEY" in plan and "TEMP B-TREE" not in plan, plan    # the rowid from the new end
    plan = " ".join(r[3] for r in db.conn.execute(
        "EXPLAIN QUERY PLAN DELETE FROM calls WHERE received < ? AND id IS NOT ?", ("a", 1)))
    assert "calls_received" in plan, plan
    with db.conn:
        db.conn.execute("BEGIN")
        db.conn.executemany("INSERT INTO calls (received, number, protocol) VALUES (?, '0312345678', 'nd')",
                            [((NOW - timedelta(seconds=20000 - i)).isoformat(), ) for i in range(20000)])
    db.add_call(call("0596310005", NOW))
    assert db.conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 20000
    assert db.calls()[0].number == "0596310005"
    db.close()


def test_a_booking_while_another_program_holds_cti_db_gets_a_message_at_once(tmp_path, clock, wait_for):
    import subprocess
    path = tmp_path / "cti.db"
    db = cti.Database(path, now=clock)
    ready, release = tmp_path / "ready", tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(ready), str(release)],
                              stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: ready.exists() or holder.poll() is not None, timeout=30) and ready.exists()
        with pytest.raises(cti.DatabaseError) as caught:
            db.reserve("AC00001", NOW + timedelta(days=1), "カット")
        assert "他のプログラムが使っている" in str(caught.value) and "もう一度" in str(caught.value)
        release.write_text("")
        assert holder.wait(timeout=30) == 0
        assert db.reserve("AC00001", NOW + timedelta(days=1), "カット") > 0
    finally:
        release.write_text("")
        holder.wait(timeout=30)
        db.close()


# -----------------------------------------------------------------------------
# the callback list (折り返し)

def test_the_callback_list_counts_rings_per_number_and_a_mark_takes_it_off_until_it_rings_again(db, clock):
    start = clock.when
    db.add_call(call("0596310005", start))
    db.add_call(call("09087654321", start + timedelta(minutes=1)))
    db.add_call(call("0596310005", start + timedelta(minutes=2)))
    db.add_call(call(None, start + timedelta(minutes=3), reason="private"))      # no number: nobody to call back
    [first, second] = db.callbacks()
    assert (first.number, first.rang, first.last, first.done_at) == ("0596310005", 2, start + timedelta(minutes=2), None)
    assert (second.number, second.rang) == ("09087654321", 1)
    clock.advance(600)
    assert db.mark_called_back(first, "佐藤")
    [waiting, done] = db.callbacks()
    assert waiting.number == "09087654321" and waiting.done_at is None
    assert (done.number, done.rang, done.done_at, done.done_by) == ("0596310005", 2, clock.when, "佐藤")
    db.add_call(call("0596310005", clock.advance(60)))                             # rings again: back on the list
    [again, other] = db.callbacks()
    assert (again.number, again.rang, again.done_at) == ("0596310005", 1, None)


def test_the_callback_list_survives_a_restart_and_prunes_with_the_history(tmp_path, clock):
    database = cti.Database(tmp_path / "cti.db", max_entries=2, now=clock)
    database.add_call(call("0596310005", clock.when))
    database.mark_called_back(database.callbacks()[0], "田中")
    database.close()
    database = cti.Database(tmp_path / "cti.db", max_entries=2, now=clock)
    try:
        [done] = database.callbacks()
        assert done.done_by == "田中"
        database.add_call(call("0311112222", clock.advance(60)))
        database.add_call(call("0311113333", clock.advance(60)))                  # 0596310005's call pruned
        assert [c.number for c in database.callbacks()] == ["0311113333", "0311112222"]
        assert database.conn.execute("SELECT COUNT(*) FROM callbacks").fetchone()[0] == 0
    finally:
        database.close()


def test_only_missed_calls_are_listed_where_the_source_tells(db, clock):
    """SIP tells answered elsewhere from missed: an answered call is not one to return."""
    answered = db.add_call(call("0596310005", clock.when, protocol="sip"))
    missed = db.add_call(call("09087654321", clock.when, protocol="sip"))
    db.set_answered(answered, True)
    db.set_answered(missed, False)
    assert [c.number for c in db.callbacks()] == ["09087654321"]


# -----------------------------------------------------------------------------
# a full and a read-only disk: a real small filesystem (tmpfs, mounted as root)

@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs at tmp_path/disk: filled, or remounted read-only, as the test says."""
    import subprocess
    folder = tmp_path / "disk"
    folder.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("a real small filesystem needs root on Linux (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"mount refused here: {done.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder):
    """Write a file until the disk refuses (ENOSPC)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_on_a_full_disk_a_call_is_counted_unsaved_and_the_next_one_after_space_is_stored(small_disk, clock):
    db = cti.Database(small_disk / "cti.db", now=clock, monotonic=clock.monotonic)
    try:
        first = db.add_call(call("0596310005", NOW))
        fill(small_disk)
        assert [db.add_call(call(f"031234567{n}", NOW, protocol="x" * 200)) for n in range(3)] == [None] * 3
        assert (db.unsaved, db.unsaved_cause) == (3, "full")
        assert [r.id for r in db.calls()] == [first]             # the history still reads
        assert cti.unsaved_calls_warnings(db.unsaved, db.unsaved_cause) == \
            ["着信 3件を履歴に保存できませんでした（ディスクがいっぱいです）。着信の表示は続けます"]
        (small_disk / "filler").unlink()
        assert db.add_call(call("0399999999", NOW)) > first
        assert db.unsaved == 3
    finally:
        db.close()


def test_the_background_writer_on_a_full_disk_stops_retrying_and_tells(small_disk, clock, wait_for):
    import subprocess
    path = small_disk / "cti.db"
    db = cti.Database(path, now=clock, monotonic=clock.monotonic)
    ready, release = small_disk.parent / "ready", small_disk.parent / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.replace('conn.execute("COMMIT")', 'conn.execute("ROLLBACK")'),
                               str(path), str(ready), str(release)], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: ready.exists() or holder.poll() is not None, timeout=30) and ready.exists()
        assert db.add_call(call("0596310005", NOW, protocol="x" * 200)) is None      # to the writer
        fill(small_disk)
        release.write_text("")
        assert holder.wait(timeout=30) == 0
        assert wait_for(lambda: db.take_written(), timeout=30)   # the window is told: refresh and status
        assert (db.unsaved, db.unsaved_cause) == (1, "full")
        assert db.late.unfinished_tasks == 0                     # not retried for ever
        (small_disk / "filler").unlink()
        assert db.add_call(call("0399999999", NOW)) is not None  # direct writes again
    finally:
        release.write_text("")
        holder.wait(timeout=30)
        db.close()


def test_on_a_read_only_disk_a_call_is_counted_unsaved(tmp_path, clock):
    """Injected at the lowest call: a filesystem cannot be remounted read-only under an open cti.db
    (Linux refuses while files are open for writing), so SQLite's own query_only makes it refuse
    the write with the code a read-only file gives (SQLITE_READONLY)."""
    db = cti.Database(tmp_path / "cti.db", now=clock, monotonic=clock.monotonic)
    try:
        first = db.add_call(call("0596310005", NOW))
        db.conn.execute("PRAGMA query_only = ON")
        assert db.add_call(call("0312345670", NOW)) is None
        assert (db.unsaved, db.unsaved_cause) == (1, "readonly")
        assert [r.id for r in db.calls()] == [first]
        assert "フォルダに書き込む権限がありません" in cti.unsaved_calls_warnings(db.unsaved, db.unsaved_cause)[0]
    finally:
        db.close()


def test_cti_db_held_by_another_program_at_start_up_starts_and_prunes_at_the_next_call(tmp_path, clock, wait_for,
                                                                                      caplog):
    """Another program holds cti.db's write lock while cti starts: the start-up prune waits for the
    next call instead of stopping cti."""
    import subprocess
    path = tmp_path / "cti.db"
    db = cti.Database(path, max_entries=2, now=clock, monotonic=clock.monotonic)
    for n in range(2):
        db.add_call(call(f"031234567{n}", NOW))
    db.close()
    ready, release = tmp_path / "ready", tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(ready), str(release)],
                              stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: ready.exists() or holder.poll() is not None, timeout=30) and ready.exists()
        caplog.set_level(logging.INFO, logger="cti")
        db = cti.Database(path, max_entries=1, now=clock, monotonic=clock.monotonic)
        assert "起動時の整理は次の着信で行います" in caplog.text
        assert len(db.calls()) == 2                              # not pruned yet, but readable
    finally:
        release.write_text("")
        holder.wait(timeout=30)
    new = db.add_call(call("0399999999", NOW))
    assert [r.id for r in db.calls()] == [new]
    db.close()


@pytest.mark.parametrize("error, busy", [
    (sqlite3.OperationalError("database is locked"), True),
    (sqlite3.OperationalError("database table is locked: calls"), True),
    (sqlite3.OperationalError("database is busy"), True),
    (sqlite3.OperationalError("disk I/O error"), False),
    (sqlite3.DatabaseError("database is locked"), False),          # not an OperationalError
    (ValueError("locked"), False),
])
def test_sqlite_busy_on_errors_without_a_code(error, busy):
    assert getattr(error, "sqlite_errorcode", None) is None
    assert cti.sqlite_busy(error) is busy


def test_sqlite_busy_and_cause_by_the_code(tmp_path):
    a = sqlite3.connect(tmp_path / "x.db", timeout=0, isolation_level=None)
    b = sqlite3.connect(tmp_path / "x.db", timeout=0, isolation_level=None)
    a.execute("CREATE TABLE t (x)")
    a.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as caught:
        b.execute("BEGIN IMMEDIATE")
    assert cti.sqlite_busy(caught.value) and caught.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert cti.sqlite_cause(caught.value) == "other"
    a.close()
    b.close()


@pytest.mark.parametrize("typed, today, expected", [
    ("9/26", datetime(2026, 11, 25, 12, 0), date(2026, 9, 26)),      # 60 days back: still this year
    ("9/25", datetime(2026, 11, 25, 12, 0), date(2027, 9, 25)),      # 61 days back: next year's
    ("11/25", datetime(2026, 11, 25, 12, 0), date(2026, 11, 25)),
])
def test_parse_date_for_a_booking_at_the_60_day_edge(typed, today, expected):
    assert cti.parse_date(typed, today, ahead=True) == expected
    assert cti.parse_date(typed, today) == date(2026, *map(int, typed.split("/")))   # not for a visit


@pytest.mark.parametrize("text, expected", [("23:59", (23, 59)), ("2300", (23, 0)), ("23時", (23, 0)),
                                            ("24:00", None), ("2360", None)])
def test_parse_time_at_the_end_of_the_day(text, expected):
    assert cti.parse_time(text) == expected


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset is POSIX")
def test_a_time_zone_fixed_by_hand_is_a_jump_too(tmp_path, monkeypatch):
    """The clock she reads moved 9 hours (UTC set right to Japan), though UTC itself did not."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        db = cti.Database(tmp_path / "cti.db")
        assert db.clock.offset() == 0.0
        monkeypatch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        assert db.clock.offset() == pytest.approx(9 * 3600, abs=5)
        db.close()
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_history_keeps_100_calls_of_7_days_unless_told(tmp_path):
    db = cti.Database(tmp_path / "cti.db")
    assert (db.max_entries, db.max_days) == (100, 7) == (cti.Config().max_entries, cti.Config().max_days)
    db.close()
