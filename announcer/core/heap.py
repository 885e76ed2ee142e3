"""glibc malloc settings for a process that runs for months.

The daemon frees multi-megabyte numpy buffers (rendered audio, captured airings) many
times an hour from a dozen threads. With glibc's defaults the mmap threshold rises to
the size of the largest block freed, so later buffers of that size are carved from the
per-thread arenas instead of being mapped and unmapped, and each thread's arena keeps
its own high-water mark: resident memory creeps for hours. Fixing the threshold (which
also turns off its dynamic rise) and capping the arenas keeps big buffers out of the
arenas and the arenas few.

``ANNOUNCER_MALLOC=default`` leaves glibc alone (to compare in a soak).
"""

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 256 * 1024  # blocks from this size up are mapped and unmapped
TRIM_THRESHOLD = 1024 * 1024  # give back the top of a heap above this much free
ARENA_MAX = 2


def tune() -> bool:
    """Apply the settings once, early (before threads allocate); False if not glibc."""
    if os.environ.get("ANNOUNCER_MALLOC", "") == "default":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = [mallopt(M_ARENA_MAX, ARENA_MAX), mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)]
    if not all(done):
        log.warning("malloc settings not applied: %s", done)
    return all(done)
