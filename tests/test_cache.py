"""The render cache stays under its cap (least recently used first), cleans up after a
crash, and keeps nothing of a failed render; an older as-run database is migrated."""

import os
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from announcer.studio.cache import RenderCache
from announcer.core.clock import TOKYO
from announcer.record.store import Store

SECOND = np.zeros(48000, np.float32)  # 96,000 bytes as int16


def put(cache, key, seconds=1, age=0):
    cache.store(key, [SECOND] * seconds)
    if age:
        t = os.path.getmtime(cache.path(key)) - age
        os.utime(cache.path(key), (t, t))


def test_pruned_to_the_cap_least_recently_used_first(tmp_path):
    cache = RenderCache(tmp_path, max_bytes=350_000)  # room for three entries
    put(cache, "a", age=400)
    put(cache, "b", age=300)
    put(cache, "c", age=200)
    cache.load("a")  # a hit makes "a" young again
    put(cache, "d")
    assert sorted(p.stem for p in tmp_path.glob("*.s16")) == ["a", "c", "d"]
    assert cache.size() <= 350_000


def test_the_entry_just_stored_is_never_pruned(tmp_path):
    cache = RenderCache(tmp_path, max_bytes=100_000)
    put(cache, "old", age=100)
    put(cache, "big", seconds=3)  # alone over the cap
    assert [p.stem for p in tmp_path.glob("*.s16")] == ["big"]
    assert cache.load("big") is not None


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_start_removes_unfinished_files_and_prunes(tmp_path):
    (tmp_path / f"k.tmp{dead_pid()}-456").write_bytes(b"\0" * 10)  # a crash's leftover
    old = tmp_path / f"j.tmp{os.getpid()}-789"  # this process, but an hour old
    old.write_bytes(b"\0" * 10)
    os.utime(old, (os.path.getmtime(old) - 7200,) * 2)
    RenderCache(tmp_path, max_bytes=1 << 30).store("x", [SECOND])
    RenderCache(tmp_path, max_bytes=1 << 30).store("y", [SECOND])
    RenderCache(tmp_path, max_bytes=100_000)
    assert not list(tmp_path.glob("*.tmp*"))
    assert len(list(tmp_path.glob("*.s16"))) == 1


def test_a_failed_render_leaves_nothing(tmp_path):
    cache = RenderCache(tmp_path)

    def blocks():
        yield SECOND
        raise RuntimeError("synthesis failed")

    with pytest.raises(RuntimeError):
        cache.store("k", blocks())
    assert list(tmp_path.iterdir()) == []
    assert cache.load("k") is None


def test_concurrent_renders_of_one_key_and_a_second_cache_never_fail(tmp_path):
    """The false 「作れません」 of issue 17: a reading saved while the minute's pass and a
    cue rendered the same notice, and another cache (the CLI's) started meanwhile."""
    cache = RenderCache(tmp_path)
    started, release = threading.Barrier(9), threading.Event()
    results, errors = [], []

    def blocks():
        yield SECOND
        release.wait(10)  # every writer holds its temporary file open at once
        yield SECOND

    def render():
        try:
            started.wait(10)
            results.append(cache.store("same", blocks()))
        except Exception as exc:  # pragma: no cover - the failure this test is about
            errors.append(exc)

    threads = [threading.Thread(target=render) for _ in range(8)]
    for t in threads:
        t.start()
    started.wait(10)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("*.tmp*"))) < 8:  # every writer has its own file
        assert time.monotonic() < deadline, "the writers never held their files at once"
        threading.Event().wait(0.01)
    RenderCache(tmp_path)  # a second cache starting now must not take them away
    assert len(list(tmp_path.glob("*.tmp*"))) == 8
    release.set()
    for t in threads:
        t.join(10)
    assert errors == []
    assert len(results) == 8 and all(len(r) == 2 * len(SECOND) for r in results)
    assert [p.name for p in tmp_path.iterdir()] == ["same.s16"]


OLD_AIRLOG = """
CREATE TABLE airlog (
    rowid INTEGER PRIMARY KEY, kind TEXT NOT NULL, id TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '', scheduled_at TEXT, started_at TEXT, ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('aired','interrupted','missed','failed','cancelled')),
    detail TEXT NOT NULL DEFAULT '', day TEXT NOT NULL);
CREATE INDEX airlog_day ON airlog(day);
INSERT INTO airlog(kind,id,title,status,day) VALUES ('notice','gomi','ごみ','aired','2026-12-01');
"""


def test_an_older_database_keeps_its_rows_and_accepts_partial(tmp_path):
    path = tmp_path / "announcer.db"
    db = sqlite3.connect(path)
    db.executescript(OLD_AIRLOG)
    db.close()
    store = Store(path, TOKYO)
    try:
        (row,) = store.query("SELECT id, status FROM airlog")
        assert tuple(row) == ("gomi", "aired")
        store.execute("INSERT INTO airlog(kind,id,status,day) VALUES "
                      "('bulletin','b','partial','2026-12-02')")
        with pytest.raises(sqlite3.IntegrityError):
            store.execute("INSERT INTO airlog(kind,id,status,day) VALUES "
                          "('bulletin','b','lost','2026-12-02')")
    finally:
        store.close()


def test_a_full_disk_keeps_renders_in_memory_and_says_so(tmp_path, monkeypatch):
    from announcer.core import events
    from announcer.studio import cache as cache_module
    from tests.faultutil import SmallDisk

    seen = []
    unsubscribe = events.BUS.subscribe(seen.append)
    disk = SmallDisk(tmp_path / "small", "1m")
    try:
        cache = RenderCache(disk.folder, max_bytes=1 << 30)
        disk.fill()
        samples = cache.store("k", [SECOND, SECOND])
        assert len(samples) == 2 * len(SECOND) and not isinstance(samples, np.memmap)
        assert "ディスクの空きがありません" in cache.fault
        assert (seen[-1].kind, seen[-1].ok) == ("cache", False)
        assert list(disk.folder.glob("*.s16")) == [] and list(disk.folder.glob("*.tmp*")) == []
        disk.free()
        monkeypatch.setattr(cache_module, "RECHECK", 0.0)
        assert cache.fault is None  # found writable again by a small try
        assert (seen[-1].kind, seen[-1].ok) == ("cache", True)
        assert isinstance(cache.store("k", [SECOND]), np.memmap)
    finally:
        unsubscribe()
        disk.unmount()
