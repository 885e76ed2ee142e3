"""The station's hooks into the event bus: what it publishes, with a fake clock and output."""

import pytest

from announcer.core import events
from tests.test_station import (at, clock, config, run_until, settle,  # noqa: F401
                                station, store)


@pytest.fixture
def seen():
    got = []
    off = events.BUS.subscribe(got.append)
    got.clear()  # the shared bus first replays what earlier tests left bad
    yield got
    off()


def kinds(seen, kind):
    return [(e.key.rsplit("/", 1)[-1], e.ok) for e in seen if e.kind == kind]


def test_broken_notice_file_then_fixed(station, config, seen):
    broken = config.paths.schedules / "broken.yaml"
    broken.write_text("notices:\n  - id: bad\n    times: [\"25:00\"]\n", encoding="utf-8")
    station.reload_notices(force=True)
    station.reload_notices(force=True)  # still broken: nothing new
    broken.unlink()
    station.reload_notices(force=True)
    assert kinds(seen, events.NOTICE_FILE) == [("broken.yaml", False), ("broken.yaml", True)]
    assert "broken.yaml:3" in next(e.detail for e in seen if e.kind == events.NOTICE_FILE)


def test_output_degraded_and_recovered(station, seen):
    station.out.fail("unplugged")
    station.out.recover()
    assert [(e.ok, e.detail) for e in seen if e.kind == events.AUDIO] == [
        (False, "unplugged"), (True, "fake")]


def test_output_lost_on_air_is_a_failed_airing(station, clock, seen):
    run_until(station, station.out, at(7, 30))
    station.out.run(0.3)
    assert station.engine.on_air() is not None
    station.out.fail("unplugged")
    settle(station)
    [event] = [e for e in seen if e.kind == events.AIRING]
    assert event.key == "notice:gomi" and not event.ok and "unplugged" in event.detail


def test_render_failure(station, seen):
    def broken(text, **kw):
        raise RuntimeError("synthesis failed")

    station.studio.render_notice = broken
    station.prerender(60)
    assert [(e.key, e.ok) for e in seen if e.kind == events.RENDER] == [("gomi", False)]
    assert "synthesis failed" in next(e.detail for e in seen if e.kind == events.RENDER)
