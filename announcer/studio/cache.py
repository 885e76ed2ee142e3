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

A cache that cannot be written (disk full, read-only) never stops a notice: ``store``
returns the audio from memory, ``fault`` says why (staff words) and the bus hears
``cache`` (ok=False) until a later store succeeds.
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
from announcer.core import events

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
RECHECK = 5.0  # seconds between tries of a cache that could not be written


def cache_key(**parts) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class RenderCache:
    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES):
        self.folder, self.max_bytes = folder, max_bytes
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fault: str | None = None
        self._checked = 0.0
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
        """Write blocks atomically (temp file, fsync, rename) and return the memory map,
        or the samples in memory when the disk refuses them (see the module docstring).
        If ``blocks`` raises, nothing is kept and the error propagates."""
        path = self.path(key)
        # unique per write: a pre-render and a cue may store the same key at once
        tmp = path.with_name(f"{key}.tmp{os.getpid()}-{uuid.uuid4().hex}")
        kept: list[np.ndarray] = []  # returned from memory if the disk refuses them
        error: OSError | None = None
        mapped = None
        try:
            f = open(tmp, "xb")
        except OSError as exc:
            f, error = None, exc
        try:
            for block in blocks:
                pcm = to_int16(block)
                kept.append(pcm)
                if f is not None:
                    try:
                        f.write(pcm.tobytes())
                    except OSError as exc:
                        f.close()
                        f, error = None, exc
            if f is not None:
                try:
                    f.flush()
                    os.fsync(f.fileno())
                    # Mapped before the rename: a prune by another writer cannot take it.
                    mapped = np.memmap(tmp, dtype="<i2", mode="r") if f.tell() else None
                    os.replace(tmp, path)
                except OSError as exc:
                    error = exc
        finally:
            if f is not None:
                f.close()
            tmp.unlink(missing_ok=True)
        if error is not None:
            self._failed(error)
            return np.concatenate(kept) if kept else np.zeros(0, "<i2")
        self._writable_again()
        self.prune_to_cap(protect={key})
        return mapped if mapped is not None else np.zeros(0, "<i2")

    @property
    def fault(self) -> str | None:
        """Why renders cannot be kept (staff words), or None. While there is a fault, a
        small write is tried at most every ``RECHECK`` seconds to find it gone."""
        if self._fault is not None and time.monotonic() - self._checked >= RECHECK:
            self._checked = time.monotonic()
            probe = self.folder / f".probe{os.getpid()}"
            try:
                with open(probe, "wb") as f:
                    f.write(bytes(256 * 1024))
                    f.flush()
                    os.fsync(f.fileno())
                self._writable_again()
            except OSError:
                pass
            finally:
                probe.unlink(missing_ok=True)
        return self._fault

    def _writable_again(self) -> None:
        if self._fault is not None:
            log.warning("Render cache %s writable again", self.folder)
            self._fault = None
            events.publish(events.CACHE, str(self.folder), True, "")

    def _failed(self, exc: OSError) -> None:
        why = "ディスクの空きがありません" if exc.errno == 28 else str(exc)
        fault = f"作り置き音声（{self.folder}）を保存できません: {why}。お知らせはその場で音声を作って放送します"
        self._checked = time.monotonic()
        if fault != self._fault:
            log.error("Render cache %s cannot be written (%s): rendering in memory", self.folder,
                      exc)
            self._fault = fault
            events.publish(events.CACHE, str(self.folder), False, fault)

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
