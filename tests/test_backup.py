"""Backups while the daemon runs, and restores that check everything first."""

import datetime as dt
import gzip
import hashlib
import io
import os
import json
import sqlite3
import tarfile
import threading
import time

import pytest

from announcer.watch import backup
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


def test_a_damaged_archive_is_refused_and_nothing_changes(made, tmp_path):
    config, path = made
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    target = tmp_path / "t"
    with pytest.raises(AnnouncerError, match="チェックサムが一致しません"):
        backup.restore(path, backup.targets(folder=target), now_())
    assert not (target / "station.yaml").exists() and not (target / "schedules").exists()


def test_a_file_changed_inside_is_caught_by_the_manifest(made, tmp_path):
    config, path = made
    path.with_name(path.name + ".sha256").unlink()  # no sidecar: the manifest still checks
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(path) as src, tarfile.open(forged, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name == "station.yaml":
                data += b"\nweb: {host: 0.0.0.0}\n"
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(AnnouncerError, match="station.yaml: チェックサムが一致しません"):
        backup.restore(forged, backup.targets(folder=tmp_path / "t"), now_())


def test_paths_escaping_the_folder_are_refused(made, tmp_path):
    evil = tmp_path / "evil.tar.gz"
    manifest = {"files": {"announcer.db": {"sha256": "x"}, "../../etc/x": {"sha256": "x"}}}
    with tarfile.open(evil, "w:gz") as tar:
        for name, data in (("MANIFEST.json", json.dumps(manifest).encode()),
                           ("announcer.db", b"x"), ("../../etc/x", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(AnnouncerError, match="不正な項目"):
        backup.verify(evil, tmp_path / "staging")


def test_not_an_archive(tmp_path):
    junk = tmp_path / "x.tar.gz"
    junk.write_bytes(gzip.compress(b"not a tar"))
    with pytest.raises(AnnouncerError, match="バックアップとして読めません"):
        backup.verify(junk, tmp_path / "s")


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
