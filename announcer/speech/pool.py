"""Supervised synthesis workers.

Each worker is a child process running ``announcer.speech.worker``. A crash (segfault)
or a hang costs a restart of that worker and one retry of the request; a request that
crashes twice is given up as unspeakable, and the caller carries on.
"""

import heapq
import itertools
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass

import numpy as np

from announcer.errors import SpeechError
from announcer.speech import protocol

log = logging.getLogger(__name__)


class WorkerCrashed(SpeechError):
    pass


@dataclass(frozen=True)
class VoiceParams:
    """What the worker needs of a voice preset."""

    htsvoice: str | None = None  # None: pyopenjtalk's bundled mei_normal
    speed: float = 1.0
    half_tone: float = 0.0


@dataclass(frozen=True)
class Finish:
    """How the worker prepares audio for air: output rate, loudness target, ceiling.

    ``loudness=None`` returns the raw synthesis (float, 48 kHz, untrimmed)."""

    rate: int = 48000
    loudness: float | None = -24.0
    peak: float = -1.0


class WorkerProcess:
    """One child process; not thread-safe (the pool hands it to one caller at a time)."""

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "announcer.speech.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._release()

    def kill(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        self._release()

    def _release(self) -> None:
        if self.proc:
            for pipe in (self.proc.stdin, self.proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
        self.proc = None

    def request(self, header: dict, payload: bytes = b"") -> tuple[dict, bytes]:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        timer = threading.Timer(self.timeout, self.proc.kill)
        timer.start()
        try:
            protocol.send(self.proc.stdin, header, payload)
            return protocol.receive(self.proc.stdout)
        except (EOFError, BrokenPipeError, OSError) as exc:
            try:
                code = self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                code = None
            self.kill()
            raise WorkerCrashed(f"synthesis worker died (exit {code})") from exc
        finally:
            timer.cancel()


class SpeechPool:
    """A fixed set of warm workers. ``synthesize`` and ``reading`` are thread-safe."""

    def __init__(self, workers: int = 2, userdict: str | None = None, dict_version: str = ""):
        self.userdict, self.dict_version = userdict, dict_version
        self._all = [WorkerProcess() for _ in range(workers)]
        self._idle = list(self._all)
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int]] = []  # heap of (priority, ticket)
        self._tickets = itertools.count()
        self.crashes = 0

    def start(self) -> None:
        """Start every worker now and wait until each answers (so first use is warm)."""
        for w in self._all:
            w.start()
        for w in self._all:
            w.request({"op": "ping"})

    def stop(self) -> None:
        for w in self._all:
            w.stop()

    def _checkout(self, priority: int) -> WorkerProcess:
        """A free worker; urgent callers (lower priority number) are served first."""
        ticket = (priority, next(self._tickets))
        with self._cond:
            heapq.heappush(self._waiting, ticket)
            self._cond.wait_for(lambda: self._idle and self._waiting[0] == ticket)
            heapq.heappop(self._waiting)
            worker = self._idle.pop()
            self._cond.notify_all()
            return worker

    def _checkin(self, worker: WorkerProcess) -> None:
        with self._cond:
            self._idle.append(worker)
            self._cond.notify_all()

    def _call(self, header: dict, priority: int = 1, payload: bytes = b"") -> tuple[dict, bytes]:
        header = dict(header, userdict=self.userdict, dict_version=self.dict_version)
        worker = self._checkout(priority)
        try:
            for attempt in (1, 2):
                try:
                    reply, data = worker.request(header, payload)
                    break
                except WorkerCrashed as exc:
                    self.crashes += 1
                    log.warning("Worker crashed on %r (attempt %d): %s",
                                header.get("text", "")[:40], attempt, exc)
                    if attempt == 2:
                        raise
        finally:
            self._checkin(worker)
        if not reply.get("ok"):
            raise SpeechError(reply.get("error", "synthesis failed"))
        return reply, data

    def synthesize(self, text: str, voice: VoiceParams, urgent: bool = False,
                   finish: Finish = Finish()) -> tuple[np.ndarray, int]:
        """Float32 samples and their rate, trimmed, resampled and loudness-normalized
        as ``finish`` says; empty when nothing was speakable.

        ``urgent`` (emergency bulletins) jumps ahead of every waiting non-urgent call.
        """
        reply, payload = self._call({
            "op": "tts", "text": text, "htsvoice": voice.htsvoice,
            "speed": voice.speed, "half_tone": voice.half_tone, "rate": finish.rate,
            "loudness": finish.loudness, "peak": finish.peak,
        }, priority=0 if urgent else 1)
        return np.frombuffer(payload, dtype=np.float32), int(reply["rate"])

    def normalize(self, samples: np.ndarray, rate: int, finish: Finish) -> np.ndarray:
        """Resample and loudness-normalize a clip (a chime) in a worker."""
        reply, payload = self._call({"op": "normalize", "in_rate": rate, "rate": finish.rate,
                                     "loudness": finish.loudness, "peak": finish.peak},
                                    payload=np.asarray(samples, np.float32).tobytes())
        return np.frombuffer(payload, dtype=np.float32)

    def reading(self, text: str, accent: bool = False) -> str:
        reply, _ = self._call({"op": "reading", "text": text, "accent": accent})
        return reply["reading"]
