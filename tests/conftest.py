"""Shared fixtures: a station folder in tmp_path, and a private PulseAudio null sink."""

import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
RATE = 48000


@pytest.fixture(autouse=True, scope="module")
def fresh_trouble_bus():
    """Each test module starts with an empty trouble bus: a condition another module
    left bad (a stale feed, a lost device) must not colour this module's health verdict."""
    from announcer.core import events

    # Cleared in place: parts hold the bus object itself (default arguments).
    with events.BUS._lock:
        events.BUS._bad.clear()
        events.BUS._failing.clear()
    yield events.BUS


@pytest.fixture
def station_dir(tmp_path) -> Path:
    """A station folder: station.yaml (device "file"), an empty schedules/ and the
    repo's voices/ (copied, so dictionary edits stay in the test)."""
    shutil.copytree(REPO / "voices", tmp_path / "voices")
    (tmp_path / "schedules").mkdir()
    write_config(tmp_path)
    return tmp_path


def write_config(folder: Path, device: str = "file", port: int = 0, extra: str = "") -> Path:
    path = folder / "station.yaml"
    path.write_text(textwrap.dedent(f"""\
        station: {{name: FMもおか, timezone: Asia/Tokyo}}
        audio: {{device: {device}}}
        web: {{host: 127.0.0.1, port: {port or 8080}}}
        paths: {{schedules: schedules, data: var, voices: voices}}
        """) + extra, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def module_studio(tmp_path_factory):
    """A started studio (real speech workers) on a station folder of its own, shared by
    the tests of one module."""
    from announcer.core.config import load_config
    from announcer.studio.service import Studio

    folder = tmp_path_factory.mktemp("station")
    shutil.copytree(REPO / "voices", folder / "voices")
    (folder / "schedules").mkdir()
    studio = Studio(load_config(write_config(folder)))
    studio.start()
    yield studio
    studio.stop()


# -- PulseAudio null sink ------------------------------------------------------------
class Pulse:
    """A private PulseAudio with one null sink "onair"; its monitor proves what aired."""

    def __init__(self, runtime: Path):
        self.runtime = runtime
        self.proc = None
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime),
                        PULSE_SERVER=f"unix:{runtime}/pulse/native")

    def start(self) -> None:
        self.runtime.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--disable-shm=yes",
             "--log-target=stderr", "--load=module-null-sink sink_name=onair rate=48000",
             "--load=module-native-protocol-unix", "--load=module-always-sink"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("PulseAudio did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def record(self) -> "Recorder":
        return Recorder(self.env)


class Recorder:
    """parec of the sink's monitor, with each sample's wall-clock time known."""

    def __init__(self, env):
        self.proc = subprocess.Popen(
            ["parec", "-d", "onair.monitor", "--raw", "--format=s16le", f"--rate={RATE}",
             "--channels=1", "--latency-msec=10"], env=env, stdout=subprocess.PIPE)
        self.chunks: list[bytes] = []
        self.marks: list[tuple[int, float]] = []  # (samples so far, arrival wall time)
        self._total = 0
        import threading

        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            data = self.proc.stdout.read1(9600)
            if not data:
                return
            now = time.time()
            self.chunks.append(data)
            self._total += len(data) // 2
            self.marks.append((self._total, now))

    def time_of(self, index: int) -> float:
        """Wall time a sample reached the monitor: its chunk's arrival minus the samples
        that followed it in that chunk (parec's pipe adds at most ~10 ms)."""
        for end, arrived in self.marks:
            if end > index:
                return arrived - (end - index) / RATE
        raise IndexError(index)

    def stop(self) -> np.ndarray:
        self.proc.terminate()
        self.proc.wait()
        self._thread.join(timeout=2)
        self.proc.stdout.close()
        return self.samples()

    def samples(self) -> np.ndarray:
        return np.frombuffer(b"".join(list(self.chunks)), dtype="<i2").astype(np.float32) / 32768

    def onsets(self, threshold: float = 0.01, gap: float = 1.0) -> list[float]:
        """Wall-clock times where sound starts after at least ``gap`` s of silence."""
        x = np.abs(self.samples())
        loud = np.flatnonzero(x > threshold)
        if loud.size == 0:
            return []
        starts = [loud[0]] + [b for a, b in zip(loud[:-1], loud[1:]) if b - a > gap * RATE]
        return [self.time_of(int(s)) for s in starts]

    def sound_seconds(self, threshold: float = 0.01) -> float:
        x = np.abs(self.samples())
        blocks = x[: len(x) // 480 * 480].reshape(-1, 480).max(axis=1)
        return float((blocks > threshold).sum() * 480 / RATE)


def have_pulse() -> bool:
    return shutil.which("pulseaudio") is not None and shutil.which("parec") is not None


def started_pulse(tmp_path_factory) -> Pulse:
    """A started private PulseAudio (fails the test when PulseAudio is not installed)."""
    if not have_pulse():
        pytest.fail("pulseaudio/parec missing: run the README's test command to install them")
    p = Pulse(tmp_path_factory.mktemp("pulse"))
    p.start()
    return p


@pytest.fixture
def pulse(tmp_path_factory):
    p = started_pulse(tmp_path_factory)
    yield p
    p.stop()
