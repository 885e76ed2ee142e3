"""The silence monitor: listens to what actually goes out and raises the silence alarms.

Rules:
- Optional: it runs only when ``monitor.device`` is set (an input fed from the transmitter
  feed or an off-air receiver).
- The input is captured in a child process (``announcer.watch.monitor.capture``) supervised by
  one ``monitor`` thread: if it fails, hangs or cannot open the device, the thread kills
  it and starts another after ``monitor.retry_seconds``. Playout never notices; the
  monitor's own PortAudio cannot touch the output stream.
- Every block of level goes to the ``SilenceDetector``; while the input is down the
  detector is fed "no level", which counts as silence (we cannot hear the air).
  Alarms go out as events (``silence``, ``on_air_silence``) on the bus, key ``monitor``.
- Alarms still open from before a restart (``open_alarms``, from the alerts' saved
  episodes) start raised: sound clears them, silence confirms them, neither repeats them.
- One value per second goes to the level history (``LevelHistory``, 7 days); ``current()``
  is the live meter for the status page.
"""

import collections
import logging
import os
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from announcer.core import events
from announcer.watch.monitor.detector import SilenceDetector, dbfs
from announcer.watch.monitor.history import LevelHistory

log = logging.getLogger(__name__)
RATE = 48000
BLOCK = 0.1       # seconds per level value from the capture process
STALL = 3.0       # seconds without a line from the capture process: kill it
GAP = 0.5         # seconds without a block before the input counts as down
MAX_FILL = 3600   # history rows filled with "no input" at most in one go (after a suspend)
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class Monitor:
    def __init__(self, cfg, store, on_air: Callable[[], str | None],
                 bus: events.Bus = events.BUS, python: str = sys.executable,
                 wall=time.time, mono=time.monotonic, env: dict | None = None,
                 open_alarms=()):
        self.cfg, self.on_air, self.bus, self.env = cfg, on_air, bus, env
        self.python, self.wall, self.mono = python, wall, mono
        self.history = LevelHistory(store)
        self.detector = SilenceDetector(cfg.silence_dbfs, cfg.silence_seconds,
                                        cfg.on_air_seconds, open_alarms=open_alarms)
        self.input_ok, self.input_detail, self.input_name = False, "starting", cfg.device
        self._window: collections.deque = collections.deque(maxlen=round(1 / BLOCK))
        self._fed_until = mono()
        self._second: int | None = None
        self._sum = self._peak = 0.0
        self._n = 0
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._error: str | None = None
        self.cpu_seconds = 0.0  # the monitor thread's own CPU time (bench)

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        self._fed_until = self.mono()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()
        log.info("Silence monitor on %r%s: alarm after %g s below %g dBFS", self.cfg.device,
                 f" (PulseAudio source {self.cfg.pulse_source})" if self.cfg.pulse_source
                 else "", self.cfg.silence_seconds, self.cfg.silence_dbfs)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self._kill()
        try:
            self.history.flush(self.wall())
        except Exception:
            log.exception("monitor: level history not written at stop")

    def current(self) -> dict:
        """The live meter: level of the last second, silence so far, alarms."""
        with self._lock:
            window = list(self._window)
        level = dbfs(sum(p for p, _ in window) / len(window)) if window else None
        peak = dbfs(max(pk for _, pk in window) ** 2) if window else None
        return {"device": self.input_name, "input_ok": self.input_ok,
                "input_detail": self.input_detail, "level": level, "peak": peak,
                "silent_for": round(self.detector.silent_for(self.mono()), 1),
                "silence": self.detector.alarm, "on_air_silence": self.detector.grave,
                "threshold": self.cfg.silence_dbfs,
                "silence_seconds": self.cfg.silence_seconds}

    # -- the monitor thread -----------------------------------------------------------
    def _run(self) -> None:
        started = time.thread_time()
        while not self._stop.is_set():
            try:
                detail = self._capture()
            except Exception as exc:
                log.exception("monitor: capture failed")
                self._kill()
                detail = f"監視の処理でエラー: {exc}"
            if self._stop.is_set():
                break
            self._set_input(False, detail)
            deadline = self.mono() + self.cfg.retry_seconds
            while not self._stop.is_set() and self.mono() < deadline:
                self._tick()
                self._stop.wait(BLOCK)
            self.cpu_seconds = time.thread_time() - started
        self.cpu_seconds = time.thread_time() - started

    def _capture(self) -> str:
        """Run one capture process until it fails; returns why (for people)."""
        env = dict(os.environ if self.env is None else self.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        if self.cfg.pulse_source:
            env["PULSE_SOURCE"] = self.cfg.pulse_source
        self._proc = proc = subprocess.Popen(
            [self.python, "-m", "announcer.watch.monitor.capture", self.cfg.device, str(RATE),
             str(round(RATE * BLOCK))], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, bufsize=0)
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        buffer, last_line, self._error = b"", self.mono(), None
        try:
            while not self._stop.is_set():
                if selector.select(timeout=BLOCK):
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        return self._error or "入力が止まりました（キャプチャ処理が終了）"
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        last_line = self.mono()
                        self._line(line.decode("utf-8", "replace"))
                    buffer = buffer[-4096:]
                elif self.mono() - last_line > STALL:
                    return "入力が応答しません（キャプチャ処理を再起動します）"
                self._tick()
            return "stopped"
        finally:
            selector.close()
            self._kill()

    def _line(self, line: str) -> None:
        tag, _, rest = line.partition(" ")
        if tag == "L":
            try:
                power, peak = (min(1e3, max(0.0, float(v))) for v in rest.split())
            except ValueError:
                return
            self._block(power, peak)
        elif tag == "R":
            source = self.cfg.pulse_source
            self.input_name = (f"{rest} ({source})" if source else rest)[:200]
            self._set_input(True, self.input_name)
        elif tag == "E":
            self._error = f"入力を使えません: {rest[:300]}"

    def _set_input(self, ok: bool, detail: str) -> None:
        if ok != self.input_ok or detail != self.input_detail:
            (log.info if ok else log.warning)("Silence monitor input %s: %s",
                                              "open" if ok else "down", detail)
        self.input_ok, self.input_detail = ok, detail

    def _block(self, power: float, peak: float) -> None:
        now = self.mono()
        t = max(self._fed_until, now - BLOCK)
        self._fed_until = now
        with self._lock:
            self._window.append((power, peak))
        self._feed(t, now - t, dbfs(power))
        self._account(power, peak)

    def _tick(self) -> None:
        """Time passes without blocks: feed "no input" and close history seconds."""
        now = self.mono()
        if now - self._fed_until > GAP:
            with self._lock:
                self._window.clear()
            self._feed(self._fed_until, now - self._fed_until, None)
            self._fed_until = now
        self._account(None, None)

    def _feed(self, t: float, seconds: float, level: float | None) -> None:
        for change in self.detector.feed(t, seconds, level, self.on_air() is not None):
            self.bus.publish(change.kind, "monitor", change.ok, self._detail(change))

    def _detail(self, change) -> str:
        cfg = self.cfg
        if change.ok:
            return f"監視入力（{self.input_name}）で音が戻りました"
        if change.kind == events.ON_AIR_SILENCE:
            return (f"「{self.on_air() or '放送中の項目'}」を送出中ですが、監視入力"
                    f"（{self.input_name}）では {cfg.on_air_seconds:g} 秒以上無音です")
        text = (f"{cfg.silence_seconds:g} 秒以上、音声が {cfg.silence_dbfs:g} dBFS 未満です"
                f"（監視入力: {self.input_name}）")
        if not self.input_ok:
            text += f"。監視入力から音を受け取れていません: {self.input_detail}"
        return text

    def _account(self, power: float | None, peak: float | None) -> None:
        """One history row per wall-clock second."""
        wall = self.wall()
        second = int(wall)
        if self._second is None:
            self._second = second
        if second != self._second:
            if self._n:
                self.history.add(self._second, dbfs(self._sum / self._n),
                                 dbfs(self._peak ** 2), wall)
            else:
                self.history.add(self._second, None, None, wall)
            for missing in range(max(self._second + 1, second - MAX_FILL), second):
                self.history.add(missing, None, None, wall)
            self._second, self._sum, self._peak, self._n = second, 0.0, 0.0, 0
        if power is not None:
            self._sum += power
            self._peak = max(self._peak, peak)
            self._n += 1

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)
        proc.stdout.close()
