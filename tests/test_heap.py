"""glibc malloc set up for a long run (``announcer.core.heap``): after a big buffer is
freed, later megabyte buffers are still mapped on their own (and so given back when
freed) instead of carved from the heap. In a fresh interpreter: the settings are
process-wide."""

import os
import subprocess
import sys

from tests.daemonutil import REPO

PROBE = """
from announcer.core import heap
tuned = heap.tune()
import ctypes
import numpy as np

class Info(ctypes.Structure):  # glibc's struct mallinfo2
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
a = np.ones(8 << 20, np.uint8); del a  # glibc's default raises its mmap threshold here
before = libc.mallinfo2().hblkhd
b = np.ones(1 << 20, np.uint8)
print(tuned, round((libc.mallinfo2().hblkhd - before) / (1 << 20)))
"""


def probe(**env) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, cwd=REPO, env={**os.environ, **env}).stdout.split()
    return out[0], int(out[1])


def test_a_megabyte_buffer_is_mapped_after_a_big_one_was_freed():
    assert probe() == ("True", 1)


def test_the_default_keeps_it_in_the_heap_which_is_why_the_setting_exists():
    assert probe(ANNOUNCER_MALLOC="default") == ("False", 0)
