"""Durable file writes: what is renamed into place survives a power cut."""

import os
from pathlib import Path


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` and fsync it before returning."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
