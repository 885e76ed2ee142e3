"""The playout engine with a fake output and a fake clock: no sleeping, no device."""

import datetime as dt

import numpy as np
import pytest

from announcer.audio.fake import FakeOutput
from announcer.core.clock import TOKYO, FakeClock
from announcer.playout.engine import EMERGENCY, NOTICE, Engine, Item
from announcer.playout.sources import ArraySource, StreamSource

RATE = 48000


@pytest.fixture
def clock():
    return FakeClock(dt.datetime(2026, 12, 3, 7, 29, 58, tzinfo=TOKYO))


@pytest.fixture
def events():
    return []


@pytest.fixture
def engine(clock, events):
    e = Engine(clock, RATE, lambda ev, item, info: events.append((ev, item.tag, info)))
    yield e
    e.close()


@pytest.fixture
def out(engine, clock):
    o = FakeOutput(RATE, clock=clock)
    o.start(engine.pull, engine.output_health)
    return o


def tone(seconds, level=0.5):
    return np.full(int(seconds * RATE), level, np.float32)


def notice(item_id, seconds=1.0, at=0.0, level=0.5, **kw):
    return Item("notice", item_id, ArraySource(tone(seconds, level)), NOTICE, item_id,
                not_before=at, **kw)


def ends(events):
    return [(tag, info["status"]) for ev, tag, info in events if ev == "end"]


def test_idle_engine_plays_silence(engine, out):
    out.run(0.5)
    assert out.tags() == [None]
    assert not out.audio().any()


def test_item_starts_at_its_time_not_before(engine, out, clock):
    engine.enqueue(notice("gomi", at=clock.monotonic() + 1.0))
    out.run(0.99)
    assert out.tags() == [None]
    out.run(0.02)
    assert out.tags() == [None, "notice-gomi"]


def test_items_due_together_air_one_after_another(engine, out, events):
    engine.enqueue(notice("a", 0.5))
    engine.enqueue(notice("b", 0.5))
    out.run(1.5)
    engine.drain_events()
    assert out.tags() == ["notice-a", "notice-b", None]
    assert ends(events) == [("notice-a", "aired"), ("notice-b", "aired")]
    # never two at once: the level never exceeds one item's
    assert out.audio().max() == pytest.approx(0.5)


def test_emergency_cuts_into_a_notice_with_a_short_fade(engine, out, events):
    engine.enqueue(notice("gomi", 5.0))
    out.run(1.0)
    engine.enqueue(Item("bulletin", "b1", ArraySource(tone(1.0, 0.25)), EMERGENCY, "避難",
                        interrupt=True))
    out.run(0.2)
    engine.drain_events()
    assert out.tags() == ["notice-gomi", "bulletin-b1"]
    assert ends(events) == [("notice-gomi", "interrupted")]
    audio = out.audio()
    # within 100 ms of being queued the bulletin is on air
    cut = next(i for i, (_, tag) in enumerate(out.blocks) if tag == "bulletin-b1")
    assert cut * 480 / RATE - 1.0 <= 0.1
    # the fade is monotone: no click back to full level after the cut began
    fade = audio[int(1.0 * RATE):cut * 480]
    assert np.all(np.diff(fade) <= 1e-6)


def test_emergency_without_interrupt_waits_for_the_current_item(engine, out, events):
    engine.enqueue(notice("gomi", 1.0))
    engine.enqueue(notice("next", 1.0))
    out.run(0.5)
    engine.enqueue(Item("bulletin", "b1", ArraySource(tone(0.5)), EMERGENCY, interrupt=False))
    out.run(2.5)
    assert out.tags() == ["notice-gomi", "bulletin-b1", "notice-next", None]


def test_cancel_takes_an_item_off_air(engine, out, events):
    engine.enqueue(Item("bulletin", "b1", ArraySource(tone(10)), EMERGENCY))
    out.run(0.5)
    assert engine.cancel("bulletin", "b1")
    out.run(0.2)
    engine.drain_events()
    assert ends(events) == [("bulletin-b1", "cancelled")]
    assert out.tags()[-1] is None
    assert engine.on_air() is None


def test_cancel_removes_a_queued_item(engine, out, events):
    engine.enqueue(notice("later", at=10**9))
    assert engine.cancel("notice", "later")
    engine.drain_events()
    assert ends(events) == [("notice-later", "cancelled")]
    assert not engine.cancel("notice", "later")


def test_lost_output_fails_the_item_on_air(engine, out, events):
    engine.enqueue(notice("gomi", 3.0))
    out.run(0.5)
    out.fail()
    engine.drain_events()
    assert ends(events) == [("notice-gomi", "failed")]
    assert "output lost" in events[-1][2]["detail"]


def test_deadline_passed_while_device_down_is_failed(engine, out, events, clock):
    out.fail()
    engine.enqueue(notice("gomi", 1.0, deadline=clock.monotonic() + 5))
    clock.advance(6)
    engine.tick()
    engine.drain_events()
    assert ends(events) == [("notice-gomi", "failed")]


def test_deadline_passed_behind_a_long_item_is_missed(engine, out, events, clock):
    engine.enqueue(Item("bulletin", "long", ArraySource(tone(8)), EMERGENCY))
    engine.enqueue(notice("gomi", 1.0, deadline=clock.monotonic() + 2))
    out.run(3)
    engine.tick()
    engine.drain_events()
    assert ends(events) == [("notice-gomi", "missed")]


def test_stream_underrun_keeps_the_item_and_plays_silence(engine, out, events):
    import threading

    gate = threading.Event()

    def blocks():
        yield tone(0.1)
        gate.wait(5)
        yield tone(0.1)

    source = StreamSource(blocks())
    source.first_block.wait(2)
    engine.enqueue(Item("bulletin", "s", source, EMERGENCY))
    out.run(0.3)
    assert engine.on_air() is not None  # waiting for synthesis, not ended
    gate.set()
    import time

    deadline = time.monotonic() + 2
    while engine.on_air() is not None and time.monotonic() < deadline:
        out.run(0.05)
    engine.drain_events()
    assert ends(events) == [("bulletin-s", "aired")]
    assert (out.audio() > 0).sum() == int(0.2 * RATE)


def test_failing_producer_fails_the_item(engine, out, events):
    def blocks():
        yield tone(0.05)
        raise RuntimeError("synthesis exploded")

    source = StreamSource(blocks())
    engine.enqueue(Item("bulletin", "bad", source, EMERGENCY))
    import time

    deadline = time.monotonic() + 2
    while engine.on_air() is not None or not engine.idle():
        out.run(0.05)
        if time.monotonic() > deadline:
            break
    engine.drain_events()
    assert ends(events) == [("bulletin-bad", "failed")]


def test_shutdown_fades_out_within_a_second(engine, out, events):
    engine.enqueue(notice("gomi", 10))
    out.run(0.5)
    engine.fade_out_all()
    out.run(1.0)
    engine.drain_events()
    assert ends(events) == [("notice-gomi", "interrupted")]
    assert not out.audio()[int(1.5 * RATE) - 480:].any()


def bulletin(item_id, seconds=1.0, **kw):
    return Item("bulletin", item_id, ArraySource(tone(seconds)), EMERGENCY, item_id, **kw)


def test_interrupting_bulletin_goes_before_queued_ones_that_were_not(engine, out, events):
    engine.enqueue(bulletin("a", 1.0, interrupt=True))
    out.run(0.2)
    engine.enqueue(bulletin("b", 0.5, interrupt=False))
    engine.enqueue(bulletin("c", 0.5, interrupt=True))
    assert [i.id for i in engine.queued()] == ["c", "b"]
    out.run(2.5)
    engine.drain_events()
    # a bulletin on air is never cut by another real one: c goes next, then b
    assert out.tags() == ["bulletin-a", "bulletin-c", "bulletin-b", None]
    assert ends(events) == [("bulletin-a", "aired"), ("bulletin-c", "aired"),
                            ("bulletin-b", "aired")]


def test_drills_never_queue_ahead_of_a_real_bulletin(engine, out, events):
    engine.enqueue(notice("gomi", 1.0))
    out.run(0.2)
    engine.enqueue(bulletin("drill1", 0.5, interrupt=True, drill=True))
    engine.enqueue(bulletin("drill2", 0.5, interrupt=True, drill=True))
    engine.enqueue(bulletin("real", 0.5, interrupt=False))
    assert [i.id for i in engine.queued()] == ["real", "drill1", "drill2"]


def test_a_real_interrupting_bulletin_cuts_into_a_drill(engine, out, events):
    engine.enqueue(bulletin("drill", 5.0, interrupt=True, drill=True))
    out.run(0.5)
    engine.enqueue(bulletin("real", 0.5, interrupt=True))
    out.run(0.2)
    engine.drain_events()
    assert out.tags() == ["bulletin-drill", "bulletin-real"]
    assert ends(events) == [("bulletin-drill", "interrupted")]


def test_a_real_bulletin_without_interrupt_waits_for_a_drill(engine, out, events):
    engine.enqueue(bulletin("drill", 1.0, drill=True))
    out.run(0.5)
    engine.enqueue(bulletin("real", 0.5, interrupt=False))
    out.run(1.5)
    assert out.tags() == ["bulletin-drill", "bulletin-real", None]


# -- a person outranks a machine (issue 17) ------------------------------------------------
def relay(item_id, seconds=1.0, interrupt=True):
    return Item("alert", item_id, ArraySource(tone(seconds)), EMERGENCY, item_id,
                interrupt=interrupt, relay=True)


def test_a_persons_interrupt_cuts_an_automatic_relay_and_names_itself(engine, out, events):
    engine.enqueue(relay("quake", 5.0))
    out.run(0.5)
    engine.enqueue(bulletin("evacuate", 0.5, interrupt=True))
    out.run(0.2)
    engine.drain_events()
    assert out.tags() == ["alert-quake", "bulletin-evacuate"]
    (end,) = [info for ev, tag, info in events if ev == "end"]
    assert (end["status"], end["detail"]) == ("interrupted", "cut in by bulletin evacuate")


def test_no_cut_without_interrupt_by_a_drill_or_by_another_relay(engine, out, events):
    engine.enqueue(relay("quake", 1.0))
    out.run(0.3)
    engine.enqueue(bulletin("after", 0.3, interrupt=False))
    engine.enqueue(bulletin("drill", 0.3, interrupt=True, drill=True))
    engine.enqueue(relay("rain", 0.3))
    out.run(2.5)
    engine.drain_events()
    assert out.tags()[:4] == ["alert-quake", "alert-rain", "bulletin-after", "bulletin-drill"]
    assert ("alert-quake", "aired") in ends(events)


def test_staff_bulletins_still_never_cut_each_other(engine, out, events):
    engine.enqueue(bulletin("first", 1.0, interrupt=True))
    out.run(0.3)
    engine.enqueue(bulletin("second", 0.3, interrupt=True))
    out.run(1.5)
    engine.drain_events()
    assert ends(events)[:2] == [("bulletin-first", "aired"), ("bulletin-second", "aired")]


def test_a_persons_interrupt_queues_ahead_of_a_waiting_relay(engine, out):
    engine.enqueue(bulletin("on-air", 1.0, interrupt=True))
    out.run(0.2)
    engine.enqueue(relay("quake", 0.3))
    engine.enqueue(bulletin("evacuate", 0.3, interrupt=True))
    assert [i.id for i in engine.queued()] == ["evacuate", "quake"]
