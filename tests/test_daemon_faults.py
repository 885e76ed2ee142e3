"""The real daemon (PulseAudio null sink) under the faults a real audio PC meets: the
database locked by another process, the data disk full (a small tmpfs), kill -9 during
a replay twice in a row, the wall clock stepped back and forward (through the daemon's
clock: ``ANNOUNCER_CLOCK_SHIFT_FILE``). Each airing airs once and has its true row.
No assumption on the machine's speed: everything waits for readiness and polls."""

import datetime as dt
import textwrap

import pytest

from announcer.core.clock import TOKYO
from tests.conftest import write_config
from tests.daemonutil import (Daemon, daemon, free_port, jst_in,  # noqa: F401 (fixture)
                              make_token, schedule_prerendered, write_notice)
from tests.faultutil import DbLock, SmallDisk

pytestmark = [pytest.mark.audio, pytest.mark.slow]
BULLETIN = {"text": "避難してください。", "repeat": 1, "interrupt": False}


def airlog(d, token, ident=None):
    """Rows of yesterday, today and tomorrow (the clock tests step across midnight)."""
    today = dt.datetime.now(TOKYO).date()
    rows = [r for delta in (-1, 0, 1)
            for r in d.get(f"/api/airlog?date={today + dt.timedelta(days=delta)}", token=token)]
    return sorted((r for r in rows if ident is None or r["id"] == ident),
                  key=lambda r: r["rowid"])


def log_count(d, text: str) -> int:
    return d.log.read_text(errors="replace").count(text)


def health(d, token):
    return d.get("/healthz", token=token)


def test_the_database_locked_across_a_notice_and_a_bulletin(daemon, station_dir):
    token = make_token(station_dir)
    daemon.start()
    when = schedule_prerendered(daemon, station_dir, "gomi", "gomi", lead=12)
    status, body = daemon.request("POST", "/api/bulletins", BULLETIN, token)
    assert status == 202
    bid = body["id"]
    with DbLock(station_dir / "var" / "announcer.db"):
        daemon.wait_for(lambda: log_count(daemon, "AIRED notice gomi") and
                        log_count(daemon, f"AIRED bulletin {bid}"), timeout=120, interval=0.5)
        h = daemon.wait_for(lambda: (h := health(daemon, token))["status"] == "degraded" and h,
                            timeout=30)
        assert h["faults"][0]["kind"] == "record" and "ロック" in h["faults"][0]["detail"]
        assert h["record"]["pending"] >= 1
        assert daemon.get("/healthz")["status"] == "degraded"  # the public answer too
        status, body = daemon.request("POST", "/api/bulletins", BULLETIN, token)
        assert status == 503 and "緊急放送を受け付けられません" in body["error"]
    daemon.wait_for(lambda: health(daemon, token)["status"] == "ok", timeout=30)
    notice, = airlog(daemon, token, "gomi")
    assert (notice["status"], notice["scheduled_at"]) == (
        "aired", when.isoformat(timespec="milliseconds"))
    bulletin, = airlog(daemon, token, bid)
    assert bulletin["status"] == "aired"
    assert daemon.get(f"/api/bulletins/{bid}", token=token)["status"] == "aired"
    assert log_count(daemon, "ON AIR notice gomi") == 1
    assert log_count(daemon, f"ON AIR bulletin {bid}") == 1


def test_a_bulletin_aired_while_locked_is_not_aired_again_by_a_restart(daemon, station_dir):
    token = make_token(station_dir)
    daemon.start()
    status, body = daemon.request("POST", "/api/bulletins", BULLETIN, token)
    bid = body["id"]
    lock = DbLock(station_dir / "var" / "announcer.db")
    try:
        daemon.wait_for(lambda: log_count(daemon, f"AIRED bulletin {bid}"), timeout=60)
        daemon.kill9()
        daemon.start(wait_audio=False)  # still locked: the record is not ok
        daemon.wait_for(lambda: health(daemon, token)["audio"]["ok"], timeout=60)
        text = daemon.log.read_text(errors="replace")
        second_run = text[text.rindex("As-run journal"):]  # what the restart found
        assert "not in the database yet" in second_run
        assert "accepted but not finished" not in second_run
    finally:
        lock.release()
    daemon.wait_for(lambda: health(daemon, token)["record"]["pending"] == 0, timeout=30)
    assert [r["status"] for r in airlog(daemon, token, bid)] == ["aired"]
    assert daemon.get(f"/api/bulletins/{bid}", token=token)["status"] == "aired"
    assert log_count(daemon, f"ON AIR bulletin {bid}") == 1


def test_a_full_data_disk(daemon, station_dir):
    disk = SmallDisk(station_dir / "var", "48m")
    try:
        token = make_token(station_dir)
        daemon.start()
        disk.fill()
        h = daemon.wait_for(lambda: (h := health(daemon, token))["status"] == "degraded" and h,
                            timeout=30)
        assert "ディスク" in h["faults"][0]["detail"]
        status, body = daemon.request("POST", "/api/bulletins", BULLETIN, token)
        assert status == 503 and "ディスク" in body["error"]
        # a notice due meanwhile, never rendered before: it cannot be cached
        write_notice(station_dir, "full", "full", jst_in(8), text="ディスクがいっぱいでも放送します。")
        daemon.wait_for(lambda: log_count(daemon, "AIRED notice full"), timeout=120,
                        interval=0.5)
        kinds = {f["kind"] for f in health(daemon, token)["faults"]}
        assert kinds >= {"record", "cache"}
        disk.free()
        daemon.wait_for(lambda: health(daemon, token)["status"] == "ok", timeout=60)
        status, body = daemon.request("POST", "/api/bulletins", BULLETIN, token)
        assert status == 202
        daemon.wait_for(lambda: [r["status"] for r in airlog(daemon, token, body["id"])]
                        == ["aired"], timeout=60)
        assert [r["status"] for r in airlog(daemon, token, "full")] == ["aired"]
        assert log_count(daemon, "ON AIR notice full") == 1
        # what aired while the disk was full reaches the public page once there is room
        daemon.wait_for(lambda: log_count(daemon, "Published notice full"), timeout=90)
        assert log_count(daemon, "Published notice full") == 1
        assert "Traceback" not in daemon.log.read_text(errors="replace")
        daemon.terminate()
    finally:
        disk.unmount()


def test_kill_9_during_a_replay_twice_in_a_row_airs_it_once(daemon, station_dir):
    token = make_token(station_dir)
    daemon.start()
    long = "本日は晴天なり。" * 10
    when = schedule_prerendered(daemon, station_dir, "long", "long", lead=4, text=long)
    daemon.wait_for(lambda: daemon.get("/healthz")["on_air"], timeout=60)
    # a long bulletin queued behind the notice: after the restart it airs first
    status, body = daemon.request("POST", "/api/bulletins", dict(BULLETIN, text=long), token)
    bid = body["id"]
    daemon.kill9()  # kill #1: the notice on air
    daemon.start()
    daemon.wait_for(lambda: log_count(daemon, f"ON AIR bulletin {bid}") == 1, timeout=60)
    daemon.kill9()  # kill #2: the bulletin on air, the notice's replay waiting behind it
    daemon.start()
    daemon.wait_for(lambda: log_count(daemon, "ON AIR notice long") == 2, timeout=120,
                    interval=0.5)
    daemon.kill9()  # kill #3: the replay itself on air
    daemon.start()
    daemon.wait_for(lambda: [r for r in airlog(daemon, token, "long") if r["status"] == "aired"],
                    timeout=120, interval=0.5)
    rows = airlog(daemon, token, "long")
    assert [(r["status"], r["detail"]) for r in rows] == [
        ("interrupted", "cut by a restart; replayed from start"),
        ("interrupted", "cut by a restart; replayed from start"),
        ("aired", "")]
    assert {r["scheduled_at"] for r in rows} == {when.isoformat(timespec="milliseconds")}
    assert all(r["ended_at"] for r in rows)
    daemon.wait_for(lambda: [r["status"] for r in airlog(daemon, token, bid)][-1:] == ["aired"],
                    timeout=120, interval=0.5)
    assert [r["status"] for r in airlog(daemon, token, bid)] == ["interrupted", "aired"]


def test_wall_clock_steps_back_and_forward(station_dir, pulse, tmp_path):
    shift = tmp_path / "shift"
    shift.write_text("0")
    port = free_port()
    write_config(station_dir, device="default", port=port)
    d = Daemon(station_dir, dict(pulse.env, ANNOUNCER_CLOCK_SHIFT_FILE=str(shift)), port)
    text = "本日は晴天なり。"
    try:
        token = make_token(station_dir)
        d.start()
        when_a = schedule_prerendered(d, station_dir, "a", "a", lead=4, text=text)
        d.wait_for(lambda: [r["status"] for r in airlog(d, token, "a")] == ["aired"], timeout=60)

        shift.write_text("-600")  # ten minutes back: the schedule's jobs must keep running
        d.wait_for(lambda: health(d, token)["clock"]["last_step"], timeout=10)
        assert health(d, token)["clock"]["last_step"]["seconds"] < -590
        when_b = jst_in(6) - dt.timedelta(seconds=600)
        write_notice(station_dir, "b", "b", when_b, text=text)
        d.wait_for(lambda: [r["status"] for r in airlog(d, token, "b")] == ["aired"], timeout=60)
        assert health(d, token)["status"] == "ok"

        assert d.terminate() == 0  # a restart with the clock still behind
        d.start()
        # notices in the ten minutes the next step skips: one too late, one within grace
        t_c, t_d = when_a - dt.timedelta(seconds=400), when_a - dt.timedelta(seconds=100)
        (station_dir / "schedules" / "cd.yaml").write_text(textwrap.dedent(f"""\
            notices:
              - {{id: c, text: {text}, times: ["{t_c:%H:%M:%S}"], grace: 60}}
              - {{id: d, text: {text}, times: ["{t_d:%H:%M:%S}"]}}
            """), encoding="utf-8")
        d.wait_for(lambda: "Loaded 4 notices" in d.log.read_text(errors="replace"),
                   timeout=30)
        # forward by almost ten minutes: 15 s before a's time again on the daemon's clock
        real = dt.datetime.now(when_a.tzinfo)
        shift.write_text(str((when_a - dt.timedelta(seconds=15) - real).total_seconds()))
        d.wait_for(lambda: [r["status"] for r in airlog(d, token, "d")] == ["aired"],
                   timeout=60)
        assert [(r["status"], r["detail"]) for r in airlog(d, token, "c")] == [
            ("missed", "clock stepped forward")]
        # a's time comes again on the daemon's clock: it is not aired a second time
        d.wait_for(lambda: d.get("/healthz")["time"] > (when_a + dt.timedelta(seconds=5))
                   .isoformat(timespec="seconds"), timeout=60)
        assert [r["status"] for r in airlog(d, token, "a")] == ["aired"]
        assert [r["status"] for r in airlog(d, token, "b")] == ["aired"]
        assert "no more pings" not in d.log_text()
        assert "ALERT alarm clock/wall" in d.log.read_text(errors="replace")
    finally:
        d.terminate()
