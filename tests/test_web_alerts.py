"""The 「気象庁の情報」 page and API through Flask's test client, with a real studio,
SQLite, station (fake output, never pulled: queued airings stay queued) and a real
JmaService fed through its inbox entry point."""

import datetime as dt

import pytest

from announcer.audio.fake import FakeOutput
from announcer.web.app import create_app
from tests import jmautil
from tests.jmautil import landslide_auto, sample, storm_approve, variant
from tests.webutil import (KNOWN_LEAKS, OPERATOR, cancel_open_bulletins, client, csrf, jma,
                           login, services, staff)

pytestmark = KNOWN_LEAKS
FIELDS = {"id", "type", "title", "areas", "received_at", "decision", "status", "text"}


@pytest.fixture(scope="module")
def output():
    return FakeOutput()


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


# -- stopping a JMA item, and what the page tells (issue 17) ----------------------------
def fresh_auto(n: int) -> bytes:
    """An automatic relay queued at once (a quake of its own)."""
    return jmautil.quake_of_its_own(n)


def test_delete_api_stops_a_queued_jma_item_once_and_is_audited(client, jma, token, services):
    assert jma.handle(fresh_auto(1), "inbox:stop.xml") == (True, "approved")
    item = next(i for i in reversed(jma.items(services.clock.now().date()))
                if i["status"] == "approved")
    bid = jma.bulletin_of(item["id"])
    reader = services.accounts.create_token("reader", by="test", scope="read")
    assert client.delete(f"/api/alerts/{item['id']}", headers=bearer(reader)).status_code == 403
    assert client.delete(f"/api/alerts/{item['id']}").status_code == 401
    resp = client.delete(f"/api/alerts/{item['id']}", headers=bearer(token))
    assert resp.status_code == 200
    assert resp.get_json() == {"id": item["id"], "bulletin": bid, "status": "cancelled"}
    services.station.engine.drain_events()
    assert services.station.bulletin(bid)["state"] == "cancelled"
    assert bid not in [q["id"] for q in services.station.status()["queue"]]
    again = client.delete(f"/api/alerts/{item['id']}", headers=bearer(token))
    assert again.status_code == 409
    assert again.get_json() == {"error": "この情報はいま放送中でも放送待ちでもありません"}
    assert client.delete("/api/alerts/nope", headers=bearer(token)).status_code == 404
    (audit,) = [a for a in services.accounts.audit_log() if a["action"] == "alert.stop"]
    assert (audit["who"], audit["detail"]) == (
        "token:city", {"id": item["id"], "bulletin": bid, "title": item["title"]})
    jma.tick()
    assert jma.item(item["id"])["status"] == "withdrawn"


def test_a_pending_draft_is_not_on_air_or_queued(client, jma, token, services):
    assert jma.handle(jmautil.tornado_south(), "inbox:tornado.xml") == (True, "pending")
    (draft,) = [i for i in jma.db.open_items() if i["status"] == "pending"]
    assert client.delete(f"/api/alerts/{draft['id']}", headers=bearer(token)).status_code == 409
    jma.discard(draft["id"], "test")


def test_the_status_page_stops_a_queued_jma_item(staff, jma, services):
    assert jma.handle(fresh_auto(2), "inbox:stop2.xml") == (True, "approved")
    item = next(i for i in reversed(jma.items(services.clock.now().date()))
                if i["status"] == "approved")
    (queued,) = [q for q in staff.get("/staff/status").get_json()["queue"]
                 if q["id"] == jma.bulletin_of(item["id"])]
    html = staff.get("/").get_data(as_text=True)
    assert f'action="/staff/items/alert/{queued["id"]}/stop"' in html
    resp = staff.post(f"/staff/items/alert/{queued['id']}/stop", json={},
                      headers={"X-CSRF-Token": csrf(staff)})
    assert resp.status_code == 200 and resp.get_json()["by"] == OPERATOR
    services.station.engine.drain_events()
    assert services.station.bulletin(queued["id"])["state"] == "cancelled"
    wrong_kind = staff.post(f"/staff/items/bulletin/{queued['id']}/stop", json={},
                            headers={"X-CSRF-Token": csrf(staff)})
    assert wrong_kind.status_code == 404
    actions = [(a["who"], a["action"], a["detail"].get("id")) for a in services.accounts.audit_log()]
    assert (OPERATOR, "alert.stop", queued["id"]) in actions


def test_the_page_says_who_approved_what_was_not_for_us_and_no_contradiction(
        staff, jma, services):
    later = jmautil.now() + dt.timedelta(minutes=1)  # another 竜巻注意情報 of its own
    assert jma.handle(jmautil.tornado_south(later), "inbox:tornado2.xml") == (True, "pending")
    (draft,) = [i for i in jma.db.open_items() if i["status"] == "pending"]
    confirm = staff.post(f"/alerts/{draft['id']}/confirm", data={"csrf_token": csrf(staff)})
    html = confirm.get_data(as_text=True)
    assert "いま放送中のものが終わりしだい（途中で切りません）" in html
    assert "2 回（あいだに「繰り返します。」）" in html and "までに放送できなければ" in html
    assert 'id="approve-btn" data-autofocus>放送する</button>' in html
    staff.post(f"/alerts/{draft['id']}/approve", data={"csrf_token": csrf(staff)})
    elsewhere = jmautil.at(sample("15_16_01_241031_VPWW56.xml"))  # 稚内市: not ours
    assert jma.handle(elsewhere, "inbox:wakkanai.xml")[1].startswith("ignored")
    assert jma.handle(variant(fresh_auto(3), status="訓練"), "inbox:drill.xml") == (
        True, "ignored")
    page = staff.get("/alerts").get_data(as_text=True)
    row = page[page.index(f'data-id="{draft["id"]}"'):]
    assert f'承認: {OPERATOR}' in row[:row.index("</tr>")]
    drill = next(i for i in jma.items(services.clock.now().date())
                 if i["title"].startswith("【訓練】"))
    row = page[page.index(f'data-id="{drill["id"]}"'):]
    row = row[:row.index("</tr>")]
    assert "自動で放送" not in row and "放送しない" in row
    passed = page[page.index('id="passed-over"'):]
    assert "放送の対象外だった電文" in passed and "wakkanai.xml" in passed
    assert "対象地域外" in passed
    cancel_open_bulletins(services)
