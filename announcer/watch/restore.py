"""Restoring a backup (``announcer restore``): check everything, then move.

Rules:
- Nothing at the target is touched until the whole archive has passed, in this order:
  the ``.sha256`` beside it; ``MANIFEST.json`` first in the archive and of the right shape;
  every member a regular file at a known place (``announcer.db``, ``station.yaml``,
  ``schedules/…``, ``dict/…``: folders stay folders), named safely, of exactly the size
  the manifest gives (a member is read only up to that size, one at a time, so a forged
  or "bomb" archive stops at its first lie and never fills the disk) and with its
  SHA-256; room for it all on the data disk; the staged ``station.yaml`` through the
  daemon's own config loader; the database's ``PRAGMA integrity_check``.
- An archive made by another station, or on another computer, is refused unless
  ``force``: restored in place it would switch the station's name, JMA areas, alert
  targets and port. The message names both, so staff can tell a slip from a move.
- The daemon must be stopped (its lock on the data folder). What is replaced is moved
  aside (``*.before-restore-<time>``), never deleted; should a move fail half-way, the
  moves made are undone, so the target is either restored or as it was.
- Every refusal is an ``AnnouncerError`` with a message for staff; never a traceback.
"""

import datetime as dt
import json
import os
import re
import shutil
import socket
import sqlite3
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from announcer.core.errors import AnnouncerError, ConfigError
from announcer.watch.backup import DB_NAME, RUNNING, sha256_file, take_lock

MANIFEST = "MANIFEST.json"
MANIFEST_LIMIT = 1 << 20          # bytes: a real one is a few KB
FOLDERS = ("schedules", "dict")   # parts that are folders in the archive
FILES = (DB_NAME, "station.yaml")  # parts that are single files
SPARE = 64 << 20                  # bytes the data disk keeps free after staging
_HEX = re.compile(r"^[0-9a-f]{64}$")


class Refused(AnnouncerError):
    """The archive is not one to restore here (the reason says why)."""


# -- the manifest --------------------------------------------------------------------------
def check_manifest(data: bytes) -> dict:
    """The manifest's content, or Refused saying what is wrong with its shape."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused("MANIFEST.json が読めません（JSON ではありません）") from None
    if not isinstance(manifest, dict):
        raise Refused("MANIFEST.json の形式が正しくありません（中身がオブジェクトではありません）")
    if manifest.get("format") != 1:
        raise Refused(f"MANIFEST.json の format が {manifest.get('format')!r} です"
                      "（このバージョンが読めるのは 1 です）")
    for key in ("created_at", "station", "host"):
        if not isinstance(manifest.get(key), str) or not manifest[key].strip():
            raise Refused(f"MANIFEST.json に {key} がありません")
    try:
        dt.datetime.fromisoformat(manifest["created_at"])
    except ValueError:
        raise Refused(f"MANIFEST.json の created_at が日時ではありません: "
                      f"{manifest['created_at'][:40]}") from None
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise Refused("MANIFEST.json にファイルの一覧（files）がありません")
    for name, entry in files.items():
        _check_name(name)
        if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                and _HEX.match(entry["sha256"]) and type(entry.get("size")) is int
                and entry["size"] >= 0):
            raise Refused(f"MANIFEST.json の {name[:80]} の項目（sha256, size）が正しくありません")
    for name in FILES:
        if name not in files:
            raise Refused(f"バックアップに {name} がありません")
    return manifest


def _check_name(name: str) -> None:
    """Only the places a backup has; no way out of the staging folder."""
    parts = PurePosixPath(name).parts
    if name in FOLDERS:
        raise Refused(f"{name} はフォルダのはずですが、ファイルになっています")
    if name in FILES:
        return
    if (len(parts) < 2 or parts[0] not in FOLDERS or name.startswith("/") or ".." in parts
            or "\\" in name or any(ord(c) < 32 for c in name) or name != "/".join(parts)):
        raise Refused(f"不正な項目があります: {name[:200]!r}")


# -- reading the archive -------------------------------------------------------------------
def verify(archive: Path, staging: Path) -> dict:
    """Check ``archive`` completely and unpack it into ``staging``; returns the manifest.
    Raises AnnouncerError saying what is wrong."""
    if not archive.is_file():
        raise AnnouncerError(f"バックアップがありません: {archive}")
    try:
        _check_sidecar(archive)
        try:
            with tarfile.open(archive, "r|gz") as tar:
                manifest = _unpack(tar, staging)
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            raise Refused(f"バックアップとして読めません: {exc}") from None
        _check_config(staging / "station.yaml")
        _check_database(staging / DB_NAME)
    except Refused as exc:
        raise AnnouncerError(f"{archive.name}: {exc}") from None
    return manifest


def _check_sidecar(archive: Path) -> None:
    sidecar = archive.with_name(archive.name + ".sha256")
    if sidecar.exists():
        expected = sidecar.read_text(encoding="utf-8", errors="replace").split()[:1]
        if expected != [sha256_file(archive)]:
            raise Refused("チェックサムが一致しません（壊れているか書き換えられています）")


def _unpack(tar: tarfile.TarFile, staging: Path) -> dict:
    """Stream the members, each checked before a byte of it is written."""
    manifest, seen = None, set()
    for member in tar:
        if manifest is None:
            if member.name != MANIFEST:
                raise Refused("MANIFEST.json がありません（announcer backup で作ったものではありません）")
            if not member.isreg() or member.size > MANIFEST_LIMIT:
                raise Refused("MANIFEST.json が大きすぎます")
            manifest = check_manifest(tar.extractfile(member).read(MANIFEST_LIMIT))
            _check_room(staging, manifest["files"])
            continue
        _check_name(member.name)
        entry = manifest["files"].get(member.name)
        if entry is None or member.name in seen:
            raise Refused(f"中身が MANIFEST.json と一致しません: {member.name[:200]!r}")
        if not member.isreg():
            raise Refused(f"不正な項目があります（通常のファイルではありません）: {member.name[:200]!r}")
        if member.size != entry["size"]:
            raise Refused(f"{member.name}: 大きさが MANIFEST.json と違います"
                          f"（{member.size} バイト、MANIFEST では {entry['size']} バイト）")
        seen.add(member.name)
        target = staging.joinpath(*PurePosixPath(member.name).parts)
        if target.parent.exists() and not target.parent.is_dir():
            raise Refused(f"{member.name}: フォルダのはずの場所がファイルです")
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(tar.extractfile(member), target, entry["size"])
        if sha256_file(target) != entry["sha256"]:
            raise Refused(f"{member.name}: チェックサムが一致しません")
    if manifest is None:
        raise Refused("空のアーカイブです")
    missing = set(manifest["files"]) - seen
    if missing:
        raise Refused(f"MANIFEST.json にあるファイルがありません: {', '.join(sorted(missing))[:300]}")
    return manifest


def _copy(src, target: Path, size: int) -> None:
    """At most ``size`` bytes: the member's header and the manifest agreed on it."""
    left = size
    with src, open(target, "wb") as out:
        while left > 0:
            chunk = src.read(min(left, 1 << 20))
            if not chunk:
                raise Refused(f"{target.name}: アーカイブが途中で切れています")
            out.write(chunk)
            left -= len(chunk)


def _check_room(staging: Path, files: dict) -> None:
    need = sum(e["size"] for e in files.values() if isinstance(e, dict)
               and type(e.get("size")) is int)
    free = shutil.disk_usage(staging).free
    if need + SPARE > free:
        raise Refused(f"展開に {need / 1e6:.0f} MB 必要ですが、空きが {free / 1e6:.0f} MB しかありません")


def _check_config(path: Path) -> None:
    from announcer.core.config import load_config

    try:
        load_config(path)
    except ConfigError as exc:
        lines = [p.replace(str(path), "station.yaml") for p in exc.problems]
        raise Refused("中の station.yaml に誤りがあります（このまま戻すと放送システムが起動しません）:\n"
                      + "\n".join(f"  {line}" for line in lines[:20])) from None
    except AnnouncerError as exc:
        raise Refused(f"中の station.yaml が読めません: {exc}") from None


def _check_database(path: Path) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        db.execute("SELECT COUNT(*) FROM bulletins").fetchone()
    except sqlite3.DatabaseError as exc:
        raise Refused(f"データベースが読めません: {exc}") from None
    finally:
        db.close()
    if check != "ok":
        raise Refused(f"データベースが壊れています: {check}")


# -- whose archive -------------------------------------------------------------------------
def foreign(manifest: dict, staging: Path, target_station: str | None) -> list[str]:
    """Why this archive is not this station's (empty: it is)."""
    from announcer.core.config import load_config

    reasons = []
    name = load_config(staging / "station.yaml").station.name
    if target_station is not None and name != target_station:
        reasons.append(f"放送局名が違います（バックアップ: {name}、復元先: {target_station}）")
    here = socket.gethostname()
    if manifest["host"] != here:
        reasons.append(f"作成したコンピューターが違います（バックアップ: {manifest['host']}、"
                       f"ここ: {here}）")
    return reasons


def station_of(path: Path) -> str | None:
    """The station name in the target's station.yaml, if there is a readable one."""
    from announcer.core.config import load_config

    if not path.is_file():
        return None
    try:
        return load_config(path).station.name
    except AnnouncerError:
        return None


# -- restore -------------------------------------------------------------------------------
def targets(config=None, folder: Path | None = None) -> dict[str, Path]:
    """Where each part goes: the config's own places, or a station folder's usual ones."""
    if folder is not None:
        return {"station.yaml": folder / "station.yaml", "schedules": folder / "schedules",
                "dict": folder / "voices" / "dict", DB_NAME: folder / "var" / DB_NAME}
    return {"station.yaml": Path(config.path).absolute(), "schedules": config.paths.schedules,
            "dict": config.paths.voices / "dict", DB_NAME: config.paths.data / DB_NAME}


def restore(archive: Path, places: dict[str, Path], now: dt.datetime, *,
            force: bool = False) -> dict:
    """Verify, check whose archive it is, then put every part in place (moving what was
    there aside). Returns the manifest; raises AnnouncerError with nothing moved."""
    data_dir = places[DB_NAME].parent
    if data_dir.exists() and not data_dir.is_dir():
        raise AnnouncerError(f"データ用フォルダのはずの {data_dir} がファイルです")
    try:
        release = take_lock(data_dir)
    except AnnouncerError:
        raise AnnouncerError(RUNNING) from None
    try:
        with tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as tmp:
            staging = Path(tmp)
            manifest = verify(archive, staging)
            reasons = foreign(manifest, staging, station_of(places["station.yaml"]))
            if reasons and not force:
                raise AnnouncerError(
                    f"{archive.name}: ほかの放送局またはほかのコンピューターのバックアップです。"
                    + "".join(f"\n  {r}" for r in reasons)
                    + "\nそのまま戻すと局名・地域・通知先・ポートまで入れ替わります。"
                      "本当にこれを戻すときは --force を付けてください（何も変更していません）")
            os.chmod(staging / DB_NAME, 0o600)  # it holds password hashes
            _put_all(staging, places, f".before-restore-{now:%Y%m%d-%H%M%S}")
        return manifest
    finally:
        release()


def _put_all(staging: Path, places: dict[str, Path], stamp: str) -> None:
    """Move every part in; on any failure, undo what was done (newest first)."""
    undo: list = []
    try:
        for part, target in places.items():
            _put(staging / part, target, stamp, part == DB_NAME, undo)
    except OSError as exc:
        for action in reversed(undo):
            try:
                action()
            except OSError:
                pass
        raise AnnouncerError(f"復元の途中で失敗したため、元に戻しました: {exc}") from None


def _put(staged: Path, target: Path, stamp: str, database: bool, undo: list) -> None:
    if not staged.exists() and not database:
        staged.mkdir(parents=True)  # an empty schedules/ or dict/ in the backup
    target.parent.mkdir(parents=True, exist_ok=True)
    extras = [target.with_name(target.name + s) for s in ("-wal", "-shm")] if database else []
    for old in [target, *extras]:
        if old.exists() or old.is_symlink():
            aside = old.with_name(old.name + stamp)
            old.replace(aside)
            undo.append(lambda old=old, aside=aside: aside.replace(old))
    if staged.is_file():
        os.replace(staged, target)
        undo.append(lambda: os.replace(target, staged))
    else:
        shutil.move(str(staged), str(target))
        undo.append(lambda: shutil.move(str(target), str(staged)))
