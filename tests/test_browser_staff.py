"""Staff in control of everything on air (issue 17), in a real headless Chromium at a
tablet's (1024×768) and a phone's (390×844) size, against the real app served by
waitress, the "file" output playing in real time and a real JMA service fed through
its inbox entry point:

- a JMA item on air and one queued are stopped from the page;
- a person's 「今すぐ割り込む」 cuts an automatic relay, which airs again afterwards;
- the status box is never green while the JMA feed is dead or speech workers crash
  (the open silence alarm is in ``test_browser_monitor.py``, which has the real monitor);
- a failed bulletin is aired again from the red card;
- the emergency flow by keyboard alone, in at most 20 key actions;
- axe-core (axe-playwright-python) on every page and dialog at both sizes: no serious or
  critical violation; every button and menu link readable (contrast ≥ 4.5:1) and not
  covered (``elementFromPoint`` at its centre), which axe leaves "incomplete".

Screenshots of the changed pages go to test-artifacts/screenshots/staff-*.png.
"""

import itertools
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from announcer.core import events
from announcer.core.config_sections import JmaConfig
from announcer.jma.service import JmaService
from announcer.record.store import Store
from announcer.speech.pool import VoiceParams, WorkerCrashed
from announcer.web.app import create_app
from tests import jmautil
from tests.webutil import (ADMIN, ADMIN_PASSWORD, ARTIFACTS, KNOWN_LEAKS, OPERATOR,
                           SIZES, browser, cancel_open_bulletins, empty_queue, jma, log_in,
                           output, overflowing, served, services, size, watch)

pytestmark = [pytest.mark.browser, *KNOWN_LEAKS]

SHOTS = ARTIFACTS / "screenshots"
_MINUTES = itertools.count(1)


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_url(services, jma):
    app = create_app(services, testing=True)
    app.extensions["announcer.jma"] = jma
    with served(app) as url:
        yield url


@pytest.fixture
def page(browser, base_url, size):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=SIZES[size], locale="ja-JP", base_url=base_url)
    context.set_default_timeout(15_000)
    problems = []
    page = watch(context.new_page(), problems)
    page.size = size
    yield page
    context.close()
    assert problems == page.expected


def shot(page, name, full_page=True):
    page.screenshot(path=str(SHOTS / f"staff-{name}-{page.size}.png"), full_page=full_page)


def air_alert(jma, services) -> str:
    """A new automatic JMA relay (震度速報 of a quake of its own, two readings): its
    station bulletin id."""
    minute = next(_MINUTES)
    data = jmautil.quake_of_its_own(minute)
    assert jma.handle(data, f"inbox:auto-{minute}.xml") == (True, "approved")
    item = next(i for i in reversed(jma.items(services.clock.now().date()))
                if i["status"] == "approved")
    return jma.bulletin_of(item["id"])


def stop_from_dialog(page, button):
    """停止 → the dialog keeps the keyboard and names the item → 止める."""
    button.click()
    dialog = page.locator("#stop-confirm")
    expect(dialog).to_be_visible()
    expect(page.locator("#stop-cancel")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#stop-yes")).to_be_focused()
    page.keyboard.press("Tab")  # Tab stays in the dialog
    expect(page.locator("#stop-cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.locator("#stop-yes")).to_be_focused()
    page.get_by_role("button", name="止める", exact=True).click()
    expect(dialog).to_be_hidden()


# -- stop any item -----------------------------------------------------------------------
def test_a_jma_item_on_air_and_one_queued_are_stopped_from_the_page(page, services, jma):
    log_in(page)
    on_air = air_alert(jma, services)
    queued = air_alert(jma, services)  # relays never cut each other: it waits
    title = services.station.bulletin(on_air)["title"]
    expect(page.locator("#on-air-title")).to_have_text(title)
    expect(page.locator("#on-air .tag")).to_have_text("気象庁の情報")
    waiting = page.locator("#queue li").filter(has=page.locator(".tag-alert"))
    expect(waiting).to_have_count(1)

    waiting.get_by_role("button", name="停止").click()
    expect(page.locator("#stop-confirm-what")).to_have_text(f"気象庁の情報「{title}」")
    expect(page.locator("#stop-confirm-hint")).to_contain_text("この発表はもう自動では放送しません")
    shot(page, "stop-dialog-alert", full_page=False)
    page.keyboard.press("Escape")  # Esc closes it and focus returns to the button
    expect(page.locator("#stop-confirm")).to_be_hidden()
    expect(waiting.get_by_role("button", name="停止")).to_be_focused()
    stop_from_dialog(page, waiting.get_by_role("button", name="停止"))
    expect(page.locator("#stopped")).to_contain_text(f"停止しました")
    expect(page.locator("#queue")).to_have_text("待っているものはありません")

    stop_from_dialog(page, page.locator("#on-air").get_by_role("button", name="停止"))
    expect(page.locator("#on-air")).to_have_text("いま放送しているものはありません")
    for bid in (on_air, queued):
        assert services.station.bulletin(bid)["state"] == "cancelled"
    rows = page.locator("#airlog tr").filter(has_text=title)  # newest first
    for n in (0, 1):
        expect(rows.nth(n)).to_contain_text("取り消し")
        expect(rows.nth(n)).to_contain_text(f"{OPERATOR} が停止しました")
    stops = [a for a in services.accounts.audit_log() if a["action"] == "alert.stop"]
    assert {a["detail"]["id"] for a in stops} >= {on_air, queued}
    shot(page, "status-after-alert-stop")


def test_a_staff_interrupt_cuts_a_relay_which_then_airs_again(page, services, jma):
    log_in(page)
    relay = air_alert(jma, services)
    relay_title = services.station.bulletin(relay)["title"]
    expect(page.locator("#on-air-title")).to_have_text(relay_title)
    page.goto("/emergency")
    page.locator("#text").fill("中郷地区に、避難指示を発令しました。")
    page.get_by_text("1 回", exact=True).click()
    page.get_by_text("チャイムを鳴らす").click()
    expect(page.locator("#chime")).not_to_be_checked()
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("#sum-timing")).to_have_text("今すぐ割り込む")
    page.locator("#air-btn").click()
    staff_title = "中郷地区に、避難指示を発令しました"
    expect(page.locator("#on-air-title")).to_have_text(staff_title)
    expect(page.locator("#sent")).to_contain_text("いま放送中です")  # kept up to date
    again = page.locator("#queue li").filter(has_text=relay_title)
    expect(again).to_have_count(1)  # the cut relay waits to air again, from the start
    cut = page.locator("#airlog tr").filter(has_text=relay_title).first
    expect(cut).to_contain_text("中断")
    expect(cut).to_contain_text("緊急放送の割り込みで中断・まだ有効なので、そのあと最初から放送し直し")
    shot(page, "status-relay-cut")
    expect(page.locator("#on-air-title")).to_have_text(relay_title, timeout=60_000)
    expect(page.locator("#airlog tr").filter(has_text=staff_title).first).to_contain_text(
        "放送済み")
    rows = [r for r in services.store.airlog(services.clock.now().date()) if r["id"] == relay]
    assert [r["status"] for r in rows][:1] == ["interrupted"]
    assert rows[0]["detail"].endswith("; airs again (still in force)")


# -- never green while something is wrong ------------------------------------------------
def test_the_status_box_is_red_while_the_jma_feed_is_dead_and_while_speech_crashes(
        page, services, tmp_path):
    log_in(page)
    health = page.locator("#health")
    expect(health).to_have_class("health health-ok")
    own = Store(tmp_path / "jma.db", services.config.station.timezone)
    dead = JmaService(JmaConfig(enabled=True, feeds=("http://127.0.0.1:9/feed.xml",),
                                poll_seconds=1, inbox=tmp_path / "inbox"),
                      services.station, own, services.clock, None)
    dead.start()  # the feed is unreachable: stale after 5 polls
    try:
        expect(health).to_have_class("health health-bad", timeout=30_000)
        expect(health.locator(".health-state")).to_have_text(
            "気象庁の情報が届いていません（警報や地震の情報を自動で放送できません）")
        expect(health).to_contain_text("必要なら「緊急放送」で伝えてください")
        shot(page, "status-jma-stale")
    finally:
        dead.stop()
        own.close()
        events.publish(events.JMA_STALE, "feed", True)  # its feed is gone with it
    expect(health).to_have_class("health health-ok")

    watch_ = services.studio.speech_watch
    hold, watch_.HOLD = watch_.HOLD, 0.5
    try:
        with pytest.raises(WorkerCrashed):  # Open JTalk dies on it, twice
            services.studio.pool.synthesize("ア" * 400, VoiceParams())
        expect(health).to_have_class("health health-bad")
        expect(health.locator(".health-state")).to_have_text(
            "音声合成が異常終了しています（緊急放送の文が抜けるおそれがあります）")
        shot(page, "status-speech-crashing")
        for _ in range(600):  # the heartbeat probes the workers until they answer again
            services.station.heartbeat()
            if not watch_.bad:
                break
            page.wait_for_timeout(100)
    finally:
        watch_.HOLD = hold
    expect(health).to_have_class("health health-ok")


# -- re-air from the red card ------------------------------------------------------------
def test_a_failed_bulletin_is_aired_again_from_the_red_card(page, services):
    text = "中郷地区に、避難指示を発令しました。直ちに避難してください。"
    bid, _ = services.station.submit_bulletin(text, interrupt=False, title="避難指示（中郷地区）",
                                              by=OPERATOR)
    services.station.cancel_bulletin(bid)
    now = services.clock.now()
    row = services.store.airing_started("bulletin", bid, "避難指示（中郷地区）", None, now)
    services.store.airing_ended(row, "failed", now, "no speech; missing: 「中郷地区に、避難指示を発令しました。」")
    log_in(page)
    card = page.locator("#attention li").filter(has_text="避難指示（中郷地区）")
    expect(card).to_contain_text("失敗")
    expect(card).to_contain_text("音声が一文も出なかった（チャイムだけ）")
    shot(page, "status-red-card")
    card.get_by_role("link", name="もう一度放送する…").click()
    expect(page.locator("h1")).to_have_text("もう一度放送しますか？")
    expect(page.locator("#reair-text")).to_have_text(text)
    expect(page.locator("#reair-btn")).to_be_focused()  # the primary action
    shot(page, "reair-confirm")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("放送の状態")
    expect(page.locator("#sent")).to_contain_text("緊急放送「再放送：避難指示（中郷地区）」を受け付けました")
    expect(page.locator("#on-air-title")).to_have_text("再放送：避難指示（中郷地区）")
    expect(page.locator("#attention li").filter(has_text="避難指示（中郷地区）")).to_have_count(0)
    new = services.store.query("SELECT id FROM bulletins WHERE reair_of=?", (bid,))
    assert len(new) == 1
    assert services.store.bulletin(new[0]["id"])["text"] == text


# -- the keyboard alone ------------------------------------------------------------------
def test_the_emergency_flow_by_keyboard_alone_in_at_most_20_key_actions(page, services):
    """A key action is one key press (with its modifiers) or one word typed into a blank."""
    log_in(page)
    actions = []

    def press(key):
        actions.append(key)
        page.keyboard.press(key)

    def type_word(word):
        actions.append(word)
        page.keyboard.type(word)

    press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    expect(page.locator(".skip-link")).to_be_in_viewport()  # seen when focused
    press("Tab")
    press("Tab")
    expect(page.locator(".nav-emergency")).to_be_focused()
    press("Enter")
    expect(page.locator("h1")).to_have_text("緊急放送")
    press("Tab")
    press("Enter")  # 本文へ移動
    press("Tab")
    expect(page.get_by_role("button", name="避難指示")).to_be_focused()
    press("Enter")
    expect(page.locator("#text")).to_be_focused()
    type_word("中郷")
    press("Tab")
    expect(page.get_by_role("button", name="次の空欄へ")).to_be_focused()
    press("Enter")  # the same 地区名 was filled in both places; now the 避難場所
    type_word("中郷小学校")
    expect(page.locator("#blank-count")).to_have_text("空欄 残り 0 か所")
    expect(page.locator("#title")).to_have_value("避難指示（中郷地区）")
    press("Control+Enter")
    expect(page.locator("h1")).to_have_text("放送内容の確認")
    expect(page.locator("#air-btn")).to_be_focused()
    press("Enter")
    expect(page.locator("#sent")).to_contain_text("緊急放送「避難指示（中郷地区）」を受け付けました")
    assert len(actions) <= 20, actions
    (b,) = services.store.open_bulletins()
    assert b["text"].count("中郷地区") == 2 and "中郷小学校" in b["text"]
    assert "【" not in b["text"]


# -- axe and our own visibility check ----------------------------------------------------
VISIBILITY = """(scope) => {
  const root = scope ? document.querySelector(scope) : document;
  function parse(c) {
    const m = /rgba?\\(([^)]+)\\)/.exec(c || "");
    if (!m) return null;
    const p = m[1].split(",").map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  }
  function over(top, bottom) {
    const a = top.a;
    return {r: top.r * a + bottom.r * (1 - a), g: top.g * a + bottom.g * (1 - a),
            b: top.b * a + bottom.b * (1 - a), a: 1};
  }
  function background(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let color = {r: 255, g: 255, b: 255, a: 1};
    for (let i = layers.length - 1; i >= 0; i--) color = over(layers[i], color);
    return color;
  }
  function lum(c) {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }
  function opacity(el) {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  }
  const out = [];
  const controls = root.querySelectorAll(
    "button, a.btn, header a, .nav a, [role=button], summary");
  for (const el of controls) {
    const st = getComputedStyle(el);
    if (el.getClientRects().length === 0 || st.visibility === "hidden" || el.disabled ||
        el.closest("[inert]") || el.classList.contains("skip-link")) continue;
    el.scrollIntoView({block: "center", inline: "center"});
    const r = el.getBoundingClientRect();
    const name = (el.innerText || el.getAttribute("aria-label") || el.tagName).trim()
      .replace(/\\s+/g, " ").slice(0, 30);
    const bg = background(el);
    const fg = over(Object.assign(parse(st.color), {a: parse(st.color).a * opacity(el)}), bg);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) out.push(name + ": contrast " + ratio.toFixed(2));
    if (r.width < 8 || r.height < 8) out.push(name + ": too small " + r.width + "x" + r.height);
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    if (!hit || !(hit === el || el.contains(hit))) {
      out.push(name + ": covered by " + (hit ? hit.tagName + "." + hit.className + " " +
               (hit.innerText || "").trim().slice(0, 20) : "nothing"));
    }
  }
  window.scrollTo(0, 0);
  return out;
}"""


def axe_problems(page, axe, where: str) -> list[str]:
    results = axe.run(page, options={"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    return [f"{where}: {v['id']} ({v['impact']}): {v['help']} — "
            f"{[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def check(page, axe, where: str, scope: str | None = None) -> list[str]:
    problems = axe_problems(page, axe, where)
    problems += [f"{where}: {p}" for p in page.evaluate(VISIBILITY, scope)]
    return problems


PAGES = [("status", "/"), ("emergency", "/emergency"), ("notices", "/notices"),
         ("notice-new", "/notices/new"), ("notice-view", "/notices/late/edit"),
         ("timetable", "/timetable"), ("readings", "/readings"),
         ("readings-override", "/readings?override=真岡"), ("alerts", "/alerts"),
         ("audit", "/audit"), ("accounts", "/admin/users"), ("tokens", "/admin/tokens")]


def test_every_page_and_dialog_passes_axe_and_every_control_is_visible(page, services, jma):
    """Runs as an admin (every menu entry), with something on air, something queued, a
    red card, a draft waiting for approval and a revoked token."""
    axe = Axe()
    services.accounts.create_token("old-system", by=ADMIN)
    services.accounts.revoke_token("old-system", by=ADMIN)
    assert jma.handle(jmautil.tornado_south(), "inbox:tornado.xml") == (True, "pending")
    services.station.submit_bulletin("画面の確認用の放送です。" * 6, title="画面の確認", by=OPERATOR)
    air_alert(jma, services)
    now = services.clock.now()
    bid, _ = services.station.submit_bulletin("赤い表示の確認です。", interrupt=False,
                                              title="赤い表示の確認", by=OPERATOR)
    services.station.cancel_bulletin(bid)
    row = services.store.airing_started("bulletin", bid, "赤い表示の確認", None, now)
    services.store.airing_ended(row, "partial", now, "missing: 「赤い表示の確認です。」")

    page.goto("/login")
    problems = check(page, axe, "login")
    log_in(page, ADMIN, ADMIN_PASSWORD)
    expect(page.locator("#on-air-title")).to_have_text("画面の確認")
    for name, path in PAGES:
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        problems += check(page, axe, name)
        problems += [f"{name}: {p}" for p in overflowing(page)]
        shot(page, name)
    if page.size == "phone":  # the menu's links, opened
        page.goto("/")
        page.locator("#menu-btn").click()
        expect(page.locator("#menu")).to_be_visible()
        problems += check(page, axe, "menu-open", "header")
        shot(page, "menu-open", full_page=False)

    page.goto("/")  # the stop dialog
    page.locator("#on-air").get_by_role("button", name="停止").click()
    expect(page.locator("#stop-confirm")).to_be_visible()
    problems += check(page, axe, "stop-dialog", "#stop-confirm")
    shot(page, "stop-dialog", full_page=False)
    page.keyboard.press("Escape")

    page.goto("/alerts")  # the approval card and its confirm page
    draft = page.locator(".alert-draft").first
    expect(draft.get_by_role("button", name="破棄…")).to_be_visible()
    shot(page, "alerts-approval-card")
    draft.get_by_role("button", name="破棄…").click()  # asks first, in the page's dialog
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator("#confirm-dialog-no")).to_be_focused()
    problems += check(page, axe, "discard-dialog", "#confirm-dialog")
    page.keyboard.press("Escape")
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    expect(draft.get_by_role("button", name="破棄…")).to_be_focused()
    draft.get_by_role("button", name="承認して放送…").click()
    expect(page.locator("h1")).to_have_text("この原稿を放送しますか？")
    expect(page.locator("#approve-btn")).to_be_focused()
    expect(page.get_by_role("link", name="戻る（承認しない）")).to_be_visible()
    problems += check(page, axe, "alert-confirm")
    shot(page, "alert-confirm")

    page.goto(f"/reair/{row}")
    problems += check(page, axe, "reair-confirm")

    page.goto("/admin/users")  # deleting a user asks first
    page.locator(f"#user-{OPERATOR}").get_by_role("button", name="削除…").click()
    expect(page.locator("#confirm-dialog-title")).to_have_text(f"{OPERATOR} を削除しますか？")
    problems += check(page, axe, "delete-user-dialog", "#confirm-dialog")
    shot(page, "accounts-delete-dialog", full_page=False)
    page.get_by_role("button", name="やめる（削除しない）").click()
    assert OPERATOR in [u["name"] for u in services.accounts.users()]
    expect(page.locator("#revoked-h")).to_have_count(0)  # (the accounts page)
    page.goto("/admin/tokens")
    expect(page.locator("table.revoked")).to_contain_text("old-system")

    page.goto("/emergency")  # the confirm page
    page.get_by_role("button", name="避難指示").click()
    page.keyboard.type("中郷")
    page.get_by_role("button", name="次の空欄へ").click()
    page.keyboard.type("中郷小学校")
    page.get_by_role("button", name="確認へ進む").click()
    expect(page.locator("h1")).to_have_text("放送内容の確認")
    expect(page.locator("#air-btn")).to_be_focused()
    problems += check(page, axe, "confirm")
    shot(page, "confirm")
    assert problems == [], "\n".join(problems)


def test_at_1024_no_header_control_lies_under_another(page):
    if page.size != "tablet":
        pytest.skip("the phone's header is a menu")
    log_in(page, ADMIN, ADMIN_PASSWORD)
    for width in (1024, 1100, 1180):
        page.set_viewport_size({"width": width, "height": 768})
        boxes = page.locator("header a, header button").evaluate_all(
            "els => els.filter(e => e.getClientRects().length && !e.classList.contains('skip-link'))"
            ".map(e => { const r = e.getBoundingClientRect();"
            " return [e.innerText.trim(), r.left, r.right, r.top, r.bottom]; })")
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = a[2] <= b[1] or b[2] <= a[1] or a[4] <= b[3] or b[4] <= a[3]
                assert apart, (width, a, b)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.set_viewport_size(SIZES["tablet"])
    shot(page, "header-admin", full_page=False)
    account = page.get_by_role("link", name="アカウント")
    account.click()  # a tap on アカウント opens the accounts page: it never logs out
    expect(page.locator("h1")).to_have_text("職員のアカウント")
    assert re.search(r"/admin/users$", page.url)


def test_a_long_day_shows_its_latest_airings_and_the_count_as_the_page_redraws(page, services):
    """The status page lists the day's latest 30 airings; once the day passes that, the
    note with the day's count appears without a reload and stays readable (axe)."""
    log_in(page)
    expect(page.locator("#airlog-more")).to_be_hidden()
    now = services.clock.now()
    rows = [services.store.airing_started("notice", f"long-day-{n}", f"長い一日 {n:02d}", now,
                                          now) for n in range(40)]
    try:
        expect(page.locator("#airlog tr").first).to_contain_text("長い一日 39")  # redrawn
        expect(page.locator("#airlog tr")).to_have_count(30)
        expect(page.locator("#airlog-more")).to_be_visible()
        expect(page.locator("#airlog-shown")).to_have_text("30")
        total = services.store.airlog_count(now.date())
        expect(page.locator("#airlog-total")).to_have_text(str(total))
        expect(page.locator("#airlog-more a")).to_have_attribute("href", "/timetable")
        page.locator("#airlog-more").scroll_into_view_if_needed()
        shot(page, "status-long-day", full_page=False)
        assert check(page, Axe(), "status-long-day", "#airlog-more") == []
    finally:
        services.store.execute(f"DELETE FROM airlog WHERE rowid IN ({','.join('?' * len(rows))})",
                               rows)
    expect(page.locator("#airlog-more")).to_be_hidden()
