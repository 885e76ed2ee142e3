"""The reading dictionary page and its JSON, through Flask's test client, against a real
studio (synthesis workers, Open JTalk compiling in child processes) and SQLite.

大前神社 (a shrine in 真岡) is おおさきじんじゃ; without a dictionary entry Open JTalk
reads it オーマエジンジャ."""

import html as htmllib
import io
import re
import wave

import numpy as np
import pytest

from announcer.readings.staff import STALE
from tests.webutil import (KNOWN_LEAKS, OPERATOR, app, client, csrf, output, services,
                           shipped_dictionary_only, staff)

pytestmark = [*KNOWN_LEAKS, pytest.mark.usefixtures("shipped_dictionary_only")]

SHRINE, SHRINE_KANA = "大前神社", "オーサキジンジャ"
SENTENCE = "大前神社のお祭りです。"
XSS = "<script>alert(1)</script>"


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


def version(client) -> str:
    return re.search(r'name="version" value="([0-9a-f]+)"', text_of(client.get("/readings")))[1]


def surfaces(html: str) -> list[str]:
    return [htmllib.unescape(s) for s in re.findall(r'<tr class="\w+" data-surface="([^"]*)"', html)]


def field_errors(html: str, name: str) -> list[str]:
    block = re.search(rf'<ul class="field-error" id="{name}-error"[^>]*>(.*?)</ul>', html, re.S)[1]
    return re.findall(r"<li>(.*?)</li>", block)


def post_form(client, url, **fields):
    data = {"csrf_token": csrf(client), "version": version(client), "priority": "5", **fields}
    return client.post(url, data=data)


def add(client, surface=SHRINE, pronunciation=SHRINE_KANA, accent_type="0", **more):
    return post_form(client, "/readings/add", surface=surface, pronunciation=pronunciation,
                     accent_type=accent_type, **more)


def post_json(client, url, body):
    return client.post(url, json=body, headers={"X-CSRF-Token": csrf(client)})


@pytest.fixture
def audits(services):
    """audits(action): (who, detail) of this test's audit rows of that action, oldest first."""
    seen = len(services.accounts.audit_log(limit=100_000))

    def new(action):
        rows = services.accounts.audit_log(limit=100_000)
        return [(r["who"], r["detail"]) for r in reversed(rows[:len(rows) - seen])
                if r["action"] == action]
    return new


def wav_frames(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


# -- sessions and CSRF -----------------------------------------------------------------------
def test_page_without_session_redirects_to_login(client):
    resp = client.get("/readings?q=真岡")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login?next=/readings?q%3D%E7%9C%9F%E5%B2%A1"


@pytest.mark.parametrize("path", ["/staff/readings/reading", "/staff/readings/preview"])
def test_json_without_session_is_401(client, path):
    resp = client.post(path, json={"text": SENTENCE})
    assert (resp.status_code, resp.get_json()) == (401, {"error": "ログインしてください"})


@pytest.mark.parametrize("url", ["/readings/add", "/readings/edit", "/readings/delete"])
def test_form_posts_without_csrf_are_400(staff, services, url):
    data = {"version": version(staff), "surface": SHRINE, "original": SHRINE,
            "pronunciation": SHRINE_KANA, "accent_type": "0"}
    resp = staff.post(url, data=data)
    assert resp.status_code == 400
    assert "画面の有効期限が切れました。ページを読み込み直してから、もう一度操作してください" in text_of(resp)
    assert not (services.config.paths.voices / "dict" / "web.csv").exists()


def test_json_without_csrf_is_400(staff):
    resp = staff.post("/staff/readings/reading", json={"text": SENTENCE})
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "画面の有効期限が切れました。ページを読み込み直してから、"
                                        "もう一度操作してください"}


# -- the list and search ---------------------------------------------------------------------
def test_page_lists_shipped_words_read_only(staff):
    html = text_of(staff.get("/readings"))
    assert "<h1>読み辞書</h1>" in html
    listed = surfaces(html)
    assert listed[:14] == ["真岡", "茂木", "北陵", "西田井", "天矢場", "SLもおか", "山前", "台町",
                           "行屋川", "井頭", "益子焼", "FMもおか", "下野", "小山"]
    assert f"登録されている単語（{len(listed)} 語）" in html and "東郷" in listed[14:]
    assert html.count("（手で編集）") == 14
    assert html.count("（自動生成）") == len(listed) - 14
    assert ('<td class="origin" data-label="辞書">地区名リスト <code>area.csv</code>（自動生成）</td>'
            in html)
    assert "?edit=" not in html  # nothing editable yet
    assert ('<tr class="shipped" data-surface="行屋川" data-reading="ギョーヤガワ">\n'
            '        <td class="surface" data-label="表記">行屋川</td>\n'
            '        <td data-label="読み">ギョーヤガワ</td>\n'
            '        <td class="notation" data-label="アクセント">ギョーヤ&#39;ガワ</td>\n'
            '        <td data-label="モーラ">5</td>\n        <td data-label="優先度">5</td>\n'
            '        <td class="origin" data-label="辞書">手作り辞書 <code>moka.csv</code>（手で編集）</td>') in html


@pytest.mark.parametrize("query, found", [
    ("井頭", ["井頭"]), ("いがしら", ["井頭"]), ("モーカ", ["真岡", "SLもおか", "FMもおか"]),
    ("もおか", ["SLもおか", "FMもおか"]), ("ない言葉", []),
])
def test_search_by_surface_or_reading(staff, query, found):
    html = text_of(staff.get("/readings", query_string={"q": query}))
    assert surfaces(html) == found
    if not found:
        assert f"「{query}」に当てはまる単語はありません" in html


# -- adding a word changes what is read and heard ----------------------------------------------
def test_add_word_changes_reading_and_rendered_notice(staff, services, audits):
    studio = services.studio
    assert studio.reading(SHRINE) == "オーマエジンジャ"
    old_key, old_audio = studio.notice_key(SENTENCE), np.array(studio.render_notice(SENTENCE))

    resp = add(staff, sample=SENTENCE)
    assert resp.status_code == 303
    assert resp.headers["Location"] == ("/readings?q=%E5%A4%A7%E5%89%8D%E7%A5%9E%E7%A4%BE&sample="
                                        "%E5%A4%A7%E5%89%8D%E7%A5%9E%E7%A4%BE%E3%81%AE%E3%81%8A"
                                        "%E7%A5%AD%E3%82%8A%E3%81%A7%E3%81%99%E3%80%82")
    html = text_of(staff.get(resp.headers["Location"]))
    assert "「大前神社」を オーサキジンジャ と読むように登録しました" in html
    assert surfaces(html) == [SHRINE]
    assert f">{SENTENCE}</textarea>" in html  # the try-out sentence is still there
    assert 'href="/readings?edit=%E5%A4%A7%E5%89%8D%E7%A5%9E%E7%A4%BE#entry-card">直す<span' in html

    assert studio.reading(SHRINE) == SHRINE_KANA
    assert studio.reading(SENTENCE) == "オーサキジンジャノオマツリデス"
    new_key, new_audio = studio.notice_key(SENTENCE), np.array(studio.render_notice(SENTENCE))
    assert new_key != old_key  # the render cache cannot serve the old reading
    assert new_audio.shape != old_audio.shape or not np.array_equal(new_audio, old_audio)
    assert audits("reading.add") == [(OPERATOR, {
        "surface": SHRINE, "before": "", "after": "大前神社,オーサキジンジャ,0,5"})]


def test_edit_and_delete_are_audited(staff, services, audits):
    assert add(staff).status_code == 303
    html = text_of(staff.get("/readings", query_string={"edit": SHRINE}))
    assert "<h2 id=\"entry-title\">「大前神社」を直す</h2>" in html
    assert 'action="/readings/edit"' in html and 'value="オーサキジンジャ"' in html

    resp = post_form(staff, "/readings/edit", original=SHRINE, surface=SHRINE,
                     pronunciation=SHRINE_KANA, accent_type="5")
    assert resp.status_code == 303
    assert "「大前神社」の読みを オーサキジンジャ に直しました" in text_of(staff.get(resp.headers["Location"]))
    assert services.studio.reading(SHRINE, accent=True) == "オーサキジ'ンジャ"

    resp = post_form(staff, "/readings/delete", surface=SHRINE)
    assert (resp.status_code, resp.headers["Location"]) == (303, "/readings")
    assert "「大前神社」を辞書から削除しました" in text_of(staff.get("/readings"))
    assert services.studio.reading(SHRINE) == "オーマエジンジャ"
    assert audits("reading.edit") == [(OPERATOR, {
        "surface": SHRINE, "before": "大前神社,オーサキジンジャ,0,5",
        "after": "大前神社,オーサキジンジャ,5,5"})]
    assert audits("reading.delete") == [(OPERATOR, {
        "surface": SHRINE, "before": "大前神社,オーサキジンジャ,5,5", "after": ""})]


# -- refusals ------------------------------------------------------------------------------------
def test_invalid_word_is_shown_again_with_errors_next_to_fields(staff, audits):
    resp = add(staff, pronunciation="おーさきじんじゃ", accent_type="9")
    html = text_of(resp)
    assert resp.status_code == 422
    assert "入力に誤りがあります。赤い字の説明に沿って直してください" in html
    assert field_errors(html, "pronunciation") == ["読みはカタカナで書いてください: おーさきじんじゃ"]
    assert field_errors(html, "surface") == []
    assert 'value="おーさきじんじゃ"' in html and 'aria-invalid="true"' in html
    resp = add(staff, accent_type="9")
    assert field_errors(text_of(resp), "accent_type") == [
        "アクセント型は 0〜7 で書いてください（オーサキジンジャ は 7 モーラ）: 9"]
    assert audits("reading.add") == []


def test_stale_version_and_duplicates_are_refused(staff, services):
    seen = version(staff)
    assert add(staff).status_code == 303
    web = services.config.paths.voices / "dict" / "web.csv"
    before = web.read_bytes()
    resp = staff.post("/readings/add", data={
        "csrf_token": csrf(staff), "version": seen, "surface": "根古屋台",
        "pronunciation": "ネゴヤダイ", "accent_type": "3"})
    assert resp.status_code == 409
    assert STALE in text_of(resp)
    assert 'value="根古屋台"' in text_of(resp)  # what was typed is not lost
    resp = add(staff, surface="真岡", pronunciation="マオカ")
    assert resp.status_code == 409
    assert field_errors(text_of(resp), "surface") == ["表記「真岡」はすでに moka.csv（22 行目）にあります"]
    assert web.read_bytes() == before


def test_script_in_a_surface_is_escaped(staff, services):
    resp = add(staff, surface=XSS, pronunciation="スクリプト")
    assert resp.status_code == 303
    html = text_of(staff.get(resp.headers["Location"]))
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert surfaces(html) == [XSS]
    html = text_of(staff.get("/readings", query_string={"sample": f"{XSS}です", "edit": XSS}))
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;です</textarea>" in html


def test_shipped_word_cannot_be_edited(staff):
    html = text_of(staff.get("/readings", query_string={"edit": "真岡"}))
    assert "「真岡」は moka.csv の単語です。このページでは変更できません" in html
    assert 'action="/readings/add"' in html
    resp = post_form(staff, "/readings/delete", surface="真岡")
    assert resp.status_code == 403
    assert "「真岡」は moka.csv の単語です。このページでは変更できません（ファイルを手で編集してください）" in text_of(resp)


# -- the try-out -------------------------------------------------------------------------------
WORD = {"surface": SHRINE, "pronunciation": SHRINE_KANA, "accent_type": "5", "priority": "5"}


def test_reading_now_and_with_the_unsaved_word(staff, services):
    resp = post_json(staff, "/staff/readings/reading", {"text": SENTENCE, **WORD})
    assert resp.get_json() == {"reading": "オーマエ'/ジ'ンジャノ/オマ'ツリデス",
                               "with_entry": "オーサキジ'ンジャノ/オマ'ツリデス",
                               "note": "", "fields": {}, "origins": []}
    resp = post_json(staff, "/staff/readings/reading", {"text": "", "surface": ""})
    assert (resp.status_code, resp.get_json()) == (
        422, {"error": "試し読みする文を入力してください"})
    resp = post_json(staff, "/staff/readings/reading",
                     {"text": "お祭りです。", **WORD, "pronunciation": "おーさき"})
    assert resp.get_json() == {
        "reading": "オマ'ツリデス", "with_entry": None, "note": "単語の入力に誤りがあります",
        "fields": {"pronunciation": ["読みはカタカナで書いてください: おーさき"]}, "origins": []}
    resp = post_json(staff, "/staff/readings/reading", {"text": "お祭りです。", **WORD})
    assert resp.get_json()["note"] == "例文に「大前神社」が入っていません"
    resp = post_json(staff, "/staff/readings/reading", {"text": "", **WORD})  # the word alone
    assert resp.get_json()["with_entry"] == "オーサキジ'ンジャ"
    assert not (services.config.paths.voices / "dict" / "web.csv").exists()  # nothing saved


def test_reading_names_the_dictionary_of_each_word(staff):
    resp = post_json(staff, "/staff/readings/reading", {"text": "東郷地区と真岡の皆さん"})
    assert resp.get_json()["origins"] == [
        {"surface": "東郷", "reading": "ヒガシゴー", "origin": "地区名リスト", "file": "area.csv"},
        {"surface": "真岡", "reading": "モーカ", "origin": "手作り辞書", "file": "moka.csv"}]


def test_staff_word_takes_over_an_area_word_until_deleted(staff, services):
    assert services.studio.reading("東郷") == "ヒガシゴー"
    resp = add(staff, "東郷", "トーゴー")
    assert resp.status_code == 303, text_of(resp)
    assert services.studio.reading("東郷") == "トーゴー"
    origins = post_json(staff, "/staff/readings/reading", {"text": "東郷"}).get_json()["origins"]
    assert origins == [{"surface": "東郷", "reading": "トーゴー", "origin": "スタッフ登録",
                        "file": "web.csv"}]
    html = text_of(staff.get("/readings", query_string={"q": "東郷"}))
    assert surfaces(html) == ["東郷"] and "スタッフ登録（このページ）" in html
    resp = post_form(staff, "/readings/delete", surface="東郷")
    assert resp.status_code == 303
    assert services.studio.reading("東郷") == "ヒガシゴー"


def test_area_word_cannot_be_edited_in_place(staff):
    resp = staff.get("/readings", query_string={"edit": "東郷"})
    assert "「東郷」は地区名リスト（area.csv）の単語です。読みを変えるには、同じ表記で新しく" \
        "登録してください（登録した読みが優先されます）" in htmllib.unescape(text_of(resp))


def test_preview_audio_now_and_with_the_unsaved_word(staff):
    now = post_json(staff, "/staff/readings/preview", {"text": SENTENCE, **WORD})
    with_word = post_json(staff, "/staff/readings/preview",
                          {"text": SENTENCE, **WORD, "with_entry": True})
    for resp in (now, with_word):
        assert (resp.status_code, resp.mimetype) == (200, "audio/wav")
        assert len(wav_frames(resp.data)) > 24000
    assert now.data != with_word.data
    resp = post_json(staff, "/staff/readings/preview",
                     {"text": SENTENCE, **WORD, "accent_type": "12", "with_entry": True})
    assert (resp.status_code, resp.get_json()) == (422, {
        "error": "単語の入力に誤りがあります",
        "fields": {"accent_type": ["アクセント型は 0〜7 で書いてください（オーサキジンジャ は 7 モーラ）: 12"]}})
    resp = post_json(staff, "/staff/readings/preview", {"text": "{大前|おおさき}神社"})
    assert (resp.status_code, resp.get_json()["error"]) == (
        422, "音声を作れませんでした: 読みはカタカナで書いてください: {大前|おおさき}")


def test_a_hand_made_reading_is_overridden_from_the_page(staff, services):
    html = text_of(staff.get("/readings", query_string={"q": "真岡"}))
    assert 'href="/readings?override=%E7%9C%9F%E5%B2%A1#entry-card">画面で上書き' in html
    form = text_of(staff.get("/readings", query_string={"override": "真岡"}))
    assert "「真岡」の読みを画面で上書き" in form and 'name="override" value="1"' in form
    assert 'value="モーカ"' in form and re.search(r'id="accent_type"[^>]*value="0"', form)
    refused = add(staff, surface="真岡", pronunciation="マオカ")  # without override: no
    assert refused.status_code == 409
    resp = staff.post("/readings/add", data={
        "csrf_token": csrf(staff), "version": version(staff), "surface": "真岡",
        "pronunciation": "マオカ", "accent_type": "0", "priority": "7", "override": "1"})
    assert resp.status_code == 303
    assert services.studio.reading("真岡") == "マオカ"
    assert post_form(staff, "/readings/delete", surface="真岡").status_code == 303
    assert services.studio.reading("真岡") == "モーカ"
