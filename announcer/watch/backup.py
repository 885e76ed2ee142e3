"""Backups of what cannot be rebuilt, and their restore.

Rules:
- ``make_backup`` may run while the daemon airs: the database is copied with SQLite's
  online backup API (a consistent snapshot; writers are not stopped), then checked.
- One archive per run, ``announcer-backup-YYYYMMDD-HHMMSS.tar.gz``: the database, the
  notices (``schedules/``), the reading dictionary (``voices/dict/``) and the config, with
  ``MANIFEST.json`` (SHA-256 of every file) inside and ``<archive>.sha256`` beside it
  (``sha256sum -c`` reads it).
- ``restore`` checks the whole archive (checksums, paths, ``PRAGMA integrity_check``)
  before touching anything, refuses while the daemon runs (it holds ``var/announcer.lock``),
  and moves what it replaces aside (``*.before-restore-…``) instead of deleting it.
"""

import datetime as dt
import fcntl
import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from announcer.core.errors import AnnouncerError
from announcer.core.fsutil import fsync_dir, write_synced

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
def _sha256(path: Path) -> str:
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


def make_backup(config, dest: Path, now: dt.datetime) -> Path:
    """Write one dated archive into ``dest``; returns its path."""
    dest.mkdir(parents=True, exist_ok=True)
    name = f"{PREFIX}{now:%Y%m%d-%H%M%S}.tar.gz"
    with tempfile.TemporaryDirectory(dir=dest, prefix=".backup-") as tmp:
        db = Path(tmp) / DB_NAME
        snapshot_db(config.paths.data / DB_NAME, db)
        members = [(db, DB_NAME), (Path(config.path), "station.yaml")]
        members += _tree(config.paths.schedules, "schedules")
        members += _tree(config.paths.voices / "dict", "dict")
        manifest = {"format": 1, "created_at": now.isoformat(timespec="seconds"),
                    "station": config.station.name, "host": socket.gethostname(),
                    "files": {arc: {"sha256": _sha256(p), "size": p.stat().st_size}
                              for p, arc in members}}
        part = Path(tmp) / (name + ".part")
        with tarfile.open(part, "w:gz") as tar:
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            info = tarfile.TarInfo("MANIFEST.json")
            info.size, info.mtime = len(data), int(now.timestamp())
            tar.addfile(info, io.BytesIO(data))
            for path, arc in members:
                tar.add(path, arcname=arc, recursive=False)
        with open(part, "rb") as f:
            os.fsync(f.fileno())
        digest = _sha256(part)
        part.replace(dest / name)
    write_synced(dest / (name + ".sha256"), f"{digest}  {name}\n".encode())
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


# -- verify and restore -------------------------------------------------------------------
def verify(archive: Path, staging: Path) -> dict:
    """Check ``archive`` completely and unpack it into ``staging``; returns the manifest.
    Raises AnnouncerError saying what is wrong."""
    if not archive.is_file():
        raise AnnouncerError(f"バックアップがありません: {archive}")
    sidecar = archive.with_name(archive.name + ".sha256")
    if sidecar.exists():
        expected = sidecar.read_text(encoding="utf-8", errors="replace").split()[:1]
        if expected != [_sha256(archive)]:
            raise AnnouncerError(f"{archive.name}: チェックサムが一致しません（壊れているか書き換えられています）")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            manifest = _unpack(tar, staging)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise AnnouncerError(f"{archive.name}: バックアップとして読めません: {exc}") from None
    db = sqlite3.connect(f"file:{staging / DB_NAME}?mode=ro", uri=True)
    try:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        db.execute("SELECT COUNT(*) FROM bulletins").fetchone()
    except sqlite3.DatabaseError as exc:
        raise AnnouncerError(f"{archive.name}: データベースが読めません: {exc}") from None
    finally:
        db.close()
    if check != "ok":
        raise AnnouncerError(f"{archive.name}: データベースが壊れています: {check}")
    return manifest


def _unpack(tar: tarfile.TarFile, staging: Path) -> dict:
    members = {m.name: m for m in tar.getmembers()}
    if "MANIFEST.json" not in members:
        raise AnnouncerError("MANIFEST.json がありません（announcer backup で作ったものではありません）")
    manifest = json.loads(tar.extractfile(members.pop("MANIFEST.json")).read())
    files = manifest.get("files") or {}
    if DB_NAME not in files or set(members) != set(files):
        raise AnnouncerError("中身が MANIFEST.json と一致しません")
    for name, member in members.items():  # every name first, before writing anything
        parts = PurePosixPath(name).parts
        if not member.isfile() or name.startswith("/") or ".." in parts or not parts:
            raise AnnouncerError(f"不正な項目があります: {name}")
    for name, member in members.items():
        target = staging.joinpath(*PurePosixPath(name).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tar.extractfile(member) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
        if _sha256(target) != files[name].get("sha256"):
            raise AnnouncerError(f"{name}: チェックサムが一致しません")
    return manifest


def targets(config=None, folder: Path | None = None) -> dict[str, Path]:
    """Where each part goes: the config's own places, or a station folder's usual ones."""
    if folder is not None:
        return {"station.yaml": folder / "station.yaml", "schedules": folder / "schedules",
                "dict": folder / "voices" / "dict", DB_NAME: folder / "var" / DB_NAME}
    return {"station.yaml": Path(config.path).absolute(), "schedules": config.paths.schedules,
            "dict": config.paths.voices / "dict", DB_NAME: config.paths.data / DB_NAME}


def restore(archive: Path, places: dict[str, Path], now: dt.datetime) -> dict:
    """Verify, then put every part in place (moving what was there aside)."""
    data_dir = places[DB_NAME].parent
    try:
        release = take_lock(data_dir)
    except AnnouncerError:
        raise AnnouncerError(RUNNING) from None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as tmp:
            staging = Path(tmp)
            manifest = verify(archive, staging)
            stamp = f".before-restore-{now:%Y%m%d-%H%M%S}"
            for part, target in places.items():
                _put(staging / part, target, stamp, part == DB_NAME)
        return manifest
    finally:
        release()


def _put(staged: Path, target: Path, stamp: str, database: bool) -> None:
    if not staged.exists() and not database:
        staged.mkdir(parents=True)  # an empty schedules/ or dict/ in the backup
    target.parent.mkdir(parents=True, exist_ok=True)
    extras = [target.with_name(target.name + s) for s in ("-wal", "-shm")] if database else []
    for old in [target, *extras]:
        if old.exists():
            old.replace(old.with_name(old.name + stamp))
    os.replace(staged, target) if staged.is_file() else shutil.move(str(staged), str(target))
