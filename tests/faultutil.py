"""Faults a real audio PC meets, made for real: another process holding the station's
database (``BEGIN EXCLUSIVE`` through the sqlite3 module, as a stuck ``sqlite3`` shell or
a backup tool would), and a data folder on a small tmpfs that can be filled."""

import subprocess
import sys
from pathlib import Path

import pytest

HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


class DbLock:
    """Another process holding the database's write lock until ``release``."""

    def __init__(self, path: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "locked":
            raise RuntimeError("the lock holder did not start")

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(10)
        self.proc.stdout.close()

    def __enter__(self) -> "DbLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class SmallDisk:
    """A tmpfs of ``size`` mounted on ``folder`` (root only: skips otherwise), which
    ``fill`` fills to the last byte and ``free`` empties again."""

    def __init__(self, folder: Path, size: str = "32m"):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                               str(folder)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
        self.filler = folder / "filler"

    def fill(self) -> None:
        with open(self.filler, "ab", buffering=0) as f:
            for size in (1 << 20, 65536, 4096, 512, 1):  # down to the last crumbs
                while True:
                    try:
                        if f.write(bytes(size)) < size:
                            break
                    except OSError:
                        break

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.folder)], capture_output=True)
