"""The 「気象庁の情報」 page and API through Flask's test client, with a real studio,
SQLite, station (fake output, never pulled: queued airings stay queued) and a real
JmaService fed through its inbox entry point."""

import datetime as dt

import pytest

from announcer.audio.fake import FakeOutput
from announcer.core.config_sections import JmaConfig
from announcer.jma.service import JmaService
from announcer.web.app import create_app
from tests import jmautil
from tests.jmautil import landslide_auto, storm_approve
from tests.webutil import (KNOWN_LEAKS, OPERATOR, cancel_open_bulletins, client, csrf,
                           login, services, staff)

pytestmark = KNOWN_LEAKS
FIELDS = {"id", "type", "title", "areas", "received_at", "decision", "status", "text"}


@pytest.fixture(scope="module")
def output():
    return FakeOutput()


@pytest.fixture(scope="module")
def jma(services, tmp_path_factory):
    cfg = JmaConfig(enabled=True, feeds=(), inbox=tmp_path_factory.mktemp("inbox"))
    svc = JmaService(cfg, services.station, services.store, services.clock, None)
    yield svc
    cancel_open_bulletins(services)
    svc.db.close()


@pytest.fixture(scope="module")
def app(services, jma):
    app = create_app(services, testing=True)
    app.extensions["announcer.jma"] = jma
    return app


@pytest.fixture(scope="module")
def token(services):
    return services.accounts.create_token("city", by="test")


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_the_api_lists_items_with_exactly_the_fields(client, jma, token, services):
    assert jma.handle(landslide_auto(), "inbox:a.xml") == (True, "approved")
    assert jma.handle(storm_approve(), "inbox:b.xml") == (True, "pending")
    assert client.get("/api/alerts").status_code == 401
    assert client.get("/api/alerts?date=x", headers=bearer(token)).status_code == 400
    items = client.get("/api/alerts", headers=bearer(token)).get_json()
    assert [set(i) for i in items] == [FIELDS, FIELDS]
    assert [(i["type"], i["decision"], i["status"]) for i in items] == [
        ("VPWW56", "auto", "approved"), ("VPWW58", "approve", "pending")]
    assert items[0]["areas"] == ["0920900"]
    yesterday = (services.clock.now().date() - dt.timedelta(days=1)).isoformat()
    assert client.get(f"/api/alerts?date={yesterday}", headers=bearer(token)).get_json() == []
    queued = [q for q in services.station.status()["queue"] if q["kind"] == "alert"]
    assert [q["id"] for q in queued] == [jma.item(items[0]["id"])["bulletin"]]


def test_approve_by_token_is_audited_and_happens_once(client, jma, token, services):
    pending = [i for i in jma.items(services.clock.now().date()) if i["status"] == "pending"]
    item_id = pending[0]["id"]
    resp = client.post(f"/api/alerts/{item_id}/approve", headers=bearer(token))
    assert resp.status_code == 202 and resp.get_json()["status"] == "approved"
    again = client.post(f"/api/alerts/{item_id}/approve", headers=bearer(token))
    assert again.status_code == 409 and "承認できません" in again.get_json()["error"]
    assert client.post("/api/alerts/nope/approve", headers=bearer(token)).status_code == 404
    actions = [(a["who"], a["action"]) for a in services.accounts.audit_log()]
    assert ("token:city", "alert.approve") in actions


def test_session_approve_needs_csrf_and_the_page_shows_drafts(staff, jma, services):
    jma.handle(jmautil.heavy_rain_r06(3), "x")
    page = staff.get("/alerts").get_data(as_text=True)
    assert "承認待ちの原稿" in page and "真岡市に、レベル３大雨警報が発表されました。" in page
    assert "承認して放送…" in page and "自動で放送" in page
    (draft,) = [i for i in jma.db.open_items() if i["status"] == "pending"]
    assert staff.post(f"/api/alerts/{draft['id']}/approve").status_code == 400  # no CSRF
    confirm = staff.post(f"/alerts/{draft['id']}/confirm", data={"csrf_token": csrf(staff)})
    assert "この原稿を放送しますか？" in confirm.get_data(as_text=True)
    resp = staff.post(f"/api/alerts/{draft['id']}/approve",
                      headers={"X-CSRF-Token": csrf(staff)})
    assert resp.status_code == 202
    assert (OPERATOR, "alert.approve") in [(a["who"], a["action"])
                                           for a in services.accounts.audit_log()]


def test_discard_and_audio_preview(staff, jma, services):
    jma.handle(jmautil.at(jmautil.for_mooka("15_16_05_241226_VPWW59.xml")), "x")
    (draft,) = [i for i in jma.db.open_items() if i["status"] == "pending"]
    wav = staff.get(f"/alerts/{draft['id']}/audio.wav")
    assert wav.status_code == 200 and wav.data[:4] == b"RIFF" and len(wav.data) > 48000
    resp = staff.post(f"/alerts/{draft['id']}/discard", data={"csrf_token": csrf(staff)})
    assert resp.status_code == 303
    assert jma.item(draft["id"])["status"] == "withdrawn"
    assert services.station.bulletin(draft["id"]) is None


def test_the_page_needs_a_session(client):
    assert client.get("/alerts").status_code == 302
    assert login(client).status_code == 302
    assert client.get("/alerts").status_code == 200


def test_a_stale_message_is_listed_as_stale(client, jma, token, services):
    old = services.clock.now() - dt.timedelta(days=3)
    assert jma.handle(jmautil.quake_detail(1, old.replace(microsecond=0)), "inbox:old.xml") == \
        (True, "stale")
    items = client.get("/api/alerts", headers=bearer(token)).get_json()
    assert items[-1]["status"] == "stale" and items[-1]["type"] == "VXSE53"
    assert jma.item(items[-1]["id"])["bulletin"] is None
