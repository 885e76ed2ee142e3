"""Freed heap memory goes back to the system (glibc's malloc_trim, through ctypes)."""

from pathlib import Path

import numpy as np

from announcer.core import heap


def _anon_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon")


def test_trim_gives_back_what_threads_freed():
    import threading

    def churn():  # many mid-sized blocks, freed in an order that leaves holes
        blocks = [np.ones(20_000 + i, np.float32) for i in range(400)]
        del blocks[::2]
        keep.append(blocks[-1].copy())

    keep: list = []
    threads = [threading.Thread(target=churn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    before = _anon_kb()
    assert heap.trim() is True  # Debian's glibc: the threads' freed blocks went back
    assert _anon_kb() <= before + 1024
