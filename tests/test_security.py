"""The staff page and the API under attack, in-process (a real station: synthesis
workers, SQLite, the file output). Each test performs one attack of issue 9 and checks
that it fails; ``test_security_flood.py`` floods the real daemon."""

import dataclasses
import datetime as dt
import io
import re
import threading
import time
import uuid
import wave

import pytest
from waitress.server import create_server
from werkzeug.middleware.proxy_fix import ProxyFix

from announcer.record.store import iso
from announcer.web.app import create_app
from announcer.web.preview import PREVIEW_KANA, PREVIEW_SPOKEN, bounded_sentences
from announcer.web.server import WEB_THREADS
from announcer.web.throttle import ADDR_FREE, AUDIT_PER_ADDR, MAX_KEYS, LoginThrottle
from tests.httputil import Browser
from tests.webutil import (ADMIN, ADMIN_PASSWORD, KNOWN_LEAKS, OPERATOR, PASSWORD, app,
                           cancel_open_bulletins, client, csrf, login, output, services,
                           shipped_dictionary_only, staff)

pytestmark = KNOWN_LEAKS
OPEN = {"auth.login", "healthz", "static", "public.file"}  # /public/: the published folder
_ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def fresh_app(services, clock=None, sleep=None):
    """An app with its own login throttle (fake time when asked)."""
    new = create_app(services, testing=True)
    new.extensions["announcer.throttle"] = LoginThrottle(
        clock=clock or time.monotonic, sleep=sleep or (lambda s: None))
    return new


def ensure_user(services, name, password="right-password", role="operator"):
    if services.accounts.user(name) is None:
        services.accounts.add_user(name, password, role)


def from_addr(app_, addr):
    c = app_.test_client()
    c.environ_base["REMOTE_ADDR"] = addr
    return c


def token(services, scope="bulletins", name=None, **kw) -> str:
    return services.accounts.create_token(name or f"t{uuid.uuid4().hex[:8]}", scope=scope, **kw)


def bearer(value):
    return {"Authorization": f"Bearer {value}"}


def audit_rows(services, action, since):
    return [r for r in services.accounts.audit_log(limit=100_000)
            if r["action"] == action and r["rowid"] > since]


def last_audit(services) -> int:
    rows = services.accounts.audit_log(limit=1)
    return rows[0]["rowid"] if rows else 0


# -- every route needs a session or a token ---------------------------------------------
def example_url(rule) -> str:
    def value(m):
        converter, options, _name = m.groups()
        if converter == "any":
            return options.split(",")[0].strip()
        return "1" if converter in ("int", "float") else "x"
    return _ARG.sub(value, rule.rule)


def test_every_route_needs_a_session_or_a_token(app):
    client = app.test_client()
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN:
            continue
        url = example_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method, json={}, headers={"X-CSRF-Token": "x"})
            if url.startswith("/api/"):
                assert resp.status_code == 401, (method, url)
                assert "error" in resp.get_json(), (method, url)
            elif url.startswith("/staff/"):
                assert (resp.status_code, resp.get_json()) == \
                    (401, {"error": "ログインしてください"}), (method, url)
            else:
                assert resp.status_code == 302, (method, url)
                assert resp.headers["Location"].startswith("/login"), (method, url)
            checked.append((method, url))
    assert len(checked) >= 40  # the map really was walked (pages, JSON, API, admin)
    assert ("POST", "/api/bulletins") in checked and ("GET", "/admin/users") in checked


# -- odd input: refused at the door on every route, nothing stored (issue 21) -------------
HUGE = "99999999999999999999999"  # beyond SQLite's INTEGER


def odd_url(rule, text: str = "a\x00b") -> str:
    """The rule's URL with every string part holding ``text`` and every int part HUGE."""
    def value(m):
        converter, options, _name = m.groups()
        if converter == "any":
            return options.split(",")[0].strip()
        return HUGE if converter == "int" else text
    return _ARG.sub(value, rule.rule)


def stored(services) -> dict:
    """Row counts of every table, and every staff-editable file: what a request may change."""
    tables = [r[0] for r in services.store.query(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    counts = {t: services.store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables
              if t not in ("monitor_levels", "state")}
    paths = services.config.paths
    files = {p: p.read_bytes() for folder in (paths.schedules, paths.voices / "dict")
             for p in sorted(folder.rglob("*")) if p.is_file()}
    return {"rows": counts, "files": files}


def odd_requests(client, rule, method, headers):
    """Each odd input for one route: (what, response)."""
    url = example_url(rule)
    form = {"csrf_token": headers["X-CSRF-Token"], "text": "避難\x00してください。",
            "title": "x", "name": "x"}
    raw_json = '{"text": "避難\\ud800してください。", "title": "\\ud800", "name": "x"}'
    yield "C0 in the path", client.open(odd_url(rule) if "<" in rule.rule and "int:" not in
                                        rule.rule else url + "\x01", method=method,
                                        headers=headers)
    yield "C0 in the query", client.open(url, method=method, headers=headers,
                                         query_string={"q": "\x1b[2J", "date": "\x00"})
    yield "C0 in a header", client.open(url, method=method, json={},
                                        headers={**headers, "Idempotency-Key": "k\x00\x1b"})
    if method == "GET":
        return
    yield "NUL in a form", client.open(url, method=method, headers=headers, data=form)
    yield "lone CR in a form", client.open(url, method=method, headers=headers,
                                           data=dict(form, text="a\rb"))
    yield "lone surrogate in JSON", client.open(url, method=method, headers=headers,
                                                data=raw_json, content_type="application/json")
    yield "C0 in a JSON key", client.open(url, method=method, headers=headers,
                                          json={"te\x07xt": "x"})
    yield "JSON nested too deep", client.open(url, method=method, headers=headers,
                                              data="[" * 3000, content_type="application/json")


def test_every_route_refuses_odd_input_before_any_work(app, services):
    client = app.test_client()
    assert login(client, ADMIN, ADMIN_PASSWORD).status_code == 302
    client.get("/admin/users")
    headers = {"X-CSRF-Token": csrf(client), **bearer(token(services, name="walker"))}
    before, since = stored(services), last_audit(services)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for what, resp in odd_requests(client, rule, method, headers):
                assert resp.status_code == 400, (what, method, rule.rule, resp.status_code)
                body = resp.get_data(as_text=True)
                assert "使えない文字" in body or what == "JSON nested too deep", (what, rule.rule)
                checked += 1
    assert checked >= 200
    assert stored(services) == before
    assert [r["action"] for r in services.accounts.audit_log(limit=50)
            if r["rowid"] > since] == []


def test_ids_beyond_sqlite_are_404_on_every_int_route(app, services):
    client = app.test_client()
    assert login(client, ADMIN, ADMIN_PASSWORD).status_code == 302
    client.get("/")
    headers = {"X-CSRF-Token": csrf(client), **bearer(token(services))}
    int_rules = [r for r in app.url_map.iter_rules() if "<int:" in r.rule]
    assert {r.rule for r in int_rules} >= {"/api/airlog/<int:rowid>/ack",
                                           "/staff/airlog/<int:rowid>/ack"}
    before = stored(services)
    for rule in int_rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            for number in (HUGE, str(2 ** 63)):
                resp = client.open(rule.rule.replace("<int:rowid>", number), method=method,
                                   headers=headers, json={})
                assert resp.status_code == 404, (method, rule.rule, number)
                if rule.rule.startswith(("/api/", "/staff/")):
                    assert resp.get_json()["error"]
                else:  # a page (the red card's re-air): the staff error page
                    assert "操作できませんでした" in resp.get_data(as_text=True)
            ok = client.open(rule.rule.replace("<int:rowid>", str(2 ** 63 - 1)), method=method,
                             headers=headers, json={})
            assert ok.status_code == 404  # in range, and no such row: the view's own 404
    assert stored(services) == before


@pytest.mark.parametrize("field,value", [("text", "避難してください。\ud800"),
                                         ("title", "避難\ud800"),
                                         ("text", "避難\x00してください。"),
                                         ("text", "避難してください。\x0c")])
def test_odd_bulletins_and_previews_are_400_and_nothing_airs(client, services, staff, field,
                                                              value):
    import json as jsonlib

    body = jsonlib.dumps({"text": "避難してください。", "test": True, field: value})
    api_token = token(services)
    before = stored(services)
    for url, headers in (("/api/bulletins", bearer(api_token)),
                         ("/staff/bulletins", {"X-CSRF-Token": csrf(staff)}),
                         ("/staff/preview", {"X-CSRF-Token": csrf(staff)}),
                         ("/staff/reading", {"X-CSRF-Token": csrf(staff)})):
        resp = client.post(url, data=body, content_type="application/json", headers=headers)
        assert resp.status_code == 400, url
        assert resp.get_json()["error"].startswith("使えない文字"), url
    assert stored(services) == before
    assert services.store.open_bulletins() == []


def test_line_breaks_and_tabs_stay_accepted(staff):
    for text in ("真岡市\n役所", "真岡市\r\n役所", "真岡市\t役所"):
        resp = staff.post("/staff/reading", json={"text": text},
                          headers={"X-CSRF-Token": csrf(staff)})
        assert resp.status_code == 200, repr(text)


def test_admin_routes_refuse_operators(app, staff):
    admin_rules = [r for r in app.url_map.iter_rules()
                   if r.endpoint.startswith("admin.") or r.endpoint.startswith("audit.")]
    assert len(admin_rules) >= 5
    for rule in admin_rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            resp = staff.open(example_url(rule), method=method,
                              data={"csrf_token": csrf(staff)})
            assert resp.status_code == 403, rule.rule
            assert "この画面は管理者だけが使えます。" in resp.get_data(as_text=True)


def test_read_tokens_only_read(client, services):
    read = token(services, scope="read")
    assert client.get("/api/status", headers=bearer(read)).status_code == 200
    resp = client.post("/api/bulletins", json={"text": "避難してください。"}, headers=bearer(read))
    assert resp.status_code == 403
    assert resp.get_json() == {"error": "このトークンは読み取り専用です（scope: read）"}
    assert client.delete("/api/bulletins/x", headers=bearer(read)).status_code == 403


def test_expired_and_revoked_tokens_are_refused(client, services):
    name = f"t{uuid.uuid4().hex[:8]}"
    value = token(services, name=name, expires_at=services.clock.now() + dt.timedelta(hours=1))
    assert client.get("/api/status", headers=bearer(value)).status_code == 200
    services.store.execute("UPDATE tokens SET expires_at=? WHERE name=?",
                           (iso(services.clock.now() - dt.timedelta(seconds=1)), name))
    assert client.get("/api/status", headers=bearer(value)).status_code == 401
    other, name = token(services, name=name + "b"), name + "b"
    assert client.get("/api/status", headers=bearer(other)).status_code == 200
    services.accounts.revoke_token(name)
    assert client.get("/api/status", headers=bearer(other)).status_code == 401


# -- the login form: flood, lockout, redirect --------------------------------------------
def db_bytes(services) -> int:
    path = services.store.path
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


def test_login_flood_grows_neither_database_nor_memory(services):
    app_ = fresh_app(services)
    throttle = app_.extensions["announcer.throttle"]
    client = app_.test_client()
    client.get("/login")
    token_ = csrf(client)
    before, since = db_bytes(services), last_audit(services)
    huge = "x" * 250_000
    for n in range(200):  # 250 KB names: refused before the form is even read
        resp = client.post("/login", data={"csrf_token": token_, "name": f"{huge}{n}",
                                            "password": "x"})
        assert resp.status_code == 413
    for n in range(ADDR_FREE + 20):  # names that fit, wrong passwords: argon2 path
        resp = client.post("/login", data={"csrf_token": token_, "name": f"nobody{n}" * 7,
                                            "password": "wrong-password"})
        assert resp.status_code == 401
    failed = audit_rows(services, "login.failed", since)
    assert len(failed) == AUDIT_PER_ADDR
    assert all(len(r["who"]) <= 65 for r in failed)  # 64 characters and "…"
    assert [r["detail"].get("addr") for r in audit_rows(services, "login.flood", since)] == \
        ["127.0.0.1"]
    assert db_bytes(services) - before < 64 * 1024
    assert len(throttle) <= ADDR_FREE + 21 and len(throttle) <= MAX_KEYS


def test_throttle_keeps_a_bounded_number_of_records():
    throttle = LoginThrottle(clock=lambda: 0.0)
    for n in range(MAX_KEYS * 2):
        throttle.failed(f"10.0.{n // 250}.{n % 250}", f"name{n}")
    assert len(throttle) == MAX_KEYS


def test_wrong_passwords_for_one_name_do_not_lock_out_another(services):
    ensure_user(services, "kanri")
    ensure_user(services, "sokuho")
    now = [0.0]
    app_ = fresh_app(services, clock=lambda: now[0])
    office = from_addr(app_, "192.0.2.10")  # staff behind one NAT share this address
    for _ in range(6):
        login(office, "kanri", "wrong-password")
    assert login(office, "kanri", "right-password").status_code == 429  # only kanri waits
    assert login(office, "sokuho", "right-password").status_code == 302
    laptop = from_addr(app_, "192.0.2.77")  # kanri on another PC
    assert login(laptop, "kanri", "right-password").status_code == 302


def test_a_flooded_address_is_slowed_but_a_right_password_still_logs_in(services):
    ensure_user(services, "sokuho")
    slept = []
    app_ = fresh_app(services, sleep=slept.append)
    office = from_addr(app_, "192.0.2.20")
    for n in range(ADDR_FREE):
        assert login(office, f"guess{n}", "wrong-password").status_code == 401
    assert slept == []
    assert login(office, "sokuho", "right-password").status_code == 302
    assert slept == [1.0]  # slowed, not refused


def test_the_page_says_how_long_to_wait(services):
    ensure_user(services, "sokuho")
    now = [0.0]
    client = from_addr(fresh_app(services, clock=lambda: now[0]), "192.0.2.30")
    for n in range(5):
        assert login(client, "sokuho", "wrong-password").status_code == 401
        if n < 4:
            now[0] += 60  # each delay waited out: every failure counts
    resp = login(client, "sokuho", "right-password")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "4"
    assert "この名前はあと 4 秒ログインできません" in resp.get_data(as_text=True)


@pytest.mark.parametrize("target", [
    "//evil.example/", "/\\evil.example/", "/\t/evil.example/", "/\n/x", "/%09/evil.example/",
    "/%0a/x", "/%2F%2Fevil.example", "https://evil.example/", "javascript:alert(1)",
    "\\\\evil.example", "/\x00", "é", "/" + "a" * 3000,
])
def test_next_after_login_never_leaves_the_site(services, target):
    from announcer.web.inputs import bad_text

    client = fresh_app(services).test_client()
    client.get("/login")
    resp = client.post("/login", query_string={"next": target},
                       data={"csrf_token": csrf(client), "name": OPERATOR, "password": PASSWORD})
    if bad_text(target):  # a control character: refused at the door (issue 21)
        assert resp.status_code == 400 and target == "/\x00"
        return
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"


def test_next_keeps_a_path_on_the_site(services):
    client = fresh_app(services).test_client()
    client.get("/login")
    resp = client.post("/login", query_string={"next": "/timetable?start=2026-12-28"},
                       data={"csrf_token": csrf(client), "name": OPERATOR, "password": PASSWORD})
    assert resp.headers["Location"] == "/timetable?start=2026-12-28"


# -- sessions --------------------------------------------------------------------------------
def copy_of(client, app_):
    stolen = app_.test_client()
    stolen.set_cookie("announcer_session", client.get_cookie("announcer_session").value)
    return stolen


def test_a_cookie_copied_before_logout_is_worthless_after(app, services):
    client = app.test_client()
    assert login(client).status_code == 302
    stolen = copy_of(client, app)
    assert stolen.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf(client)})
    assert stolen.get("/").status_code == 302
    assert stolen.get("/staff/status").status_code == 401


@pytest.mark.parametrize("change", [
    lambda a, n: a.set_password(n, "another-password"),
    lambda a, n: a.set_role(n, "admin"),
    lambda a, n: a.set_disabled(n, True),
    lambda a, n: a.remove_user(n),
])
def test_user_changes_end_their_sessions(app, services, change):
    name = f"u{uuid.uuid4().hex[:8]}"
    services.accounts.add_user(name, "right-password")
    client = app.test_client()
    assert login(client, name, "right-password").status_code == 302
    assert client.get("/").status_code == 200
    change(services.accounts, name)
    assert client.get("/").status_code == 302
    assert services.accounts.sessions.count(name) == 0


@pytest.mark.parametrize("column,age", [("seen_at", dt.timedelta(hours=2, minutes=1)),
                                        ("created_at", dt.timedelta(hours=12, minutes=1))])
def test_idle_and_old_sessions_end(app, services, column, age):
    client = app.test_client()
    assert login(client).status_code == 302
    services.store.execute(f"UPDATE sessions SET {column}=? WHERE user=? AND {column}=(SELECT"
                           f" MAX({column}) FROM sessions WHERE user=?)",
                           (iso(services.clock.now() - age), OPERATOR, OPERATOR))
    assert client.get("/").status_code == 302


def with_web(services, **web):
    config = services.config
    config = dataclasses.replace(config, web=dataclasses.replace(config.web, **web))
    return create_app(dataclasses.replace(services, config=config), testing=True)


def test_secure_cookies_and_forwarded_proto_only_behind_a_tls_proxy(services):
    plain = with_web(services)
    assert not isinstance(plain.wsgi_app, ProxyFix)
    resp = login(plain.test_client())
    assert resp.status_code == 302 and "Secure" not in resp.headers["Set-Cookie"]
    proxied = with_web(services, behind_tls_proxy=True)
    assert isinstance(proxied.wsgi_app, ProxyFix)
    client = proxied.test_client()
    client.get("/login", headers={"X-Forwarded-Proto": "https"})
    resp = client.post("/login", headers={"X-Forwarded-Proto": "https"},
                       data={"csrf_token": csrf(client), "name": OPERATOR, "password": PASSWORD})
    assert resp.status_code == 302 and "Secure" in resp.headers["Set-Cookie"]


def test_host_allow_list_defeats_dns_rebinding(services, app):
    client = app.test_client()
    for host in ("evil.example", "evil.example:8080", "127.0.0.1.evil.example"):
        resp = client.get("/login", headers={"Host": host})
        assert resp.status_code == 400
        assert "web.allowed_hosts" in resp.get_data(as_text=True)
    assert client.get("/login", headers={"Host": "127.0.0.1:8080"}).status_code == 200
    assert client.get("/login", headers={"Host": "localhost"}).status_code == 200
    named = with_web(services, allowed_hosts=("fm-moka.local",)).test_client()
    assert named.get("/login", headers={"Host": "fm-moka.local:8080"}).status_code == 200
    assert named.get("/login", headers={"Host": "localhost"}).status_code == 400


# -- /healthz and small 500s -----------------------------------------------------------------
def test_healthz_says_little_without_auth(client, services, staff):
    anonymous = services and create_app(services, testing=True).test_client()
    body = anonymous.get("/healthz").get_json()
    assert set(body) == {"status", "on_air", "time"}
    assert body["status"] == "ok" and body["on_air"] is False
    detailed = anonymous.get("/healthz", headers=bearer(token(services, scope="read")))
    assert "audio" in detailed.get_json() and "schedule_errors" in detailed.get_json()
    assert "audio" in staff.get("/healthz").get_json()


def test_non_ascii_csrf_tokens_are_400(staff):
    resp = staff.post("/staff/reading", json={"text": "真岡市"}, headers={"X-CSRF-Token": "é"})
    assert resp.status_code == 400 and "error" in resp.get_json()
    anonymous = staff.application.test_client()
    anonymous.get("/login")
    resp = anonymous.post("/login", data={"csrf_token": "é", "name": "a", "password": "b"})
    assert resp.status_code == 400


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01", "2026-12-28T00:00"])
def test_timetable_far_dates_are_a_clean_4xx_or_ok(staff, start):
    resp = staff.get(f"/timetable?start={start}")
    assert resp.status_code in (200, 400)
    if start.startswith(("9999", "0001")):
        assert resp.status_code == 400
        assert "日付は 2000 年から 2999 年までで指定してください" in resp.get_data(as_text=True)


def test_unexpected_errors_are_a_plain_500(services):
    app_ = create_app(services, testing=False)

    @app_.get("/boom")
    def boom():
        raise RuntimeError("/secret/path/station.yaml")

    resp = app_.test_client().get("/boom")
    assert resp.status_code == 500
    assert "/secret/path" not in resp.get_data(as_text=True)


# -- the API: size, expiry, admission, idempotency ---------------------------------------------
def test_api_body_too_large_is_json_413(client, services):
    resp = client.post("/api/bulletins", data=b"{" + b" " * 300_000 + b"}",
                       headers={**bearer(token(services)), "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert resp.get_json() == {"error": "送信された内容が大きすぎます"}


def test_api_refuses_an_expiry_in_year_9999(client, services):
    resp = client.post("/api/bulletins", headers=bearer(token(services)),
                       json={"text": "避難してください。", "expires_at": "9999-12-31T23:59:59+09:00"})
    assert resp.status_code == 422
    assert resp.get_json() == {"error": "有効期限は 24 時間以内にしてください"}


def test_api_full_queue_is_429_in_japanese(client, services, monkeypatch):
    station = services.station
    monkeypatch.setattr(station, "config", dataclasses.replace(
        station.config, emergency=dataclasses.replace(station.config.emergency, max_open=2)))
    monkeypatch.setattr(station.engine, "enqueue", lambda item: None)  # all stay queued
    value = token(services)
    try:
        statuses = [client.post("/api/bulletins", headers=bearer(value),
                                json={"text": "避難してください。" * 50, "interrupt": False}
                                ).status_code for _ in range(3)]
        assert statuses == [202, 202, 429]
        resp = client.post("/api/bulletins", headers=bearer(value), json={"text": "本物です。"})
        assert resp.status_code == 429
        assert resp.get_json()["error"].startswith("放送待ちの緊急放送が 2 件あり")
    finally:
        cancel_open_bulletins(services)


def test_api_idempotency_keys_are_per_caller(client, services, monkeypatch):
    monkeypatch.setattr(services.station.engine, "enqueue", lambda item: None)
    city, fire = token(services), token(services)
    try:
        key = {"Idempotency-Key": "same-key-1"}
        body = {"text": "市役所からの訓練です。", "test": True, "interrupt": False}
        a = client.post("/api/bulletins", json=body, headers={**bearer(city), **key})
        b = client.post("/api/bulletins", json=dict(body, text="消防からの訓練です。"),
                        headers={**bearer(fire), **key})
        assert a.status_code == b.status_code == 202
        assert a.get_json()["id"] != b.get_json()["id"]
        again = client.post("/api/bulletins", json=body, headers={**bearer(city), **key})
        assert again.get_json()["id"] == a.get_json()["id"]
        other = client.post("/api/bulletins", json=dict(body, text="別の原稿"),
                            headers={**bearer(city), **key})
        assert other.status_code == 409
    finally:
        cancel_open_bulletins(services)


# -- previews: bounded after every expansion, on their own slots -----------------------------
def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


def test_reading_tryout_is_bounded_after_inline_substitution(staff, services):
    word = {"surface": "あ", "pronunciation": "アイウエオカキクケコ" * 4, "accent_type": "0",
            "priority": "5"}
    text = "あ、" * 200  # 400 characters; each あ becomes 40 kana when tried with the word
    resp = staff.post("/staff/readings/preview", json={"text": text, "with_entry": True, **word},
                      headers={"X-CSRF-Token": csrf(staff)})
    assert resp.status_code == 200
    assert wav_seconds(resp.data) < 150  # ≤ PREVIEW_KANA kana, not 8,000
    resp = staff.post("/staff/readings/reading", json={"text": text, **word},
                      headers={"X-CSRF-Token": csrf(staff)})
    assert len(resp.get_json()["with_entry"]) < PREVIEW_KANA * 2  # kana plus accent marks


@pytest.mark.usefixtures("shipped_dictionary_only")
def test_previews_are_bounded_after_dictionary_readings(staff, services):
    dictionary = services.config.paths.voices / "dict" / "web.csv"
    dictionary.write_text("surface,pronunciation,accent_type,priority\n"
                          f"亜,{'アイウエオカキクケコ' * 4},0,10\n", encoding="utf-8")
    services.studio.reload_dictionary()
    sentences, readings = bounded_sentences(services.studio, "亜、" * 200)
    assert sum(len(s.text) for s in sentences) <= PREVIEW_SPOKEN
    assert sum(len(r) for r in readings) <= PREVIEW_KANA
    assert len(readings[0]) > 40  # the dictionary did expand it
    resp = staff.post("/staff/preview", json={"text": "亜、" * 200},
                      headers={"X-CSRF-Token": csrf(staff)})
    assert resp.status_code == 200 and float(resp.headers["X-Audio-Seconds"]) < 150


@pytest.fixture
def served(services):
    server = create_server(create_app(services, testing=True), host="127.0.0.1", port=0,
                           threads=WEB_THREADS)
    thread = threading.Thread(target=server.run, name="test-web", daemon=True)
    thread.start()
    yield server.effective_port
    server.close()
    thread.join(timeout=2)


def test_eight_parallel_maximal_previews_leave_the_emergency_page_answering(served, services):
    ensure_user(services, "previewer", "right-password")
    maximal = "避難所は真岡小学校、真岡中学校、久下田公民館です。" * 120  # 3,000+ characters
    stop = threading.Event()
    answers = []
    browsers = [Browser(served, f"127.0.0.{20 + n}") for n in range(8)]
    for browser in browsers:
        assert browser.login("previewer", "right-password") == 302
        browser.get("/emergency")

    def previews(n):
        browser = browsers[n]
        while not stop.is_set():
            answers.append(browser.post_json("/staff/preview", {"text": maximal})[0])

    threads = [threading.Thread(target=previews, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    staffer = Browser(served, "127.0.0.9")
    assert staffer.login(OPERATOR, PASSWORD) == 302
    taken = []
    deadline = time.monotonic() + 12
    try:
        while time.monotonic() < deadline:
            status, _, body, seconds = staffer.get("/emergency")
            assert status == 200 and "緊急放送" in body.decode()
            taken.append(seconds)
            taken.append(staffer.request("GET", "/healthz")[3])
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert answers.count(200) >= 1 and set(answers) <= {200, 503}
    assert max(taken) < 1.0, sorted(taken)[-5:]


# -- admin pages -----------------------------------------------------------------------------
@pytest.fixture
def admin(app):
    client = app.test_client()
    assert login(client, ADMIN, ADMIN_PASSWORD).status_code == 302
    client.get("/admin/users")
    return client


def test_admin_manages_accounts_and_everything_is_audited(admin, services):
    since = last_audit(services)
    name = f"new{uuid.uuid4().hex[:6]}"
    post = lambda url, **data: admin.post(url, data={"csrf_token": csrf(admin), **data})  # noqa: E731
    assert post("/admin/users/add", name=name, password="first-password",
                role="operator").status_code == 303
    assert f'id="user-{name}"' in admin.get("/admin/users").get_data(as_text=True)
    worker = admin.application.test_client()
    assert login(worker, name, "first-password").status_code == 302
    assert post(f"/admin/users/{name}/password", password="second-password").status_code == 303
    assert worker.get("/").status_code == 302  # the reset ended the session
    assert post(f"/admin/users/{name}/role", role="admin").status_code == 303
    assert post(f"/admin/users/{name}/disable").status_code == 303
    assert login(worker, name, "second-password").status_code == 401
    assert post(f"/admin/users/{name}/enable").status_code == 303
    assert post(f"/admin/users/{name}/remove").status_code == 303
    assert services.accounts.user(name) is None
    actions = [r["action"] for r in reversed(services.accounts.audit_log(limit=100))
               if r["rowid"] > since and r["who"] == ADMIN]
    assert actions == ["user.add", "user.password", "user.role", "user.disable",
                       "user.enable", "user.remove"]
    resp = post(f"/admin/users/{ADMIN}/remove")
    assert resp.status_code == 422 and "自分自身" in resp.get_data(as_text=True)


def test_admin_creates_and_revokes_tokens(admin, client, services):
    admin.get("/admin/tokens")
    name = f"city{uuid.uuid4().hex[:6]}"
    resp = admin.post("/admin/tokens/create", data={
        "csrf_token": csrf(admin), "name": name, "scope": "read", "expires_days": "30"})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    value = re.search(r'<code id="new-token">([^<]+)</code>', resp.get_data(as_text=True))[1]
    assert client.get("/api/status", headers=bearer(value)).status_code == 200
    page = admin.get("/admin/tokens").get_data(as_text=True)
    assert value not in page and f'id="token-{name}"' in page and "未使用" not in \
        page.split(f'id="token-{name}"')[1].split("</tr>")[0]
    row = next(t for t in services.accounts.tokens() if t["name"] == name)
    assert row["scope"] == "read" and row["expires_at"] and row["created_by"] == ADMIN
    assert admin.post(f"/admin/tokens/{name}/revoke",
                      data={"csrf_token": csrf(admin)}).status_code == 303
    assert client.get("/api/status", headers=bearer(value)).status_code == 401
    actions = [(r["action"], r["detail"].get("name")) for r in services.accounts.audit_log(limit=9)]
    assert ("token.revoke", name) in actions and ("token.create", name) in actions


# -- accounts: the last admin, one's own password, tokens of a removed admin (issue 21) ------
def test_the_last_admin_cannot_be_demoted_disabled_or_removed(tmp_path, services):
    from announcer.access.accounts import AccountError, Accounts
    from announcer.record.store import Store

    store = Store(tmp_path / "announcer.db", services.config.station.timezone)
    try:
        accounts = Accounts(store, services.clock)
        accounts.add_user("kanri", "right-password", "admin")
        accounts.add_user("sokuho", "right-password", "operator")
        for change in (lambda: accounts.set_role("kanri", "operator", by="cli"),
                       lambda: accounts.set_disabled("kanri", True, by="cli"),
                       lambda: accounts.remove_user("kanri", by="cli")):
            with pytest.raises(AccountError, match="kanri はただひとりの有効な管理者です"):
                change()
            assert accounts.user("kanri") == {"name": "kanri", "role": "admin"}
        accounts.set_role("kanri", "admin", by="cli")  # no change, not refused
        accounts.remove_user("sokuho", by="cli")       # operators come and go
        with pytest.raises(AccountError, match="ユーザー nobody はありません"):
            accounts.set_role("nobody", "operator", by="cli")
    finally:
        store.close()


def test_two_admins_demoting_each_other_at_once_leave_one(tmp_path, services):
    from announcer.access.accounts import AccountError, Accounts
    from announcer.record.store import Store

    tz = services.config.station.timezone
    stores = [Store(tmp_path / "announcer.db", tz) for _ in range(2)]  # two processes
    try:
        pair = [Accounts(store, services.clock) for store in stores]
        for round_ in range(15):
            a, b = f"ra{round_}", f"rb{round_}"
            pair[0].add_user(a, "right-password", "admin")
            pair[0].add_user(b, "right-password", "admin")
            for u in pair[0].users():  # the last round's survivor: a and b are the admins
                if u["name"] not in (a, b):
                    pair[0].remove_user(u["name"], by="cli")
            barrier, outcome = threading.Barrier(2), []

            def demote(accounts, name, by):
                barrier.wait()
                try:
                    accounts.set_role(name, "operator", by=by)
                    outcome.append("demoted")
                except AccountError:
                    outcome.append("refused")

            threads = [threading.Thread(target=demote, args=(pair[0], b, a)),
                       threading.Thread(target=demote, args=(pair[1], a, b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(outcome) == ["demoted", "refused"], outcome
            assert len([u for u in pair[1].users() if u["role"] == "admin"]) == 1
    finally:
        for store in stores:
            store.close()


def test_changing_ones_own_password_needs_the_current_one(admin, services):
    page = admin.get("/admin/users").get_data(as_text=True)
    assert page.count('name="current_password"') == 1  # on the admin's own row only
    post = lambda **data: admin.post(f"/admin/users/{ADMIN}/password",  # noqa: E731
                                     data={"csrf_token": csrf(admin), **data})
    resp = post(password="taken-over-123")
    assert resp.status_code == 422
    assert "今のパスワードを正しく入力してください" in resp.get_data(as_text=True)
    assert post(password="taken-over-123", current_password="wrong").status_code == 422
    assert services.accounts.verify(ADMIN, ADMIN_PASSWORD) is not None
    assert post(password="new-admin-pass-789", current_password=ADMIN_PASSWORD).status_code == 303
    try:
        assert services.accounts.verify(ADMIN, "new-admin-pass-789") is not None
    finally:
        services.accounts.set_password(ADMIN, ADMIN_PASSWORD, by="cli")


def test_removing_an_admin_says_which_tokens_stay_or_revokes_them(admin, client, services):
    for keep in (True, False):
        name = f"adm{uuid.uuid4().hex[:6]}"
        services.accounts.add_user(name, "right-password", "admin")
        value = services.accounts.create_token(f"{name}-city", by=name)
        data = {"csrf_token": csrf(admin)} if keep else {"csrf_token": csrf(admin),
                                                         "revoke_tokens": "1"}
        resp = admin.post(f"/admin/users/{name}/remove", data=data, follow_redirects=True)
        page = resp.get_data(as_text=True)
        status = client.get("/api/status", headers=bearer(value)).status_code
        if keep:
            assert f"{name} が作った API トークン（{name}-city）は有効なままです" in page
            assert status == 200
            services.accounts.revoke_token(f"{name}-city")
        else:
            assert f"{name} が作った API トークン（{name}-city）も無効にしました" in page
            assert status == 401


def test_cli_remove_user_revokes_tokens_when_asked(station_dir):
    from tests.daemonutil import cli

    assert cli(station_dir, "user", "add", "kanri", "--role", "admin", "--password-stdin",
               stdin="first-password\n").returncode == 0
    assert cli(station_dir, "user", "add", "kanri2", "--role", "admin", "--password-stdin",
               stdin="first-password\n").returncode == 0
    from announcer.access.accounts import Accounts
    from announcer.core.clock import TOKYO, SystemClock
    from announcer.record.store import Store

    store = Store(station_dir / "var" / "announcer.db", TOKYO)
    try:
        Accounts(store, SystemClock(TOKYO)).create_token("city", by="kanri")
    finally:
        store.close()
    result = cli(station_dir, "user", "remove", "kanri", "--revoke-tokens")
    assert result.returncode == 0, result.stderr
    assert "kanri が作った API トークンも無効にしました: city" in result.stdout
    assert "city" not in cli(station_dir, "token", "list").stdout
    last = cli(station_dir, "user", "remove", "kanri2")
    assert last.returncode == 1 and "ただひとりの有効な管理者です" in last.stderr


# -- configuration and the command line --------------------------------------------------------
def test_security_settings_are_validated(tmp_path):
    from announcer.core.config import load_config
    from announcer.core.errors import ConfigError

    path = tmp_path / "station.yaml"
    path.write_text("web:\n  behind_tls_proxy: true\n  allowed_hosts: [FM-Moka.local, 192.168.1.10]\n"
                    "  session_idle: 600\nemergency:\n  max_open: 5\n  default_expiry: 3600\n",
                    encoding="utf-8")
    config = load_config(path)
    assert config.web.behind_tls_proxy and config.web.allowed_hosts == ("fm-moka.local",
                                                                        "192.168.1.10")
    assert config.web.session_idle == dt.timedelta(minutes=10)
    assert (config.emergency.max_open, config.emergency.default_expiry) == \
        (5, dt.timedelta(hours=1))
    path.write_text("web:\n  allowed_hosts: [\"http://x/\"]\n  behind_tls_proxy: yes please\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert e.value.problems == [
        f'{path}:2: web.allowed_hosts: ホスト名 "http://x/" は使えません（例: 192.168.1.10, fm-moka.local）',
        f'{path}:3: web.behind_tls_proxy: true か false で書いてください: "yes please"']


def test_cli_tokens_with_scope_and_expiry(station_dir):
    from tests.daemonutil import cli

    made = cli(station_dir, "token", "create", "monitor", "--scope", "read", "--expires-days", "7")
    assert made.returncode == 0, made.stderr
    listed = cli(station_dir, "token", "list").stdout
    assert listed.startswith("monitor\tread\t") and "expires=" in listed
    assert "last_used=-" in listed
    bad = cli(station_dir, "token", "create", "x", "--expires-days", "0")
    assert (bad.returncode, bad.stderr) == (1, "エラー: --expires-days は 1 から 3650 までにしてください\n")
