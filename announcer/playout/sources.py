"""Audio sources the playout engine reads from: a rendered array, or a live stream.

``read(n)`` never blocks (it runs on the audio thread): it returns up to ``n`` samples,
fewer when a stream has not produced them yet. ``done`` turns true once nothing more
will ever come.
"""

import logging
import queue
import threading
from typing import Iterable

import numpy as np

log = logging.getLogger(__name__)
# A program yields this (empty, so whoever concatenates a program is unaffected) where its
# words end and only chimes and silence follow: a stream then knows its ``spoken_at``.
WORDS_DONE = np.zeros(0, np.float32)


class ArraySource:
    """A pre-rendered program (float32, or int16 such as a cache memory map)."""

    def __init__(self, samples: np.ndarray):
        self.samples = samples
        self.pos = 0
        self._scale = 1 / 32768 if samples.dtype.kind == "i" else 1.0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.samples)

    @property
    def duration_samples(self) -> int:
        return len(self.samples)

    def read(self, n: int) -> np.ndarray:
        chunk = self.samples[self.pos:self.pos + n]
        self.pos += len(chunk)
        return np.asarray(chunk, dtype=np.float32) * np.float32(self._scale)

    def close(self) -> None:
        pass


class StreamSource:
    """Blocks produced by a background thread (sentence by sentence synthesis).

    The producer runs ahead by at most ``depth`` blocks, so a 5,000-character bulletin
    never sits in memory whole. ``first_block`` is set when audio is first available.
    ``missing`` collects what the producer reports it could not make (sentences that
    failed to synthesize): the item then ends ``partial``, not ``aired``; ``tally``
    (``{"spoken": n}``), when given, counts the sentences of speech that were made: with
    sentences missing and none spoken the item ends ``failed`` (only chimes went out).
    """

    _END = object()

    def __init__(self, blocks: Iterable[np.ndarray], depth: int = 6, name: str = "stream",
                 missing: list | None = None, tally: dict | None = None):
        self._blocks = blocks
        self.missing = missing if missing is not None else []
        self.tally = tally
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._current = np.zeros(0, np.float32)
        self._pos = 0
        self.pos = 0  # samples read in all
        self.spoken_at: int | None = None  # samples: where the words end (WORDS_DONE)
        self._produced = 0
        self._ended = False
        self._closed = threading.Event()
        self.error: Exception | None = None
        self.first_block = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=f"produce-{name}",
                                        daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for block in self._blocks:
                if block is WORDS_DONE:  # nothing missing: every word is in what came
                    if not self.missing:
                        self.spoken_at = self._produced
                    continue
                self._produced += block.size
                if block.size and not self._put(np.asarray(block, np.float32)):
                    return
                if block.size:
                    self.first_block.set()
        except Exception as exc:  # surfaced as the item failing, never as a crash
            log.exception("Producing audio failed")
            self.error = exc
        finally:
            self.first_block.set()
            self._put(self._END)

    @property
    def done(self) -> bool:
        return self._ended and self._pos >= len(self._current)

    def read(self, n: int) -> np.ndarray:
        out = []
        while n > 0:
            if self._pos >= len(self._current):
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is self._END:
                    self._ended = True
                    break
                self._current, self._pos = nxt, 0
            chunk = self._current[self._pos:self._pos + n]
            self._pos += len(chunk)
            self.pos += len(chunk)
            n -= len(chunk)
            out.append(chunk)
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def close(self) -> None:
        self._closed.set()
        close = getattr(self._blocks, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # the generator may be running in the producer thread
                pass
