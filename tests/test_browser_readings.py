"""The reading dictionary page in a real headless Chromium (playwright) against the real
app served by waitress: search, try a sentence, add a word, and hear the preview change.
Screenshots go to test-artifacts/."""

import pytest
from playwright.sync_api import expect

from announcer.readings.rows import find_dictionaries, load_entries
from tests.conftest import REPO
from tests.webutil import (ARTIFACTS, KNOWN_LEAKS, base_url, browser, log_in, output, page,
                           services, shipped_dictionary_only)

pytestmark = [pytest.mark.browser, *KNOWN_LEAKS,
              pytest.mark.usefixtures("shipped_dictionary_only")]

SENTENCE = "大前神社のお祭りは、あしたです。"
BEFORE = "オーマエ'/ジ'ンジャノ/オマ'ツリワ、アシタ'デス"
AFTER = "オーサキジ'ンジャノ/オマ'ツリワ、アシタ'デス"


def open_readings(page):
    log_in(page)
    page.get_by_role("link", name="読み辞書").click()
    expect(page.locator("h1")).to_have_text("読み辞書")


# every word of the shipped files: hand-made and the generated area list
SHIPPED_WORDS = len(load_entries(find_dictionaries(REPO / "voices" / "dict")))


def rows(page):
    return page.locator("#word-list tbody tr[data-surface]:visible .surface")


def preview(page, button: str) -> bytes:
    with page.expect_response(lambda r: r.url.endswith("/staff/readings/preview")) as caught:
        page.get_by_role("button", name=button).click()
    resp = caught.value
    assert (resp.status, resp.headers["content-type"]) == (200, "audio/wav")
    expect(page.locator("#preview-audio")).to_be_visible()
    return resp.body()


def test_search_live_and_on_the_server(page):
    open_readings(page)
    expect(rows(page)).to_have_count(SHIPPED_WORDS)
    page.get_by_label("検索").fill("もおか")
    expect(rows(page)).to_have_text(["SLもおか", "FMもおか"])  # filtered as you type
    page.get_by_label("検索").fill("いがしら")
    expect(rows(page)).to_have_text(["井頭"])
    page.get_by_role("button", name="検索", exact=True).click()
    expect(page).to_have_url("/readings?q=%E3%81%84%E3%81%8C%E3%81%97%E3%82%89")
    expect(rows(page)).to_have_text(["井頭"])
    page.get_by_role("link", name="すべて表示").click()
    expect(rows(page)).to_have_count(SHIPPED_WORDS)


def test_try_out_names_the_dictionary_of_each_word(page):
    open_readings(page)
    page.get_by_label("例文").fill("東郷地区と真岡の皆さん")
    page.get_by_role("button", name="読みを確認").click()
    expect(page.locator("#reading-origins li")).to_have_text([
        "東郷 ヒガシゴー ← 地区名リスト（area.csv）", "真岡 モーカ ← 手作り辞書（moka.csv）"])
    expect(page.locator("#word-list tr[data-surface='東郷'] .origin")).to_have_text(
        "地区名リスト area.csv（自動生成）")
    page.screenshot(path=str(ARTIFACTS / "readings-origins.png"))


def test_fix_a_reading_and_hear_the_preview_change(page, services):
    open_readings(page)
    page.get_by_label("例文").fill(SENTENCE)
    page.get_by_role("button", name="読みを確認").click()
    expect(page.locator("#reading-now")).to_have_text(BEFORE)
    expect(page.locator("#reading-note")).to_have_text(
        "表記と読みを入力すると、登録したときの読みと比べられます。")
    before = preview(page, "今の辞書で試聴")

    page.get_by_label("表記").fill("大前神社")
    page.get_by_label("読み（カタカナ）").fill("オーサキジンジャ")
    page.get_by_label("アクセント型").fill("5")
    expect(page.locator("#mora-count")).to_have_text("7")
    expect(page.locator("#accent-notation")).to_have_text("オーサキジ'ンジャ")
    expect(page.locator("#compare")).to_have_class("compare stale")
    page.get_by_role("button", name="読みを確認").click()
    expect(page.locator("#reading-with")).to_have_text(AFTER)
    expect(page.locator("#reading-now")).to_have_text(BEFORE)
    expect(page.locator("#compare")).to_have_class("compare")
    unsaved = preview(page, "この単語を入れて試聴")
    assert unsaved != before
    page.screenshot(path=str(ARTIFACTS / "readings-try.png"), full_page=True)

    page.get_by_role("button", name="登録する").click()
    expect(page.locator("#saved")).to_have_text("「大前神社」を オーサキジンジャ と読むように登録しました")
    expect(rows(page)).to_have_text(["大前神社"])
    expect(page.get_by_label("例文")).to_have_value(SENTENCE)  # ready to listen again
    page.get_by_role("button", name="読みを確認").click()
    expect(page.locator("#reading-now")).to_have_text(AFTER)
    after = preview(page, "今の辞書で試聴")
    assert after != before
    assert services.studio.reading("大前神社") == "オーサキジンジャ"
    page.screenshot(path=str(ARTIFACTS / "readings-saved.png"), full_page=True)

    page.get_by_role("link", name="直す").click()
    expect(page.locator("#entry-title")).to_have_text("「大前神社」を直す")
    page.get_by_role("button", name="「大前神社」を辞書から削除").click()
    expect(page.locator("#confirm-dialog-title")).to_have_text("「大前神社」を辞書から削除しますか？")
    page.get_by_role("button", name="削除する").click()  # it asks first (issue 17)
    expect(page.locator("#saved")).to_have_text("「大前神社」を辞書から削除しました")
    expect(rows(page)).to_have_count(SHIPPED_WORDS)


def test_errors_are_shown_next_to_the_fields(page):
    open_readings(page)
    page.get_by_label("表記").fill("真岡")
    page.get_by_label("読み（カタカナ）").fill("まおか")
    page.get_by_label("アクセント型").fill("4")
    page.get_by_role("button", name="登録する").click()
    expect(page.locator("#form-error")).to_have_text(
        "入力に誤りがあります。赤い字の説明に沿って直してください")
    expect(page.locator("#pronunciation-error")).to_have_text("読みはカタカナで書いてください: まおか")
    expect(page.get_by_label("読み（カタカナ）")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(ARTIFACTS / "readings-error.png"), full_page=True)

    page.get_by_label("読み（カタカナ）").fill("マオカ")
    expect(page.locator("#pronunciation-error")).to_be_hidden()  # cleared while typing
    page.get_by_role("button", name="登録する").click()
    expect(page.locator("#accent_type-error")).to_have_text(
        "アクセント型は 0〜3 で書いてください（マオカ は 3 モーラ）: 4")
    page.get_by_label("アクセント型").fill("0")
    page.get_by_role("button", name="登録する").click()
    expect(page.locator("#surface-error")).to_have_text("表記「真岡」はすでに moka.csv（22 行目）にあります")
    unprocessable = ("console: Failed to load resource: the server responded with a status of "
                     "422 (UNPROCESSABLE ENTITY)")
    page.expected = [unprocessable, unprocessable, "console: Failed to load resource: the "
                     "server responded with a status of 409 (CONFLICT)"]
