"""The as-run record survives what the database and the disk do (real SQLite, another
real process holding the lock): the journal, entries waiting in order, reads that see
them, a crash while they wait, and the record's fault on the events bus."""

import datetime as dt
import sqlite3
import time

import pytest

from announcer.core import events
from announcer.core.clock import TOKYO
from announcer.record.asrun import Record
from announcer.record.journal import HEADER, Journal, JournalFull
from announcer.record.store import BUSY_WAIT_MS, FAULT_WAIT_MS, Store
from tests.faultutil import DbLock

T = dt.datetime(2026, 12, 3, 7, 30, tzinfo=TOKYO)
DAY = T.date()


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out")


# -- the journal ------------------------------------------------------------------------
def test_the_journal_keeps_entries_across_a_reopen_and_forgets_them_once_cleared(tmp_path):
    j = Journal(tmp_path / "j", size=64 * 1024)
    assert j.open() == []
    assert (tmp_path / "j").stat().st_size == 64 * 1024  # allocated up front
    j.append({"op": "start", "ref": "a", "title": "ごみ"})
    j.append({"op": "end", "ref": "a", "status": "aired"})
    j.close()
    again = Journal(tmp_path / "j", size=64 * 1024)
    assert [e["ref"] for e in again.open()] == ["a", "a"]
    again.clear()
    again.append({"op": "row", "ref": "b"})  # shorter than what it overwrites
    again.close()
    assert [e["ref"] for e in Journal(tmp_path / "j", size=64 * 1024).open()] == ["b"]


def test_a_torn_line_ends_the_journal(tmp_path):
    j = Journal(tmp_path / "j", size=64 * 1024)
    j.open()
    j.append({"op": "row", "ref": "a"})
    j.append({"op": "row", "ref": "b"})
    j.close()
    data = bytearray((tmp_path / "j").read_bytes())
    second = data.index(b"\n", HEADER) + 1
    data[second + 12] ^= 0xFF  # a bit flipped inside the second entry
    (tmp_path / "j").write_bytes(bytes(data))
    assert [e["ref"] for e in Journal(tmp_path / "j", size=64 * 1024).open()] == ["a"]


def test_a_full_journal_refuses_instead_of_growing(tmp_path):
    j = Journal(tmp_path / "j", size=HEADER + 200)
    j.open()
    j.append({"op": "row", "ref": "a" * 50})
    with pytest.raises(JournalFull):
        j.append({"op": "row", "ref": "b" * 150})
    assert (tmp_path / "j").stat().st_size == HEADER + 200


# -- the record -------------------------------------------------------------------------
@pytest.fixture
def bus():
    b = events.Bus()
    b.seen = []
    b.subscribe(b.seen.append)
    return b


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "announcer.db", TOKYO)
    yield s
    s.close()


def test_entries_wait_in_order_while_another_process_holds_the_database(store, bus):
    record = Record(store, bus=bus)
    record.open()
    store.add_bulletin("b1", "避難してください。", {"repeat": 1}, T, None)
    with DbLock(store.path):
        ref = record.airing_started("notice", "gomi", "ごみ", T, T)
        record.airing_ended(ref, "aired", T + dt.timedelta(seconds=9))
        record.set_bulletin_state("b1", "on_air", T)
        record.set_bulletin_state("b1", "aired", T + dt.timedelta(seconds=30))
        assert record.pending == 4 and store.airlog(DAY) == []
        wait_until(lambda: record.fault)  # declared by the record's thread, a second later
        assert "ロック" in record.fault
        assert store.write_fault  # what the web's best-effort writes skip on
        # other writes give up at once instead of queueing 5 s waits behind each other
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.execute("INSERT INTO state(key, value) VALUES ('x', 'y')")
        assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == FAULT_WAIT_MS
        assert (bus.seen[-1].kind, bus.seen[-1].ok) == ("record", False)
        # what decides the air sees what waits
        assert record.has_airing("notice", "gomi", T)
        [row] = record.airings("kind='notice'", keep=lambda r: r["kind"] == "notice")
        assert (row["status"], row["ended_at"]) == ("aired", "2026-12-03T07:30:09.000+09:00")
        assert record.bulletin("b1")["state"] == "aired" and record.open_bulletins() == []
    wait_until(lambda: record.pending == 0)
    [row] = store.airlog(DAY)
    assert (row["id"], row["status"], row["ended_at"]) == ("gomi", "aired",
                                                           "2026-12-03T07:30:09.000+09:00")
    assert store.bulletin("b1")["state"] == "aired"
    wait_until(lambda: record.fault is None)
    assert (bus.seen[-1].kind, bus.seen[-1].ok) == ("record", True)
    assert record.journal.used == 0
    store.execute("INSERT INTO state(key, value) VALUES ('x', 'y')")
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_WAIT_MS
    record.close()


def test_a_crash_while_entries_wait_loses_none_of_them(store, tmp_path):
    store.add_bulletin("b1", "避難してください。", {"repeat": 1}, T, None)
    record = Record(store, bus=events.Bus())
    record.open()
    lock = DbLock(store.path)
    ref = record.airing_started("bulletin", "b1", "避難", None, T)
    record.set_bulletin_state("b1", "on_air", T)
    record.airing_ended(ref, "aired", T + dt.timedelta(seconds=30))
    record.set_bulletin_state("b1", "aired", T + dt.timedelta(seconds=30))
    record._stop.set()  # the process dies here: nothing more is tried
    # the next start, still locked: what it reads already knows the bulletin aired
    after = Store(store.path, TOKYO)
    again = Record(after, bus=events.Bus())
    assert again.open() == 4
    assert again.open_bulletins() == [] and again.bulletin("b1")["state"] == "aired"
    lock.release()
    wait_until(lambda: again.pending == 0)
    assert [(r["id"], r["status"]) for r in after.airlog(DAY)] == [("b1", "aired")]
    assert after.bulletin("b1")["state"] == "aired"
    again.close()
    after.close()


def test_applying_an_entry_twice_changes_nothing(store):
    entries = [{"op": "start", "ref": "r1", "kind": "notice", "id": "gomi", "title": "ごみ",
                "scheduled_at": T.isoformat(), "at": T.isoformat(), "day": "2026-12-03"},
               {"op": "end", "ref": "r1", "status": "aired", "at": T.isoformat(), "detail": ""}]
    store.apply(entries)
    store.apply(entries)  # a journal cleared too late is applied again at the next start
    assert [(r["id"], r["status"]) for r in store.airlog(DAY)] == [("gomi", "aired")]


def test_an_older_database_gets_refs_for_its_rows(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    Store(path, TOKYO).close()
    db = sqlite3.connect(path)  # as an older version left it: no ref column
    db.executescript("DROP INDEX airlog_ref; ALTER TABLE airlog DROP COLUMN ref;"
                     "INSERT INTO airlog(kind,id,title,status,day) VALUES"
                     " ('notice','n','t','aired','2026-12-01');")
    db.close()
    store = Store(path, TOKYO)
    try:
        assert [r["ref"] for r in store.airlog(dt.date(2026, 12, 1))] == ["row-1"]
    finally:
        store.close()


def test_entries_written_together_are_one_journal_line(store):
    record = Record(store, bus=events.Bus())
    record.open()
    store.add_bulletin("b1", "避難してください。", {"repeat": 1}, T, None)
    with DbLock(store.path):
        with record.together():  # a bulletin's end and its state: both or neither
            ref = record.airing_started("bulletin", "b1", "避難", None, T)
            record.set_bulletin_state("b1", "aired", T)
        raw = record.journal.path.read_bytes()[HEADER:]
        assert [e["op"] for e in Journal.peek(record.journal.path)] == ["start", "bulletin"]
        assert record.journal.used == raw.index(b"\n") + 1  # one line holds both
    wait_until(lambda: record.pending == 0)
    assert store.bulletin("b1")["state"] == "aired"
    assert [r["ref"] for r in store.airlog(DAY)] == [ref]
    record.close()


def test_a_journal_that_could_not_be_made_is_made_once_there_is_room(store, tmp_path):
    from tests.faultutil import SmallDisk

    disk = SmallDisk(tmp_path / "small", "1m")
    try:
        disk.fill()
        record = Record(store, journal_path=disk.folder / "asrun.journal", bus=events.Bus())
        record.open()
        ref = record.airing_started("notice", "gomi", "ごみ", T, T)
        assert "ジャーナル" in record.fault and record.cause is None  # bulletins still welcome
        assert [r["ref"] for r in store.airlog(DAY)] == [ref]  # the database took it
        disk.free()
        record.airing_ended(ref, "aired", T)
        assert record.fault is None and record.journal.is_open
        record.close()
    finally:
        disk.unmount()
