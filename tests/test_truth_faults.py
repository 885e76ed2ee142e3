"""The record stays true under faults (fake clock, fake output, real SQLite locked by a
real process): what aired while the database was locked is never aired again, a replay
cut by a second crash airs once, wall-clock steps re-air nothing and log what they skip."""

import datetime as dt

import pytest

from announcer.audio.fake import FakeOutput
from announcer.core.clock import FakeClock, StepWatch
from announcer.core.errors import BulletinError
from announcer.record.store import Store
from announcer.station.service import Station
from tests.faultutil import DbLock
from tests.test_record import wait_until
from tests.test_station import RATE, TOKYO, FakeStudio, at, run_until, settle
from tests.test_truth import config  # noqa: F401 (fixture: gomi, twin 07:30; strict 07:29:58)


@pytest.fixture
def store(config):
    s = Store(config.paths.data / "announcer.db", TOKYO)
    yield s
    s.close()


def started(config, store, clock, started_at=None):
    out = FakeOutput(RATE, clock=clock)
    station = Station(config, clock, FakeStudio(), store, out)
    station.start(started_at=started_at)
    station.out = out
    return station


def crash(station) -> None:
    """The process dies: nothing is stopped, logged or flushed any more."""
    station.engine.close()
    station.record._stop.set()
    station.desk.close()


def rows(store, ident=None):
    return [(r["id"], r["status"], r["detail"]) for r in store.airlog(dt.date(2026, 12, 3))
            if ident is None or r["id"] == ident]


# -- a locked database ------------------------------------------------------------------
def test_a_bulletin_aired_while_locked_is_not_aired_again_after_a_crash(config, store):
    clock = FakeClock(at(9, 0))
    first = started(config, store, clock, started_at=at(9, 0))
    bid, _ = first.submit_bulletin("避難してください。", by="t")
    lock = DbLock(store.path)
    try:
        settle(first)
        first.out.run(2.5)  # the whole bulletin airs; its end cannot be written
        settle(first)
        assert first.record.pending and store.bulletin(bid)["state"] == "queued"
        crash(first)
        clock.advance(5)
        again = started(config, Store(store.path, TOKYO), clock)  # still locked
        settle(again)
        again.out.run(3)
        settle(again)
        assert [t for _, t in again.out.blocks if t] == []  # nothing aired again
    finally:
        lock.release()
    wait_until(lambda: again.record.pending == 0)
    assert rows(store, bid) == [(bid, "aired", "")]
    assert store.bulletin(bid)["state"] == "aired"
    again.stop()
    again.store.close()


def test_a_notice_aired_while_locked_is_neither_aired_again_nor_missed(config, store):
    clock = FakeClock(at(7, 29, 50))
    first = started(config, store, clock, started_at=at(7, 29, 50))
    with DbLock(store.path):
        run_until(first, first.out, at(7, 30, 4))  # gomi and twin air, unlogged for now
        wait_until(lambda: first.health()["faults"])
        assert "ロック" in first.health()["faults"][0]["detail"]
        assert first.health()["status"] == "degraded"
        crash(first)
        clock.advance(3)
        again = started(config, Store(store.path, TOKYO), clock)
        run_until(again, again.out, clock.now() + dt.timedelta(seconds=3))
        assert [t for _, t in again.out.blocks if t] == []
    wait_until(lambda: again.record.pending == 0)
    assert sorted(rows(store)) == [("gomi", "aired", ""), ("strict", "aired", ""),
                                   ("twin", "aired", "")]
    again.stop()
    again.store.close()


def test_bulletins_are_refused_with_the_reason_while_the_record_cannot_be_written(
        config, store):
    station = started(config, store, FakeClock(at(9, 0)), started_at=at(9, 0))
    try:
        with DbLock(store.path):
            for _ in range(2):  # the first finds out (the database's wait), the second knows
                with pytest.raises(BulletinError) as refused:
                    station.submit_bulletin("避難してください。", by="t")
                assert refused.value.status == 503
                assert "緊急放送を受け付けられません" in str(refused.value)
                assert "ロック" in str(refused.value)
        wait_until(lambda: station.record.fault is None)
        bid, created = station.submit_bulletin("避難してください。", by="t")
        assert created and store.bulletin(bid)["state"] == "queued"
    finally:
        station.stop()


# -- replays and crashes ----------------------------------------------------------------
def cut_by_a_crash(store):
    ref_row = store.airing_started("notice", "gomi", "gomi", at(7, 30), at(7, 30))
    store.set_state("last_alive", at(7, 30, 3).isoformat())
    return ref_row


def test_a_replay_that_never_started_is_queued_again_by_the_next_start(config, store):
    cut_by_a_crash(store)
    clock = FakeClock(at(7, 31))
    first = started(config, store, clock)
    assert rows(store, "gomi") == [("gomi", "interrupted", "cut by a restart; replay queued")]
    crash(first)  # before the replay could start (queued behind something long)
    clock.advance(60)
    again = started(config, store, clock)
    try:
        settle(again)
        again.out.run(1.5)
        settle(again)
        assert rows(store, "gomi") == [
            ("gomi", "interrupted", "cut by a restart; replayed from start"),
            ("gomi", "aired", "")]
        first_row = store.airlog(dt.date(2026, 12, 3))[0]
        assert first_row["ended_at"] == "2026-12-03T07:30:03.000+09:00"  # the last heartbeat
    finally:
        again.stop()


def test_a_replay_that_never_started_and_is_too_late_says_so(config, store):
    cut_by_a_crash(store)
    clock = FakeClock(at(7, 31))
    crash(started(config, store, clock))
    clock.advance(600)  # beyond the 300 s grace
    again = started(config, store, clock)
    try:
        settle(again)
        again.out.run(1.5)
        settle(again)
        assert rows(store, "gomi") == [
            ("gomi", "interrupted", "cut by a restart; replay did not start; skipped (too late)")]
    finally:
        again.stop()


def test_a_replay_cut_on_air_by_a_second_crash_airs_once(config, store):
    cut_by_a_crash(store)
    clock = FakeClock(at(7, 31))
    first = started(config, store, clock)
    settle(first)
    first.out.run(0.5)  # the replay is on air …
    settle(first)
    crash(first)  # … and cut by kill #2
    clock.advance(30)
    store.set_state("last_alive", clock.now().isoformat())
    again = started(config, store, clock)
    try:
        settle(again)
        again.out.run(1.5)
        settle(again)
        assert rows(store, "gomi") == [
            ("gomi", "interrupted", "cut by a restart; replayed from start"),
            ("gomi", "interrupted", "cut by a restart; replayed from start"),
            ("gomi", "aired", "")]
    finally:
        again.stop()


def test_a_bulletin_row_cut_by_a_crash_gets_an_end_and_a_reason(config, store):
    clock = FakeClock(at(9, 0))
    first = started(config, store, clock, started_at=at(9, 0))
    bid, _ = first.submit_bulletin("避難してください。", by="t")
    settle(first)
    first.out.run(0.5)
    settle(first)
    first.heartbeat()
    crash(first)
    clock.advance(20)
    again = started(config, store, clock)
    try:
        settle(again)
        again.out.run(2.5)
        settle(again)
        cut, aired = store.airlog(dt.date(2026, 12, 3))
        assert (cut["status"], cut["detail"]) == ("interrupted",
                                                  "cut by a restart; replayed from start")
        assert cut["ended_at"] == "2026-12-03T09:00:00.500+09:00"
        assert (aired["id"], aired["status"]) == (bid, "aired")
    finally:
        again.stop()


# -- the wall clock steps ---------------------------------------------------------------
def test_a_forward_step_airs_within_grace_once_and_logs_what_it_skipped(config, store):
    clock = FakeClock(at(7, 29, 50))
    station = started(config, store, clock, started_at=at(7, 29, 50))
    try:
        station.plan()
        clock.step(110)  # 07:31:40: gomi and twin within grace, strict (1 s) not
        run_until(station, station.out, clock.now() + dt.timedelta(seconds=3))
        assert sorted(rows(store)) == [("gomi", "aired", ""),
                                       ("strict", "missed", "clock stepped forward"),
                                       ("twin", "aired", "")]
    finally:
        station.stop()


def test_a_forward_step_past_grace_airs_nothing_and_says_why(config, store):
    clock = FakeClock(at(7, 29, 50))
    station = started(config, store, clock, started_at=at(7, 29, 50))
    try:
        station.plan()
        clock.step(9 * 60 + 20 + 10)  # 9 min 20 s after 07:30, grace 300 s
        run_until(station, station.out, clock.now() + dt.timedelta(seconds=3))
        assert sorted(rows(store)) == [("gomi", "missed", "clock stepped forward"),
                                       ("strict", "missed", "clock stepped forward"),
                                       ("twin", "missed", "clock stepped forward")]
    finally:
        station.stop()


def test_a_backward_step_re_airs_nothing(config, store):
    clock = FakeClock(at(7, 29, 50))
    station = started(config, store, clock, started_at=at(7, 29, 50))
    try:
        run_until(station, station.out, at(7, 30, 4))
        aired = sorted(rows(store))
        clock.step(-60)  # back to 07:29:04: 07:30 comes again
        run_until(station, station.out, clock.now() + dt.timedelta(seconds=70))
        assert sorted(rows(store)) == aired and len(aired) == 3
    finally:
        station.stop()


def test_a_restart_with_the_clock_behind_re_airs_nothing(config, store):
    clock = FakeClock(at(7, 29, 50))
    first = started(config, store, clock, started_at=at(7, 29, 50))
    run_until(first, first.out, at(7, 30, 4))
    first.stop()
    aired = sorted(rows(store))
    clock.step(-40)  # the clock went back while the daemon was down
    again = started(config, store, clock)
    try:
        run_until(again, again.out, clock.now() + dt.timedelta(seconds=45))
        assert sorted(rows(store)) == aired
    finally:
        again.stop()


def test_the_step_watch_sees_steps_not_drift():
    clock = FakeClock(at(7, 0))
    seen = []
    watch = StepWatch(clock, seen.append)
    clock.advance(0.5)
    assert watch.check() is None
    clock.step(0.2)  # slewing-sized
    assert watch.check() is None
    clock.step(-600)
    assert watch.check() == -600
    clock.advance(0.5)
    assert watch.check() is None


def test_re_timing_wakes_jobs_that_a_backward_step_left_waiting():
    """After a step back, APScheduler's next run times lie in the "future" by the size of
    the step; ``retime_jobs`` (what the daemon does on a step) makes them run now."""
    import threading

    from apscheduler.schedulers.background import BackgroundScheduler

    from announcer.daemon import retime_jobs

    ran = threading.Event()
    scheduler = BackgroundScheduler(timezone=TOKYO)
    scheduler.add_job(ran.set, "interval", seconds=0.2, id="plan", coalesce=True,
                      misfire_grace_time=None)
    scheduler.start()
    try:
        assert ran.wait(10)
        # what a 10-minute step back leaves behind: the next run 10 minutes "ahead"
        scheduler.get_job("plan").modify(
            next_run_time=dt.datetime.now(TOKYO) + dt.timedelta(minutes=10))
        ran.clear()
        assert not ran.wait(1.0)
        retime_jobs(scheduler, dt.datetime.now(TOKYO))
        assert ran.wait(10)
    finally:
        scheduler.shutdown(wait=False)


def test_the_file_output_survives_a_full_disk(tmp_path):
    """A WAV that cannot be written is a lost device, reported; the thread lives on and
    reports the output back once the disk has room."""
    import numpy as np

    from announcer.audio.filesink import FileOutput
    from tests.faultutil import SmallDisk

    disk = SmallDisk(tmp_path / "aired", "1m")
    out = FileOutput(disk.folder, RATE, blocksize=4800)
    health = []
    tone = (np.full(4800, 0.5, np.float32), "notice-gomi")
    try:
        disk.fill()
        out.start(lambda n: tone, lambda ok, detail: health.append(ok))
        wait_until(lambda: health[-1] is False)
        assert out._thread.is_alive()
        disk.free()
        wait_until(lambda: health[-1] is True)
        wait_until(lambda: any(p.stat().st_size > 44 for p in disk.folder.glob("*.wav")))
    finally:
        out.stop()
        disk.unmount()


class TailStudio(FakeStudio):
    """Notices of 1 s of tone and 0.3 s of tail silence, as rendered ones end."""

    def render_notice(self, text, **kw):
        import numpy as np

        return np.concatenate([np.full(RATE, 0.5, np.float32), np.zeros(int(0.3 * RATE),
                                                                        np.float32)])


@pytest.mark.parametrize("into, statuses", [
    (0.5, ["interrupted", "aired"]),  # words cut: aired again from the start
    (1.15, ["aired"]),  # only the tail silence cut: every word went out, once
])
def test_a_notice_cut_in_its_tail_silence_counts_as_aired(config, store, into, statuses):
    clock = FakeClock(at(7, 29, 59))
    out = FakeOutput(RATE, clock=clock)
    station = Station(config, clock, TailStudio(), store, out)
    station.start(started_at=at(7, 29, 59))
    station.out = out
    try:
        run_until(station, out, at(7, 30))
        start = next(i for i, (_, t) in enumerate(out.blocks) if t == "notice-gomi")
        out.run(into - (len(out.blocks) - start) * 480 / RATE)
        station.submit_bulletin("避難してください。", by="t")
        settle(station)
        out.run(6)
        settle(station)
        out.run(3)
        settle(station)
        assert [s for _, s, _ in rows(store, "gomi")] == statuses
    finally:
        station.stop()


def test_a_crash_in_a_notices_tail_silence_leaves_it_aired_not_replayed(config, store):
    clock = FakeClock(at(7, 29, 59))
    out = FakeOutput(RATE, clock=clock)
    first = Station(config, clock, TailStudio(), store, out)
    first.start(started_at=at(7, 29, 59))
    # 1.15 s in (it starts 0.3 s early): 1 s of sound is out, its tail silence playing
    run_until(first, out, at(7, 30) + dt.timedelta(seconds=0.85))
    settle(first)
    assert rows(store, "gomi") == [("gomi", "interrupted", "all words aired")]
    crash_and_restart(first, config, store, clock, TailStudio())
    assert rows(store, "gomi") == [("gomi", "aired", "")]


def crash_and_restart(first, config, store, clock, studio) -> None:
    """``first`` dies; a new station starts 5 s later and airs for 3 s, then stops."""
    crash(first)
    clock.advance(5)
    again = Station(config, clock, studio, store, FakeOutput(RATE, clock=clock))
    again.start()
    try:
        settle(again)
        again.output.run(3)
        settle(again)
    finally:
        again.stop()


class ChimeStudio(FakeStudio):
    """Bulletins of 1 s of words, then (WORDS_DONE) a 1 s closing chime."""

    def bulletin_program(self, text, repeat=2, chime=True, drill=False, voice=None,
                         on_missing=None, sentences=None, on_spoken=None):
        import numpy as np

        from announcer.playout.sources import WORDS_DONE

        on_spoken()
        yield np.full(RATE, 0.25, np.float32)
        yield WORDS_DONE
        yield np.full(RATE, 0.5, np.float32)


@pytest.mark.parametrize("into, statuses", [
    (0.5, ["interrupted", "aired"]),  # words cut: aired again from the start
    (1.5, ["aired"]),  # only the closing chime cut: every word went out, once
])
def test_a_crash_in_a_bulletins_closing_chime_leaves_it_aired_not_replayed(
        config, store, into, statuses):
    clock = FakeClock(at(9, 0))
    out = FakeOutput(RATE, clock=clock)
    first = Station(config, clock, ChimeStudio(), store, out)
    first.start(started_at=at(9, 0))
    bid, _ = first.submit_bulletin("避難してください。", by="t")
    settle(first)
    out.run(into)
    settle(first)
    first.heartbeat()
    crash_and_restart(first, config, store, clock, ChimeStudio())
    assert [s for _, s, _ in rows(store, bid)] == statuses
    assert store.bulletin(bid)["state"] == "aired"
