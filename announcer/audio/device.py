"""The real output: one persistent PortAudio stream through sounddevice.

The stream stays open while the station runs (opening a stream per item costs a
second of set-up and drain). A supervisor thread opens it (``start`` does not wait for
the device: the station comes up meanwhile), reopens it when the device vanishes
(unplugged, or the sound server restarted) and reports the output degraded meanwhile.
An exception in ``pull`` plays silence and reports the output degraded, logged once per
episode; ``progress`` is the last sign of life (a callback while the stream runs, a turn
of the reopen loop while it does not), for the watchdog.
"""

import logging
import threading
import time

from announcer.audio.base import HealthListener, Pull

log = logging.getLogger(__name__)
STALL = 4.0  # seconds without a callback while "active" means the device hung (the ALSA
# pulse plugin pauses ~1.5 s after an underrun on a loaded machine: that is not a loss)
WARMUP = 6.0  # seconds a new stream may take to start flowing (PulseAudio can take ~1.5 s)
FLOWING = 25  # callbacks in a row that show the stream is really running


def _sd():
    import sounddevice

    return sounddevice


def find_device(name: str) -> int | None:
    """PortAudio's index of the first output whose name contains ``name``.

    ``default`` means PortAudio's default output; None when nothing matches.
    """
    sd = _sd()
    devices = sd.query_devices()
    if name == "default":
        index = sd.default.device[1]
        if index is not None and index >= 0:
            return index
    for i, dev in enumerate(devices):
        if dev["max_output_channels"] > 0 and name.lower() in dev["name"].lower():
            return i
    return None


def list_devices() -> list[tuple[int, str, bool]]:
    """(index, name, is_default) of every output PortAudio sees."""
    sd = _sd()
    default = sd.default.device[1]
    return [(i, d["name"], i == default) for i, d in enumerate(sd.query_devices())
            if d["max_output_channels"] > 0]


class DeviceOutput:
    def __init__(self, device: str = "default", rate: int = 48000, latency: float = 0.05,
                 retry: float = 2.0, blocksize: int = 480):
        self.device, self.rate, self.latency_wanted = device, rate, latency
        self.retry, self.blocksize = retry, blocksize
        self._stream = None
        self._pull: Pull | None = None
        self._on_health: HealthListener = lambda ok, detail: None
        self._healthy = False
        self._detail = "not started"
        self._last_callback = 0.0
        self._callbacks = 0
        self._opened_at = 0.0
        self._pull_error: Exception | None = None  # set by the audio thread
        self._pull_failed_at = 0.0
        self._pull_episode = False
        self._loop_at = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def detail(self) -> str:
        return self._detail

    @property
    def latency(self) -> float:
        """Seconds from a pulled sample to the device's output (PortAudio's estimate)."""
        stream = self._stream
        try:
            return float(stream.latency) if stream is not None else self.latency_wanted
        except Exception:
            return self.latency_wanted

    @property
    def progress(self) -> float:
        """time.monotonic() of the last sign of life (see the module docstring)."""
        if self._stream is not None and self._healthy:
            return self._last_callback
        return self._loop_at

    @property
    def playout_failing(self) -> bool:
        """True during an episode of exceptions in ``pull`` (not a device problem)."""
        return self._pull_episode

    def start(self, pull: Pull, on_health: HealthListener) -> None:
        self._pull, self._on_health = pull, on_health
        self._stop.clear()
        self._detail = "opening"
        self._thread = threading.Thread(target=self._supervise, name="audio-supervisor",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=3)
        self._close()

    def _set(self, ok: bool, detail: str) -> None:
        changed = ok != self._healthy or detail != self._detail
        self._healthy, self._detail = ok, detail
        if changed:
            (log.info if ok else log.error)("Audio output %s: %s", "ok" if ok else "degraded",
                                            detail)
            self._on_health(ok, detail)

    def _callback(self, outdata, frames, _time, status) -> None:
        self._last_callback = time.monotonic()
        self._callbacks += 1
        try:
            block, _tag = self._pull(frames)
            outdata[:, 0] = block
        except Exception as exc:  # never let the audio thread die; play silence instead
            # No logging here (it would run 100 times a second): the supervisor reports.
            self._pull_error, self._pull_failed_at = exc, self._last_callback
            outdata.fill(0)

    def _open(self) -> None:
        sd = _sd()
        try:
            sd._terminate()  # re-scan: the device may have appeared since the last try
            sd._initialize()
            index = find_device(self.device)
            if index is None:
                raise RuntimeError(f'no output device matching "{self.device}"')
            stream = sd.OutputStream(device=index, samplerate=self.rate, channels=1,
                                     dtype="float32", blocksize=self.blocksize,
                                     latency=self.latency_wanted, callback=self._callback)
            self._last_callback = self._opened_at = time.monotonic()
            self._callbacks = 0
            stream.start()
        except Exception as exc:
            self._set(False, f"{self.device}: {exc}")
            return
        self._stream = stream
        self._name = sd.query_devices(index)["name"]
        self._wait_flowing(WARMUP)

    def _wait_flowing(self, timeout: float) -> bool:
        """Report healthy once callbacks arrive steadily (not just the first prefill)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            if self._flowing():
                self._set(True, self._name)
                return True
            time.sleep(0.02)
        return False

    def _flowing(self) -> bool:
        return (self._stream is not None and self._callbacks >= FLOWING
                and time.monotonic() - self._last_callback < 0.2)

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        # PortAudio can block in close when the server is gone: never wait on it long.
        closer = threading.Thread(target=lambda: (stream.abort(), stream.close()),
                                  name="audio-close", daemon=True)
        closer.start()
        closer.join(timeout=2)

    def _alive(self) -> bool:
        stream = self._stream
        if stream is None:
            return False
        now = time.monotonic()
        if not self._healthy:  # still warming up
            return stream.active and now - self._opened_at < WARMUP
        return stream.active and now - self._last_callback < STALL

    def _check_pull(self) -> None:
        """Open or close an episode of exceptions in ``pull`` (degraded while it lasts)."""
        error = self._pull_error
        if error is not None and not self._pull_episode:
            self._pull_episode = True
            log.error("Playout failed in the audio thread (silence until it recovers)",
                      exc_info=error)
            self._set(False, f"playout error: {type(error).__name__}: {error}")
        elif self._pull_episode and time.monotonic() - self._pull_failed_at > 0.5:
            self._pull_episode, self._pull_error = False, None
            log.info("Playout recovered")
            if self._stream is not None:
                self._set(True, self._name)

    def _supervise(self) -> None:
        self._open()
        while not self._stop.wait(0.1):
            self._loop_at = time.monotonic()
            self._check_pull()
            if self._pull_episode:
                continue
            if self._stream is not None and not self._healthy and self._flowing():
                self._set(True, self._name)
            if self._stream is not None and not self._alive():
                self._close()
                self._set(False, f"{self.device}: output stream stopped")
            if self._stream is None:
                if self._stop.wait(self.retry):
                    return
                self._loop_at = time.monotonic()
                self._open()
