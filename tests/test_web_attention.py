"""A partial or failed airing stays in red on the status page until a staff member
acknowledges it: in-process through the test client and the API, then in Chromium."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from announcer.audio.fake import FakeOutput
from tests.webutil import (ARTIFACTS, KNOWN_LEAKS, OPERATOR, app, base_url, browser,  # noqa: F401
                           client, csrf, log_in, login, page, services, staff)

pytestmark = KNOWN_LEAKS


@pytest.fixture(scope="module")
def output():
    return FakeOutput()


def partial_row(services, title="避難指示（中郷地区）") -> int:
    now = services.clock.now()
    row = services.store.airing_started("bulletin", f"b-{title}", title, None, now)
    services.store.airing_ended(row, "partial", now + dt.timedelta(seconds=30),
                                "missing: 「中郷地区の皆さんは、」")
    return row


def attention(staff) -> list[dict]:
    return staff.get("/staff/status").get_json()["attention"]


def test_a_partial_airing_waits_in_red_until_acknowledged(staff, services):
    row = partial_row(services)
    html = staff.get("/").get_data(as_text=True)
    assert '<section id="attention" class="card attention" aria-live="assertive">' in html
    assert "避難指示（中郷地区）" in html and "合成できず抜けた文: 「中郷地区の皆さんは、」" in html
    (item,) = [a for a in attention(staff) if a["rowid"] == row]
    assert (item["status_label"], item["kind_label"]) == ("一部のみ放送", "緊急放送")
    resp = staff.post(f"/staff/airlog/{row}/ack", json={},
                      headers={"X-CSRF-Token": csrf(staff)})
    assert resp.status_code == 200 and resp.get_json()["acknowledged_by"] == OPERATOR
    assert [a for a in attention(staff) if a["rowid"] == row] == []
    again = staff.post(f"/staff/airlog/{row}/ack", json={},
                       headers={"X-CSRF-Token": csrf(staff)})
    assert again.status_code == 404
    (audit,) = [r for r in services.accounts.audit_log() if r["action"] == "airlog.ack"
                and r["detail"] == {"id": row}]
    assert audit["who"] == OPERATOR


def test_acknowledging_needs_the_csrf_token(staff, services):
    row = partial_row(services, "CSRF")
    assert staff.post(f"/staff/airlog/{row}/ack", json={}).status_code in (400, 403)
    assert [a for a in attention(staff) if a["rowid"] == row]


def test_an_aired_row_needs_no_acknowledgement(staff, services):
    now = services.clock.now()
    row = services.store.airing_record("notice", "ok", "ふつう", now, "aired", at=now)
    resp = staff.post(f"/staff/airlog/{row}/ack", json={},
                      headers={"X-CSRF-Token": csrf(staff)})
    assert resp.status_code == 404


@pytest.mark.browser
def test_the_red_card_goes_when_acknowledged_in_the_browser(page, services):
    row = partial_row(services, "ブラウザで確認")
    log_in(page)
    card = page.locator("#attention")
    expect(card).to_be_visible()
    item = card.locator("li", has_text="ブラウザで確認")
    expect(item).to_contain_text("一部のみ放送")
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screenshots" / "status-attention-tablet.png"),
                    full_page=True)
    item.get_by_role("button", name="確認しました").click()
    expect(card.locator("li", has_text="ブラウザで確認")).to_have_count(0)
    assert services.store.query("SELECT acked_by FROM airlog WHERE rowid=?",
                                (row,))[0]["acked_by"] == OPERATOR


def test_the_api_acknowledges_with_a_token(client, services):
    row = partial_row(services, "API")
    token = services.accounts.create_token("attention-test")
    headers = {"Authorization": f"Bearer {token}"}
    rows = client.get("/api/airlog", headers=headers).get_json()
    assert {"rowid": row, "status": "partial"}.items() <= next(
        r for r in rows if r["rowid"] == row).items()
    resp = client.post(f"/api/airlog/{row}/ack", headers=headers)
    assert resp.status_code == 200
    assert client.post(f"/api/airlog/{row}/ack", headers=headers).status_code == 404
    assert client.post(f"/api/airlog/{row}/ack").status_code == 401


@pytest.mark.parametrize("detail, words", [
    ("missing: 「二文目」", "合成できず抜けた文: 「二文目」"),
    ("stopped", "本体（放送プログラム）の停止"),
    ("stopped; replayed from start", "本体の停止で中断・再起動後に最初から放送し直し"),
    ("cut by a restart; skipped (too late)", "本体の異常終了で中断・遅すぎたので放送し直さず"),
    ("due while the daemon was starting", "本体の起動中に時刻が来た（猶予を過ぎた）"),
    ("tanaka が停止しました", "tanaka が停止しました"),
])
def test_details_are_shown_in_staff_words(detail, words):
    from announcer.record.airlog_csv import airlog_csv_text, detail_words

    assert detail_words(detail) == words
    row = {"kind": "notice", "id": "n", "title": "t", "scheduled_at": None,
           "started_at": None, "ended_at": None, "status": "missed", "detail": detail}
    assert words in airlog_csv_text([row])


# -- re-air from the red card (issue 17) ---------------------------------------------------
def test_reair_from_the_red_card_is_a_new_linked_bulletin_after_a_confirm(staff, services):
    bid, _ = services.station.submit_bulletin("中郷地区に避難指示。直ちに避難してください。",
                                              interrupt=False, title="避難指示（中郷地区）",
                                              by="someone")
    now = services.clock.now()
    row = services.store.airing_started("bulletin", bid, "避難指示（中郷地区）", None, now)
    services.store.airing_ended(row, "failed", now, "no speech; missing: 「中郷地区に避難指示。」")
    (card,) = [a for a in attention(staff) if a["rowid"] == row]
    assert card["reair"] is True
    html = staff.get("/").get_data(as_text=True)
    assert f'href="/reair/{row}"' in html and "もう一度放送する…" in html
    confirm = staff.get(f"/reair/{row}")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and confirm.headers["Cache-Control"] == "no-store"
    assert "もう一度放送しますか？" in page and "中郷地区に避難指示。直ちに避難してください。" in page
    assert 'id="reair-btn" data-autofocus>放送する</button>' in page
    assert "音声が一文も出なかった（チャイムだけ）" in page
    key = page.split('name="request_key" value="')[1].split('"')[0]
    assert staff.post(f"/reair/{row}", data={"request_key": key}).status_code == 400
    resp = staff.post(f"/reair/{row}", data={"csrf_token": csrf(staff), "request_key": key})
    assert resp.status_code == 303
    new = resp.headers["Location"].split("sent=")[1]
    b = services.station.bulletin(new)
    assert (b["text"], b["title"], b["reair_of"], b["created_by"]) == (
        "中郷地区に避難指示。直ちに避難してください。", "再放送：避難指示（中郷地区）", bid, OPERATOR)
    assert [a for a in attention(staff) if a["rowid"] == row] == []  # the card goes
    (audit,) = [r for r in services.accounts.audit_log() if r["action"] == "bulletin.reair"]
    assert (audit["who"], audit["detail"]["reair_of"], audit["detail"]["id"]) == (
        OPERATOR, bid, new)
    again = staff.post(f"/reair/{row}", data={"csrf_token": csrf(staff),
                                                    "request_key": key})
    assert again.status_code == 404  # resent from the history: aired once
    sent = staff.get(f"/?sent={new}").get_data(as_text=True)
    assert "放送待ちの" in sent or "いま放送中です" in sent
    for b_id in (bid, new):
        services.station.cancel_bulletin(b_id)


def test_a_notice_row_has_no_reair_button(staff, services):
    now = services.clock.now()
    row = services.store.airing_record("notice", "late", "夜のお知らせ", now, "failed",
                                       "render failed: x", at=now)
    (card,) = [a for a in attention(staff) if a["rowid"] == row]
    assert card["reair"] is False
    assert staff.get(f"/reair/{row}").status_code == 409
    services.store.acknowledge(row, "t", now)
