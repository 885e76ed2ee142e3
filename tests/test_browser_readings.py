"""The reading dictionary page in a real headless Chromium (playwright) against the real
app served by waitress: search, try a sentence, add a word, and hear the preview change.
Screenshots go to test-artifacts/."""

import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from waitress.server import create_server

from announcer.web.app import create_app
from tests.webutil import KNOWN_LEAKS, OPERATOR, PASSWORD, make_station_dir, running_services

pytestmark = [pytest.mark.browser, *KNOWN_LEAKS]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TABLET = {"width": 1180, "height": 820}
SENTENCE = "大前神社のお祭りは、あしたです。"
BEFORE = "オーマエ'/ジ'ンジャノ/オマ'ツリワ、アシタ'デス"
AFTER = "オーサキジ'ンジャノ/オマ'ツリワ、アシタ'デス"


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    with running_services(make_station_dir(tmp_path_factory.mktemp("station"))) as s:
        yield s


@pytest.fixture(autouse=True)
def shipped_dictionary_only(services):
    yield
    web = services.config.paths.voices / "dict" / "web.csv"
    if web.exists():
        web.unlink()
        services.studio.reload_dictionary()


@pytest.fixture(scope="module")
def base_url(services):
    server = create_server(create_app(services, testing=True), host="127.0.0.1", port=0,
                           threads=4)
    thread = threading.Thread(target=server.run, name="test-web", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=2)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, base_url):
    """A tablet-sized page that fails the test on any script error, console error (CSP
    violations land there) or dialog; a test lists the errors it expects in ``page.expected``."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=TABLET, locale="ja-JP", base_url=base_url)
    page = context.new_page()
    page.expected = []
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield page
    context.close()
    assert problems == page.expected


def open_readings(page):
    page.goto("/login")
    page.get_by_label("名前（ユーザー名）").fill(OPERATOR)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("h1")).to_have_text("放送の状態")
    page.get_by_role("link", name="読み辞書").click()
    expect(page.locator("h1")).to_have_text("読み辞書")


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
    expect(rows(page)).to_have_count(14)
    page.get_by_label("検索").fill("もおか")
    expect(rows(page)).to_have_text(["SLもおか", "FMもおか"])  # filtered as you type
    page.get_by_label("検索").fill("いがしら")
    expect(rows(page)).to_have_text(["井頭"])
    page.get_by_role("button", name="検索", exact=True).click()
    expect(page).to_have_url("/readings?q=%E3%81%84%E3%81%8C%E3%81%97%E3%82%89")
    expect(rows(page)).to_have_text(["井頭"])
    page.get_by_role("link", name="すべて表示").click()
    expect(rows(page)).to_have_count(14)


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
    expect(page.locator("#saved")).to_have_text("「大前神社」を辞書から削除しました")
    expect(rows(page)).to_have_count(14)


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
