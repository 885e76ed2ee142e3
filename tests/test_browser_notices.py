"""The notices pages in a real headless Chromium against the app served by waitress:
create a notice through the form (reading, preview), see it in the timetable, pause it,
export the as-run CSV, and have a concurrent edit refused. Screenshots go to
test-artifacts/."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from announcer.core.clock import TOKYO
from announcer.notices.editing import STALE, NoticeFiles, NoticeForm
from tests.webutil import (ARTIFACTS, KNOWN_LEAKS, base_url, browser, log_in, output, services,
                           tablet_context, watch)

pytestmark = [pytest.mark.browser, *KNOWN_LEAKS]

A4_LANDSCAPE = {"width": 1123, "height": 794}  # CSS pixels at 96 dpi


@pytest.fixture
def open_page(browser, base_url):
    """Logged-in tablet-sized pages that fail the test on script errors, console errors
    (CSP violations land there) or unexpected dialogs; ``page.expected`` lists the
    console errors a test expects."""
    contexts, pages, problems = [], [], []

    def make():
        context = tablet_context(browser, base_url, accept_downloads=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = watch(context.new_page(), problems)
        pages.append(page)
        log_in(page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert problems == [e for page in pages for e in page.expected]


def web_notice(services, notice_id, title):
    files = NoticeFiles(services.config.paths.schedules, services.config.paths.data / "trash",
                        services.config.playout.grace)
    files.create(NoticeForm(id=notice_id, title=title, text="真岡市役所からのお知らせです。",
                            times=("12:00",)))
    services.station.reload_notices(force=True)


def test_create_see_pause_and_export(open_page, services):
    today = dt.datetime.now(TOKYO)
    services.store.airing_record("notice", "late", "夜のお知らせ", today, "missed", "テスト",
                                 at=today)
    page = open_page()
    page.get_by_role("link", name="お知らせ", exact=True).click()
    page.get_by_role("link", name="新しいお知らせ").click()
    expect(page.locator("h1")).to_have_text("新しいお知らせ")
    page.get_by_label("ID（半角英数字と _ -。ファイル名になります）").fill("matsuri")
    page.get_by_label("題名（一覧と番組表に出ます。空欄なら ID）").fill("公民館まつり")
    page.get_by_label("読み上げる文章").fill("真岡市の公民館まつりは、日曜日に開かれます。")
    page.get_by_label("時刻 1").fill("10:00")
    page.get_by_role("button", name="時刻を追加").click()
    page.get_by_label("時刻 3").fill("15:30")

    page.get_by_role("button", name="読みを確認").click()
    expect(page.locator("#reading")).to_contain_text("モーカシノコーミンカンマツリワ")
    with page.expect_response(lambda r: r.url.endswith("/staff/notices/preview")) as preview:
        page.get_by_role("button", name="試聴").click()
    assert (preview.value.status, preview.value.headers["content-type"]) == (200, "audio/wav")
    expect(page.locator("#preview-audio")).to_be_visible()
    page.wait_for_function("() => document.getElementById('preview-audio').duration > 3")
    page.screenshot(path=str(ARTIFACTS / "notice-form.png"), full_page=True)

    page.get_by_role("button", name="登録する").click()
    expect(page.locator("#done")).to_have_text("「matsuri」を登録しました。")
    card = page.locator("#notice-matsuri")
    expect(card.locator(".notice-title")).to_have_text("公民館まつり")
    expect(card.locator(".notice-facts")).to_contain_text("10:00・15:30")
    assert services.station.notices.notices["matsuri"].times == (dt.time(10), dt.time(15, 30))
    page.screenshot(path=str(ARTIFACTS / "notices-list.png"), full_page=True)

    page.get_by_role("link", name="番組表", exact=True).click()
    chips = page.locator(f'td[data-date="{today.date().isoformat()}"] .chip[data-id="matsuri"]')
    expect(chips).to_have_count(2)
    expect(chips.first).to_have_class(re.compile(r"\bchip-airs\b"))

    page.goto("/notices")
    card.get_by_role("button", name="一時停止").click()
    expect(page.locator("#done")).to_have_text("「matsuri」を一時停止しました。")
    expect(card).to_have_class(re.compile(r"\bis-paused\b"))
    expect(card.locator(".tag-paused")).to_have_text("一時停止中")
    page.get_by_role("link", name="番組表", exact=True).click()
    expect(chips.first).to_have_class(re.compile(r"\bchip-paused\b"))
    expect(chips.first).to_have_css("color", "rgb(74, 83, 96)")  # greyed, still readable
    page.screenshot(path=str(ARTIFACTS / "timetable.png"), full_page=True)

    with page.expect_download() as download:
        page.locator("#csv-today").click()
    assert download.value.suggested_filename == f"airlog-{today.date().isoformat()}.csv"
    body = download.value.path().read_bytes().decode("utf-8")
    assert body.startswith("\ufeff種類,ID,件名,予定時刻,開始時刻,終了時刻,結果,備考,声\r\n")
    assert "\r\nお知らせ,late,夜のお知らせ," in body and body.endswith(",未放送,テスト,\r\n")


def test_timetable_prints_on_one_a4_page(open_page, services):
    for n in range(8):
        web_notice(services, f"print{n}", f"印刷の確認 {n}")
    page = open_page()
    page.set_viewport_size(A4_LANDSCAPE)
    page.goto("/timetable?start=2026-12-28")  # the week of 元日
    expect(page.locator('th[data-date="2027-01-01"] .holiday-name')).to_have_text("祝 元日")
    page.emulate_media(media="print")
    expect(page.locator(".top")).to_be_hidden()
    expect(page.locator("#rundown")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "timetable-print.png"), full_page=True)
    pdf = page.pdf(format="A4", landscape=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1


def test_a_concurrent_edit_is_refused(open_page, services):
    web_notice(services, "kaigi", "会議のお知らせ")
    first, second = open_page(), open_page()
    for page in (first, second):
        page.goto("/notices/kaigi/edit")
        expect(page.locator("h1")).to_have_text("お知らせの編集")
    first.locator("#title").fill("一人目の変更")
    first.get_by_role("button", name="保存する").click()
    expect(first.locator("#done")).to_have_text("「kaigi」の変更を保存しました。")

    second.locator("#title").fill("二人目の変更")
    second.get_by_role("button", name="保存する").click()
    expect(second.locator("#form-error")).to_have_text(STALE)
    expect(second.locator("#title")).to_have_value("二人目の変更")
    second.expected = ["console: Failed to load resource: the server responded with a status "
                       "of 409 (CONFLICT)"]
    second.screenshot(path=str(ARTIFACTS / "notice-conflict.png"), full_page=True)
    assert services.station.notices.notices["kaigi"].title == "一人目の変更"

    second.get_by_role("link", name="最新の内容を開く（この画面の入力は消えます）").click()
    expect(second.locator("#title")).to_have_value("一人目の変更")
