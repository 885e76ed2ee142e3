"""Backups of what cannot be rebuilt, and their restore.

Rules:
- ``make_backup`` may run while the daemon airs: the database is copied with SQLite's
  online backup API (a consistent snapshot; writers are not stopped), then checked.
- One archive per run, ``announcer-backup-YYYYMMDD-HHMMSS.tar.gz``: the database, the
  notices (``schedules/``), the reading dictionary (``voices/dict/``) and the config, with
  ``MANIFEST.json`` (SHA-256 of every file) inside and ``<archive>.sha256`` beside it
  (``sha256sum -c`` reads it).
- The archives hold password hashes: the backup folder is made (or tightened to) mode
  0700 and every archive and checksum file is 0600, readable by nobody but the owner.
- Restoring is ``announcer.watch.restore``.
"""

import datetime as dt
import fcntl
import hashlib
import io
import json
import logging
import os
import socket
import sqlite3
import stat
import tarfile
import tempfile
from pathlib import Path

from announcer.core.errors import AnnouncerError
from announcer.core.fsutil import fsync_dir, write_synced

log = logging.getLogger(__name__)
LOCK_NAME = "announcer.lock"
DB_NAME = "announcer.db"
PREFIX = "announcer-backup-"
RUNNING = ("放送システム（announcer run）が動いています。先に止めてから復元してください"
           "（sudo systemctl stop announcer）")


# -- the daemon's lock --------------------------------------------------------------------
def take_lock(data_dir: Path):
    """Hold ``data_dir``'s lock; returns its release. Raises AnnouncerError when another
    process holds it (a daemon, or a restore in progress)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AnnouncerError(f"{data_dir / LOCK_NAME}: ほかの announcer（常駐中の放送システム"
                             "または復元中の処理）が使用中です") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return lambda: os.close(fd)


# -- backup -------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def snapshot_db(source: Path, target: Path) -> None:
    """A consistent copy of a live WAL database, as one self-contained file."""
    if not source.exists():
        raise AnnouncerError(f"データベースがありません: {source}")
    src = sqlite3.connect(str(source), timeout=10)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dst.close()
        src.close()
    if check != "ok":
        raise AnnouncerError(f"データベースの写しが壊れています: {check}")


def _tree(folder: Path, arc: str) -> list[tuple[Path, str]]:
    if not folder.is_dir():
        return []
    return [(p, f"{arc}/{p.relative_to(folder).as_posix()}") for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and not p.name.endswith((".part", ".tmp"))]


def private_folder(dest: Path) -> None:
    """``dest`` exists and only its owner may read it (when it is ours to change)."""
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(dest.stat().st_mode)
    if mode & 0o077:
        try:
            os.chmod(dest, mode & 0o700)
        except OSError as exc:
            log.warning("Backup folder %s is readable by others and cannot be changed: %s",
                        dest, exc)


def make_backup(config, dest: Path, now: dt.datetime) -> Path:
    """Write one dated archive into ``dest``; returns its path."""
    private_folder(dest)
    name = f"{PREFIX}{now:%Y%m%d-%H%M%S}.tar.gz"
    with tempfile.TemporaryDirectory(dir=dest, prefix=".backup-") as tmp:
        db = Path(tmp) / DB_NAME
        snapshot_db(config.paths.data / DB_NAME, db)
        members = [(db, DB_NAME), (Path(config.path), "station.yaml")]
        members += _tree(config.paths.schedules, "schedules")
        members += _tree(config.paths.voices / "dict", "dict")
        manifest = {"format": 1, "created_at": now.isoformat(timespec="seconds"),
                    "station": config.station.name, "host": socket.gethostname(),
                    "files": {arc: {"sha256": sha256_file(p), "size": p.stat().st_size}
                              for p, arc in members}}
        part = Path(tmp) / (name + ".part")
        with tarfile.open(part, "w:gz") as tar:
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            info = tarfile.TarInfo("MANIFEST.json")
            info.size, info.mtime = len(data), int(now.timestamp())
            tar.addfile(info, io.BytesIO(data))
            for path, arc in members:
                tar.add(path, arcname=arc, recursive=False)
        os.chmod(part, 0o600)
        with open(part, "rb") as f:
            os.fsync(f.fileno())
        digest = sha256_file(part)
        part.replace(dest / name)
    sidecar = dest / (name + ".sha256")
    write_synced(sidecar, f"{digest}  {name}\n".encode())
    os.chmod(sidecar, 0o600)
    fsync_dir(dest)
    return dest / name


def prune(dest: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` archives in ``dest``; returns what went."""
    archives = sorted(dest.glob(f"{PREFIX}*.tar.gz"))
    gone = archives[:-keep] if keep > 0 else []
    for path in gone:
        path.unlink()
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)
    return gone
