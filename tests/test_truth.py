"""The as-run log never lies (fake clock, fake output, real SQLite): airings due during
start-up, cuts and queues at a stop, bulletins with missing sentences, render failures."""

import datetime as dt
import textwrap
import threading
import time

import numpy as np
import pytest

from announcer.audio.fake import FakeOutput
from announcer.core.clock import FakeClock
from announcer.core.config import load_config
from announcer.studio.render import SentenceFailed
from announcer.station.service import Station
from tests.test_station import (RATE, FakeStudio, at, run_until, settle, statuses,
                                store)  # noqa: F401 (fixture, on this module's config)


@pytest.fixture
def config(station_dir):
    (station_dir / "schedules" / "gomi.yaml").write_text(textwrap.dedent("""\
        notices:
          - id: gomi
            text: 明日は燃えるごみの収集日です。
            times: ["07:30"]
          - id: twin
            text: 同じ時刻のお知らせです。
            times: ["07:30"]
          - id: strict
            text: 遅れては意味のないお知らせです。
            times: ["07:29:58"]
            grace: 1
        """), encoding="utf-8")
    return load_config(station_dir / "station.yaml")


def started(config, store, clock, studio=None, started_at=None):
    out = FakeOutput(RATE, clock=clock)
    station = Station(config, clock, studio or FakeStudio(), store, out)
    station.start(started_at=started_at)
    station.out = out
    return station


def rows(store):
    return store.airlog(dt.date(2026, 12, 3))


def test_first_start_airs_what_fell_due_while_starting(config, store):
    # An empty database (no heartbeat): the process was spawned at 07:29:57 and is
    # ready at 07:30:03, after gomi and twin (07:30) and strict (07:29:58) fell due.
    clock = FakeClock(at(7, 30, 3))
    station = started(config, store, clock, started_at=at(7, 29, 57))
    try:
        run_until(station, station.out, at(7, 30, 8))
        got = {(r["id"], r["status"], r["detail"]) for r in rows(store)}
        assert got == {("gomi", "aired", ""), ("twin", "aired", ""),
                       ("strict", "missed", "due while the daemon was starting")}
        gomi = next(r for r in rows(store) if r["id"] == "gomi")
        assert gomi["scheduled_at"] == "2026-12-03T07:30:00.000+09:00"
    finally:
        station.stop()


def test_first_start_leaves_earlier_airings_alone(config, store):
    clock = FakeClock(at(7, 30, 3))
    station = started(config, store, clock, started_at=at(7, 30, 1))
    try:
        run_until(station, station.out, at(7, 30, 5))
        assert rows(store) == []  # 07:30 was before this process existed: not ours
    finally:
        station.stop()


def stopped_during_gomi(config, store) -> FakeClock:
    """A station stopped (SIGTERM) while gomi (07:30) airs and twin waits behind it."""
    clock = FakeClock(at(7, 29, 59))
    station = started(config, store, clock, started_at=at(7, 29, 59))
    run_until(station, station.out, at(7, 30, 0) + dt.timedelta(seconds=0.5))
    assert station.engine.on_air().id == "gomi"
    station.stop()
    return clock


def test_a_stop_during_a_notice_replays_it_after_the_restart(config, store):
    clock = stopped_during_gomi(config, store)
    first = {r["id"]: r for r in rows(store)}
    assert (first["gomi"]["status"], first["gomi"]["detail"]) == ("interrupted", "stopped")
    assert (first["twin"]["status"], first["twin"]["detail"]) == ("missed", "stopped")

    clock.advance(5)  # systemctl restart
    again = started(config, store, clock)
    try:
        run_until(again, again.out, clock.now() + dt.timedelta(seconds=4))
        got = [(r["id"], r["status"], r["detail"]) for r in rows(store)]
        assert ("gomi", "interrupted", "stopped; replayed from start") in got
        assert ("twin", "missed", "stopped; replayed from start") in got
        assert ("gomi", "aired", "") in got and ("twin", "aired", "") in got
        assert len(got) == 5  # strict (07:29:58): missed at the first start, not twice
    finally:
        again.stop()


def test_a_stop_replay_too_late_is_logged_not_aired(config, store):
    clock = stopped_during_gomi(config, store)
    clock.advance(600)  # beyond the 300 s grace
    again = started(config, store, clock)
    try:
        run_until(again, again.out, clock.now() + dt.timedelta(seconds=3))
        got = [(r["id"], r["status"], r["detail"]) for r in rows(store)]
        assert ("gomi", "interrupted", "stopped; skipped (too late)") in got
        assert ("twin", "missed", "stopped; skipped (too late)") in got
        assert not [g for g in got if g[1] == "aired"]
    finally:
        again.stop()


def test_a_bulletin_queued_at_a_stop_airs_after_the_restart(config, store):
    clock = FakeClock(at(9, 0))
    station = started(config, store, clock, started_at=at(9, 0))
    first, _ = station.submit_bulletin("一つ目です。", by="t")
    second, _ = station.submit_bulletin("二つ目です。", interrupt=False, by="t")
    settle(station)
    station.out.run(0.5)
    station.stop()
    assert store.bulletin(second)["state"] == "queued"
    assert store.bulletin(first)["state"] == "on_air"  # cut: re-airs from the start
    clock.advance(5)
    again = started(config, store, clock)
    try:
        settle(again)
        again.out.run(5)
        settle(again)
        assert store.bulletin(first)["state"] == "aired"
        assert store.bulletin(second)["state"] == "aired"
        assert [(r["status"], r["detail"]) for r in rows(store) if r["id"] == first] == [
            ("interrupted", "stopped; replayed from start"), ("aired", "")]
    finally:
        again.stop()


class MissingStudio(FakeStudio):
    """A bulletin whose second sentence cannot be synthesized."""

    def bulletin_program(self, text, repeat=2, chime=True, drill=False, voice=None,
                         on_missing=None, sentences=None, on_spoken=None):
        on_spoken()
        yield np.full(RATE, 0.25, np.float32)
        on_missing(SentenceFailed("二文目です。", RuntimeError("worker died")))
        on_spoken()
        yield np.full(RATE, 0.25, np.float32)


class SpeechlessStudio(FakeStudio):
    """A bulletin none of whose sentences can be synthesized: only the chimes air."""

    def bulletin_program(self, text, repeat=2, chime=True, drill=False, voice=None,
                         on_missing=None, sentences=None, on_spoken=None):
        yield np.full(RATE, 0.25, np.float32)  # the chime
        for sentence in ("一文目です。", "二文目です。"):
            on_missing(SentenceFailed(sentence, RuntimeError("worker died")))
        yield np.full(RATE, 0.25, np.float32)  # the chime


def test_a_bulletin_with_a_failed_sentence_is_partial(config, store):
    clock = FakeClock(at(9, 0))
    station = started(config, store, clock, studio=MissingStudio(), started_at=at(9, 0))
    try:
        bid, _ = station.submit_bulletin("一文目です。二文目です。三文目です。", by="t")
        settle(station)
        station.out.run(3)
        settle(station)
        (row,) = rows(store)
        assert row["status"] == "partial"
        assert row["detail"] == "missing: 「二文目です。」"
        assert store.bulletin(bid)["state"] == "partial"
        assert [r["rowid"] for r in store.unacknowledged(at(8, 0))] == [row["rowid"]]
        assert store.acknowledge(row["rowid"], "tanaka", clock.now())
        assert store.unacknowledged(at(8, 0)) == []
    finally:
        station.stop()


def test_a_bulletin_without_any_speech_is_failed_not_partial(config, store):
    clock = FakeClock(at(9, 0))
    station = started(config, store, clock, studio=SpeechlessStudio(), started_at=at(9, 0))
    try:
        bid, _ = station.submit_bulletin("一文目です。二文目です。", by="t")
        settle(station)
        station.out.run(3)
        settle(station)
        (row,) = rows(store)
        assert row["status"] == "failed"
        assert row["detail"] == "no speech; missing: 「一文目です。」 / 「二文目です。」"
        assert store.bulletin(bid)["state"] == "failed"
        assert [r["rowid"] for r in store.unacknowledged(at(8, 0))] == [row["rowid"]]
    finally:
        station.stop()


class FailingStudio(FakeStudio):
    def render_notice(self, text, **kw):
        raise SentenceFailed("明日は燃えるごみの収集日です。", RuntimeError("worker died"))


def test_a_notice_that_cannot_be_rendered_is_logged_failed(config, store):
    clock = FakeClock(at(7, 29, 50))
    station = started(config, store, clock, studio=FailingStudio(), started_at=at(7, 29, 50))
    try:
        run_until(station, station.out, at(7, 30, 3))
        failed = [r for r in rows(store) if r["status"] == "failed"]
        assert {r["id"] for r in failed} == {"gomi", "twin", "strict"}
        assert "「明日は燃えるごみの収集日です。」" in failed[0]["detail"]
    finally:
        station.stop()


class SlowStudio(FakeStudio):
    """gomi misses the cache and takes long to render; twin is a hit."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()

    def render_notice(self, text, **kw):
        if text.startswith("明日"):
            self.release.wait(10)
        return super().render_notice(text, **kw)


def test_a_cache_miss_never_delays_another_notices_cue(config, store):
    clock = FakeClock(at(7, 29, 57))
    studio = SlowStudio()
    station = started(config, store, clock, studio=studio, started_at=at(7, 29, 57))
    try:
        clock.advance(1.0)
        station.plan()  # cues gomi and twin (07:30) together
        deadline = time.monotonic() + 5
        queued = lambda: {i.id for i in station.engine.queued()}  # noqa: E731
        while "twin" not in queued() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "twin" in queued() and "gomi" not in queued()
        studio.release.set()
    finally:
        studio.release.set()
        station.stop()


def test_a_notice_added_inside_the_planned_window_still_airs(config, store):
    clock = FakeClock(at(8, 0))
    station = started(config, store, clock, started_at=at(8, 0))
    try:
        station.plan()  # planned up to 08:00:02
        (config.paths.schedules / "late.yaml").write_text(
            'notices:\n  - id: late\n    text: 追加のお知らせです。\n    times: ["08:00:01"]\n',
            encoding="utf-8")
        station.reload_notices(force=True)
        run_until(station, station.out, at(8, 0, 4))
        assert statuses(store) == [("notice", "late", "aired")]
        station.reload_notices(force=True)  # a second reload cues nothing again
        run_until(station, station.out, at(8, 0, 6))
        assert statuses(store) == [("notice", "late", "aired")]
    finally:
        station.stop()
