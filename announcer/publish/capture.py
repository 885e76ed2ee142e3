"""What the engine actually played, item by item, encoded to MP3 while it airs.

Why a tap and not the rendered file: the public should hear what went out. A notice's
render is what it airs only if nothing cut it; a bulletin is synthesized as it airs, and
a ``partial`` one airs without the sentences that failed. The engine hands every block
it plays for an item to ``tap`` (``Engine.tap``), so the file is, sample for sample,
what the listener heard, fades included, and its length is the airing's.

Rules:
- ``tap`` runs on the audio thread: it only puts the block on a queue, never blocks and
  never raises. Past ``MAX_BACKLOG`` queued blocks (the capture thread stalled) an item's
  blocks are dropped and it is published without audio rather than with a hole.
- One capture thread feeds each item's blocks to an ``ffmpeg`` child (libmp3lame, mono,
  ``BITRATE``, at low CPU priority) writing a temp file in ``work``; ``ended`` (from the
  station's events thread, after the item's last block) closes it, and
  ``on_done(item, take, info)`` gets the finished ``Take`` (or None: no audio).
- ffmpeg missing or failing costs the audio of that item, reported through ``on_error``.
- One spare ffmpeg waits on its input between items, so no process starts at an onset
  (a process start costs CPU at the very moment the air needs it on a 2-core PC).
"""

import logging
import os
import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
BITRATE = "64k"
MAX_BACKLOG = 4000  # queued blocks (about 90 s of audio at 1,024-sample blocks)
ENCODE_TIMEOUT = 120.0  # seconds for ffmpeg to finish after its input ended
_STOP = object()


@dataclass(frozen=True)
class Take:
    path: Path      # the MP3, in the work folder
    samples: int    # samples that went to air
    rate: int

    @property
    def seconds(self) -> float:
        return self.samples / self.rate


def ffmpeg_command(rate: int, out: Path) -> list[str]:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "f32le",
           "-ar", str(rate), "-ac", "1", "-i", "pipe:0", "-codec:a", "libmp3lame",
           "-b:a", BITRATE, "-map_metadata", "-1", "-fflags", "+bitexact", "-f", "mp3",
           "-y", str(out)]
    return (["nice", "-n", "10"] if shutil.which("nice") else []) + cmd


class _Encoder:
    def __init__(self, rate: int, out: Path):
        self.out, self.rate, self.samples = out, rate, 0
        self.proc = subprocess.Popen(ffmpeg_command(rate, out), stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def write(self, block: np.ndarray) -> None:
        self.proc.stdin.write(np.asarray(block, "<f4").tobytes())
        self.samples += len(block)

    def finish(self) -> Take:
        try:  # closes ffmpeg's input (the end of the audio), then waits
            _, err = self.proc.communicate(timeout=ENCODE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise RuntimeError("ffmpeg did not finish") from None
        if self.proc.returncode != 0:
            raise RuntimeError(f"ffmpeg exit {self.proc.returncode}: "
                               f"{err.decode(errors='replace').strip()[-200:]}")
        return Take(self.out, self.samples, self.rate)

    def abandon(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()
        self.out.unlink(missing_ok=True)


class Capture:
    def __init__(self, work: Path, rate: int, on_done, on_error=None, wanted=None):
        self.work, self.rate = Path(work), rate
        self.on_done = on_done
        self.on_error = on_error or (lambda detail: None)
        self.wanted = wanted or (lambda item: True)  # drills when they are left out: no
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._encoders: dict = {}  # item -> _Encoder
        self._broken: set = set()  # items whose audio is lost (backlog, ffmpeg)
        self._count = 0
        self._spare: _Encoder | None = None
        self._thread: threading.Thread | None = None

    # -- producers ---------------------------------------------------------------------
    def tap(self, item, block: np.ndarray) -> None:
        """The engine played ``block`` of ``item`` (audio thread: never blocks)."""
        if self._thread is None or not self.wanted(item):
            return
        if self._queue.qsize() > MAX_BACKLOG:
            self._broken.add(item)
            return
        self._queue.put(("block", item, block))

    def ended(self, item, info: dict) -> None:
        """The item's airing ended (after its last block); ``info`` goes to ``on_done``."""
        self._queue.put(("end", item, info))

    # -- the capture thread --------------------------------------------------------------
    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        for stale in self.work.glob("*.mp3.part"):
            stale.unlink(missing_ok=True)
        self._thread = threading.Thread(target=self._run, name="publish-capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put((_STOP, None, None))
            thread.join(timeout)
        for encoder in [*self._encoders.values(), *filter(None, [self._spare])]:
            encoder.abandon()
        self._encoders.clear()
        self._spare = None

    def _new_encoder(self) -> "_Encoder":
        self._count += 1
        return _Encoder(self.rate, self.work / f"take-{os.getpid()}-{self._count}.mp3.part")

    def _ready_spare(self) -> None:
        if self._spare is None:
            try:
                self._spare = self._new_encoder()
            except OSError as exc:  # no ffmpeg: each item will say so when it airs
                log.warning("No spare encoder: %s", exc)

    def _run(self) -> None:
        self._ready_spare()
        while True:
            what, item, payload = self._queue.get()
            if what is _STOP:
                return
            try:
                if what == "block":
                    self._block(item, payload)
                else:
                    self.on_done(item, self._finish(item), payload)
            except Exception:
                log.exception("Capturing the public audio failed")

    def _block(self, item, block) -> None:
        if item in self._broken:
            return
        encoder = self._encoders.get(item)
        try:
            if encoder is None:
                spare, self._spare = self._spare, None
                if spare is not None and spare.proc.poll() is not None:  # it died waiting
                    spare.abandon()
                    spare = None
                encoder = spare or self._new_encoder()
                self._encoders[item] = encoder
            encoder.write(block)
        except OSError as exc:  # no ffmpeg, or it died
            self._lose(item, f"音声ファイルを作れません（ffmpeg: {exc}）")

    def _lose(self, item, detail: str) -> None:
        self._broken.add(item)
        encoder = self._encoders.pop(item, None)
        if encoder is not None:
            encoder.abandon()
        log.error("Public audio of %s lost: %s", getattr(item, "tag", item), detail)
        self.on_error(detail)

    def _finish(self, item) -> Take | None:
        try:
            return self._finish_take(item)
        finally:
            self._ready_spare()  # between items, not at the next onset

    def _finish_take(self, item) -> Take | None:
        encoder = self._encoders.pop(item, None)
        if item in self._broken:
            self._broken.discard(item)
            if encoder is not None:
                encoder.abandon()
            return None
        if encoder is None:
            return None
        try:
            return encoder.finish()
        except (RuntimeError, OSError) as exc:
            encoder.abandon()
            self._lose(item, f"音声ファイルを作れません（{exc}）")
            self._broken.discard(item)
            return None
