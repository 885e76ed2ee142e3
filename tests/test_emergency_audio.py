"""Emergency bulletins through the real daemon and a PulseAudio null sink."""

import time

import numpy as np
import pytest

from tests.conftest import RATE, write_config
from tests.daemonutil import Daemon, free_port, jst_in, make_token, write_notice

pytestmark = [pytest.mark.audio, pytest.mark.slow]

SHORT = "避難指示を発令しました。"
LONG = "真岡市災害対策本部からお知らせします。" * 30


@pytest.fixture
def station(station_dir, pulse):
    port = free_port()
    write_config(station_dir, device="default", port=port)
    d = Daemon(station_dir, pulse.env, port)
    d.token = make_token(station_dir)
    yield d
    d.terminate()


def post(d, text, **kw):
    return d.request("POST", "/api/bulletins", {"text": text, **kw}, token=d.token)


def bulletin(d, bid):
    return d.get(f"/api/bulletins/{bid}", token=d.token)


def rows(d, kind=None):
    return [r for r in d.get("/api/airlog", token=d.token) if kind in (None, r["kind"])]


def test_a_bulletin_cuts_into_a_notice(station, station_dir, pulse):
    station.start()  # ready first, then a notice relative to now: no start-up timing
    write_notice(station_dir, "long", "long", jst_in(3), text="本日は晴天なり。" * 20)
    station.wait_for(lambda: station.get("/healthz")["on_air"], timeout=30)
    rec = pulse.record()
    status, body = post(station, SHORT, repeat=1, chime=False)
    assert status == 202 and body["status"] == "queued"
    station.wait_for(lambda: bulletin(station, body["id"])["status"] == "aired", timeout=30)
    rec.stop()
    log = {(r["kind"], r["id"]): r["status"] for r in rows(station)}
    assert log[("notice", "long")] == "interrupted"
    assert log[("bulletin", body["id"])] == "aired"
    assert rec.sound_seconds() > 1.0


def test_kill9_right_after_202_still_airs_the_bulletin(station, pulse):
    station.start()
    status, body = post(station, SHORT, repeat=1)
    assert status == 202
    station.kill9()
    rec = pulse.record()
    station.start()
    station.wait_for(lambda: bulletin(station, body["id"])["status"] == "aired", timeout=40)
    rec.stop()
    assert rec.sound_seconds() > 3  # chimes and speech, from the start


def test_kill9_mid_air_airs_the_bulletin_again_from_the_start(station, pulse):
    station.start()
    status, body = post(station, LONG, repeat=1, chime=False)
    assert status == 202
    station.wait_for(lambda: bulletin(station, body["id"])["status"] == "on_air", timeout=10)
    time.sleep(1.0)
    station.kill9()
    station.start()
    station.wait_for(lambda: bulletin(station, body["id"])["status"] == "on_air", timeout=20)
    statuses = [r["status"] for r in rows(station, "bulletin")]
    assert statuses == ["interrupted", "interrupted"]  # the cut row, and the new airing
    assert station.request("DELETE", f"/api/bulletins/{body['id']}",
                           token=station.token)[0] == 200


def test_stop_takes_a_bulletin_off_air(station, pulse):
    station.start()
    status, body = post(station, LONG, chime=False)
    station.wait_for(lambda: bulletin(station, body["id"])["status"] == "on_air", timeout=10)
    rec = pulse.record()
    time.sleep(1.0)
    sent = time.time()
    status, _ = station.request("DELETE", f"/api/bulletins/{body['id']}", token=station.token)
    assert status == 200
    time.sleep(1.5)
    rec.stop()
    x = np.abs(rec.samples())
    after = int((sent + 0.5 - rec.time_of(0)) * RATE)
    assert x[:after].max() > 0.05  # it was on air …
    assert x[after:].max() < 0.001  # … and silent half a second after the stop
    assert bulletin(station, body["id"])["status"] == "cancelled"
    assert [r["status"] for r in rows(station, "bulletin")] == ["cancelled"]


HOSTILE = [("", 422), ("。", 422), ("😀", 422), ("ア" * 400, 202), ("あ" * 5000, 202),
           ("あ" * 5001, 413), (123, 400), ("<script>alert(1)</script>", 202)]


def test_hostile_texts_leave_the_daemon_healthy(station):
    station.start()
    answers = []
    for text, _ in HOSTILE:
        status, body = post(station, text)
        answers.append(status)
        if status == 202:
            time.sleep(0.3)  # let synthesis of it start, then stop it
            station.request("DELETE", f"/api/bulletins/{body['id']}", token=station.token)
        else:
            assert isinstance(body["error"], str) and body["error"]
        assert station.get("/healthz")["status"] == "ok"
    assert answers == [expected for _, expected in HOSTILE]
    assert station.proc.poll() is None


def test_the_api_needs_a_token(station):
    station.start()
    assert station.request("POST", "/api/bulletins", {"text": SHORT})[0] == 401
    assert station.request("GET", "/api/airlog", token="wrong")[0] == 401
    assert station.request("GET", "/api/status", token=station.token)[0] == 200
