"""Supervised worker processes: synthesis (pyopenjtalk) and DSP (scipy, pyloudnorm).

Each worker is a child process running ``announcer.speech.worker``. A crash (segfault)
or a hang costs a restart of that worker and one retry of the request; a request that
crashes twice is given up, and the caller carries on. Urgent requests (emergency
bulletins) are served before every waiting non-urgent one.
"""

import heapq
import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from announcer.core.errors import SpeechError
from announcer.speech import protocol

log = logging.getLogger(__name__)
URGENT, NORMAL, LOW = 0, 1, 2  # LOW: the public page's furigana, after any airing


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
    """How audio is prepared for air: output rate, loudness target (None: untouched,
    only resampled) and sample-peak ceiling; for speech also the voice's equalization
    (``announcer.speech.dsp``) and whether the vocoder's silence is trimmed."""

    rate: int = 48000
    loudness: float | None = -24.0
    peak: float = -1.0
    highpass_hz: float = 0.0
    presence_db: float = 0.0
    presence_hz: float = 3000.0
    trim: bool = False


class WorkerProcess:
    """One child process; not thread-safe (its group hands it to one caller at a time)."""

    def __init__(self, args: tuple[str, ...] = (), timeout: float = 60.0):
        self.args, self.timeout = args, timeout
        self.proc: subprocess.Popen | None = None
        self.warmup: dict | None = None  # sent to every (re)started worker first

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "announcer.speech.worker", *self.args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )

    def stop(self, timeout: float = 2.0) -> None:
        self.close_input()
        self.reap(time.monotonic() + timeout)

    def close_input(self) -> None:
        """Ask the worker to exit (it does once its current request is done)."""
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def reap(self, deadline: float) -> None:
        """Wait for the worker to exit until ``deadline``, then kill it."""
        if self.proc:
            try:
                self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
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
            if self.warmup is not None and header is not self.warmup:
                # A restarted worker loads every voice before serving: the request
                # after a crash must not pay for loading one.
                self.request(self.warmup)
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
            kind = "DSP" if "--dsp" in self.args else "synthesis"
            raise WorkerCrashed(f"{kind} worker died (exit {code})") from exc
        finally:
            timer.cancel()


class WorkerGroup:
    """A fixed set of warm workers of one kind, shared by threads by priority.

    ``listener(ok, detail)``, when set, hears every crash (``False``) and every answer
    (``True``): the studio turns that into the ``speech`` health condition."""

    def __init__(self, count: int, args: tuple[str, ...] = ()):
        self.workers = [WorkerProcess(args) for _ in range(count)]
        self._idle = list(self.workers)
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int]] = []  # heap of (priority, ticket)
        self._tickets = itertools.count()
        self.crashes = 0
        self.stopped = False
        self.listener = None

    def start(self) -> None:
        self.stopped = False
        for w in self.workers:
            w.start()

    def wait_ready(self) -> None:
        for w in self.workers:
            w.request({"op": "ping"})

    def stop(self, timeout: float = 2.0) -> None:
        """Stop every worker in parallel; none may hold shutdown up for long."""
        self.stopped = True
        for w in self.workers:
            w.close_input()
        deadline = time.monotonic() + timeout
        for w in self.workers:
            w.reap(deadline)

    def _checkout(self, priority: int) -> WorkerProcess:
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

    def call(self, header: dict, payload: bytes = b"",
             priority: int = NORMAL) -> tuple[dict, bytes]:
        if self.stopped:  # shutting down: never start workers again
            raise SpeechError("speech workers are stopped")
        worker = self._checkout(priority)
        try:
            for attempt in (1, 2):
                try:
                    reply, data = worker.request(header, payload)
                    break
                except WorkerCrashed as exc:
                    self.crashes += 1
                    self._tell(False, str(exc))
                    log.warning("Worker crashed on %r (attempt %d): %s",
                                header.get("text", header.get("op", ""))[:40], attempt, exc)
                    if attempt == 2 or self.stopped:  # no new worker during shutdown
                        raise
        finally:
            self._checkin(worker)
        self._tell(True, "")
        if not reply.get("ok"):
            raise SpeechError(reply.get("error", "worker failed"))
        return reply, data


    def _tell(self, ok: bool, detail: str) -> None:
        if self.listener is not None:
            try:
                self.listener(ok, detail)
            except Exception:  # health reporting must never fail a synthesis
                log.exception("speech health listener failed")


class SpeechPool:
    """Synthesis workers plus one DSP worker. All methods are thread-safe."""

    def __init__(self, workers: int = 2, userdict: str | None = None, dict_version: str = ""):
        self.userdict, self.dict_version = userdict, dict_version
        self.synth = WorkerGroup(workers)
        self.dsp = WorkerGroup(1, ("--dsp",))

    @property
    def crashes(self) -> int:
        return self.synth.crashes + self.dsp.crashes

    @property
    def _all(self) -> list[WorkerProcess]:
        return self.synth.workers + self.dsp.workers

    def start(self, voices: list[VoiceParams] = ()) -> None:
        """Start every worker now and wait until each answers, with every voice of
        ``voices`` loaded and used once in every synthesis worker (so first use of any
        voice is warm, after a worker's restart too)."""
        warm = {"op": "warm", "voices": sorted({v.htsvoice or "" for v in voices})}
        for w in self.synth.workers:
            w.warmup = warm
        self.synth.start()
        self.dsp.start()
        for w in self.synth.workers:
            w.request(warm)
        self.dsp.wait_ready()

    def stop(self) -> None:
        for group in (self.synth, self.dsp):
            group.stopped = True
        self.synth.stop()
        self.dsp.stop()

    def ping(self) -> None:
        """Every kind of worker answers (a dead one is restarted first), or raises."""
        self.synth.call({"op": "ping"})
        self.dsp.call({"op": "ping"})

    def _call(self, header: dict, priority: int = NORMAL) -> tuple[dict, bytes]:
        header = dict(header, userdict=self.userdict, dict_version=self.dict_version)
        return self.synth.call(header, priority=priority)

    def synthesize(self, text: str, voice: VoiceParams, urgent: bool = False,
                   finish: Finish = Finish(), quick: bool = False,
                   cut: tuple[int, int] | None = None) -> tuple[np.ndarray, int]:
        """Float32 samples and their rate, trimmed, equalized, resampled and
        loudness-normalized as ``finish`` says; empty when nothing was speakable.
        ``quick``: without the vocoder's closing silence (a program's first piece,
        which a pause follows anyway): about a third less work for a short phrase.
        ``cut``: see ``synthesize_first``."""
        audio, _head, _rest = self.synthesize_first(text, voice, urgent, finish, quick, cut)
        return audio, finish.rate

    def synthesize_first(self, text: str, voice: VoiceParams, urgent: bool = False,
                         finish: Finish = Finish(), quick: bool = True,
                         cut: tuple[int, int] | None = None
                         ) -> tuple[np.ndarray, str | None, str | None]:
        """(audio, head, rest): with ``cut`` = (min_head, min_total), a text of more
        than min_total morae is cut at its first accent-phrase boundary after min_head
        morae (when the two pieces read exactly as the whole does) and only ``head`` is
        synthesized; ``rest`` is left to the caller. head and rest are None uncut.
        One request: the cut never waits for a worker of its own."""
        priority = URGENT if urgent else NORMAL
        reply, payload = self._call({
            "op": "tts", "text": text, "htsvoice": voice.htsvoice, "speed": voice.speed,
            "half_tone": voice.half_tone, "quick": quick, "cut": list(cut) if cut else None,
        }, priority)
        raw = np.frombuffer(payload, dtype=np.float32)
        if raw.size:
            raw = self.normalize(raw, int(reply["rate"]), finish, priority)
        return raw, reply.get("head"), reply.get("rest")

    def normalize(self, samples: np.ndarray, rate: int, finish: Finish,
                  priority: int = NORMAL) -> np.ndarray:
        """Resample and loudness-normalize audio (a sentence, a chime) in the DSP worker."""
        reply, payload = self.dsp.call(
            {"op": "normalize", "in_rate": rate, **vars(finish)},
            np.asarray(samples, np.float32).tobytes(), priority)
        return np.frombuffer(payload, dtype=np.float32)

    def reading(self, text: str, accent: bool = False) -> str:
        reply, _ = self._call({"op": "reading", "text": text, "accent": accent})
        return reply["reading"]

    def words(self, text: str) -> list[tuple[str, str]]:
        """(surface, reading) of each word as Open JTalk split ``text``."""
        reply, _ = self._call({"op": "reading", "text": text, "words": True})
        return [(surface, kana) for surface, kana in reply["words"]]

    def furigana_words(self, texts: list[str]) -> list[list[list]]:
        """Per text, [surface, read, pron, plain] of each word as the voice analyses it
        (``worker.Worker.furigana``); served after every synthesis request."""
        reply, _ = self._call({"op": "furigana", "texts": list(texts)}, LOW)
        return reply["texts"]
