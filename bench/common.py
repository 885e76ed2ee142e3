"""Shared pieces of the benchmarks: a private PulseAudio, the daemon, and statistics."""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import Pulse, write_config  # noqa: E402
from tests.daemonutil import Daemon, free_port, make_token  # noqa: E402


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def station(folder: Path, port: int) -> Path:
    shutil.copytree(REPO / "voices", folder / "voices")
    (folder / "schedules").mkdir()
    write_config(folder, device="default", port=port)
    return folder


class Bench:
    """A temporary station with its own PulseAudio null sink and daemon."""

    def __enter__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="announcer-bench-"))
        self.pulse = Pulse(self.tmp / "pulse")
        self.pulse.start()
        self.port = free_port()
        self.folder = station(self.tmp / "station", self.port)
        self.daemon = Daemon(self.folder, self.pulse.env, self.port)
        return self

    def __exit__(self, *exc):
        try:
            self.daemon.terminate()
        finally:
            self.pulse.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)


def proc_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            children = []
        todo.extend(int(c) for c in children)
    return out


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait(seconds: float) -> None:
    time.sleep(seconds)
