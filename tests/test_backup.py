"""Backups while the daemon runs, and restores that check everything first."""

import datetime as dt
import gzip
import hashlib
import io
import os
import socket
import json
import sqlite3
import tarfile
import threading
import time

import pytest

from announcer.watch import backup, restore
from announcer.core.errors import AnnouncerError
from tests.conftest import write_config
from tests.daemonutil import Daemon, cli, free_port, make_token


def archives(folder):
    return sorted(folder.glob("announcer-backup-*.tar.gz"))


def integrity(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0], \
            {r[0] for r in con.execute("SELECT id FROM bulletins")}
    finally:
        con.close()


@pytest.fixture
def running(station_dir):
    port = free_port()
    write_config(station_dir, port=port)
    (station_dir / "schedules" / "gomi.yaml").write_text(
        "notices:\n  - id: gomi\n    text: 明日は燃えるごみの日です。\n    times: ['07:30']\n",
        encoding="utf-8")
    token = make_token(station_dir)
    d = Daemon(station_dir, dict(os.environ), port)
    d.start()
    yield d, token
    d.terminate()


def test_backup_while_bulletins_arrive_then_restore_into_an_empty_folder(running, station_dir,
                                                                        tmp_path):
    d, token = running
    status, first = d.request("POST", "/api/bulletins",
                              {"text": "訓練です。", "test": True, "repeat": 1}, token=token)
    assert status == 202
    accepted, stop = [], threading.Event()

    def submit():  # bulletins keep arriving while the backup runs
        while not stop.is_set():
            s, body = d.request("POST", "/api/bulletins", {"text": "訓練です。", "test": True,
                                                           "repeat": 1}, token=token)
            if s == 202:
                accepted.append(body["id"])

    thread = threading.Thread(target=submit)
    thread.start()
    try:
        time.sleep(0.3)
        result = cli(station_dir, "backup", str(tmp_path / "backups"))
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    assert accepted, "no bulletin arrived during the backup"
    [archive] = archives(tmp_path / "backups")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (tmp_path / "backups" / (archive.name + ".sha256")).read_text() == \
        f"{digest}  {archive.name}\n"

    target = tmp_path / "restored"
    target.mkdir()
    result = cli(station_dir, "restore", str(archive), "--to", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("を復元しました") == 1 and result.stderr == ""
    check, ids = integrity(target / "var" / "announcer.db")
    assert check == "ok"
    assert first["id"] in ids
    assert (target / "schedules" / "gomi.yaml").read_text(encoding="utf-8").count("gomi") == 1
    assert (target / "voices" / "dict" / "moka.csv").exists()
    assert (target / "station.yaml").read_text(encoding="utf-8") == \
        (station_dir / "station.yaml").read_text(encoding="utf-8")


def test_restore_refuses_while_the_daemon_runs(running, station_dir, tmp_path):
    d, _token = running
    assert cli(station_dir, "backup", str(tmp_path)).returncode == 0
    [archive] = archives(tmp_path)
    before = (station_dir / "var" / "announcer.db").stat().st_mtime_ns
    result = cli(station_dir, "restore", str(archive))
    assert result.returncode == 1
    assert "放送システム（announcer run）が動いています" in result.stderr
    assert not list((station_dir / "var").glob("*.before-restore-*"))
    assert d.proc.poll() is None
    d.terminate()
    result = cli(station_dir, "restore", str(archive))
    assert result.returncode == 0, result.stderr
    assert list((station_dir / "var").glob("announcer.db.before-restore-*"))
    assert list(station_dir.glob("schedules.before-restore-*"))
    assert (station_dir / "var" / "announcer.db").stat().st_mtime_ns != before
    assert integrity(station_dir / "var" / "announcer.db")[0] == "ok"


def test_second_daemon_on_the_same_data_refuses(running, station_dir):
    result = cli(station_dir, "run")
    assert result.returncode == 1
    assert "announcer.lock" in result.stderr and "使用中" in result.stderr


# -- checks before anything is touched ---------------------------------------------------
@pytest.fixture
def made(station_dir, tmp_path):
    from announcer.core.config import load_config
    from announcer.record.store import Store

    config = load_config(station_dir / "station.yaml")
    Store(config.paths.data / "announcer.db", config.station.timezone).close()
    path = backup.make_backup(config, tmp_path / "b", dt.datetime(2026, 12, 3, 3, 30))
    return config, path


def test_backups_are_readable_by_their_owner_only(made, tmp_path):
    import stat

    _config, path = made
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600 and mode(path.with_name(path.name + ".sha256")) == 0o600
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    backup.make_backup(_config, shared, dt.datetime(2026, 12, 3, 4, 0))
    assert mode(shared) == 0o700


def test_a_damaged_archive_is_refused_and_nothing_changes(made, tmp_path):
    config, path = made
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    target = tmp_path / "t"
    with pytest.raises(AnnouncerError, match="チェックサムが一致しません"):
        restore.restore(path, restore.targets(folder=target), now_())
    assert not (target / "station.yaml").exists() and not (target / "schedules").exists()


def test_a_file_changed_inside_is_caught_by_the_manifest(made, tmp_path):
    config, path = made
    path.with_name(path.name + ".sha256").unlink()  # no sidecar: the manifest still checks
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(path) as src, tarfile.open(forged, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name == "station.yaml":  # same size, other content
                data = data.replace(b"host: 127.0.0.1", b"host: 0.0.0.0  ")
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(AnnouncerError, match="station.yaml: チェックサムが一致しません"):
        restore.restore(forged, restore.targets(folder=tmp_path / "t"), now_())


def test_paths_escaping_the_folder_are_refused(made, tmp_path):
    evil = tmp_path / "evil.tar.gz"
    members = {"announcer.db": b"x", "station.yaml": b"", "../../etc/x": b"x"}
    write_archive(evil, manifest_for(members), members)
    with pytest.raises(AnnouncerError, match="不正な項目"):
        restore.verify(evil, tmp_path / "staging")
    assert not (tmp_path / "etc").exists()


def test_not_an_archive(tmp_path):
    junk = tmp_path / "x.tar.gz"
    junk.write_bytes(gzip.compress(b"not a tar"))
    with pytest.raises(AnnouncerError, match="バックアップとして読めません"):
        restore.verify(junk, tmp_path / "s")


def test_check_only_and_keep(made, station_dir, tmp_path):
    config, path = made
    result = cli(station_dir, "restore", str(path), "--check")
    assert result.returncode == 0 and "問題ありません" in result.stdout
    folder = tmp_path / "nightly"
    for day in (1, 2, 3):
        backup.make_backup(config, folder, dt.datetime(2020, 1, day, 3, 30))
    result = cli(station_dir, "backup", str(folder), "--keep", "2")
    assert result.returncode == 0, result.stderr
    assert "announcer-backup-20200101-033000.tar.gz" in result.stdout  # deleted, said so
    names = [p.name for p in archives(folder)]
    assert names[0] == "announcer-backup-20200103-033000.tar.gz" and len(names) == 2
    assert len(list(folder.glob("*.sha256"))) == 2


def now_():
    from announcer.core.clock import TOKYO

    return dt.datetime.now(TOKYO)


# -- archives that must not be restored here (issue 21) -------------------------------------
def manifest_for(members: dict, **fields) -> dict:
    manifest = {"format": 1, "created_at": "2026-12-03T03:30:00", "station": "FMもおか",
                "host": socket.gethostname(),
                "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                          for name, data in members.items()}}
    manifest.update(fields)
    return manifest


def write_archive(path, manifest, members: dict, big: dict | None = None) -> None:
    """MANIFEST.json first, then ``members``; ``big`` maps a name to (size, stream)."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        for name, (size, stream) in [("MANIFEST.json", (len(data), io.BytesIO(data)))] + \
                [(n, (len(d), io.BytesIO(d))) for n, d in members.items()] + \
                list((big or {}).items()):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, stream)


def members_of(archive) -> dict:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()
                if m.name != "MANIFEST.json"}


def tree(folder):
    """Every file of the station under ``folder`` and its content: to prove nothing moved
    (the archives under b/ and bad/, the cache and the lock are not the station's)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).parts[0] not in ("b", "bad")
            and "cache" not in p.parts and p.name != "announcer.lock"}


class Zeros(io.RawIOBase):
    def __init__(self, n):
        self.n = n

    def readable(self):
        return True

    def readinto(self, b):
        k = min(len(b), self.n)
        b[:k] = bytes(k)
        self.n -= k
        return k


OTHER_STATION = "station: {name: FMさくら, timezone: Asia/Tokyo}\njma: {areas: ['130000']}\n"


def wrong_archives(tmp_path, good):
    """Each bad archive of the issue: (name, path, the reason staff read)."""
    members = members_of(good)
    out = []
    (tmp_path / "bad").mkdir(exist_ok=True)

    def make(name, manifest, changed=None, big=None, **fields):
        path = tmp_path / "bad" / f"{name}.tar.gz"
        m = dict(members, **(changed or {}))
        m = {k: v for k, v in m.items() if v is not None}
        write_archive(path, manifest if manifest is not None else manifest_for(m, **fields),
                      m, big)
        return path

    out.append(("other station", make("other", None, {"station.yaml": OTHER_STATION.encode()}),
                "放送局名が違います（バックアップ: FMさくら、復元先: FMもおか）"))
    out.append(("other host", make("host", None, host="studio-b"),
                "作成したコンピューターが違います（バックアップ: studio-b"))
    out.append(("yaml does not parse", make("yaml", None, {"station.yaml": b"station: [\n"}),
                "中の station.yaml に誤りがあります（このまま戻すと放送システムが起動しません）"))
    out.append(("yaml invalid", make("badkey", None, {"station.yaml": b"web: {port: 99999}\n"}),
                "station.yaml:1: web.port"))
    out.append(("schedules is a file", make("schedfile", None, {"schedules": b"x"}),
                "schedules はフォルダのはずですが、ファイルになっています"))
    bomb_manifest = manifest_for(dict(members, **{"dict/bomb.csv": b"x"}))
    out.append(("300 MB member, 1 byte in the manifest",
                make("bomb", bomb_manifest, big={"dict/bomb.csv": (300 << 20, Zeros(300 << 20))}),
                "dict/bomb.csv: 大きさが MANIFEST.json と違います（314572800 バイト、MANIFEST では 1 バイト）"))
    for label, manifest, reason in (
            ("manifest not JSON", b"{files", "MANIFEST.json が読めません（JSON ではありません）"),
            ("manifest a list", b"[]", "MANIFEST.json の形式が正しくありません"),
            ("no created_at", json.dumps({"format": 1, "station": "x", "host": "y",
                                          "files": {}}).encode(), "MANIFEST.json に created_at がありません"),
            ("files a list", json.dumps(dict(manifest_for(members), files=["announcer.db"])).encode(),
             "MANIFEST.json にファイルの一覧（files）がありません"),
            ("size a string", json.dumps(manifest_for(members, files={
                n: {"sha256": "0" * 64, "size": "1"} for n in members})).encode(),
             "の項目（sha256, size）が正しくありません")):
        out.append((label, make(label.replace(" ", "-"), manifest), reason))
    return out


def test_each_wrong_archive_is_refused_with_a_reason_and_nothing_moved(made, station_dir,
                                                                       tmp_path):
    _config, good = made
    (station_dir / "schedules" / "gomi.yaml").write_text(
        "notices:\n  - id: gomi\n    text: ごみの日です。\n    times: ['07:30']\n", encoding="utf-8")
    before = tree(station_dir)
    for label, archive, reason in wrong_archives(tmp_path, good):
        result = cli(station_dir, "restore", str(archive))
        assert result.returncode == 1, label
        assert reason in result.stderr, (label, result.stderr)
        assert result.stderr.startswith("エラー: ") and "Traceback" not in result.stderr, label
        assert result.stdout == "", label  # no report for a refusal
        assert tree(station_dir) == before, label
        assert not list(station_dir.rglob("*before-restore*")), label
        assert not list((station_dir / "var").glob(".restore-*")), label


def test_force_restores_another_stations_archive_and_reports_once(made, station_dir, tmp_path):
    _config, good = made
    [(_, archive, _)] = [a for a in wrong_archives(tmp_path, good) if a[0] == "other station"]
    refused = cli(station_dir, "restore", str(archive))
    assert "--force を付けてください" in refused.stderr
    result = cli(station_dir, "restore", str(archive), "--force")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("を復元しました") == 1
    assert "FMさくら" in (station_dir / "station.yaml").read_text(encoding="utf-8")
    assert list(station_dir.glob("station.yaml.before-restore-*"))


def test_a_move_that_fails_half_way_is_undone(made, station_dir, monkeypatch):
    config, good = made
    before = tree(station_dir)
    real_move = restore.shutil.move

    def move(src, dst):
        if dst.endswith("dict"):
            raise OSError("simulated: the disk went read-only")
        return real_move(src, dst)

    monkeypatch.setattr(restore.shutil, "move", move)
    with pytest.raises(AnnouncerError, match="復元の途中で失敗したため、元に戻しました"):
        restore.restore(good, restore.targets(config), now_())
    assert tree(station_dir) == before
    assert not list(station_dir.rglob("*before-restore*"))
