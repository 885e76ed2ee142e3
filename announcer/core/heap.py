"""Giving freed memory back to the system (glibc's ``malloc_trim``; elsewhere a no-op).

Threads that allocate audio blocks in turn (numpy, in the engine, the producers, the
web threads) leave freed memory in glibc's per-thread arenas, and glibc returns little
of it by itself: in a 2-hour soak (``bench/soak_bench.py``) the daemon's resident size
crept while Python's own allocations (tracemalloc) stayed flat, and one ``malloc_trim(0)``
gave back 5 MB. The daemon trims while nothing is on air or waiting (``daemon.py``).
"""

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)
_trim = None


def _load():
    global _trim
    if _trim is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _trim = libc.malloc_trim
            _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):  # not glibc
            _trim = False
    return _trim


def trim() -> bool:
    """Return freed heap memory to the system; True when some was given back."""
    fn = _load()
    return bool(fn and fn(0))
