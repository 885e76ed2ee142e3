"""The staff pages in a real headless Chromium (playwright) against the real app served
by waitress, with the "file" output playing in real time: log in, write a bulletin from
a template, hear the preview, confirm, air it, watch it on the status board, stop it.
Screenshots go to test-artifacts/."""

import pytest
from playwright.sync_api import expect

from announcer.web.pages import BLANK, TEMPLATES
from tests.webutil import (ARTIFACTS, KNOWN_LEAKS, OPERATOR, base_url, browser,
                           cancel_open_bulletins, log_in, output, page, services)

pytestmark = [pytest.mark.browser, *KNOWN_LEAKS]

XSS = "<script>alert(1)</script>真岡市"


@pytest.fixture(autouse=True)
def empty_queue(services):
    yield
    cancel_open_bulletins(services)


def test_login_page_shows_errors(page):
    page.goto("/login")
    page.get_by_label("名前（ユーザー名）").fill(OPERATOR)
    page.get_by_label("パスワード").fill("wrong-password")
    page.keyboard.press("Enter")
    expect(page.locator("#login-error")).to_have_text("名前かパスワードが違います")
    page.expected = ["console: Failed to load resource: the server responded with a status of "
                     "401 (UNAUTHORIZED)"]
    page.screenshot(path=str(ARTIFACTS / "login-error.png"), full_page=True)


def test_bulletin_from_template_to_air(page, services):
    label, script, _, _ = TEMPLATES[0]  # 避難指示: three blanks
    text = script.replace("【　地区名　】", "中央").replace("【　避難場所　】", "真岡小学校")
    title = "避難指示（中央地区）"  # the template's subject, with the first blank
    log_in(page)
    page.get_by_role("link", name="緊急放送を出す").click()
    expect(page.locator("h1")).to_have_text("緊急放送")

    page.get_by_role("button", name=label).click()
    textarea = page.locator("#text")
    expect(textarea).to_have_value(script)
    expect(page.locator("#blank-count")).to_have_text("空欄 残り 3 か所")
    page.keyboard.type("中央")  # the first blank is selected: typing replaces it
    page.get_by_role("button", name="次の空欄へ").click()  # 中央 fills both 地区名 blanks
    expect(page.locator("#blank-count")).to_have_text("空欄 残り 1 か所")
    page.keyboard.type("真岡小学校")
    expect(textarea).to_have_value(text)
    expect(page.locator("#blank-count")).to_have_text("空欄 残り 0 か所")
    expect(page.locator("#title")).to_have_value(title)

    page.get_by_role("button", name="読みを確認").click()
    expect(page.locator("#reading")).to_contain_text("モーカシヤクショデス。チューオーチクニ")

    with page.expect_response(lambda r: r.url.endswith("/staff/preview")) as preview:
        page.get_by_role("button", name="試聴").click()
    assert preview.value.status == 200
    assert preview.value.headers["content-type"] == "audio/wav"
    audio = page.locator("#preview-audio")
    expect(audio).to_be_visible()
    assert audio.evaluate("a => a.src").startswith("blob:")
    page.wait_for_function("() => document.getElementById('preview-audio').duration > 5")
    page.screenshot(path=str(ARTIFACTS / "emergency-form.png"), full_page=True)

    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("h1")).to_have_text("放送内容の確認")
    expect(page.locator("#final-text")).to_have_text(text)
    expect(page.locator("#sum-title")).to_have_text(title)
    expect(page.locator("#sum-repeat")).to_have_text("2 回（あいだに「繰り返します。」）")
    expect(page.locator("#sum-timing")).to_have_text("今すぐ割り込む")
    expect(page.locator("#reading")).to_contain_text("チューオーチクノホーワ")
    page.screenshot(path=str(ARTIFACTS / "emergency-confirm.png"), full_page=True)

    page.locator("#air-btn").dblclick()  # a double tap must not air twice
    expect(page.locator("#sent")).to_contain_text(f"緊急放送「{title}」を受け付けました")
    expect(page.locator("#on-air-title")).to_have_text(title, timeout=5000)
    expect(page.locator("#on-air-card")).to_have_class("card on-air-card is-live")
    submits = [r for r in services.accounts.audit_log() if r["action"].startswith("bulletin.")]
    assert [r["action"] for r in submits] == ["bulletin.submit", "bulletin.preview"]
    assert len(services.store.open_bulletins()) == 1

    # A second bulletin waits behind it; the live board shows its script as text.
    services.station.submit_bulletin(XSS, interrupt=False, by="test")
    queued = page.locator("#queue li").filter(has_text=XSS)
    expect(queued).to_have_count(1)
    expect(page.locator("#airlog tr").first).to_contain_text("放送中")
    page.screenshot(path=str(ARTIFACTS / "status-on-air.png"), full_page=True)

    queued.get_by_role("button", name="停止").click()
    page.get_by_role("button", name="止める", exact=True).click()
    expect(page.locator("#queue")).to_have_text("待っているものはありません")
    page.locator("#on-air").get_by_role("button", name="停止").click()
    page.get_by_role("button", name="止める", exact=True).click()
    expect(page.locator("#on-air")).to_have_text("いま放送しているものはありません")
    log_rows = page.locator("#airlog tr")
    expect(log_rows.filter(has_text=title)).to_contain_text("取り消し")
    expect(log_rows.filter(has_text=XSS)).to_contain_text("取り消し")
    page.screenshot(path=str(ARTIFACTS / "status-after-stop.png"), full_page=True)


def test_drill_template_to_confirm_and_back(page, services):
    label, script, drill, _ = TEMPLATES[-1]  # 訓練/テスト
    assert drill
    log_in(page)
    page.goto("/emergency")
    page.get_by_role("button", name=label).click()
    expect(page.locator("#test")).to_be_checked()
    page.keyboard.type("防災")
    expect(page.locator("#title")).to_have_value("訓練（防災）")
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("#drill-note")).to_have_text("訓練モード：冒頭で「これは訓練です。」と読みます。")
    expect(page.locator("#air-btn")).to_have_text("放送する")
    page.screenshot(path=str(ARTIFACTS / "emergency-confirm-drill.png"), full_page=True)
    page.get_by_role("button", name="修正する").click()
    expect(page.locator("#text")).to_have_value(BLANK.sub("防災", script))
    expect(page.locator("#test")).to_be_checked()
    assert services.store.open_bulletins() == []


def test_a_draft_survives_a_reload(page):
    log_in(page)
    page.goto("/emergency")
    page.locator("#text").fill("真岡市の下書きです。")
    expect(page.locator("#draft-note")).to_be_hidden()
    page.reload()  # as after a login that expired while typing
    expect(page.locator("#text")).to_have_value("真岡市の下書きです。")
    expect(page.locator("#draft-note")).to_be_visible()
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("h1")).to_have_text("放送内容の確認")
    # the confirm page's script forgets the draft (the server has the script now)
    page.wait_for_function("() => !sessionStorage.getItem('announcer.draft')")
    page.goto("/emergency")  # confirmed scripts are not offered again
    expect(page.locator("#text")).to_have_value("")
    expect(page.locator("#draft-note")).to_be_hidden()
