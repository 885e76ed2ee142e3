"""The real daemon: interrupt order through the HTTP API against a PulseAudio null sink,
subjects in the as-run log, and a shutdown under web load that logs no traceback."""

import http.client
import threading
import time

import pytest

from tests.daemonutil import daemon, make_token

pytestmark = [pytest.mark.audio, pytest.mark.slow]


def send(d, token, text, **options):
    status, body = d.request("POST", "/api/bulletins", {"text": text, "repeat": 1,
                                                         "chime": False, **options}, token)
    assert status == 202, body
    return body["id"]


def state(d, token, bid):
    return d.get(f"/api/bulletins/{bid}", token=token)["status"]


def test_an_interrupting_bulletin_airs_before_a_queued_one(daemon, station_dir):
    token = make_token(station_dir)
    daemon.start()
    a = send(daemon, token, "最初の緊急放送です。三つの文があります。最後の文です。", title="A")
    daemon.wait_for(lambda: state(daemon, token, a) == "on_air", timeout=20)
    b = send(daemon, token, "あとに流す放送です。", interrupt=False, title="B")
    c = send(daemon, token, "割り込む放送です。", interrupt=True)
    assert state(daemon, token, a) == "on_air"  # an emergency is never cut by another
    daemon.wait_for(lambda: all(state(daemon, token, x) == "aired" for x in (a, b, c)),
                    timeout=60)
    rows = [r for r in daemon.get("/api/airlog", token=token) if r["kind"] == "bulletin"]
    assert [(r["id"], r["status"]) for r in sorted(rows, key=lambda r: r["started_at"])] == [
        (a, "aired"), (c, "aired"), (b, "aired")]
    assert {r["id"]: r["title"] for r in rows} == {a: "A", b: "B", c: "割り込む放送です"}
    assert daemon.get(f"/api/bulletins/{c}", token=token)["title"] == "割り込む放送です"
    status, body = daemon.request("POST", "/api/bulletins", {"text": "件名が長すぎます。",
                                                             "title": "あ" * 41}, token)
    assert status == 422 and body == {
        "error": "件名が 1 文字多すぎます（41 文字。40 文字以内にしてください）"}


def test_shutdown_under_web_load_logs_no_traceback(daemon):
    daemon.start()
    stop = threading.Event()
    served = []

    def poll():  # like status pages open on several tablets, keep-alive connections
        while not stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=2)
            try:
                for _ in range(50):
                    conn.request("GET", "/healthz")
                    served.append(conn.getresponse().read())
            except (OSError, http.client.HTTPException):
                time.sleep(0.01)
            finally:
                conn.close()

    pollers = [threading.Thread(target=poll, daemon=True) for _ in range(4)]
    for t in pollers:
        t.start()
    daemon.wait_for(lambda: len(served) > 100)
    assert daemon.terminate() == 0
    stop.set()
    for t in pollers:
        t.join(5)
    log = daemon.log.read_text(errors="replace")
    assert "Traceback" not in log and "Bad file descriptor" not in log
