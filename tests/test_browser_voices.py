"""Choosing who reads a bulletin, in a real headless Chromium (issue 18): the emergency
form's voice choice reaches the preview, the confirmation and the air; the footer
leads to the voices' credits."""

import json

import pytest
from playwright.sync_api import expect

from tests.webutil import (ARTIFACTS, KNOWN_LEAKS, base_url, browser,  # noqa: F401
                           cancel_open_bulletins, log_in, output, page, services)

pytestmark = [pytest.mark.browser, *KNOWN_LEAKS]


@pytest.fixture(autouse=True)
def empty_queue(services):
    yield
    cancel_open_bulletins(services)


def test_makoto_from_the_form_to_the_air(page, services):
    log_in(page)
    page.goto("/emergency")
    page.locator("#text").fill("中央地区の皆さん、避難所が開きました。")
    page.get_by_role("radio", name="まこと").check()
    with page.expect_request(lambda r: r.url.endswith("/staff/preview")) as preview:
        page.get_by_role("button", name="試聴").click()
    assert json.loads(preview.value.post_data)["voice"] == "makoto"
    expect(page.locator("#preview-audio")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "emergency-voice.png"), full_page=True)

    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("#sum-voice")).to_have_text("まこと")
    with page.expect_request(lambda r: r.url.endswith("/staff/bulletins")) as sent:
        page.locator("#air-btn").click()
    assert json.loads(sent.value.post_data)["voice"] == "makoto"
    expect(page.locator("#sent")).to_contain_text("を受け付けました")
    (b,) = services.store.open_bulletins()
    assert b["voice"] == "makoto"

    page.get_by_role("link", name="このシステムについて・声のクレジット").click()
    expect(page.locator("#credits")).to_contain_text("NIT ATR503 M001")
    page.screenshot(path=str(ARTIFACTS / "about.png"), full_page=True)
