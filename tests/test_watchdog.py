"""The systemd watchdog pings only while playout makes progress: fakes and a fake clock
for the rules, then the real engine and device on the PulseAudio null sink, hung."""

import logging
import threading
import time

import numpy as np
import pytest

from announcer.audio.device import DeviceOutput
from announcer.core.clock import FakeClock, SystemClock
from announcer.playout.engine import Engine
from announcer.watch.watchdog import Watchdog, stalled
from tests.test_station import at


class Probe:
    def __init__(self, clock):
        self.last_tick = self.last_pull = clock.monotonic()


class Out:
    def __init__(self, clock, healthy=True):
        self.healthy, self.playout_failing = healthy, False
        self.progress = clock.monotonic()


@pytest.fixture
def clock():
    return FakeClock(at(3, 0))


def test_progressing_playout_is_not_stalled(clock):
    engine, out = Probe(clock), Out(clock)
    clock.advance(9)
    assert stalled(clock.monotonic(), engine, out) is None


def test_an_engine_that_stopped_ticking_is_stalled(clock):
    engine, out = Probe(clock), Out(clock)
    clock.advance(11)
    engine.last_pull = clock.monotonic()
    assert "engine" in stalled(clock.monotonic(), engine, out)


def test_a_callback_that_stopped_pulling_is_stalled(clock):
    engine, out = Probe(clock), Out(clock)
    clock.advance(11)
    engine.last_tick = clock.monotonic()
    assert "callback" in stalled(clock.monotonic(), engine, out)


def test_a_lost_device_with_a_turning_reopen_loop_is_not_stalled(clock):
    engine, out = Probe(clock), Out(clock, healthy=False)
    clock.advance(60)
    engine.last_tick = out.progress = clock.monotonic()
    assert stalled(clock.monotonic(), engine, out) is None
    clock.advance(11)
    engine.last_tick = clock.monotonic()
    assert "reopen" in stalled(clock.monotonic(), engine, out)


def test_failing_playout_is_stalled_even_though_the_device_is_down(clock):
    engine, out = Probe(clock), Out(clock, healthy=False)
    out.playout_failing = True
    clock.advance(11)
    engine.last_tick = out.progress = clock.monotonic()
    assert "playout" in stalled(clock.monotonic(), engine, out)


def test_no_ping_while_stalled_and_one_log_line_per_episode(clock, caplog):
    engine, out = Probe(clock), Out(clock)
    sent = []
    dog = Watchdog(clock, engine, out, sent.append)
    assert dog.check() and sent == ["WATCHDOG=1"]
    clock.advance(11)
    with caplog.at_level(logging.CRITICAL, "announcer.watch.watchdog"):
        assert not dog.check()
        assert not dog.check()
    assert sent == ["WATCHDOG=1"]
    assert len([r for r in caplog.records if r.levelno == logging.CRITICAL]) == 1
    engine.last_tick = engine.last_pull = clock.monotonic()
    assert dog.check() and sent == ["WATCHDOG=1", "WATCHDOG=1"]


@pytest.mark.audio
def test_a_hung_real_engine_stops_the_pings(pulse, monkeypatch):
    for key, value in pulse.env.items():
        monkeypatch.setenv(key, value)
    clock = SystemClock()
    engine = Engine(clock, 48000)
    out = DeviceOutput("default", 48000)
    reported = threading.Event()
    out.start(engine.pull, lambda ok, detail: ok and reported.set())
    sent = []
    dog = Watchdog(clock, engine, out, sent.append, limit=1.0)
    try:
        assert reported.wait(20), out.detail
        engine.tick()
        assert dog.check()
        with engine._lock:  # the engine hangs: the audio callback blocks in pull
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                engine.last_tick = clock.monotonic()  # housekeeping alone still runs
                if not dog.check():
                    break
                time.sleep(0.1)
            assert "callback" in stalled(clock.monotonic(), engine, out, 1.0)
        pings = len(sent)
        time.sleep(0.3)
        assert len(sent) == pings
    finally:
        out.stop()
        engine.close()


@pytest.mark.audio
def test_an_exception_in_pull_is_degraded_once_then_recovers(pulse, monkeypatch, caplog):
    for key, value in pulse.env.items():
        monkeypatch.setenv(key, value)
    broken = threading.Event()

    def pull(frames):
        if broken.is_set():
            raise RuntimeError("boom")
        return np.zeros(frames, np.float32), None

    health = []
    out = DeviceOutput("default", 48000)
    out.start(pull, lambda ok, detail: health.append((ok, detail)))
    try:
        deadline = time.monotonic() + 20
        while not out.healthy and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.healthy, out.detail
        with caplog.at_level(logging.ERROR, "announcer.audio.device"):
            broken.set()
            deadline = time.monotonic() + 5
            while out.healthy and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not out.healthy and out.detail.startswith("playout error: RuntimeError")
            time.sleep(1.0)  # ~100 failing callbacks
        assert len([r for r in caplog.records if "Playout failed" in r.message]) == 1
        broken.clear()
        deadline = time.monotonic() + 5
        while not out.healthy and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.healthy
        assert [ok for ok, _ in health][-3:] == [True, False, True]
    finally:
        out.stop()
