"""The file output: writes what would have aired as WAV files, at real-time pace.

For a machine without a sound card (and for checking a day's output by ear): each
item on air becomes ``<data>/aired/YYYYmmdd-HHMMSS-<tag>.wav``.

The files are this output's "air": a file that cannot be written (disk full) is a lost
device, reported through ``on_health(False, …)`` (the engine fails what was on air, and
what is queued waits, as for an unplugged card). The thread then stops pulling and tries
a small write every second; once it works it reports healthy and pulls again. A write
error never ends the thread.
"""

import datetime as dt
import logging
import os
import re
import threading
import time
import wave
from pathlib import Path

from announcer.audio.base import HealthListener, Pull, to_int16

log = logging.getLogger(__name__)


class FileOutput:
    def __init__(self, folder: Path, rate: int = 48000, blocksize: int = 480, tz=None):
        self.folder, self.rate, self.blocksize, self.tz = folder, rate, blocksize, tz
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wav = None
        self._tag = None
        self.files: list[Path] = []

    healthy = True  # per instance once a write failed

    @property
    def detail(self) -> str:
        return f"file: {self.folder}"

    latency = 0.0

    def start(self, pull: Pull, on_health: HealthListener) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        # Reported before the thread runs: a write that fails at once reports after it.
        on_health(True, self.detail)
        self._thread = threading.Thread(target=self._run, args=(pull, on_health),
                                        name="file-output", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=3)
        try:
            self._switch(None)
        except (OSError, wave.Error) as exc:
            log.error("The last file output could not be finished: %s", exc)

    def _lost(self, exc: BaseException, on_health: HealthListener) -> None:
        wav, self._wav, self._tag = self._wav, None, None
        if wav is not None:
            try:
                wav.close()
            except (OSError, wave.Error):
                pass
        if self.healthy:
            self.healthy = False
            log.error("File output cannot write (%s): reported as a lost device", exc)
            on_health(False, f"file: cannot write: {exc}")

    def _switch(self, tag: str | None) -> None:
        if self._wav is not None:
            wav, self._wav = self._wav, None
            wav.close()
        self._tag = tag
        if tag is None:
            return
        stamp = dt.datetime.now(self.tz).strftime("%Y%m%d-%H%M%S")
        path = self.folder / f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]', '_', tag)}.wav"
        self._wav = wave.open(str(path), "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(self.rate)
        self.files.append(path)
        log.info("Writing %s", path)

    def _run(self, pull: Pull, on_health: HealthListener) -> None:
        period = self.blocksize / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            if not self.healthy:
                if self._stop.wait(1.0) or not self._writable():
                    continue
                self.healthy = True
                log.warning("File output writable again")
                on_health(True, self.detail)
                next_at = time.monotonic()
            block, tag = pull(self.blocksize)
            try:
                if tag != self._tag:
                    self._switch(tag)
                if self._wav is not None:
                    self._wav.writeframes(to_int16(block).tobytes())
            except (OSError, wave.Error) as exc:
                self._lost(exc, on_health)
                continue
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:  # fell far behind (suspend?): resync instead of racing
                next_at = time.monotonic()

    def _writable(self) -> bool:
        probe = self.folder / ".write-probe"
        try:
            with open(probe, "wb") as f:
                f.write(bytes(64 * 1024))  # about a second of audio
                f.flush()
                os.fsync(f.fileno())
            return True
        except OSError:
            return False
        finally:
            probe.unlink(missing_ok=True)
