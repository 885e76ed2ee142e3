"""First pieces of bulletins, ready to air, so that a bulletin that opens like the last
one (or like one of the station's fixed openers) starts without waiting for synthesis.

Rules: an entry is keyed by everything that changes its sound (the voice preset, the
reading dictionary's version, the text, the output settings), so a stale entry is never
hit, only aged out; entries are int16 and the whole is capped in seconds of audio
(least recently used first out), so memory stays a few megabytes whatever airs.
"""

import json
import threading
from collections import OrderedDict

import numpy as np

from announcer.audio.base import to_int16

MAX_SECONDS = 60.0  # of audio held in all: about 5.8 MB at 48 kHz


class PhraseCache:
    def __init__(self, rate: int, max_seconds: float = MAX_SECONDS):
        self.rate, self.max_samples = rate, int(max_seconds * rate)
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(voice_key: dict, dict_version: str, text: str, settings: dict) -> str:
        return json.dumps([voice_key, dict_version, text, settings], sort_keys=True,
                          ensure_ascii=False, default=str)

    def get(self, key: str) -> np.ndarray | None:
        """The piece as float32, or None (counted, for the benchmark)."""
        with self._lock:
            pcm = self._entries.get(key)
            if pcm is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return pcm.astype(np.float32) / 32767.0

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    def put(self, key: str, audio: np.ndarray) -> None:
        pcm = to_int16(audio)
        if len(pcm) > self.max_samples // 4:  # a long first sentence: not worth the room
            return
        with self._lock:
            self._entries[key] = pcm
            self._entries.move_to_end(key)
            while sum(len(v) for v in self._entries.values()) > self.max_samples:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def seconds(self) -> float:
        with self._lock:
            return sum(len(v) for v in self._entries.values()) / self.rate
