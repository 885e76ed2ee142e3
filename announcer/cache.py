"""Rendered programs on disk, keyed by everything that changes how they sound.

Stored as raw 16-bit PCM and read back through a memory map, so a thousand
pre-rendered notices cost disk, not RAM.
"""

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Iterable

import numpy as np


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")


def cache_key(**parts) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class RenderCache:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.s16"

    def load(self, key: str) -> np.ndarray | None:
        """The cached int16 samples as a read-only memory map, or None."""
        path = self.path(key)
        if not path.exists() or path.stat().st_size == 0:
            return None
        return np.memmap(path, dtype="<i2", mode="r")

    def store(self, key: str, blocks: Iterable[np.ndarray]) -> np.ndarray:
        """Write blocks atomically (temp file, fsync, rename) and return the memory map."""
        path = self.path(key)
        # unique per writer: a pre-render and a cue may store the same key at once
        tmp = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        with open(tmp, "wb") as f:
            for block in blocks:
                f.write(to_int16(block).tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return self.load(key)

    def prune(self, keep: set[str]) -> int:
        """Delete entries not in ``keep``; returns how many went."""
        gone = 0
        for path in self.folder.glob("*.s16"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)
                gone += 1
        return gone
