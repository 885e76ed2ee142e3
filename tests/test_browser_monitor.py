"""The silence monitor's block on the status page, in headless Chromium, with the real
monitor listening to a PulseAudio null sink's monitor source; its JSON; and the status
box, never green while a silence alarm is open (issue 17)."""

import dataclasses

import pytest
from playwright.sync_api import expect

from announcer.core.config_sections import MonitorConfig
from announcer.core import events
from announcer.watch.monitor.service import Monitor
from announcer.web.app import create_app
from tests.conftest import started_pulse
from tests.notifyutil import Tone
from tests.webutil import (ARTIFACTS, KNOWN_LEAKS, base_url, browser, log_in, login,
                           make_station_dir, output, page, running_services)

pytestmark = [pytest.mark.browser, pytest.mark.audio, *KNOWN_LEAKS]


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    p = started_pulse(tmp_path_factory)
    yield p
    p.stop()


@pytest.fixture(scope="module")
def services(tmp_path_factory, output, pulse):
    with running_services(make_station_dir(tmp_path_factory.mktemp("station")), output) as s:
        cfg = MonitorConfig(device="pulse", pulse_source="onair.monitor", silence_seconds=2,
                            retry_seconds=0.5)
        # On the station's bus, as the daemon wires it: its alarms reach the status box.
        monitor = Monitor(cfg, s.store, lambda: None, bus=events.BUS, env=pulse.env)
        monitor.start()
        try:
            yield dataclasses.replace(s, monitor=monitor)
        finally:
            monitor.stop()


def test_meter_state_and_chart(page, pulse):
    log_in(page)
    card = page.locator("#monitor")
    expect(card.locator("h2")).to_have_text("送出の音（無音検知）")
    expect(page.locator("#monitor-state")).to_contain_text("無音を検知しています", timeout=10000)
    expect(card).to_have_class("card monitor-card monitor-bad")
    expect(page.locator("#monitor-level")).to_have_text("— dBFS")
    page.screenshot(path=str(ARTIFACTS / "monitor-silence.png"), full_page=True)
    tone = Tone(pulse.env)
    try:
        expect(page.locator("#monitor-state")).to_have_text("音が出ています", timeout=10000)
        expect(page.locator("#monitor-level")).to_have_text("-23.0 dBFS", timeout=5000)
        assert -24 < page.evaluate("document.getElementById('monitor-meter').value") < -22
        page.get_by_role("button", name="24 時間").click()
        expect(page.get_by_role("button", name="24 時間")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#monitor-chart polygon").first).to_be_attached(timeout=5000)
        expect(page.locator("#monitor-chart line.monitor-threshold")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "monitor-sound.png"), full_page=True)
    finally:
        tone.stop()


@pytest.mark.parametrize("size", [{"width": 1024, "height": 768}, {"width": 390, "height": 844}])
def test_an_open_silence_alarm_turns_the_status_box_red_until_sound_is_back(page, pulse, size):
    page.set_viewport_size(size)
    log_in(page)
    health = page.locator("#health")
    expect(health).to_have_class("health health-bad", timeout=15_000)  # nothing plays
    expect(health.locator(".health-state")).to_have_text(
        "放送の音が止まっています（無音を検知しました）")
    expect(health).to_contain_text("ミキサーのフェーダーと送出の切り替え")
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshots" / f"staff-status-silence-{size['width']}.png"),
                    full_page=False)
    tone = Tone(pulse.env)
    try:
        expect(health).to_have_class("health health-ok", timeout=15_000)
    finally:
        tone.stop()


@pytest.fixture(scope="module")
def app(services):
    return create_app(services, testing=True)


def test_json_needs_a_session_and_gives_meter_and_history(app):
    client = app.test_client()
    assert client.get("/staff/monitor").status_code == 401
    assert login(client).status_code == 302
    body = client.get("/staff/monitor?minutes=60").get_json()
    assert body["enabled"] is True
    assert set(body["current"]) >= {"level", "peak", "silent_for", "silence",
                                    "on_air_silence", "input_ok", "threshold"}
    assert body["history"]["step"] == 10
    assert client.get("/staff/monitor?history=0").get_json().keys() == {"enabled", "current"}
    assert client.get("/staff/monitor?minutes=999").get_json()["history"]["step"] == 10
