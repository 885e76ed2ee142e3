"""The notices pages, the timetable and the as-run CSV through Flask's test client,
against a real studio (synthesis workers), SQLite and notice files on disk."""

import csv
import datetime as dt
import io
import re
import wave

import pytest

from announcer.audio.fake import FakeOutput
from announcer.core.clock import TOKYO
from announcer.notices.editing import STALE
from tests.webutil import KNOWN_LEAKS, LATE_NOTICE, app, client, csrf, services, staff

pytestmark = KNOWN_LEAKS

XSS = "<script>alert(1)</script>真岡市"
NEW_YEAR_WEEK = "2026-12-28"  # Monday; 2027-01-01 (Friday) is 元日


@pytest.fixture(scope="module")
def output():
    return FakeOutput()


@pytest.fixture
def web_dir(services):
    return services.config.paths.schedules / "web"


def notice_form(staff, notice_id, **fields):
    data = {"csrf_token": csrf(staff), "id": notice_id, "title": "燃えるごみ",
            "text": "明日は燃えるごみの収集日です。", "times": ["07:30", "18:30", ""],
            "days": ["mon", "tue", "wed", "thu", "fri"], "holidays": "any", "start": "",
            "end": "", "dates": "", "chime": "on", "voice": "", "repeat": "1", "grace": "",
            "enabled": "on"}
    data.update(fields)
    return data


def create(staff, notice_id, **fields):
    return staff.post("/notices/new", data=notice_form(staff, notice_id, **fields))


def version_in(html: str) -> str:
    return re.search(r'name="version" value="(\w*)"', html)[1]


def edit_page(staff, notice_id) -> str:
    return staff.get(f"/notices/{notice_id}/edit").get_data(as_text=True)


def audits(services, action):
    return [r for r in services.accounts.audit_log() if r["action"] == action]


def cell(html: str, date: str) -> str:
    """The timetable cells of one day, joined."""
    return "".join(re.findall(rf'<td class="[^"]*" data-date="{date}"[^>]*>(.*?)</td>', html,
                              re.S))


# -- sessions and CSRF -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/notices", "/notices/new", "/notices/late/edit",
                                  "/timetable", "/airlog.csv"])
def test_pages_without_session_redirect_to_login(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", ["/staff/notices/reading", "/staff/notices/preview"])
def test_json_without_session_is_401(client, path):
    resp = client.post(path, json={"text": "真岡市"})
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "ログインしてください"}


def test_form_posts_without_csrf_are_400(staff, web_dir):
    data = notice_form(staff, "nocsrf")
    del data["csrf_token"]
    resp = staff.post("/notices/new", data=data)
    assert resp.status_code == 400
    assert "ページを読み込み直してから" in resp.get_data(as_text=True)
    assert not (web_dir / "nocsrf.yaml").exists()
    assert staff.post("/notices/late/duplicate").status_code == 400


def test_json_without_csrf_is_400(staff):
    resp = staff.post("/staff/notices/reading", json={"text": "真岡市"})
    assert resp.status_code == 400
    assert resp.get_json()["error"].startswith("画面の有効期限が切れました")


# -- create ------------------------------------------------------------------------------
def test_create_writes_the_file_and_the_station_sees_it(staff, services, web_dir):
    resp = create(staff, "gomi", holidays="skip", grace="600")
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/notices?done=create&id=gomi"
    text = (web_dir / "gomi.yaml").read_text(encoding="utf-8")
    assert text.endswith('notices:\n  - id: gomi\n    title: 燃えるごみ\n'
                         '    text: 明日は燃えるごみの収集日です。\n'
                         '    times: ["07:30", "18:30"]\n'
                         '    days: [mon, tue, wed, thu, fri]\n    holidays: skip\n    grace: 600\n')
    notice = services.station.notices.notices["gomi"]
    assert (notice.times, notice.holidays) == ((dt.time(7, 30), dt.time(18, 30)), "skip")
    audit = audits(services, "notice.create")[0]
    assert audit["who"] == "tanaka"
    assert audit["detail"] == {"id": "gomi", "before": None, "after": text}
    html = staff.get(resp.headers["Location"]).get_data(as_text=True)
    assert "「gomi」を登録しました。" in html
    assert '<h2 class="notice-title">燃えるごみ</h2>' in html


def test_invalid_fields_show_errors_next_to_them(staff, web_dir):
    resp = create(staff, "bad", times=["25:00", "7:3"], days=[], grace="abc")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "入力に誤りがあります。赤字の項目を直してください" in html
    errors = dict(re.findall(r'<ul class="field-error" id="err-(\w+)" role="alert">(.*?)</ul>',
                             html, re.S))
    assert errors == {
        "times": '<li>時刻は HH:MM か HH:MM:SS で書いてください: &#34;25:00&#34;</li>'
                 '<li>時刻は HH:MM か HH:MM:SS で書いてください: &#34;7:3&#34;</li>',
        "days": "<li>曜日が1つもありません。1つ以上書いてください</li>",
        "grace": "<li>数で書いてください: &#34;abc&#34;</li>"}
    assert 'value="25:00"' in html  # what was typed stays in the form
    assert not (web_dir / "bad.yaml").exists()
    assert list(web_dir.glob(".notice-*")) == []  # no temp file left behind


def test_id_of_a_hand_edited_file_is_refused(staff, services):
    resp = create(staff, "late")
    assert resp.status_code == 409
    assert ('id &#34;late&#34; はすでに schedules/late.yaml で使われています。別の id にしてください'
            in resp.get_data(as_text=True))
    assert services.station.notices.notices["late"].title == LATE_NOTICE


# -- edit ------------------------------------------------------------------------------------
def test_edit_then_a_stale_version_is_409(staff, services, web_dir):
    create(staff, "edit-me")
    version = version_in(edit_page(staff, "edit-me"))
    first = staff.post("/notices/edit-me/edit",
                       data=notice_form(staff, "edit-me", title="一人目", version=version))
    assert first.status_code == 303
    saved = (web_dir / "edit-me.yaml").read_text(encoding="utf-8")
    resp = staff.post("/notices/edit-me/edit",
                      data=notice_form(staff, "edit-me", title="二人目", version=version))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert STALE in html
    assert 'value="二人目"' in html  # the second person's input is not lost
    assert (web_dir / "edit-me.yaml").read_text(encoding="utf-8") == saved
    assert services.station.notices.notices["edit-me"].title == "一人目"
    edit = audits(services, "notice.edit")[0]["detail"]
    assert (edit["id"], "title: 一人目" in edit["after"], "title: 燃えるごみ" in edit["before"]) == (
        "edit-me", True, True)


def test_hand_edited_notices_are_read_only(staff, services):
    before = (services.config.paths.schedules / "late.yaml").read_bytes()
    html = edit_page(staff, "late")
    assert "このお知らせはファイル schedules/late.yaml で管理されています。" in html
    assert 'id="save-btn"' not in html
    for action in ("edit", "pause", "resume", "delete"):
        resp = staff.post(f"/notices/late/{action}", data=notice_form(staff, "late"))
        assert resp.status_code == 403
    assert (services.config.paths.schedules / "late.yaml").read_bytes() == before
    listing = staff.get("/notices").get_data(as_text=True)
    assert "ファイル schedules/late.yaml（読み取り専用）" in listing


def test_unknown_notice_is_404(staff):
    assert staff.get("/notices/nope/edit").status_code == 404
    assert staff.post("/notices/nope/pause", data={"csrf_token": csrf(staff)}).status_code == 404


# -- pause, resume, duplicate, delete ------------------------------------------------------------
def action(staff, notice_id, name):
    version = version_in(edit_page(staff, notice_id))
    return staff.post(f"/notices/{notice_id}/{name}",
                      data={"csrf_token": csrf(staff), "version": version})


def test_pause_and_resume(staff, services, web_dir):
    create(staff, "pause-me")
    resp = action(staff, "pause-me", "pause")
    assert resp.status_code == 303 and resp.headers["Location"] == "/notices?done=pause&id=pause-me"
    assert "    enabled: false\n" in (web_dir / "pause-me.yaml").read_text(encoding="utf-8")
    assert services.station.notices.notices["pause-me"].enabled is False
    html = staff.get("/notices").get_data(as_text=True)
    assert 'class="card notice c' in html and " is-paused\" id=\"notice-pause-me\"" in html
    assert action(staff, "pause-me", "resume").status_code == 303
    assert services.station.notices.notices["pause-me"].enabled is True
    paused, resumed = audits(services, "notice.pause")[0], audits(services, "notice.resume")[0]
    assert paused["detail"]["after"] == resumed["detail"]["before"]
    assert resumed["detail"]["after"] == paused["detail"]["before"]


def test_pause_with_a_stale_version_is_409(staff, services):
    create(staff, "stale-pause")
    resp = staff.post("/notices/stale-pause/pause",
                      data={"csrf_token": csrf(staff), "version": "0" * 20})
    assert resp.status_code == 409
    assert STALE in resp.get_data(as_text=True)
    assert services.station.notices.notices["stale-pause"].enabled is True


def test_duplicate_a_hand_edited_notice(staff, services, web_dir):
    resp = staff.post("/notices/late/duplicate", data={"csrf_token": csrf(staff)})
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/notices/late-copy/edit?done=duplicate&id=late-copy"
    copy = services.station.notices.notices["late-copy"]
    assert (copy.title, copy.enabled, copy.times) == (f"{LATE_NOTICE}（コピー）", False,
                                                      (dt.time(23, 59, 59),))
    html = staff.get(resp.headers["Location"]).get_data(as_text=True)
    assert "コピー「late-copy」を作りました。一時停止中です。" in html
    assert audits(services, "notice.duplicate")[0]["detail"] == {
        "id": "late-copy", "before": None, "source": "late",
        "after": (web_dir / "late-copy.yaml").read_text(encoding="utf-8")}


def test_delete_moves_the_file_to_the_trash(staff, services, web_dir):
    create(staff, "delete-me")
    text = (web_dir / "delete-me.yaml").read_text(encoding="utf-8")
    assert action(staff, "delete-me", "delete").status_code == 303
    assert not (web_dir / "delete-me.yaml").exists()
    assert "delete-me" not in services.station.notices.notices
    [trashed] = (services.config.paths.data / "trash").glob("*-delete-me.yaml")
    assert trashed.read_text(encoding="utf-8") == text
    detail = audits(services, "notice.delete")[0]["detail"]
    assert detail == {"id": "delete-me", "before": text, "after": None,
                      "trash": f"var/trash/{trashed.name}"}


# -- reading and preview -----------------------------------------------------------------------
def post_json(staff, url, body):
    return staff.post(url, json=body, headers={"X-CSRF-Token": csrf(staff)})


def test_reading_is_katakana(staff):
    resp = post_json(staff, "/staff/notices/reading", {"text": "真岡市からのお知らせです。"})
    assert resp.status_code == 200
    assert resp.get_json()["reading"].startswith("モーカシカラノオシラセデス")


@pytest.mark.parametrize("body,status,error", [
    ({"text": " "}, 422, "読み上げる文章が空です。入力してください"),
    ({"text": "真岡", "voice": "../x"}, 422, '声 "../x" はありません'),
    ({"text": "真岡", "repeat": 4}, 422, "繰り返し回数は 1 から 3 までにしてください"),
    ({"text": "{真岡|mooka}"}, 422, "読みを作れませんでした: 読みはカタカナで書いてください: {真岡|mooka}"),
    ([1], 400, "JSON のオブジェクトで送ってください"),
])
def test_reading_refuses_bad_input(staff, body, status, error):
    resp = post_json(staff, "/staff/notices/reading", body)
    assert (resp.status_code, resp.get_json()) == (status, {"error": error})


def test_preview_is_a_wav(staff):
    resp = post_json(staff, "/staff/notices/preview",
                     {"text": "真岡市です。", "chime": False, "repeat": 1, "voice": "makoto"})
    assert (resp.status_code, resp.content_type) == (200, "audio/wav")
    with wave.open(io.BytesIO(resp.get_data())) as w:
        assert (w.getnchannels(), w.getframerate()) == (1, 48000)
        assert w.getnframes() / w.getframerate() > 0.5


# -- the timetable -------------------------------------------------------------------------------
def test_timetable_shows_a_notice_on_its_days_and_marks_the_holiday(staff):
    create(staff, "asa", title="朝のお知らせ", times=["06:45"], days=["mon", "wed", "fri"],
           holidays="skip")
    html = staff.get(f"/timetable?start={NEW_YEAR_WEEK}").get_data(as_text=True)
    assert '<span class="holiday-name">祝 元日</span>' in html
    assert 'class="day day-holiday" data-date="2027-01-01"' in html
    chip = '<span class="chip-time">06:45</span> 朝のお知らせ'
    assert [chip in cell(html, f"2026-12-{d}") for d in (28, 29, 30, 31)] == [True, False, True,
                                                                             False]
    assert re.search(r'chip-skipped" data-id="asa"[^>]*>' + re.escape(chip) +
                     '<span class="chip-note">祝日休み</span>', cell(html, "2027-01-01"))
    assert 'chip-airs" data-id="asa"' in cell(html, "2026-12-30")


def test_timetable_greys_a_paused_notice(staff):
    create(staff, "yoru", title="夜の停止中", times=["21:00"], enabled="")
    html = staff.get(f"/timetable?start={NEW_YEAR_WEEK}").get_data(as_text=True)
    assert re.search(r'chip-paused" data-id="yoru"[^>]*><span class="chip-time">21:00</span> '
                     '夜の停止中<span class="chip-note">停止中</span>', cell(html, "2026-12-28"))


def test_timetable_bad_start_falls_back_to_today(staff):
    html = staff.get("/timetable?start=2026-13-01").get_data(as_text=True)
    today = dt.datetime.now(TOKYO).date().isoformat()
    assert "日付は YYYY-MM-DD で指定してください" in html
    assert f'is-today" data-date="{today}"' in html


def test_rundown_shows_what_aired_and_what_is_next(staff, services):
    now = dt.datetime.now(TOKYO)
    services.store.airing_record("notice", "asrun", "放送済みの例", now, "missed", "テスト", at=now)
    html = staff.get("/timetable").get_data(as_text=True)
    rundown = html[html.index('id="rundown-rows"'):]
    assert ('<td data-label="件名">放送済みの例</td><td data-label="結果"><span class="st st-missed">'
            '未放送</span></td><td data-label="備考">テスト</td>') in rundown
    assert re.search(r'<tr class="st-(next|planned)"><td data-label="時刻">23:59:59</td>'
                     r'<td data-label="種類">お知らせ</td><td data-label="件名">' + LATE_NOTICE, rundown)
    assert f'href="/airlog.csv?date={now.date().isoformat()}"' in html


# -- the as-run CSV -------------------------------------------------------------------------------
def test_airlog_csv_for_a_day(staff, services):
    at = dt.datetime(2020, 5, 1, 7, 30, tzinfo=TOKYO)
    services.store.airing_record("notice", "csv1", "=SUM(1)", at, "missed", "停止中", at=at,
                                 voice="makoto")
    resp = staff.get("/airlog.csv?date=2020-05-01")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="airlog-2020-05-01.csv"'
    assert resp.get_data().decode("utf-8") == (
        "\ufeff種類,ID,件名,予定時刻,開始時刻,終了時刻,結果,備考,声\r\n"
        "お知らせ,csv1,'=SUM(1),2020-05-01 07:30:00,,2020-05-01 07:30:00,未放送,停止中,まこと\r\n")
    assert audits(services, "airlog.export")[0]["detail"] == {"date": "2020-05-01", "rows": 1}


def test_airlog_csv_for_a_month(staff, services):
    for day in (3, 20):
        at = dt.datetime(2020, 6, day, 12, tzinfo=TOKYO)
        services.store.airing_record("bulletin", f"b{day}", "訓練", at, "cancelled", at=at)
    lines = staff.get("/airlog.csv?month=2020-06").get_data().decode("utf-8-sig").splitlines()
    assert [line.split(",")[1] for line in lines] == ["ID", "b3", "b20"]
    assert audits(services, "airlog.export")[0]["detail"] == {"month": "2020-06", "rows": 2}


@pytest.mark.parametrize("title", ["=1+1", "+1", "-1", "@SUM(A1)", "＝1＋1", "＋1", "－1", "＠SUM(A1)",
                                   "\t=1", "\r=1"])
def test_airlog_csv_never_starts_a_formula(staff, services, title):
    at = dt.datetime(2020, 7, 1, 7, 30, tzinfo=TOKYO)
    services.store.airing_record("notice", "f", title, at, "aired", title, at=at)
    rows = list(csv.reader(io.StringIO(staff.get("/airlog.csv?date=2020-07-01").get_data()
                                       .decode("utf-8-sig"))))
    assert rows[-1][2] == rows[-1][7] == "'" + title
    services.store.execute("DELETE FROM airlog WHERE day='2020-07-01'")


@pytest.mark.parametrize("query,error", [("month=2026-13", "month は YYYY-MM で指定してください"),
                                         ("date=May", "date は YYYY-MM-DD で指定してください")])
def test_airlog_csv_bad_query_is_400(staff, query, error):
    resp = staff.get(f"/airlog.csv?{query}")
    assert resp.status_code == 400
    assert error in resp.get_data(as_text=True)


# -- escaping ------------------------------------------------------------------------------------
def test_script_in_title_and_text_is_escaped_everywhere(staff):
    assert create(staff, "xss", title=XSS, text=XSS, times=["05:00"], days=[]).status_code == 422
    assert create(staff, "xss", title=XSS, text=XSS, times=["05:00"]).status_code == 303
    pages = [staff.get(p).get_data(as_text=True) for p in
             ("/notices", "/notices/xss/edit", f"/timetable?start={NEW_YEAR_WEEK}")]
    for html in pages:
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;真岡市" in html
