"""The silence monitor: the detector (pure, explicit times), the level history (real
SQLite, explicit times), the supervised capture process (a hostile stand-in and the real
one on the PulseAudio null sink's monitor)."""

import stat
import sys
import textwrap
import time

import pytest

from announcer.core.clock import TOKYO
from announcer.core.config_sections import MonitorConfig
from announcer.core.events import Bus
from announcer.watch.monitor.detector import FLOOR, SilenceDetector, dbfs
from announcer.watch.monitor.history import LevelHistory
from announcer.watch.monitor.service import Monitor
from announcer.record.store import Store
from tests.notifyutil import Tone, wait_until


def run(detector, blocks, t=0.0, step=0.1, on_air=False):
    """Feed ``blocks`` levels; returns [(time at the block's end, kind, ok)]."""
    out = []
    for level in blocks:
        for c in detector.feed(t, step, level, on_air):
            out.append((round(t + step, 3), c.kind, c.ok))
        t += step
    return out, t


# -- detector ------------------------------------------------------------------------
def test_silence_alarm_after_silence_seconds_and_clear_after_enough_sound_in_the_window():
    d = SilenceDetector(-50, silence_seconds=3, on_air_seconds=2)
    changes, t = run(d, [-20] * 10 + [-80] * 40)
    assert changes == [(4.0, "silence", False)]  # sound until 1.0, silence from 1.0
    changes, _ = run(d, [-20] * 15, t)
    assert changes == [(6.2, "silence", True)]  # 1.2 s of the last 3 s loud


def speech(sentences, gap=0.5):
    """Levels of synthesized speech: loud phrases (seconds) with digital silence between."""
    blocks = []
    for seconds in sentences:
        blocks += [-22] * round(seconds * 10) + [-120] * round(gap * 10)
    return blocks


def test_speech_with_pauses_clears_the_alarm_once():
    d = SilenceDetector(-50, silence_seconds=2, on_air_seconds=2)
    changes, t = run(d, [-120] * 30)
    assert changes == [(2.0, "silence", False)]
    # Three short sentences (the 3.3 s bulletin): no unbroken second of sound.
    changes, t = run(d, speech([0.7, 0.6, 0.8, 0.6, 0.6]), t)
    assert [c[1:] for c in changes] == [("silence", True)]
    assert not d.alarm


def test_a_restart_hands_in_open_alarms_silence_confirms_and_sound_clears_them():
    d = SilenceDetector(-50, 3, 2, open_alarms={"silence", "on_air_silence"})
    assert d.alarm and d.grave
    changes, t = run(d, [-80] * 30)
    assert changes == [(3.0, "silence", False), (3.0, "on_air_silence", False)]
    changes, t = run(d, [-80] * 30, t)
    assert changes == []  # confirmed once, not repeated
    changes, _ = run(d, [-20] * 12, t)
    assert changes == [(7.2, "on_air_silence", True), (7.2, "silence", True)]
    fresh = SilenceDetector(-50, 3, 2, open_alarms={"silence"})
    changes, _ = run(fresh, [-20] * 12)
    assert changes == [(1.2, "silence", True)]  # sound at once: the recovery is not lost


def test_a_loud_block_restarts_the_count():
    d = SilenceDetector(-50, 3, 2)
    changes, _ = run(d, [-80] * 25 + [-30] + [-80] * 25)
    assert changes == []
    assert d.silent_for(5.1) == pytest.approx(2.5)


def test_no_input_counts_as_silence():
    d = SilenceDetector(-50, 3, 2)
    changes, _ = run(d, [None] * 30)
    assert changes == [(3.0, "silence", False)]


def test_short_sound_does_not_clear():
    d = SilenceDetector(-50, 1, 2)
    run(d, [-80] * 10)
    assert d.alarm
    changes, _ = run(d, ([-20] * 5 + [-80] * 10) * 3, t=1.0)  # 0.5 s in every 1.5 s
    assert changes == [] and d.alarm
    assert d.loud_in_window() == pytest.approx(1.0)


def test_silence_on_air_is_the_gravest_and_needs_on_air_all_along():
    d = SilenceDetector(-50, silence_seconds=30, on_air_seconds=2)
    changes, t = run(d, [-80] * 15)                     # 1.5 s silent, nothing on air
    changes, t = run(d, [-80] * 19, t, on_air=True)     # on air: 1.9 s
    assert changes == []
    changes, t = run(d, [-80] * 1, t, on_air=True)
    assert changes == [(3.5, "on_air_silence", False)]
    changes, _ = run(d, [-20] * 12, t)
    assert changes == [(4.7, "on_air_silence", True)]


def test_dbfs():
    assert dbfs(0.5) == pytest.approx(-3.01, abs=0.01)  # a full-scale sine
    assert dbfs(0.0) == FLOOR and dbfs(1e-30) == FLOOR


# -- history -------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "announcer.db", TOKYO)
    yield s
    s.close()


def test_history_buckets_min_max_and_gaps(store):
    h = LevelHistory(store)
    now = 1_800_000_000
    for i in range(120):
        level = None if 60 <= i < 70 else -20.0 - (i % 10)
        h.add(now - 120 + i, level, level, now - 120 + i)
    s = h.series(now, minutes=2, points=12)
    assert s["step"] == 10
    assert len(s["points"]) == 12
    by_t = {p[0]: p[1:] for p in s["points"]}
    assert by_t[now - 120] == [-29.0, -20.0]
    assert by_t[now - 60] == [None, None]


def test_history_is_batched_and_pruned_after_seven_days(store):
    h = LevelHistory(store)
    now = 1_800_000_000
    old = now - 8 * 86400

    def count():
        return store.query("SELECT COUNT(*) FROM monitor_levels")[0][0]

    h.add(old, -30, -20, old)                  # the first row is written at once
    assert count() == 1
    h.add(old + 1, -31, -20, old + 1)          # then in batches (every 10 s)
    assert count() == 1
    assert [p[1] for p in h.series(old + 1, 1)["points"]] == [-30, -31]  # pending shown too
    h.add(now, -30, -20, now)                  # flush, and the hourly prune
    assert [r[0] for r in store.query("SELECT t FROM monitor_levels")] == [now]


# -- the supervised capture process ---------------------------------------------------
def fake_python(tmp_path, body: str):
    """A stand-in for ``python -m announcer.watch.monitor.capture``: any program will do."""
    script = tmp_path / "fake-python"
    script.write_text("#!" + sys.executable + "\n" + textwrap.dedent(body), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def watched(bus):
    seen = []
    bus.subscribe(lambda e: seen.append((e.kind, e.ok, e.detail)))
    return seen


def test_hostile_and_hanging_capture_is_restarted_and_counts_as_silence(tmp_path, store):
    marker = tmp_path / "starts"
    python = fake_python(tmp_path, f"""\
        import sys, time
        with open({str(marker)!r}, "a") as f:
            f.write("x")
        print("R fake input", flush=True)
        for line in ("garbage", "L nan nan", "L 1 2 3", "\\x00\\xff", "L 0.01 0.1"):
            print(line, flush=True)
        time.sleep(60)   # then hang
        """)
    bus = Bus()
    seen = watched(bus)
    cfg = MonitorConfig(device="fake", silence_seconds=1.5, retry_seconds=0.5)
    m = Monitor(cfg, store, lambda: None, bus=bus, python=python)
    m.start()
    try:
        wait_until(lambda: marker.exists() and len(marker.read_text()) >= 2)
        assert seen and seen[0][:2] == ("silence", False)
        assert "fake input" in seen[0][2]
    finally:
        m.stop()


def test_capture_that_cannot_open_says_why(tmp_path, store):
    python = fake_python(tmp_path, """\
        import sys
        print("E PortAudioError: no input device matching", flush=True)
        sys.exit(2)
        """)
    bus = Bus()
    seen = watched(bus)
    m = Monitor(MonitorConfig(device="usb", silence_seconds=1, retry_seconds=0.3), store,
                lambda: None, bus=bus, python=python)
    m.start()
    try:
        wait_until(lambda: seen)
    finally:
        m.stop()
    assert "監視入力から音を受け取れていません: 入力を使えません: PortAudioError" in seen[0][2]
    assert m.current()["input_ok"] is False


# -- real capture on the null sink's monitor --------------------------------------------
@pytest.mark.audio
def test_real_monitor_hears_the_null_sink(pulse, store):
    bus = Bus()
    seen = watched(bus)
    cfg = MonitorConfig(device="pulse", pulse_source="onair.monitor", silence_seconds=2,
                        retry_seconds=0.5)
    m = Monitor(cfg, store, lambda: None, bus=bus, env=pulse.env)
    m.start()
    try:
        wait_until(lambda: seen)                          # nothing plays: silence
        assert seen[0][:2] == ("silence", False) and m.current()["input_ok"]
        tone = Tone(pulse.env)
        try:
            wait_until(lambda: len(seen) >= 2)
            assert seen[1][:2] == ("silence", True)
            # 0.1 × sine: -23 dBFS RMS, once a whole window holds the tone (a busy machine
            # can leave an underrun gap in the first windows of the player)
            levels = []
            wait_until(lambda: levels.append(m.current()["level"]) or
                       levels[-1] == pytest.approx(-23, abs=1.5), timeout=30)
        finally:
            tone.stop()
        stopped = time.monotonic()
        wait_until(lambda: len(seen) >= 3)
        assert seen[2][:2] == ("silence", False)
        assert 1.5 < time.monotonic() - stopped < 6
    finally:
        m.stop()
    levels = [r[0] for r in store.query("SELECT rms FROM monitor_levels WHERE rms IS NOT NULL")]
    assert min(levels) == FLOOR and max(levels) > -30


@pytest.mark.audio
def test_devices_inputs_marks_the_monitor_input(pulse, station_dir):
    from tests.conftest import write_config
    from tests.daemonutil import cli

    write_config(station_dir, extra="monitor: {device: pulse, pulse_source: onair.monitor}\n")
    result = cli(station_dir, "devices", "--inputs", env=pulse.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("*") and "pulse" in result.stdout
    write_config(station_dir, extra="monitor: {device: usb-line-in}\n")
    result = cli(station_dir, "devices", "--inputs", env=pulse.env)
    assert result.returncode == 1 and '"usb-line-in" に合う入力デバイスがありません' in result.stderr
