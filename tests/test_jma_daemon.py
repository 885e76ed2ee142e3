"""Official JMA information through the real daemon, a local feed server and a
PulseAudio null sink: an auto item airs, other areas and 訓練 never do, 取消 withdraws
on air, an approve item waits for staff in Chromium, and nothing airs twice across a
kill -9. Nothing reaches the internet: the feeds are served from 127.0.0.1."""

import textwrap
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import write_config
from tests.daemonutil import Daemon, cli, free_port, make_token
from tests.jmautil import (FeedServer, hostile, huge, landslide_auto, sample, storm_approve,
                           variant, withdrawal_of)
from tests.webutil import CHROMIUM_ARGS

pytestmark = [pytest.mark.audio, pytest.mark.slow]
NAME, PASSWORD = "tanaka", "password123"


@pytest.fixture
def feeds():
    with FeedServer() as server:
        yield server


@pytest.fixture
def station(station_dir, pulse, feeds):
    port = free_port()
    write_config(station_dir, device="default", port=port, extra=textwrap.dedent(f"""\
        jma:
          enabled: true
          feeds: ["{feeds.url('/feed/extra.xml')}"]
          poll_seconds: 1
          inbox: var/jma-inbox
        """))
    feeds.set_feed("/feed/extra.xml", [])
    d = Daemon(station_dir, pulse.env, port)
    d.token = make_token(station_dir)
    yield d
    d.terminate()


def alerts(d):
    return d.get("/api/alerts", token=d.token)


def alert_rows(d):
    return [r for r in d.get("/api/airlog", token=d.token) if r["kind"] == "alert"]


def test_auto_airs_others_do_not_and_nothing_airs_twice(station, feeds, pulse):
    links = [feeds.put(f"/bad/{name}", data) for name, data in hostile().items()]
    links += [feeds.put("/bad/huge.xml", huge()), feeds.url("/bad/elsewhere.xml").replace(
        "127.0.0.1", "localhost")]
    links += [feeds.put("/data/auto.xml", landslide_auto()),
             feeds.put("/data/drill.xml", variant(storm_approve(), status="訓練")),
             feeds.put("/data/other.xml", sample("15_16_01_241031_VPWW56.xml"))]
    station.start()
    assert station.get("/healthz", token=station.token)["jma"] == "ok"
    rec = pulse.record()
    sent = time.time()
    feeds.set_feed("/feed/extra.xml", links)
    station.wait_for(lambda: [a for a in alerts(station) if a["status"] == "aired"], timeout=240)
    rec.stop()
    items = {a["type"]: a for a in alerts(station)}
    assert set(items) == {"VPWW56", "VPWW58"}  # the other area is not listed at all
    assert items["VPWW56"]["decision"] == "auto"
    assert "稚内地方気象台の発表です。真岡市に、" in items["VPWW56"]["text"]
    assert items["VPWW58"]["status"] == "ignored" and items["VPWW58"]["title"].startswith("【訓練】")
    assert set(items["VPWW56"]) == {"id", "type", "title", "areas", "received_at", "decision",
                                    "status", "text"}
    log = station.log_text()
    assert station.proc.poll() is None and log.count("rejected:") >= 5
    assert "too large" in log and "refused (not on 127.0.0.1" in log
    assert feeds.count("/bad/elsewhere.xml") == 0
    times = [t for p, t, _ in feeds.hits if p == "/feed/extra.xml"]
    # ≤ 1 request per poll_seconds (1 s), give or take the network's jitter
    assert len(times) - 1 <= times[-1] - times[0] + 1
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.5
    (row,) = alert_rows(station)
    assert row["status"] == "aired"
    onsets = rec.onsets()
    assert onsets and onsets[0] > sent and rec.sound_seconds() > 5

    station.kill9()
    before = feeds.count("/feed/extra.xml")
    station.start()
    station.wait_for(lambda: feeds.count("/feed/extra.xml") >= before + 3, timeout=90)
    assert len(alert_rows(station)) == 1 and len(alerts(station)) == 2

    feeds.set_feed("/feed/extra.xml", links + [feeds.put("/data/cancel.xml",
                                                         withdrawal_of(landslide_auto()))])
    station.wait_for(lambda: len([r for r in alert_rows(station) if r["status"] == "aired"]) == 2,
                     timeout=240)
    withdrawal = [a for a in alerts(station) if a["title"].startswith("【取消】")]
    assert withdrawal[0]["text"].endswith("は、取り消されました。")
    assert station.get("/healthz")["status"] == "ok"


def test_an_approve_item_waits_for_staff_in_the_page(station, station_dir, feeds):
    assert cli(station_dir, "user", "add", NAME, "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    station.start()
    inbox = station_dir / "var" / "jma-inbox"
    (inbox / "storm.xml").write_bytes(storm_approve())
    station.wait_for(lambda: [a for a in alerts(station) if a["status"] == "pending"], timeout=60)
    # the file is moved once its item is stored: wait for it, do not race it
    station.wait_for(lambda: (inbox / "done" / "storm.xml").exists(), timeout=30)
    time.sleep(1.5)
    assert alert_rows(station) == []  # held
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(locale="ja-JP", base_url=f"http://127.0.0.1:{station.port}")
        problems = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto("/login")
        page.get_by_label("名前（ユーザー名）").fill(NAME)
        page.get_by_label("パスワード").fill(PASSWORD)
        page.get_by_role("button", name="ログイン").click()
        page.get_by_role("link", name="気象庁の情報").click()
        expect(page.locator("h1")).to_have_text("気象庁の情報")
        draft = page.locator(".alert-draft")
        expect(draft.locator(".script")).to_contain_text("真岡市に、暴風警報が発表されました。")
        expect(draft.locator(".reading")).to_contain_text("モーカシニ、ボーフーケーホー")
        draft.get_by_role("button", name="承認して放送…").click()
        expect(page.locator("h1")).to_have_text("この原稿を放送しますか？")
        page.get_by_role("button", name="放送する").click()
        expect(page.get_by_role("status")).to_contain_text("承認しました")
        browser.close()
    assert problems == []
    station.wait_for(lambda: alerts(station)[0]["status"] == "aired", timeout=240)
    assert alerts(station)[0]["decision"] == "approve"
    assert [r["status"] for r in alert_rows(station)] == ["aired"]
