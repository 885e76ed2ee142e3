"""The public site's parts (issue 19): furigana from the real speech workers, the spelling
rules, the publisher with a real studio and SQLite but a fake airing, the sync command's
backoff, ``/public/`` in the Flask app, the ``publish`` config section and ``easy_text``."""

import datetime as dt
import shutil
import sys
import time
from pathlib import Path

import feedparser
import numpy as np
import pytest

from announcer.core import events
from announcer.core.clock import TOKYO
from announcer.core.config import load_config
from announcer.core.errors import ConfigError
from announcer.notices.editing import NoticeForm, notice_yaml
from announcer.notices.files import load_notice_file
from announcer.playout.engine import Item
from announcer.publish.furigana import (Furigana, area_spellings, hiragana, spelled_by_rule,
                                        split_okurigana)
from announcer.publish.service import AREA_SOURCE, Publisher
from announcer.publish.site import write_atomic
from announcer.publish.sync import Sync
from announcer.record.store import Store
from tests.conftest import REPO, write_config
from tests.webutil import (KNOWN_LEAKS, app, client, csrf, output, services,  # noqa: F401
                           staff)

pytestmark = KNOWN_LEAKS


# -- spelling and okurigana (pure) --------------------------------------------------------
def test_long_vowels_are_spelled_by_the_usual_rule():
    assert spelled_by_rule("ギョーヤガワ") == "ギョウヤガワ"
    assert spelled_by_rule("センセー") == "センセイ"
    assert spelled_by_rule("オカーサン") == "オカアサン"
    assert hiragana("モオカ") == "もおか"


def test_okurigana_stay_outside_the_ruby():
    assert split_okurigana("燃える", "もえる") == [("燃", "も"), ("える", "")]
    assert split_okurigana("取り消し", "とりけし") == [("取", "と"), ("り", ""), ("消", "け"),
                                                   ("し", "")]
    assert split_okurigana("3日", "みっか") == [("3日", "みっか")]
    assert split_okurigana("見る", "きく") == [("見る", "きく")]  # no fit: one ruby


def test_area_spellings_come_from_the_postal_data():
    area = area_spellings(AREA_SOURCE)
    assert area["東郷"] == "ヒガシゴウ" and area["大谷本町"] == "オオヤホンマチ"
    assert area_spellings(Path("/nonexistent.csv")) == {}


# -- furigana from the real workers ----------------------------------------------------------
@pytest.fixture(scope="module")
def furigana(module_studio):
    return Furigana(module_studio.pool.furigana_words, module_studio.readings.entries,
                    area_spellings(AREA_SOURCE))


def rubies(paragraphs):
    return [(t, r) for p in paragraphs for line in p for t, r in line if r]


def test_furigana_follow_the_station_dictionaries(furigana):
    found = rubies(furigana.ruby("真岡市東郷の北陵と行屋川。\n\n明日は3日、燃えるごみの日です。"))
    assert ("真岡", "もおか") in found      # moka.csv モーカ; the system spells it モオカ
    assert ("東郷", "ひがしごう") in found  # area.csv ヒガシゴー; KEN_ALL ヒガシゴウ
    assert ("北陵", "ほくりょう") in found  # moka.csv ホクリョー, by the rule
    assert ("行屋川", "ぎょうやがわ") in found
    assert ("3日", "みっか") in found and ("燃", "も") in found
    assert ("明日", "あした") in found


def test_inline_readings_and_hostile_text_never_break_the_page(furigana):
    found = rubies(furigana.ruby("{真岡|モーカ}と{市役所|シヤクショ}、{下野|シモツケ}。"))
    assert ("真岡", "もおか") in found and ("下野", "しもつけ") in found
    assert ("市役所", "しやくしょ") in found
    for text in ("😀" * 50, "。" * 30, "ア" * 400, "東" * 300, "<script>alert(1)</script>漢字"):
        paragraphs = furigana.ruby(text)
        assert "".join(t for p in paragraphs for line in p for t, _ in line) == text


def test_a_crashing_worker_costs_that_line_its_furigana_only():
    calls = []

    def words(texts):
        calls.append(list(texts))
        if any("爆" in t for t in texts):
            raise RuntimeError("worker died (exit -11)")
        return [[["漢字", "カンジ", "カンジ", None]] if "漢字" in t else [] for t in texts]
    f = Furigana(words, lambda: [], {})
    out = f.ruby("漢字です。\n爆発。\n漢字。")
    assert rubies(out) == [("漢字", "かんじ"), ("漢字", "かんじ")]
    assert len(calls) == 4  # the batch, then one by one


# -- the publisher, with a real studio and SQLite, fed one fake airing ----------------------
class FakeJma:
    def __init__(self):
        self.rows = []

    def items(self, day):
        return [r for r in self.rows if r["day"] == day.isoformat()]

    def series_items(self, series):
        return [r for r in self.rows if r["series"] == series]


@pytest.fixture
def publisher(tmp_path, module_studio):
    shutil.copytree(REPO / "voices", tmp_path / "voices")
    (tmp_path / "schedules").mkdir()
    config = load_config(write_config(tmp_path, extra="publish: {drills: false, days: 2}\n"))
    store = Store(config.paths.data / "announcer.db", TOKYO)
    clock = FakeClock(dt.datetime(2026, 12, 3, 18, 30, tzinfo=TOKYO))
    p = Publisher(config, clock, store, module_studio, notices=None, jma=FakeJma())
    p.check_seconds = 0.2
    p.start()
    yield p
    p.stop()
    store.close()


class FakeClock:
    def __init__(self, now):
        self.t = now

    def now(self):
        return self.t


def air(p, kind, item_id, status, seconds=1.0, drill=False, title="件名"):
    """Play ``seconds`` of tone through the tap, then end the airing as the station would."""
    item = Item(kind, item_id, source=None, title=title, drill=drill)
    item.started_at = p.clock.now()
    for _ in range(int(seconds * 48000 / 960)):
        p.tap(item, np.full(960, 0.1, np.float32))
    before = p.published
    p.airing_ended(item, status, "田中 が停止しました", item.started_at + dt.timedelta(seconds=seconds))
    return item, before


def wait(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def site(p):
    return feedparser.parse((p.cfg.dir / "feed.xml").read_bytes())


def test_what_aired_before_a_crash_without_a_page_is_published_at_the_next_start(
        tmp_path, module_studio):
    """The daemon died between an airing's end and its page: the next start publishes
    it (text only), once; what did not air, drills and what has a page are left alone."""
    shutil.copytree(REPO / "voices", tmp_path / "voices")
    (tmp_path / "schedules").mkdir()
    config = load_config(write_config(tmp_path, extra="publish: {drills: false, days: 2}\n"))
    store = Store(config.paths.data / "announcer.db", TOKYO)
    clock = FakeClock(dt.datetime(2026, 12, 3, 18, 30, tzinfo=TOKYO))
    t = clock.t - dt.timedelta(hours=1)
    store.add_bulletin("b1", "県道の冠水で通行止めです。", {"repeat": 1}, t, None, title="冠水")
    store.add_bulletin("d1", "訓練です。", {"repeat": 1, "test": True}, t, None, title="訓練")
    for ident, status in (("b1", "aired"), ("d1", "aired"), ("b2", "interrupted")):
        ref = store.airing_started("bulletin", ident, ident, None, t)
        store.airing_ended(ref, status, t + dt.timedelta(seconds=20))
    store.airing_record("bulletin", "b3", "b3", t, "missed", "daemon was not running", at=t)
    try:
        for run in range(2):  # the second start finds the page and adds nothing
            p = Publisher(config, clock, store, module_studio, notices=None, jma=FakeJma())
            p.check_seconds = 0.2
            p.start()
            p.catch_up(clock.t)  # as the daemon does once the station has started
            try:
                wait(lambda: p.caught_up is not None)
                wait(lambda: p.published == p.caught_up)
                assert (p.caught_up, p.published) == ((1, 1) if run == 0 else (0, 0))
                assert [e.title for e in site(p).entries] == ["冠水"]
                assert not site(p).entries[0].get("enclosures")  # the audio died with it
            finally:
                p.stop()
    finally:
        store.close()


def test_an_airing_held_by_a_full_disk_keeps_its_audio_and_is_published_later(
        publisher, monkeypatch):
    import sqlite3

    add, failing = publisher.db.add, [True]

    def full_then_fine(row):
        if failing[0]:
            raise sqlite3.OperationalError("database or disk is full")
        add(row)

    monkeypatch.setattr(publisher.db, "add", full_then_fine)
    air(publisher, "bulletin", "b1", "aired")
    wait(lambda: publisher._later)
    failing[0] = False
    publisher.clock.t += dt.timedelta(seconds=30)
    air(publisher, "bulletin", "b2", "aired")  # its rebuild prunes: b1's audio stays
    wait(lambda: publisher.published == 2 and not publisher._later)
    entries = site(publisher).entries
    assert len(entries) == 2 and all(e.enclosures for e in entries)
    assert len(list((publisher.cfg.dir / "audio").glob("*.mp3"))) == 2


def test_only_what_went_out_is_published(publisher):
    store = publisher.store
    for bid, title in (("b1", "冠水"), ("b2", "訓練"), ("b3", "誤報"), ("b4", "中断"),
                       ("b5", "一部")):
        store.add_bulletin(bid, f"{title}の放送です。", {"repeat": 1, "test": bid == "b2"},
                           publisher.clock.now(), None, "token:tanaka", title=title)
    air(publisher, "bulletin", "b1", "aired")
    air(publisher, "bulletin", "b2", "aired", drill=True)
    air(publisher, "bulletin", "b4", "interrupted")
    air(publisher, "bulletin", "b3", "cancelled")  # staff stopped it on air
    air(publisher, "bulletin", "b5", "partial")  # what was heard, with a note
    wait(lambda: publisher.published == 3)
    entries = {e.title: e for e in site(publisher).entries}
    assert set(entries) == {"冠水", "【取り消し】誤報", "一部"}
    assert entries["一部"].enclosures
    assert entries["冠水"].enclosures and not entries["【取り消し】誤報"].get("enclosures")
    assert "放送中に取り消されました" in entries["【取り消し】誤報"].description
    text = "".join(p.read_text("utf-8") for p in publisher.cfg.dir.rglob("*.html"))
    assert "一部の文は音声を作れず、放送されませんでした" in text
    assert "tanaka" not in text and "田中" not in text and "b1" not in text
    # the voices' licence (CC BY 3.0) asks for credit wherever their audio is published
    index = (publisher.cfg.dir / "index.html").read_text("utf-8")
    assert "NIT ATR503 M001" in index and "“Mei”" in index and "CC BY 3.0" in index
    assert not list(publisher.capture.work.glob("*.part"))  # nothing left behind


def test_a_withdrawal_from_jma_and_old_days_leave_the_site(publisher):
    publisher.store.add_bulletin("a1", "大雨警報が発表されました。", {"repeat": 1},
                                 publisher.clock.now(), None, "jma", title="大雨警報")
    publisher.jma.rows.append({"id": "j1", "bulletin": "a1", "series": "s1", "info_type": "発表",
                               "day": "2026-12-03", "received_at": "2026-12-03T18:29:00+09:00"})
    air(publisher, "alert", "a1", "aired")
    wait(lambda: publisher.published == 1)
    (audio,) = (publisher.cfg.dir / "audio").glob("*.mp3")
    publisher.jma.rows.append({"id": "j2", "bulletin": None, "series": "s1", "info_type": "取消",
                               "day": "2026-12-03", "received_at": "2026-12-03T18:40:00+09:00"})
    wait(lambda: site(publisher).entries[0].title.startswith("【取り消し】"))
    wait(lambda: not audio.exists())  # the feed is written first, then the folder pruned
    page = next((publisher.cfg.dir / "items").glob("*.html")).read_text("utf-8")
    assert "気象庁が取り消しました" in page and "12月3日 18時40分" in page
    publisher.clock.t += dt.timedelta(days=2)  # days: 2 → the 3rd is gone at midnight
    wait(lambda: site(publisher).entries == [])
    assert list((publisher.cfg.dir / "items").glob("*.html")) == []


def test_atomic_writes_leave_no_temp_file_and_skip_unchanged(tmp_path):
    target = tmp_path / "index.html"
    assert write_atomic(target, b"a") and not write_atomic(target, b"a")
    assert target.read_bytes() == b"a" and [p.name for p in tmp_path.iterdir()] == ["index.html"]


REBUILD_PEAK = """
import datetime as dt, sys, tracemalloc
from pathlib import Path
from announcer.core.clock import TOKYO
from announcer.publish.site import Site
from announcer.publish.store import PublicStore
from announcer.record.store import Store
folder, day, now = Path(sys.argv[1]), dt.date.fromisoformat(sys.argv[2]), \\
    dt.datetime.fromisoformat(sys.argv[3])
store = Store(folder / "announcer.db", TOKYO)
db = PublicStore(store)
class Rows:
    def __iter__(self):
        return db.each_since(day)
site = Site(folder / "peak", title="t", station="s", url="https://e/", days=7, tz=TOKYO)
site.write(Rows(), now)  # the templates compiled, the pages written
(folder / "peak" / "index.html").unlink()  # written again, not skipped as unchanged
tracemalloc.start()
site.write(Rows(), now)
print(tracemalloc.get_traced_memory()[1])
"""


def rebuild_peak(folder, day, now) -> int:
    """Peak traced memory of one rebuild, in a fresh interpreter (no other thread)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", REBUILD_PEAK, str(folder), day.isoformat(),
                          now.isoformat()], capture_output=True, text=True, check=True,
                         cwd=REPO, timeout=120)
    return int(out.stdout.split()[-1])


def test_the_site_is_read_a_few_rows_at_a_time_and_the_feed_keeps_the_newest(tmp_path):
    """The index holds the whole window, the feed its newest ``FEED_ITEMS``; the rows are
    read in chunks (ties in time kept apart by the slug), so a rebuild's peak memory does
    not grow with the window (a long run would keep the largest peak's heap)."""
    from announcer.publish.site import FEED_ITEMS, Site
    from announcer.publish.store import PublicStore

    store = Store(tmp_path / "announcer.db", TOKYO)
    db = PublicStore(store)
    start = dt.datetime(2026, 12, 3, 6, 0, tzinfo=TOKYO)
    text = [[[["真岡", "もおか"], ["市の", ""], ["お知らせ", ""], ["です。", ""]]]] * 4

    def add(n, first=0):
        for i in range(first, first + n):
            at = start + dt.timedelta(minutes=5 * (i // 2))  # two items share each minute
            db.add({"slug": db.free_slug(at), "kind": "notice", "item_id": f"n{i}",
                    "started_at": at, "ended_at": at + dt.timedelta(seconds=20),
                    "status": "aired", "content": {"title": [[f"お知らせ{i}", ""]],
                                                   "text": text, "easy": []}})
    add(121)
    day = start.date() - dt.timedelta(days=1)
    rows = list(db.each_since(day, chunk=4))
    assert len(rows) == 121 and len({r["slug"] for r in rows}) == 121
    assert rows == sorted(rows, key=lambda r: (r["started_at"], r["slug"]), reverse=True)
    assert [r["slug"] for r in db.each_since(day, limit=5, chunk=2)] == \
        [r["slug"] for r in rows[:5]]

    class Rows:
        def __iter__(self):
            return db.each_since(day)
    folder = tmp_path / "public"
    site = Site(folder, title="t", station="FMもおか", url="https://example.jp/", days=7, tz=TOKYO)
    now = start + dt.timedelta(days=1)
    small = rebuild_peak(tmp_path, day, now)
    add(360, first=121)
    large = rebuild_peak(tmp_path, day, now)
    assert large < small * 1.2 + 100_000, (small, large)  # materialized: 0.96 → 2.9 MB
    site.write(Rows(), now)
    index = (folder / "index.html").read_text("utf-8")
    assert index.count('<article class="item') == 481 and "お知らせ0<" in index
    assert len(list((folder / "items").glob("*.html"))) == 481
    feed = feedparser.parse((folder / "feed.xml").read_bytes())
    assert len(feed.entries) == FEED_ITEMS and feed.entries[0].title == "お知らせ480"
    mtime = (folder / "index.html").stat().st_mtime_ns
    assert folder / "index.html" not in site.write(Rows(), now)  # unchanged: not rewritten
    assert (folder / "index.html").stat().st_mtime_ns == mtime
    assert not list(folder.glob("**/.*.tmp"))
    db.close()
    store.close()


def test_the_index_is_compared_as_it_streams_and_written_only_when_it_differs(tmp_path):
    from announcer.publish.site import write_stream

    target = tmp_path / "index.html"
    assert write_stream(target, iter(["あい", "う"])) and target.read_text("utf-8") == "あいう"
    mtime = target.stat().st_mtime_ns
    assert not write_stream(target, iter(["あ", "いう"]))  # same bytes, other chunks
    assert target.stat().st_mtime_ns == mtime
    for text in (["あい"], ["あいうえ"], ["あいえ"], ["かき", "く"], []):  # shorter, longer…
        assert write_stream(target, iter(text)) and target.read_text("utf-8") == "".join(text)
    target.write_text("old", "utf-8")
    target.chmod(0o600)

    def broken():
        yield "ol"
        yield "x"
        raise RuntimeError("template failed")
    with pytest.raises(RuntimeError):
        write_stream(target, broken())
    assert target.read_text("utf-8") == "old" and [p.name for p in tmp_path.iterdir()] == \
        ["index.html"]  # no temp file left
    assert write_stream(target, iter(["new"]))
    assert target.stat().st_mode & 0o777 == 0o644  # readable by a web server


def test_a_day_stays_one_section_and_an_empty_window_says_so(tmp_path):
    """Rows are grouped by their station-local day whatever offset their time was
    written with; pages of items gone from the window are forgotten; a one-shot iterator
    is refused (the site reads its rows once per file)."""
    from announcer.publish.site import Site
    from announcer.publish.store import PublicStore

    store = Store(tmp_path / "announcer.db", TOKYO)
    db = PublicStore(store)
    utc = dt.timezone.utc
    for n, at in enumerate((dt.datetime(2026, 12, 3, 8, 0, tzinfo=TOKYO),
                            dt.datetime(2026, 12, 3, 3, 30, tzinfo=utc),  # 12:30 in Tokyo
                            dt.datetime(2026, 12, 3, 18, 0, tzinfo=TOKYO),
                            dt.datetime(2026, 12, 4, 7, 0, tzinfo=TOKYO))):
        db.add({"slug": db.free_slug(at), "kind": "notice", "item_id": f"n{n}", "started_at": at,
                "ended_at": at, "status": "aired",
                "content": {"title": [[f"題{n}", ""]], "text": [], "easy": []}})

    class Rows:
        def __init__(self, day):
            self.day = day

        def __iter__(self):
            return db.each_since(self.day)
    folder = tmp_path / "public"
    site = Site(folder, title="t", station="FMもおか", url="https://example.jp/", days=7, tz=TOKYO)
    now = dt.datetime(2026, 12, 4, 9, 0, tzinfo=TOKYO)
    site.write(Rows(dt.date(2026, 12, 1)), now)
    index = (folder / "index.html").read_text("utf-8")
    assert index.count('id="d-2026-12-03"') == 1 and index.count('id="d-2026-12-04"') == 1
    assert index.index("題3") < index.index("題2") < index.index("題1") < index.index("題0")
    with pytest.raises(TypeError):
        site.write(db.each_since(dt.date(2026, 12, 1)), now)
    site.write(Rows(dt.date(2026, 12, 5)), now)
    assert "まだ掲載する放送はありません" in (folder / "index.html").read_text("utf-8")
    site.prune(set(), set())
    assert site._pages == {} and list((folder / "items").iterdir()) == []
    db.close()
    store.close()


# -- publish.command -------------------------------------------------------------------------
def test_a_failing_command_backs_off_and_is_one_condition(tmp_path):
    seen = []
    sync = Sync((sys.executable, "-c", "import sys; sys.exit(2)"), tmp_path, 10,
                publish=lambda *e: seen.append(e))
    sync.first_backoff = 0.3
    sync.start()
    started = time.monotonic()
    for _ in range(5):
        sync.request()  # updates during the backoff do not run it sooner
    wait(lambda: sync.runs >= 3, timeout=20)
    sync.stop()
    assert time.monotonic() - started >= 0.3 + 0.6  # 0.3 s, then 0.6 s between the runs
    assert {e[:3] for e in seen} == {(events.PUBLISH, "command", False)}
    assert "終了コード 2" in seen[0][3]
    ok = []
    good = Sync(("true",), tmp_path, 10, publish=lambda *e: ok.append(e))
    good.start()
    good.request()
    wait(lambda: ok)
    good.stop()
    assert ok == [(events.PUBLISH, "command", True, "")]


# -- /public/ in the staff app -----------------------------------------------------------------
def test_public_is_read_only_without_login_or_cookies(services):
    from announcer.web.app import create_app

    folder = services.config.publish.dir
    write_atomic(folder / "index.html", "<p>こんにちは</p>".encode())
    write_atomic(folder / "audio" / "20261203-183000.mp3", b"ID3")
    write_atomic(folder / ".index.html.tmp", b"half")
    test_client = create_app(services, testing=True).test_client()

    class Client:  # every response read and closed (send_file keeps the file open)
        application = test_client.application

        def __getattr__(self, method):
            def call(*args, **kw):
                resp = getattr(test_client, method)(*args, **kw)
                resp.get_data()
                resp.close()
                return resp
            return call
    public = Client()
    resp = public.get("/public/")
    assert resp.status_code == 200 and "こんにちは" in resp.get_data(as_text=True)
    assert "Set-Cookie" not in resp.headers
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert "max-age=60" in resp.headers["Cache-Control"]
    assert public.get("/public/", headers={"If-None-Match": resp.headers["ETag"]}
                      ).status_code == 304
    audio = public.get("/public/audio/20261203-183000.mp3")
    assert audio.headers["Content-Type"] == "audio/mpeg"
    assert "max-age=86400" in audio.headers["Cache-Control"]
    for path in ("/public/.index.html.tmp", "/public/../announcer.db",
                 "/public/%2e%2e/announcer.db", "/public/items/x.html",
                 "/public/audio/20261203-183001.mp3"):
        resp = public.get(path)
        assert resp.status_code == 404 and "Set-Cookie" not in resp.headers, path
    resp = public.post("/public/", data={"x": "1"})
    assert resp.status_code == 405 and "Set-Cookie" not in resp.headers
    slots = public.application.extensions["announcer.public_slots"]
    held = [slots.acquire(blocking=False) for _ in range(4)]
    try:
        busy = public.get("/public/")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    finally:
        for h in held:
            if h:
                slots.release()


# -- config and notices --------------------------------------------------------------------------
def test_publish_config(tmp_path):
    path = tmp_path / "station.yaml"
    path.write_text("web: {host: 0.0.0.0, port: 8081}\n", "utf-8")
    cfg = load_config(path).publish
    assert (cfg.enabled, cfg.days, cfg.drills, cfg.command) == (True, 7, False, ())
    assert cfg.dir == tmp_path / "var" / "public"
    assert cfg.url == "http://127.0.0.1:8081/public/" and cfg.title == "FMもおか 放送の記録"
    path.write_text('publish: {command: "rsync -a ./ \'web:/srv/fm moka/\'", '
                    'url: "https://www.city.example.jp/fm"}\n', "utf-8")
    cfg = load_config(path).publish
    assert cfg.command == ("rsync", "-a", "./", "web:/srv/fm moka/")
    assert cfg.url == "https://www.city.example.jp/fm/"
    path.write_text("publish: {days: 0, drill: true, command: []}\n", "utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:1: publish.days: 1 から 60 までの値にしてください: 0" in err.value.problems
    assert any('publish.drill: 不明なキー "drill" です（"drills"' in p for p in err.value.problems)


def test_easy_text_goes_through_the_notice_file(tmp_path):
    form = NoticeForm(id="gomi", text="明日は燃えるごみの日です。", times=("07:30",),
                      easy_text="あしたは\nもえるごみの 日です。")
    path = tmp_path / "gomi.yaml"
    path.write_text(notice_yaml(form), "utf-8")
    (notice,) = load_notice_file(path, default_grace=dt.timedelta(minutes=5))
    assert notice.easy_text == "あしたは\nもえるごみの 日です。"
    path.write_text(notice_yaml(NoticeForm(id="g", text="x", times=("07:30",))), "utf-8")
    assert "easy_text" not in path.read_text("utf-8")
    assert load_notice_file(path, default_grace=dt.timedelta(minutes=5))[0].easy_text == ""


def test_the_notices_page_has_one_easy_text_field(staff, services):
    assert 'name="easy_text"' in staff.get("/notices/new").get_data(as_text=True)
    data = {"csrf_token": csrf(staff), "id": "easy", "title": "ごみ", "times": ["07:30"],
            "text": "明日は燃えるごみの収集日です。", "easy_text": "あしたは もえるごみの 日です。",
            "days": ["mon"], "holidays": "any", "chime": "on", "repeat": "1", "enabled": "on"}
    assert staff.post("/notices/new", data=data).status_code == 303
    path = services.config.paths.schedules / "web" / "easy.yaml"
    assert "    easy_text: あしたは もえるごみの 日です。\n" in path.read_text("utf-8")
    assert services.station.notices.notices["easy"].easy_text == "あしたは もえるごみの 日です。"
    html = staff.get("/notices/easy/edit").get_data(as_text=True)
    assert ">あしたは もえるごみの 日です。</textarea>" in html
