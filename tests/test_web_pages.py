"""The staff pages and their JSON, through Flask's test client, against a real studio
(synthesis workers), SQLite and the playout engine. The output is the fake one and is
never pulled, so accepted bulletins stay in the queue where the tests can see them."""

import io
import re
import uuid
import wave

import pytest

from announcer.audio.fake import FakeOutput
from announcer.web.app import create_app
from announcer.web.pages import BLANK, TEMPLATES
from announcer.web.preview import PREVIEW_CHARS, preview_text
from announcer.web.throttle import LoginThrottle
from tests.webutil import (ADMIN, ADMIN_PASSWORD, KNOWN_LEAKS, LATE_NOTICE, OPERATOR, app,
                           cancel_open_bulletins, client, csrf, login, services, staff)

pytestmark = KNOWN_LEAKS

KEY = "0123456789abcdef0123456789abcdef"
XSS = "<script>alert(1)</script>真岡市"
LONG = ("あいうえお。" * 834)[:5000]


@pytest.fixture(scope="module")
def output():
    return FakeOutput()


@pytest.fixture(autouse=True)
def empty_queue(services):
    yield
    cancel_open_bulletins(services)


def post_json(client, url, body, token=True):
    headers = {"X-CSRF-Token": csrf(client)} if token else {}
    return client.post(url, json=body, headers=headers)


def submit(client, text, key=None, **options):
    key = key if key is not None else uuid.uuid4().hex
    return post_json(client, "/staff/bulletins", {"text": text, "request_key": key, **options})


def queued_ids(services):
    return [i.id for i in services.station.engine.queued()]


def audit_actions(services, action):
    return [r for r in services.accounts.audit_log() if r["action"] == action]


# -- sessions, login, CSRF -------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/emergency", "/audit"])
def test_pages_without_session_redirect_to_login(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/login?next={path}"


@pytest.mark.parametrize("method,path", [("GET", "/staff/status"), ("POST", "/staff/reading"),
                                         ("POST", "/staff/preview"),
                                         ("POST", "/staff/bulletins"),
                                         ("POST", "/staff/bulletins/x/stop")])
def test_json_without_session_is_401(client, method, path):
    resp = client.open(path, method=method, json={"text": "テスト"})
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "ログインしてください"}


def test_login_page(client):
    resp = client.get("/login")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f'name="csrf_token" value="{csrf(client)}"' in html
    assert '<label for="password">パスワード</label>' in html
    assert "<h1>ログイン</h1>" in html


def test_login_then_status_page(client):
    resp = login(client)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert "<h1>放送の状態</h1>" in html
    assert "いま放送しているものはありません" in html
    assert '<section id="health" class="health health-ok"' in html
    assert "正常：音声・お知らせ・気象庁の情報・音声合成・監視に問題はありません" in html
    assert ">緊急放送を出す</a>" in html
    assert LATE_NOTICE in html


def test_wrong_password_is_401(client, services):
    resp = login(client, password="wrong-password")
    assert resp.status_code == 401
    assert "名前かパスワードが違います" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_throttled_with_growing_delays(services):
    app = create_app(services, testing=True)
    now = [1000.0]
    app.extensions["announcer.throttle"] = LoginThrottle(clock=lambda: now[0])
    client = app.test_client()
    for _ in range(2):
        assert login(client, password="wrong-password").status_code == 401
    resp = login(client, password="wrong-password")
    assert resp.status_code == 401
    assert "この名前は 1 秒後から、もう一度入力できます" in resp.get_data(as_text=True)
    resp = login(client)  # even the right password, until the delay is over
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert "この名前はあと 1 秒ログインできません" in resp.get_data(as_text=True)
    now[0] += 1.0
    assert login(client, password="wrong-password").status_code == 401
    assert login(client).headers["Retry-After"] == "2"  # the delay doubles
    now[0] += 2.0
    assert login(client).status_code == 302


def test_login_without_csrf_is_400(client):
    client.get("/login")
    resp = client.post("/login", data={"name": "tanaka", "password": "password123"})
    assert resp.status_code == 400


@pytest.mark.parametrize("path,body", [
    ("/staff/reading", {"text": "真岡市"}),
    ("/staff/preview", {"text": "真岡市"}),
    ("/staff/bulletins", {"text": "真岡市", "request_key": KEY}),
    ("/staff/bulletins/{id}/stop", {}),
])
def test_json_posts_without_csrf_are_400(staff, services, path, body):
    bid, _ = services.station.submit_bulletin("停止の試験です。", interrupt=False)
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        resp = staff.post(path.format(id=bid), json=body, headers=headers)
        assert resp.status_code == 400
        assert resp.get_json()["error"].startswith("画面の有効期限が切れました")
    assert queued_ids(services) == [bid]  # neither submitted nor stopped


def test_form_posts_without_csrf_are_400(staff, services):
    resp = staff.post("/emergency", data={"text": "真岡市", "step": "air", "request_key": KEY})
    assert resp.status_code == 400
    assert "画面の有効期限が切れました" in resp.get_data(as_text=True)
    assert queued_ids(services) == []
    assert staff.post("/logout").status_code == 400
    assert staff.get("/").status_code == 200  # still logged in


# -- reading and preview ---------------------------------------------------------------
def test_reading_is_katakana(staff):
    resp = post_json(staff, "/staff/reading", {"text": "真岡市の【　　】地区に避難指示"})
    assert resp.status_code == 200
    data = resp.get_json()
    assert "モーカシ" in data["reading"]
    assert re.fullmatch(r"[ァ-ヺー、。]+", data["reading"])
    assert data["blanks"] == 1


@pytest.mark.parametrize("body,status,error", [
    ({"text": ""}, 422, "原稿が空です。放送する文章を入力してください"),
    ({"text": "。"}, 422, "読み上げられる文字がありません"),
    ({"text": "{真岡|mooka}"}, 422, "読みはカタカナで書いてください: {真岡|mooka}"),
    ({"text": "真岡", "repeat": 6}, 422, "繰り返し回数は 1 から 5 までにしてください"),
    ({"text": "真岡", "color": "red"}, 400, "不明な項目があります: color"),
    ([1, 2], 400, "JSON のオブジェクトで送ってください"),
])
def test_reading_refuses_bad_input(staff, body, status, error):
    resp = post_json(staff, "/staff/reading", body)
    assert resp.status_code == status
    assert resp.get_json() == {"error": error}


def test_inline_reading_overrides(staff):
    resp = post_json(staff, "/staff/reading", {"text": "{真岡|マオカ}"})
    assert resp.get_json()["reading"] == "マオカ"


def test_preview_is_a_wav_and_audited(staff, services):
    resp = post_json(staff, "/staff/preview", {"text": "真岡市からお知らせします。", "chime": False})
    assert resp.status_code == 200
    assert resp.content_type == "audio/wav"
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.get_data()
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    with wave.open(io.BytesIO(body)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 48000)
        assert w.getnframes() / w.getframerate() > 1.0
    last = audit_actions(services, "bulletin.preview")[0]
    assert last["who"] == "tanaka"
    assert last["detail"] == {"text": "真岡市からお知らせします。", "chime": False, "test": False,
                              "voice": "aika"}


def test_preview_text_is_cut_after_a_sentence():
    text = "あ" * 250 + "。" + "い" * 300
    assert preview_text(text) == "あ" * 250 + "。"
    assert preview_text("短い。") == "短い。"
    inline = "う" * 395 + "{真岡|モーカ}" + "え" * 100
    assert preview_text(inline) == "う" * 395
    assert len(preview_text("お" * 1000)) == PREVIEW_CHARS


# -- submit, double submit, stop -------------------------------------------------------
def test_submit_then_double_submit_queues_once(staff, services):
    key = uuid.uuid4().hex
    first = submit(staff, "真岡市から緊急のお知らせです。", key, interrupt=False)
    assert first.status_code == 202
    bid = first.get_json()["id"]
    assert first.get_json() == {"id": bid, "status": "queued"}
    again = submit(staff, "真岡市から緊急のお知らせです。", key, interrupt=False)
    assert again.status_code == 202 and again.get_json() == {"id": bid, "status": "queued"}
    assert queued_ids(services) == [bid]
    assert services.station.bulletin(bid)["created_by"] == "tanaka"
    assert [r["detail"]["id"] for r in audit_actions(services, "bulletin.resubmit")][:1] == [bid]
    submitted = audit_actions(services, "bulletin.submit")[0]["detail"]
    assert submitted == {"id": bid, "title": "真岡市から緊急のお知らせです",
                         "text": "真岡市から緊急のお知らせです。", "repeat": 2,
                         "interrupt": False, "chime": True, "test": False, "voice": "aika"}


def test_two_bulletins_from_one_template_have_their_own_subjects(staff, services):
    _, script, _, _ = TEMPLATES[0]
    texts = [BLANK.sub(place, script) for place in ("中郷", "大内")]
    ids = [submit(staff, text, interrupt=False, title=f"避難指示（{place}地区）").get_json()["id"]
           for text, place in zip(texts, ("中郷", "大内"))]
    ids.append(submit(staff, texts[0], interrupt=False).get_json()["id"])  # no subject given
    queue = staff.get("/staff/status").get_json()["queue"]
    assert [q["title"] for q in queue] == ["避難指示（中郷地区）", "避難指示（大内地区）",
                                           "中郷地区に、避難指示を発令しました"]
    assert [services.station.bulletin(b)["title"] for b in ids] == [q["title"] for q in queue]


def test_same_key_with_another_script_is_refused(staff, services):
    key = uuid.uuid4().hex
    bid = submit(staff, "一つ目の原稿です。", key, interrupt=False).get_json()["id"]
    resp = submit(staff, "二つ目の原稿です。", key, interrupt=False)
    assert resp.status_code == 409
    assert resp.get_json()["error"].startswith("この画面の原稿はすでに送信済みです")
    assert queued_ids(services) == [bid]


@pytest.mark.parametrize("key", [None, "", "short", "x" * 65, 12345, "<script>" * 3])
def test_submit_needs_a_request_key(staff, services, key):
    body = {"text": "真岡市です。"} if key is None else {"text": "真岡市です。", "request_key": key}
    resp = post_json(staff, "/staff/bulletins", body)
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "送信キーがありません。ページを読み込み直してください"}
    assert queued_ids(services) == []


@pytest.mark.parametrize("text,submit_status,reading_status", [
    ("", 422, 422), ("。", 422, 422), ("😀", 422, 422), ("ア" * 400, 202, 200),
    (LONG, 202, 200), (LONG + "あ", 413, 413),
])
def test_hostile_texts_never_crash(staff, services, text, submit_status, reading_status):
    resp = submit(staff, text)
    assert resp.status_code == submit_status
    assert resp.is_json and ("id" in resp.get_json()) == (submit_status == 202)
    assert post_json(staff, "/staff/reading", {"text": text}).status_code == reading_status
    form = staff.post("/emergency", data={"csrf_token": csrf(staff), "text": text,
                                          "repeat": "2", "step": "confirm"})
    assert form.status_code == (200 if submit_status == 202 else submit_status)
    assert staff.get("/healthz").get_json()["status"] == "ok"
    assert "モーカシ" in post_json(staff, "/staff/reading", {"text": "真岡市"}).get_json()["reading"]


def test_stop_a_queued_bulletin(staff, services):
    bid = submit(staff, "停止する緊急放送です。", interrupt=False).get_json()["id"]
    resp = post_json(staff, f"/staff/bulletins/{bid}/stop", {})
    assert resp.status_code == 200
    data = resp.get_json()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", data.pop("stopped_at"))
    assert data == {"id": bid, "status": "cancelled", "by": "tanaka"}
    services.station.engine.drain_events()
    assert queued_ids(services) == []
    assert services.station.bulletin(bid)["state"] == "cancelled"
    stop = audit_actions(services, "bulletin.stop")[0]
    assert stop["detail"] == {"id": bid, "title": "停止する緊急放送です", "text": "停止する緊急放送です。",
                              "state": "queued"}
    row = next(r for r in staff.get("/staff/status").get_json()["airlog"] if r["id"] == bid)
    assert (row["status_label"], row["title"], row["time"], row["detail"]) == (
        "取り消し", "停止する緊急放送です", "—", "tanaka が停止しました")
    again = post_json(staff, f"/staff/bulletins/{bid}/stop", {})
    assert again.status_code == 409
    assert again.get_json() == {"error": "この緊急放送はすでに終わっています（取り消し）"}
    assert post_json(staff, "/staff/bulletins/nope/stop", {}).status_code == 404


def test_stop_a_bulletin_on_air(staff, services, output):
    bid = submit(staff, "放送中に止めます。").get_json()["id"]
    output.run(0.01)  # the engine takes it on air at the next pull
    services.station.engine.on_air().source.first_block.wait(10)
    services.station.engine.drain_events()
    data = staff.get("/staff/status").get_json()
    assert {k: data["on_air"][k] for k in ("kind", "id", "title", "label")} == {
        "kind": "bulletin", "id": bid, "title": "放送中に止めます", "label": "緊急放送"}
    assert [(r["id"], r["status_label"]) for r in data["airlog"]][0] == (bid, "放送中")
    html = staff.get("/").get_data(as_text=True)
    assert '<p id="on-air-title" class="on-air-title">放送中に止めます</p>' in html
    assert 'class="card on-air-card is-live"' in html
    assert post_json(staff, f"/staff/bulletins/{bid}/stop", {}).status_code == 200
    output.run(0.3)  # the stop fade
    services.station.engine.drain_events()
    data = staff.get("/staff/status").get_json()
    assert data["on_air"] is None
    assert [(r["id"], r["status_label"]) for r in data["airlog"]][0] == (bid, "取り消し")
    assert services.station.bulletin(bid)["state"] == "cancelled"


def test_stop_by_plain_form_comes_back_to_status(staff, services):
    bid, _ = services.station.submit_bulletin("フォームで止めます。", interrupt=False)
    resp = staff.post(f"/staff/bulletins/{bid}/stop", data={"csrf_token": csrf(staff)})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    assert queued_ids(services) == []


# -- the status board ------------------------------------------------------------------
def test_status_json(staff, services):
    bid = submit(staff, "状態表示の試験です。\n二行目", interrupt=False).get_json()["id"]
    data = staff.get("/staff/status").get_json()
    assert {"on_air", "queue", "next", "audio", "health", "today", "airlog", "now"} <= set(data)
    assert data["on_air"] is None and data["audio"] == "ok"
    assert data["queue"] == [{"kind": "bulletin", "id": bid, "title": "状態表示の試験です",
                              "label": "緊急放送", "scheduled_at": None, "interrupt": False,
                              "test": False, "position": 1,
                              "reason": "現在の放送のあとに：受け付けた順"}]
    assert {"at": "23:59", "id": "late", "title": LATE_NOTICE} in data["today"]
    html = staff.get("/").get_data(as_text=True)
    assert f'action="/staff/items/bulletin/{bid}/stop"' in html
    assert '<span class="title">状態表示の試験です</span>' in html


def test_degraded_device_shown_in_red(staff, output):
    output.fail("USB audio unplugged")
    try:
        html = staff.get("/").get_data(as_text=True)
        data = staff.get("/staff/status").get_json()
    finally:
        output.recover()
    assert '<section id="health" class="health health-bad"' in html
    assert "音が出ていません（出力機器の異常）" in html
    assert "USB audio unplugged" in html
    assert data["audio"] == "degraded"
    assert data["health"]["audio"] == {"ok": False, "detail": "USB audio unplugged"}


def test_sent_banner(staff, services):
    bid = submit(staff, "受付表示の試験です。", interrupt=False).get_json()["id"]
    html = staff.get(f"/?sent={bid}").get_data(as_text=True)
    assert f"緊急放送「受付表示の試験です」を受け付けました（{bid}）。" in html
    assert "受け付けました" not in staff.get("/?sent=unknown").get_data(as_text=True)


# -- the emergency form ----------------------------------------------------------------
def test_emergency_form(staff):
    resp = staff.get("/emergency")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    for label, text, _, subject in TEMPLATES:
        assert f'data-script="{text}" data-drill="{int(_)}" data-title="{subject}">{label}</button>' in html
    assert re.search(r'name="request_key" value="[0-9a-f]{32}"', html)
    assert '<input type="radio" name="repeat" value="2" checked>' in html
    assert '<input type="radio" name="timing" value="now" checked>' in html
    assert '<input type="checkbox" id="chime" name="chime" value="on" checked>' in html
    assert '<input type="checkbox" id="test" name="test" value="on">' in html
    assert "{漢字|ヨミ}" in html
    keys = {re.search(r'name="request_key" value="(\w+)"', staff.get("/emergency").get_data(
        as_text=True))[1] for _ in range(2)}
    assert len(keys) == 2  # a fresh key each time the form is opened


def form(staff, step, text, key=KEY, **extra):
    data = {"csrf_token": csrf(staff), "request_key": key, "text": text, "repeat": "3",
            "timing": "after", "chime": "on", "step": step, **extra}
    return staff.post("/emergency", data=data)


def test_blanks_block_the_confirm_step(staff, services):
    resp = form(staff, "confirm", "真岡市の【　　】地区と【】地区に避難指示。")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert ('<p id="text-error" class="field-error" role="alert">空欄【　　】が 2 か所残っています。'
            "すべて埋めてから確認へ進んでください</p>") in html
    assert 'id="form-error"' not in html
    assert "<h1>緊急放送</h1>" in html and "\n真岡市の【　　】地区と【】地区に避難指示。</textarea>" in html
    assert form(staff, "air", "真岡市の【　　】地区に避難指示。").status_code == 422
    assert submit(staff, "真岡市の【　　】地区に避難指示。").status_code == 422
    assert queued_ids(services) == []  # nothing with a blank airs


def test_confirm_shows_everything(staff, services):
    resp = form(staff, "confirm", "真岡市の中央地区に避難指示。\r\n二行目です。", title="避難指示（中央）")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert '<p class="confirm-title" id="sum-title">避難指示（中央）</p>' in html
    assert '<input type="hidden" name="title" value="避難指示（中央）">' in html
    assert '<input type="hidden" name="text" value="真岡市の中央地区に避難指示。\n二行目です。">' in html
    assert ">放送する</button>" in html
    assert "モーカシ" in html
    assert '<dd id="sum-repeat">3 回（あいだに「繰り返します。」）</dd>' in html
    assert '<dd id="sum-timing">現在の放送のあとに</dd>' in html
    assert "<dd>21 文字</dd>" in html  # CRLF from the browser is one line end
    assert queued_ids(services) == []  # confirming airs nothing


def test_over_long_script_is_kept_whole_and_refused(staff, services):
    text = "あ" * 6000
    resp = form(staff, "confirm", text)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 413
    assert f"\n{text}</textarea>" in html and "maxlength" not in html
    assert ('<p id="text-error" class="field-error" role="alert">原稿が 1000 文字多すぎます'
            "（いま 6000 文字、上限 5000 文字）。短くしてから確認へ進んでください</p>") in html
    assert queued_ids(services) == []


def test_subject_defaults_and_limits(staff, services):
    html = form(staff, "confirm", "緊急放送、緊急放送。こちらは、真岡市役所です。"
                "中郷地区に、避難指示を発令しました。").get_data(as_text=True)
    assert '<p class="confirm-title" id="sum-title">中郷地区に、避難指示を発令しました</p>' in html
    resp = form(staff, "confirm", "真岡市です。", title="件" * 41)
    assert resp.status_code == 422
    assert "件名が 1 文字多すぎます（41 文字。40 文字以内にしてください）" in resp.get_data(as_text=True)


def test_confirm_without_blanks_in_drill_mode(staff):
    html = form(staff, "confirm", "真岡市の中央地区で訓練です。", test="on").get_data(as_text=True)
    assert "空欄" not in html
    assert ">放送する</button>" in html
    assert '<span class="prefix">これは訓練です。</span>真岡市の中央地区で訓練です。' in html
    assert '<dd id="sum-test">はい（訓練）</dd>' in html


def test_form_air_without_javascript(staff, services):
    key = uuid.uuid4().hex
    resp = form(staff, "air", "フォームから放送します。", key, test="on")
    assert resp.status_code == 303
    bid = services.store.query("SELECT id FROM bulletins WHERE request_key=?",
                               (f"{OPERATOR}\x1f{key}",))[0]["id"]
    assert resp.headers["Location"] == f"/?sent={bid}"
    again = form(staff, "air", "フォームから放送します。", key, test="on")
    assert again.status_code == 303 and again.headers["Location"] == f"/?sent={bid}"
    assert queued_ids(services) == [bid]
    b = services.station.bulletin(bid)
    assert (b["repeat"], b["interrupt"], b["chime"], b["test"]) == (3, False, True, True)
    assert services.station.engine.queued()[0].title == "【訓練】フォームから放送します"


def test_form_errors_keep_the_text(staff, services):
    resp = form(staff, "confirm", "。。。")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert '<p class="alert alert-bad" role="alert" id="form-error">読み上げられる文字がありません</p>' in html
    assert ">\n。。。</textarea>" in html
    assert f'name="request_key" value="{KEY}"' in html
    assert form(staff, "confirm", "真岡", repeat="x").status_code == 422


def test_form_edit_goes_back_with_everything(staff):
    html = form(staff, "edit", "直す原稿【　　】").get_data(as_text=True)
    assert ">\n直す原稿【　　】</textarea>" in html
    assert f'name="request_key" value="{KEY}"' in html
    assert '<input type="radio" name="repeat" value="3" checked>' in html
    assert '<input type="radio" name="timing" value="after" checked>' in html
    assert "空欄 残り 1 か所" in html


# -- escaping and the audit log --------------------------------------------------------
def test_script_tags_are_shown_as_text(staff, services, app):
    bid = submit(staff, XSS, interrupt=False).get_json()["id"]
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    pages = {"status": staff.get("/").get_data(as_text=True),
             "confirm": form(staff, "confirm", XSS).get_data(as_text=True),
             "edit": form(staff, "edit", XSS).get_data(as_text=True)}
    admin = app.test_client()
    assert login(admin, ADMIN, ADMIN_PASSWORD).status_code == 302
    pages["audit"] = admin.get("/audit").get_data(as_text=True)
    for name, html in pages.items():
        assert escaped in html, name
        assert "<script>alert" not in html, name
    assert staff.get("/staff/status").get_json()["queue"][0]["title"] == XSS


def test_audit_is_for_admins(staff, app, services):
    resp = staff.get("/audit")
    assert resp.status_code == 403
    assert "この画面は管理者だけが使えます。" in resp.get_data(as_text=True)
    submit(staff, "監査ログの試験です。", interrupt=False)
    admin = app.test_client()
    login(admin, ADMIN, ADMIN_PASSWORD)
    html = admin.get("/audit").get_data(as_text=True)
    assert '<td data-label="操作">緊急放送の送信</td>' in html
    assert "<dt>原稿</dt><dd>監査ログの試験です。</dd>" in html
    assert "<dt>今すぐ割り込む</dt><dd>いいえ</dd>" in html
    assert '<td data-label="だれが">tanaka</td>' in html
    assert "bulletin.submit</" not in html and "<dt>text</dt>" not in html
    assert "条件に合う記録はありません" in admin.get("/audit?date=2001-01-01").get_data(as_text=True)
    assert "日付は 2026-12-03 のように" in admin.get("/audit?date=x").get_data(as_text=True)


def test_audit_is_paged_and_filtered(app, services):
    for n in range(55):
        services.accounts.audit("yamada", "reading.edit", {
            "surface": f"語{n}", "before": "真岡,モオカ,0,5\n", "after": "真岡,モーカ,0,5\n"})
    admin = app.test_client()
    login(admin, ADMIN, ADMIN_PASSWORD)
    first = admin.get("/audit?who=yamada").get_data(as_text=True)
    assert '<p class="count" id="audit-count">55 件（1〜50 件目を表示）</p>' in first
    assert first.count('<td data-label="だれが">yamada</td>') == 50
    assert "1 / 2 ページ" in first and "古い 50 件 →" in first
    assert ('<div class="diff-line diff-del"><span class="diff-mark" aria-hidden="true">−</span>'
            '<span class="sr-only">削除:</span>真岡,モオカ,0,5</div>') in first
    assert "<dt>表記</dt><dd>語54</dd>" in first  # newest first
    second = admin.get("/audit?who=yamada&page=2").get_data(as_text=True)
    assert second.count('<td data-label="だれが">yamada</td>') == 5
    group = admin.get("/audit?action=reading&who=yamada").get_data(as_text=True)
    assert "55 件" in group
    assert "0 件" in admin.get("/audit?action=notice&who=yamada").get_data(as_text=True)


def test_security_headers(staff):
    resp = staff.get("/")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    html = resp.get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html  # nothing inline for the CSP


def test_stop_a_notice_on_air(staff, services, output):
    notice = services.station.notices.notices["late"]
    services.station.cue(notice, services.clock.now())
    services.station.wait_cues()
    output.run(0.05)
    services.station.engine.drain_events()
    assert services.station.engine.on_air().id == "late"
    html = staff.get("/").get_data(as_text=True)
    assert 'action="/staff/items/notice/late/stop"' in html
    resp = post_json(staff, "/staff/items/notice/late/stop", {})
    assert resp.status_code == 200 and resp.get_json()["by"] == "tanaka"
    output.run(0.3)
    services.station.engine.drain_events()
    row = staff.get("/staff/status").get_json()["airlog"][0]
    assert (row["id"], row["status_label"], row["detail"]) == ("late", "取り消し",
                                                               "tanaka が停止しました")
    assert audit_actions(services, "notice.stop")[0]["detail"] == {
        "id": "late", "title": LATE_NOTICE, "state": "on_air"}
    again = post_json(staff, "/staff/notices/late/stop", {})  # the older address
    assert again.status_code == 409
    assert again.get_json() == {"error": "そのお知らせはいま放送中でも放送待ちでもありません"}


def test_no_page_reloads_notices_on_get(staff, services, app):
    folder = services.config.paths.schedules
    (folder / "unseen.yaml").write_text(
        'notices:\n  - {id: unseen, title: 未読込, text: まだです。, times: ["12:00"]}\n',
        encoding="utf-8")
    admin = app.test_client()
    login(admin, ADMIN, ADMIN_PASSWORD)
    try:
        for path in ("/", "/staff/status", "/notices", "/timetable", "/emergency"):
            assert staff.get(path).status_code == 200, path
        assert admin.get("/audit").status_code == 200
        assert "unseen" not in services.station.notices.notices
        assert "未読込" not in staff.get("/notices").get_data(as_text=True)
        services.station.reload_notices()  # the daemon's poller (or a page save) does this
        assert "未読込" in staff.get("/notices").get_data(as_text=True)
    finally:
        (folder / "unseen.yaml").unlink()
        services.station.reload_notices()


def test_api_takes_a_subject_and_airlog_rows_carry_it(services, app):
    token = services.accounts.create_token("city")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    resp = client.post("/api/bulletins", json={"text": "API からの放送です。", "title": "API 件名",
                                               "interrupt": False}, headers=auth)
    assert resp.status_code == 202
    bid = resp.get_json()["id"]
    assert client.get(f"/api/bulletins/{bid}", headers=auth).get_json()["title"] == "API 件名"
    default = client.post("/api/bulletins", json={"text": "件名のない放送です。二文目。",
                                                  "interrupt": False}, headers=auth).get_json()
    assert services.station.bulletin(default["id"])["title"] == "件名のない放送です"
    bad = client.post("/api/bulletins", json={"text": "x", "title": 5}, headers=auth)
    assert bad.status_code == 400 and bad.get_json() == {"error": "title の型が違います"}
    services.station.cancel_bulletin(bid)
    services.station.engine.drain_events()
    rows = client.get("/api/airlog", headers=auth).get_json()
    assert {"kind": "bulletin", "id": bid, "title": "API 件名", "status": "cancelled"}.items() \
        <= next(r for r in rows if r["id"] == bid).items()
# -- the silence monitor's block (issue 11): absent when monitor.device is not set ------
def test_no_monitor_block_without_monitor_device(staff):
    html = staff.get("/").get_data(as_text=True)
    assert 'id="monitor"' not in html and "monitor.js" not in html
    assert staff.get("/staff/monitor").get_json() == {"enabled": False}


def test_the_confirm_step_reads_in_the_try_out_slots_and_never_blocks_airing(
        staff, services, app):
    from announcer.web.preview import READING_SLOTS

    import threading
    slots = app.extensions.setdefault("announcer.reading",
                                      threading.BoundedSemaphore(READING_SLOTS))
    for _ in range(READING_SLOTS):  # every try-out slot taken (previews in flight)
        assert slots.acquire(timeout=1)
    try:
        resp = form(staff, "confirm", "真岡市の中郷地区に避難指示を発令しました。")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200
        assert "混み合っているため、いまは読みを表示できません。放送はできます。" in html
        assert 'name="step" value="air"' in html
    finally:
        for _ in range(READING_SLOTS):
            slots.release()
    resp = form(staff, "confirm", "真岡市の中郷地区に避難指示を発令しました。")
    assert "モーカシ" in resp.get_data(as_text=True)


# -- one health verdict (issue 17) --------------------------------------------------------
def test_page_api_and_healthz_give_the_same_verdict_never_green_while_bad(staff, services,
                                                                        app):
    from announcer.core import events

    token = services.accounts.create_token("verdict", by="test", scope="read")
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    events.publish("jma_stale", "feed", False, "250 秒以上読めていません")
    events.publish("speech", "workers", False, "60 秒間に 3 回、音声合成の処理が異常終了")
    events.publish("printer", "p1", False, "unknown kind")
    try:
        health = api.get("/healthz", headers=headers).get_json()["verdict"]
        status = api.get("/api/status", headers=headers).get_json()["verdict"]
        board = staff.get("/staff/status").get_json()
        html = staff.get("/").get_data(as_text=True)
    finally:
        for kind, key in (("jma_stale", "feed"), ("speech", "workers"), ("printer", "p1")):
            events.publish(kind, key, True)
    assert health == status == board["verdict"]
    assert health["level"] == "bad"
    assert [p["kind"] for p in health["problems"]] == ["jma_stale", "speech", "printer"]
    assert health["headline"].startswith("気象庁の情報が届いていません")
    assert '<section id="health" class="health health-bad"' in html
    assert "音声合成が異常終了しています" in html and "異常があります（printer）" in html
    assert board["health_view"]["level"] == "bad"
    assert "status" in api.get("/healthz").get_json()  # without a token: no details
    assert "verdict" not in api.get("/healthz").get_json()
    assert staff.get("/staff/status").get_json()["verdict"]["level"] == "ok"


# -- the smaller items of issue 17 ----------------------------------------------------------
def test_admin_pages_say_roles_in_words_ask_before_removing_and_keep_revoked_tokens(
        app, services):
    admin = app.test_client()
    login(admin, ADMIN, ADMIN_PASSWORD)
    users = admin.get("/admin/users").get_data(as_text=True)
    assert '<option value="operator" selected>オペレーター</option>' in users
    assert ">operator</option>" not in users
    assert f'data-confirm="{OPERATOR} を削除しますか？"' in users
    services.accounts.create_token("legacy", by=ADMIN)
    tokens = admin.get("/admin/tokens").get_data(as_text=True)
    assert 'data-confirm="トークン legacy を無効にしますか？"' in tokens
    assert admin.post("/admin/tokens/legacy/revoke",
                      data={"csrf_token": csrf(admin)}).status_code == 303
    tokens = admin.get("/admin/tokens").get_data(as_text=True)
    revoked = tokens[tokens.index('<table class="log revoked cards"'):]
    assert '<td data-label="名前">legacy</td>' in revoked and f">{ADMIN}</td>" in revoked


def test_audit_rows_fold_whole_scripts_away(app, services):
    script = "中郷地区に避難指示を発令しました。" * 20
    services.accounts.audit("kimura", "bulletin.stop", {"id": "b1", "text": script})
    services.accounts.audit("kimura", "user.role", {"name": "sato", "role": "operator"})
    admin = app.test_client()
    login(admin, ADMIN, ADMIN_PASSWORD)
    html = admin.get("/audit?who=kimura").get_data(as_text=True)
    assert "<dt>役割</dt><dd>オペレーター</dd>" in html  # in words, never raw
    assert f"<dd>{script[:60]}…（全 {len(script)} 文字）<details class=\"whole\">" in html
    assert html.count(script) == 1  # once, folded away


def test_at_night_the_status_page_says_when_the_next_notice_is():
    import datetime as dt
    from types import SimpleNamespace

    from announcer.core.clock import TOKYO
    from announcer.web.board import next_notice

    now = dt.datetime(2026, 12, 3, 23, 59, 59, 500000, tzinfo=TOKYO)  # a Thursday
    gomi = SimpleNamespace(title="ごみ収集のお知らせ")

    def view(*airings):
        return SimpleNamespace(upcoming=lambda hours, start: list(airings))

    assert next_notice(view((dt.datetime(2026, 12, 4, 7, 30, tzinfo=TOKYO), gomi)), now) == \
        "次は 明日 07:30「ごみ収集のお知らせ」です"
    assert next_notice(view((dt.datetime(2026, 12, 5, 7, 30, tzinfo=TOKYO), gomi)), now) == \
        "次は 12月5日（土） 07:30「ごみ収集のお知らせ」です"
    assert next_notice(view(), now) == "これから 1 週間、放送するお知らせはありません"


# -- the status page shows the latest airings of a long day, not all of them ----------------
def test_a_long_day_shows_its_latest_airings_and_says_where_the_rest_are(services, staff):
    now = services.clock.now()
    rows = [services.store.airing_started("notice", f"long-day-{n}", f"長い一日 {n:02d}", now, now)
            for n in range(40)]
    try:
        html = staff.get("/").get_data(as_text=True)
        log = html[html.index('id="airlog"'):html.index("</tbody>", html.index('id="airlog"'))]
        shown = re.findall(r"長い一日 (\d\d)", log)
        assert shown[:2] == ["39", "38"] and len(shown) <= 30  # newest first
        assert "00" not in shown
        note = re.search(r'id="airlog-more">(.*?)</p>', html, re.S).group(1)  # not hidden
        assert "全部で" in note and 'href="/timetable"' in note
        status = staff.get("/staff/status").get_json()  # what the page redraws from
        assert len(status["airlog"]) == 30 and status["airlog_total"] >= 40
    finally:
        services.store.execute(f"DELETE FROM airlog WHERE rowid IN ({','.join('?' * len(rows))})",
                               rows)
    assert 'id="airlog-more" hidden>' in staff.get("/").get_data(as_text=True)
