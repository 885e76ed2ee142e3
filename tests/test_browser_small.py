"""The staff page for a person under stress, in a real headless Chromium at a tablet's
(1024×768) and a phone's (390×844) size, against the real app served by waitress with
the "file" output playing in real time: nothing typed is cut, a blank never airs, two
bulletins from one template can be told apart everywhere, interrupt order is shown and
kept, stop asks and then confirms, the status box colour tells the truth, and every page
fits the phone. Screenshots of every page at both sizes go to
test-artifacts/screenshots/."""

import csv
import io
import re
import textwrap

import pytest
from playwright.sync_api import expect

from announcer.web.pages import TEMPLATES
from tests.webutil import (ADMIN, ADMIN_PASSWORD, ARTIFACTS, KNOWN_LEAKS, OPERATOR,
                           SIZES, base_url, browser, cancel_open_bulletins, empty_queue, log_in,
                           output, overflowing, services, size, watch)

pytestmark = [pytest.mark.browser, *KNOWN_LEAKS]

SHOTS = ARTIFACTS / "screenshots"
LONG_SCRIPT = "真岡市からのお知らせです。" * 500  # 6,500 characters


@pytest.fixture
def page(browser, base_url, size):
    """A page of the given size that fails the test on any script error, console error
    or dialog; ``page.expected`` lists the console errors a test expects."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=SIZES[size], locale="ja-JP", base_url=base_url,
                                  accept_downloads=True)
    context.set_default_timeout(10_000)
    problems = []
    page = watch(context.new_page(), problems)
    page.size, page.problems = size, problems
    yield page
    context.close()
    assert problems == page.expected


def shot(page, name, full_page=True):
    page.screenshot(path=str(SHOTS / f"{name}-{page.size}.png"), full_page=full_page)


def open_template(page, label):
    page.goto("/emergency")
    page.get_by_role("button", name=label).click()


def fill_blanks(page, words):
    page.keyboard.type(words[0])  # the first blank is selected
    for word in words[1:]:
        page.get_by_role("button", name="次の空欄へ").click()
        page.keyboard.type(word)


# -- never cut, never guess ----------------------------------------------------------------
def test_pasted_6000_characters_stay_and_block_the_confirm_step(page, services):
    log_in(page)
    page.goto("/emergency")
    text = LONG_SCRIPT[:6000]
    page.locator("#text").focus()
    page.keyboard.insert_text(text)  # as a paste does
    assert page.locator("#text").evaluate("t => t.value.length") == 6000
    message = "原稿が 1000 文字多すぎます（いま 6000 文字、上限 5000 文字）。短くしてから確認へ進んでください"
    expect(page.locator("#text-error")).to_have_text(message)
    expect(page.locator("#char-count")).to_have_text("6000 / 5000 文字")
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("h1")).to_have_text("緊急放送")  # no confirm step
    expect(page.locator("#text")).to_be_focused()
    assert page.locator("#text").evaluate("t => t.value") == text
    shot(page, "emergency-over-limit")
    page.locator("#text").evaluate("t => t.setSelectionRange(5000, 6000)")
    page.keyboard.press("Delete")
    expect(page.locator("#text-error")).to_be_hidden()
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("h1")).to_have_text("放送内容の確認")
    assert page.locator('input[name="text"]').evaluate("t => t.value") == text[:5000]
    assert services.store.open_bulletins() == []


def test_an_empty_blank_blocks_sending(page, services):
    label, _, _, _ = TEMPLATES[0]  # three blanks, two of them 地区名
    log_in(page)
    open_template(page, label)
    fill_blanks(page, ["中郷"])  # fills both 地区名 blanks; 避難場所 is left
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("h1")).to_have_text("緊急放送")
    expect(page.locator("#text-error")).to_have_text(
        "空欄【　　】が 1 か所残っています。選ばれている空欄を埋めてください")
    textarea = page.locator("#text")
    expect(textarea).to_be_focused()
    expect(textarea).to_have_class(re.compile(r"\bhas-error\b"))
    assert textarea.evaluate("t => t.value.slice(t.selectionStart, t.selectionEnd)") == \
        "【　避難場所　】"
    assert textarea.evaluate("t => t.value").count("中郷地区") == 2
    shot(page, "emergency-blank-left")
    page.keyboard.type("真岡小学校")
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("h1")).to_have_text("放送内容の確認")
    assert services.store.open_bulletins() == []


# -- subjects -------------------------------------------------------------------------------
def send_from_template(page, label, words, timing="現在の放送のあとに"):
    open_template(page, label)
    fill_blanks(page, words)
    page.get_by_text(timing, exact=True).click()
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("h1")).to_have_text("放送内容の確認")
    page.locator("#air-btn").click()
    expect(page.locator("#sent")).to_be_visible()


def test_two_bulletins_from_one_template_show_different_subjects(page, services, browser,
                                                                base_url):
    label = TEMPLATES[0][0]
    subjects = ["避難指示（中郷地区）", "避難指示（大内地区）"]
    log_in(page)
    send_from_template(page, label, ["中郷", "中郷小学校"])
    expect(page.locator("#on-air-title")).to_have_text(subjects[0])
    send_from_template(page, label, ["大内", "大内中学校"])
    expect(page.locator("#on-air-title")).to_have_text(subjects[0])
    expect(page.locator("#queue li").first).to_contain_text(subjects[1])
    expect(page.locator("#airlog tr").first).to_contain_text(subjects[0])
    shot(page, "status-two-subjects")
    cancel_open_bulletins(services)
    for subject in subjects:
        expect(page.locator("#airlog tr").filter(has_text=subject).first).to_contain_text("取り消し")
    body = page.request.get("/airlog.csv").body().decode("utf-8-sig")
    titles = [row[2] for row in csv.reader(io.StringIO(body))]
    assert titles[0] == "件名" and all(s in titles for s in subjects)

    admin = browser.new_context(viewport=SIZES[page.size], locale="ja-JP", base_url=base_url)
    admin_page = admin.new_page()
    admin_page.size = page.size
    log_in(admin_page, ADMIN, ADMIN_PASSWORD)
    admin_page.goto("/audit?action=bulletin.submit")
    for subject in subjects:
        expect(admin_page.locator("td").filter(has_text=subject).first).to_be_visible()
    shot(admin_page, "audit-subjects")
    admin.close()


# -- interrupt ------------------------------------------------------------------------------
def test_an_interrupting_bulletin_airs_before_a_queued_one(page, services):
    station = services.station
    log_in(page)
    a, _ = station.submit_bulletin("放送中の緊急放送です。" * 8, interrupt=True, title="A 放送中")
    expect(page.locator("#on-air-title")).to_have_text("A 放送中")
    station.submit_bulletin("あとに流す放送です。", interrupt=False, title="B あとに")
    station.submit_bulletin("割り込む放送です。", interrupt=True, title="C 割り込み")
    items = page.locator("#queue li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("1")
    expect(items.nth(0)).to_contain_text("C 割り込み")
    expect(items.nth(0)).to_contain_text("今すぐ割り込む：割り込みなしの放送より先")
    expect(items.nth(1)).to_contain_text("B あとに")
    expect(items.nth(1)).to_contain_text("現在の放送のあとに：受け付けた順")
    page.get_by_text("順番の決まり").click()
    expect(page.locator(".rule p")).to_contain_text("放送中の緊急放送は、別の緊急放送で途中で切られることはありません")
    shot(page, "status-queue-order")
    station.cancel_bulletin(a)
    expect(page.locator("#on-air-title")).to_have_text("C 割り込み")
    expect(page.locator("#queue li")).to_have_count(1)
    expect(page.locator("#queue li")).to_contain_text("B あとに")


# -- stop -----------------------------------------------------------------------------------
def test_stop_asks_and_then_confirms(page, services):
    log_in(page)
    services.station.submit_bulletin("止める試験の放送です。" * 8, title="停止の試験")
    expect(page.locator("#on-air-title")).to_have_text("停止の試験")
    page.locator("#on-air").get_by_role("button", name="停止").click()
    panel = page.locator("#stop-confirm")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("この放送を止めますか？")
    expect(panel).to_contain_text("「停止の試験」")
    box = panel.locator(".confirm-box").bounding_box()
    assert box["width"] >= min(SIZES[page.size]["width"] - 40, 500)  # large, not a dialog
    shot(page, "status-stop-confirm")
    page.get_by_role("button", name="止めない（放送を続ける）").click()
    expect(panel).to_be_hidden()
    expect(page.locator("#on-air-title")).to_have_text("停止の試験")
    page.locator("#on-air").get_by_role("button", name="停止").click()
    page.get_by_role("button", name="止める", exact=True).click()
    expect(page.locator("#stopped")).to_have_text(
        re.compile(r"^停止しました（\d\d:\d\d:\d\d）「停止の試験」$"))
    expect(page.locator("#on-air")).to_have_text("いま放送しているものはありません")
    row = page.locator("#airlog tr").filter(has_text="停止の試験").first
    expect(row).to_contain_text("取り消し")
    expect(row).to_contain_text(f"{OPERATOR} が停止しました")
    shot(page, "status-stopped")


# -- colour tells the truth -----------------------------------------------------------------
def test_a_broken_schedule_file_turns_the_status_box_amber(page, services):
    broken = services.config.paths.schedules / "broken.yaml"
    log_in(page)
    health = page.locator("#health")
    expect(health).to_have_class("health health-ok")
    broken.write_text(textwrap.dedent("""\
        notices:
          - id: broken
            title: 壊れたお知らせ
            times: ["25:00"]
        """), encoding="utf-8")
    try:
        services.station.reload_notices()
        expect(health).to_have_class("health health-warn")
        expect(health.locator(".health-state")).to_have_text("お知らせファイルに誤りがあります（2 件）")
        expect(health).to_contain_text("直前の正しい内容で放送を続けています")
        expect(health.locator("details.tech .detail").first).to_be_hidden()  # folded away
        shot(page, "status-schedule-broken")
    finally:
        broken.unlink()
        services.station.reload_notices()
    expect(health).to_have_class("health health-ok")


def test_an_unreachable_server_turns_the_status_box_red(page):
    log_in(page)
    page.route("**/staff/status", lambda route: route.abort())
    health = page.locator("#health")
    expect(health).to_have_class("health health-bad", timeout=15_000)
    expect(health.locator(".health-state")).to_contain_text("サーバーにつながりません")
    shot(page, "status-offline")
    page.unroute("**/staff/status")
    expect(health).to_have_class("health health-ok", timeout=15_000)
    # each failed poll logs one console error, and nothing else may have
    assert page.problems and all("Failed to load resource" in p for p in page.problems)
    page.expected = list(page.problems)


# -- small screens --------------------------------------------------------------------------
PAGES = [("status", "/"), ("emergency", "/emergency"), ("notices", "/notices"),
         ("notice-new", "/notices/new"), ("notice-view", "/notices/late/edit"),
         ("timetable", "/timetable"), ("readings", "/readings"), ("audit", "/audit"),
         ("accounts", "/admin/users"), ("tokens", "/admin/tokens")]


def test_header_is_compact_and_marks_the_current_page(page):
    log_in(page, ADMIN, ADMIN_PASSWORD)
    header = page.locator("header.top")
    viewport = SIZES[page.size]
    for name, path in PAGES:
        page.goto(path)
        height = header.bounding_box()["height"]
        emergency = page.locator("header .nav-emergency")
        expect(emergency).to_be_visible()  # one tap away on every page
        if page.size == "phone":
            assert height <= 0.15 * viewport["height"], (name, height)
            expect(page.locator("#menu-btn")).to_be_visible()
            expect(page.locator("#menu")).to_be_hidden()
        else:
            tops = page.locator("header .nav a, header .nav-emergency, header .logout button, "
                                "header .brand").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().top + e.offsetHeight / 2)")
            assert max(tops) - min(tops) < 12, (name, tops)  # one row
            assert height <= 0.1 * viewport["height"], (name, height)
            expect(page.locator("#menu-btn")).to_be_hidden()
        current = page.locator('header [aria-current="page"]')
        expect(current).to_have_count(1)
    if page.size == "phone":
        page.locator("#menu-btn").click()
        expect(page.locator("#menu")).to_be_visible()
        expect(page.locator("#menu-btn")).to_have_attribute("aria-expanded", "true")
        expect(page.locator('#menu [aria-current="page"]')).to_have_text("アカウント")
        shot(page, "menu-open", full_page=False)
        page.get_by_role("link", name="番組表").click()
        expect(page.locator("#menu-btn")).to_contain_text("番組表")


def test_no_page_overflows_and_screenshots_of_every_page(page, services):
    services.station.submit_bulletin("画面の確認用の放送です。" * 6, title="画面の確認",
                                     interrupt=False)
    services.station.submit_bulletin("待っている放送です。", title="待ちの確認", interrupt=False)
    page.goto("/login")
    shot(page, "login")
    assert overflowing(page) == []
    log_in(page, ADMIN, ADMIN_PASSWORD)
    expect(page.locator("#on-air-title")).to_have_text("画面の確認")
    problems = {}
    for name, path in PAGES:
        page.goto(path)
        shot(page, name)
        problems[name] = overflowing(page)
    page.goto("/emergency")
    open_template(page, TEMPLATES[0][0])
    fill_blanks(page, ["中郷", "中郷小学校"])
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("h1")).to_have_text("放送内容の確認")
    shot(page, "confirm")
    problems["confirm"] = overflowing(page)
    assert {k: v for k, v in problems.items() if v} == {}
