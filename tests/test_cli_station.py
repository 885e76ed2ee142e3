"""Operator commands for the station: check, airlog, user, token."""

import datetime as dt
import hashlib
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from announcer.core.clock import TOKYO
from announcer.record.store import Store

ANNOUNCER = str(Path(sys.executable).parent / "announcer")


def announcer(folder: Path, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ANNOUNCER, "--config", str(folder / "station.yaml"), *args],
                          input=stdin, cwd=folder, capture_output=True, text=True, timeout=60)


def test_check_lists_every_problem_as_file_line(station_dir):
    bad = station_dir / "schedules" / "bad.yaml"
    bad.write_text(textwrap.dedent("""\
        notices:
          - id: gomi
            text: 明日は燃えるごみの収集日です。
            times: ["25:00"]
            dayz: [mon]
        """), encoding="utf-8")
    run = announcer(station_dir, "check")
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{bad}:") for line in lines)
    assert any(line.startswith(f"{bad}:4: ") for line in lines)
    assert any(line.startswith(f"{bad}:5: ") and '"days"' in line for line in lines)


def test_check_names_a_voice_that_is_not_there(station_dir):
    (station_dir / "schedules" / "v.yaml").write_text(textwrap.dedent("""\
        notices:
          - id: gomi
            text: 明日は燃えるごみの収集日です。
            times: ["07:30"]
            voice: hanako
        """), encoding="utf-8")
    run = announcer(station_dir, "check")
    assert run.returncode == 1
    assert run.stdout.splitlines()[0] == (f"{station_dir / 'schedules' / 'v.yaml'}:2: voice: "
                                          '声のプリセット "hanako" がありません（aika で読みます）')


def test_check_of_a_broken_config_names_the_line(station_dir):
    (station_dir / "station.yaml").write_text("station:\n  tmezone: Asia/Tokyo\n",
                                              encoding="utf-8")
    run = announcer(station_dir, "check")
    assert run.returncode == 1
    assert run.stdout.startswith(f"{station_dir / 'station.yaml'}:2: station.tmezone: ")
    assert '"timezone"' in run.stdout


def test_check_lists_the_next_24_hours(station_dir):
    (station_dir / "schedules" / "gomi.yaml").write_text(textwrap.dedent("""\
        notices:
          - id: gomi
            title: ごみ収集
            text: 明日は燃えるごみの収集日です。
            times: ["07:30", "18:30"]
        """), encoding="utf-8")
    run = announcer(station_dir, "check")
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [line for line in run.stdout.splitlines() if "gomi" in line]
    assert len(rows) == 2 and all("ごみ収集" in r for r in rows)


def test_airlog_prints_the_day_and_csv(station_dir):
    store = Store(station_dir / "var" / "announcer.db", TOKYO)
    at = dt.datetime(2026, 12, 3, 7, 30, tzinfo=TOKYO)
    row = store.airing_started("notice", "gomi", "ごみ", at, at, voice="makoto")
    store.airing_ended(row, "aired", at + dt.timedelta(seconds=9))
    store.airing_record("bulletin", "b1", "＝HYPERLINK(1)", at, "cancelled", "-tanaka", at=at)
    store.close()
    run = announcer(station_dir, "airlog", "--date", "2026-12-03", "--csv")
    assert run.returncode == 0
    assert run.stdout.splitlines() == [
        "種類,ID,件名,予定時刻,開始時刻,終了時刻,結果,備考,声",
        "お知らせ,gomi,ごみ,2026-12-03 07:30:00,2026-12-03 07:30:00,2026-12-03 07:30:09,放送済み,,まこと",
        "緊急放送,b1,'＝HYPERLINK(1),2026-12-03 07:30:00,,2026-12-03 07:30:00,取り消し,'-tanaka,",
    ]
    empty = announcer(station_dir, "airlog", "--date", "2026-12-04")
    assert empty.stdout == "2026-12-04 の放送記録はありません\n"


def test_token_is_printed_last_and_only_its_hash_is_stored(station_dir):
    run = announcer(station_dir, "token", "create", "city")
    assert run.returncode == 0
    token = run.stdout.splitlines()[-1]
    assert len(token) >= 40
    db = sqlite3.connect(station_dir / "var" / "announcer.db")
    stored = db.execute("SELECT token_hash FROM tokens WHERE name='city'").fetchone()[0]
    db.close()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert announcer(station_dir, "token", "list").stdout.startswith("city\t")
    assert announcer(station_dir, "token", "revoke", "city").returncode == 0
    assert announcer(station_dir, "token", "list").stdout == ""


def test_user_add_list_remove(station_dir):
    run = announcer(station_dir, "user", "add", "tanaka", "--password-stdin", "--role", "admin",
                    stdin="correct horse\n")
    assert run.returncode == 0, run.stderr
    assert announcer(station_dir, "user", "list").stdout.startswith("tanaka\tadmin\t")
    short = announcer(station_dir, "user", "add", "sato", "--password-stdin", stdin="abc\n")
    assert short.returncode == 1
    assert short.stderr == "エラー: パスワードは 8 文字以上にしてください\n"
    last = announcer(station_dir, "user", "remove", "tanaka")  # the only admin (issue 21)
    assert last.returncode == 1 and "tanaka はただひとりの有効な管理者です" in last.stderr
    assert announcer(station_dir, "user", "add", "suzuki", "--password-stdin", "--role",
                     "admin", stdin="correct horse\n").returncode == 0
    assert announcer(station_dir, "user", "remove", "tanaka").returncode == 0
    assert announcer(station_dir, "user", "list").stdout.startswith("suzuki\tadmin\t")


@pytest.mark.parametrize("command", ["run", "check", "airlog", "token", "user", "reading",
                                     "render", "say", "devices"])
def test_help_lists_every_subcommand(command):
    run = subprocess.run([ANNOUNCER, "--help"], capture_output=True, text=True)
    assert command in run.stdout
