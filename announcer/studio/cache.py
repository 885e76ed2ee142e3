"""Rendered programs on disk, keyed by everything that changes how they sound.

Stored as raw 16-bit PCM and read back through a memory map, so a thousand
pre-rendered notices cost disk, not RAM.

Rules: a file is complete or absent (written to a temporary name, fsynced, renamed; a
failed render leaves nothing). Every write has a temporary name of its own (process,
random part): two renders of the same key at once (a pre-render and a cue, the page's
save and the minute's pass) each rename a whole file, the last one wins, neither fails.
The folder is capped at ``max_bytes``: after each store, the least recently used entries
go first (a hit refreshes an entry's time), never the one just stored (and a writer maps
its file before the rename, so another writer's prune cannot take it from under it).
Upcoming notices stay young:
every pre-render pass (each minute, 30 minutes ahead) touches them. Temporary files
left by a crash (their process is gone, or they are older than ``STALE``) are removed
at start; another live process's (the CLI's, a second cache's) are left alone.
"""

import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Iterable

import numpy as np

from announcer.audio.base import to_int16

log = logging.getLogger(__name__)
DEFAULT_MAX_BYTES = 2 * 1024 ** 3
STALE = 3600.0  # seconds: a temporary file this old is a crash's leftover
_TMP_PID = re.compile(r"\.tmp(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:  # someone else's process: alive
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def cache_key(**parts) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class RenderCache:
    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES):
        self.folder, self.max_bytes = folder, max_bytes
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._clean_temporary()
        self.prune_to_cap()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.s16"

    def _clean_temporary(self) -> None:
        """Remove temporary files nobody is writing any more (never a live writer's)."""
        now = time.time()
        for tmp in self.folder.glob("*.tmp*"):
            m = _TMP_PID.search(tmp.name)
            try:
                age = now - tmp.stat().st_mtime
            except FileNotFoundError:
                continue  # its writer just renamed it
            if m and _alive(int(m.group(1))) and age < STALE:
                continue
            tmp.unlink(missing_ok=True)
            log.info("Removed an unfinished render: %s", tmp.name)

    def load(self, key: str) -> np.ndarray | None:
        """The cached int16 samples as a read-only memory map, or None."""
        path = self.path(key)
        try:
            if path.stat().st_size == 0:
                return None
            samples = np.memmap(path, dtype="<i2", mode="r")
            os.utime(path)  # least recently used goes first
        except (FileNotFoundError, ValueError):
            return None
        return samples

    def store(self, key: str, blocks: Iterable[np.ndarray]) -> np.ndarray:
        """Write blocks atomically (temp file, fsync, rename) and return the memory map.
        If ``blocks`` raises, nothing is kept and the error propagates."""
        path = self.path(key)
        # unique per write: a pre-render and a cue may store the same key at once
        tmp = path.with_name(f"{key}.tmp{os.getpid()}-{uuid.uuid4().hex}")
        try:
            with open(tmp, "xb") as f:
                for block in blocks:
                    f.write(to_int16(block).tobytes())
                f.flush()
                os.fsync(f.fileno())
            # Mapped before the rename: a prune by another writer cannot take it away.
            mapped = np.memmap(tmp, dtype="<i2", mode="r") if tmp.stat().st_size else None
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        samples = self.load(key)  # named as the entry (a later hit maps the same file)
        self.prune_to_cap(protect={key})
        return mapped if samples is None else samples

    def prune_to_cap(self, protect: set[str] = frozenset()) -> int:
        """Delete least recently used entries until the folder fits ``max_bytes``."""
        with self._lock:
            entries = []
            for path in self.folder.glob("*.s16"):
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                entries.append((st.st_mtime, st.st_size, path))
            total = sum(size for _, size, _ in entries)
            gone = 0
            for _mtime, size, path in sorted(entries):
                if total <= self.max_bytes:
                    break
                if path.stem in protect:
                    continue
                path.unlink(missing_ok=True)  # a memory map still open keeps its pages
                total -= size
                gone += 1
            if gone:
                log.info("Render cache pruned: %d entries removed, %.0f MB kept", gone,
                         total / 1e6)
            return gone

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.s16"))
