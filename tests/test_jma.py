"""announcer.jma without audio: parsing every official sample and hostile files, the
policy, the wording, the service's series and withdrawals on an injected clock, the
feed poller against a local HTTP server, and the inbox folder."""

import datetime as dt
import logging
import os
import time
import types

import pytest

from announcer.core.clock import TOKYO, FakeClock
from announcer.core.config import load_config
from announcer.core.config_sections import JmaConfig
from announcer.core.errors import ConfigError
from announcer.jma import feed as feedmod
from announcer.jma.feed import FeedPoller, Response
from announcer.jma.inbox import Inbox
from announcer.jma.parse import MAX_BYTES, TYPES, Rejected, Unhandled, parse
from announcer.jma.policy import classify, level_category
from announcer.jma.service import AlertError, JmaService
from announcer.jma.wording import Templates, radio_time
from announcer.record.store import Store
from tests import jmautil
from tests.jmautil import (MORE, SAMPLES, FeedServer, hostile, huge, sample, variant)

START = dt.datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO)
OFFICES = ("宇都宮地方気象台",)


def landslide_auto(when=START):
    return jmautil.landslide_auto(when)


def storm_approve(when=START):
    return jmautil.storm_approve(when)


def withdrawal_of(data, when=START + dt.timedelta(minutes=1)):
    return jmautil.withdrawal_of(data, when)


# -- parse --------------------------------------------------------------------------------
def test_every_official_sample_parses_to_its_type():
    names = sorted(p.name for p in SAMPLES.glob("*.xml"))
    assert len(names) == 113
    for name in names:
        msg = parse((SAMPLES / name).read_bytes())
        assert msg.type == name.rsplit("_", 1)[1][:-4], name
        assert msg.key and msg.series and msg.date_time.tzinfo is not None


def test_the_more_samples_parse_or_are_unhandled_kinds():
    handled = set()
    for path in sorted(MORE.glob("*.xml")):
        kind = path.name.rsplit("_", 1)[1][:-4]
        try:
            assert parse(path.read_bytes()).type == kind, path.name
            handled.add(kind)
        except Unhandled:
            assert kind not in TYPES, path.name
    assert handled == {"VPFJ50", "VFVO50", "VFVO53", "VFVO54", "VFVO55", "VYSE50", "VYSE51",
                       "VTSE41", "VTSE51"}
    assert len(TYPES) == 25


@pytest.mark.parametrize("name", sorted(hostile()))
def test_hostile_files_are_rejected(name):
    with pytest.raises(Rejected):
        parse(hostile()[name])


def test_external_entity_never_reads_the_file():
    with pytest.raises(Rejected) as info:
        parse(hostile()["xxe.xml"])
    assert "forbidden" in str(info.value) and "root:" not in str(info.value)


def test_oversized_input_is_refused_before_parsing():
    with pytest.raises(Rejected, match="too large"):
        parse(huge(MAX_BYTES + 1))


def test_texts_are_capped_after_parsing():
    big = sample("15_16_01_241031_VPWW56.xml").replace(
        "を発表しています。".encode(), ("あ" * 100_000).encode(), 1)
    assert len(parse(big).headline) <= 1200


# -- policy and wording --------------------------------------------------------------
@pytest.mark.parametrize(("name", "hazard", "level", "category"), [
    ("レベル５大雨特別警報", "大雨", 5, "special_warning"), ("大雨特別警報", "大雨", 5, "special_warning"),
    ("レベル４大雨危険警報", "大雨", 4, "danger"), ("レベル４土砂災害危険警報", "土砂災害", 4, "danger"),
    ("レベル３大雨警報", "大雨", 3, "warning"), ("暴風警報", "暴風", 3, "warning"),
    ("強風注意報", "暴風", 2, "advisory"), ("風雪注意報", "暴風雪", 2, "advisory"),
    ("レベル５氾濫特別警報", "氾濫", 5, "special_warning"), ("レベル４氾濫危険警報", "氾濫", 4, "danger"),
    ("レベル３氾濫警報", "氾濫", 3, "warning"), ("レベル２氾濫注意報", "氾濫", 2, "advisory"),
    ("レベル２氾濫注意報解除", "氾濫", 0, "other"), ("氾濫発生情報（氾濫水の予報）", "氾濫", 5, "special_warning"),
    ("氾濫危険情報", "氾濫", 4, "danger"), ("氾濫警戒情報", "氾濫", 3, "warning"),
    ("氾濫注意情報解除", "氾濫", 0, "other")])
def test_kinds_are_categorised_by_their_level_word(name, hazard, level, category):
    assert classify(name) == (hazard, level)
    assert level_category(level) == category


def test_radio_time():
    assert radio_time(dt.datetime(2026, 7, 1, 5, 7, tzinfo=TOKYO), TOKYO) == "午前5時7分"
    assert radio_time(dt.datetime(2026, 7, 1, 12, 0, tzinfo=TOKYO), TOKYO) == "午後0時"
    assert radio_time(dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.timezone.utc), TOKYO,
                      day=True) == "2日午前8時30分"


def test_a_broken_template_falls_back_to_the_builtin(tmp_path, caplog):
    path = tmp_path / "t.yaml"
    path.write_text('credit: "FMもおかです。"\nwarning: "{credit}{secret.__class__}"\n',
                    encoding="utf-8")
    t = Templates(path).get()
    assert t["credit"] == "FMもおかです。" and "{changes}" in t["warning"]
    assert "not allowed" in caplog.text


# -- the service, with a fake station and clock -----------------------------------------
class FakeStation:
    tz = TOKYO
    config = types.SimpleNamespace(emergency=types.SimpleNamespace(repeat=2, chime=True))

    def __init__(self):
        self.bulletins: dict[str, dict] = {}

    def submit_bulletin(self, text, *, request_key, **kw):
        for bid, b in self.bulletins.items():
            if b["request_key"] == request_key:
                return bid, False
        bid = f"b{len(self.bulletins) + 1}"
        self.bulletins[bid] = dict(kw, text=text, request_key=request_key, state="queued")
        return bid, True

    def bulletin(self, bid):
        return self.bulletins.get(bid)

    def cancel_bulletin(self, bid, by=""):
        self.bulletins[bid]["state"] = "cancelled"
        return True


@pytest.fixture
def world(tmp_path):
    clock, station = FakeClock(START), FakeStation()
    store = Store(tmp_path / "db.sqlite", TOKYO)
    cfg = JmaConfig(enabled=True, feeds=(), inbox=tmp_path / "inbox")
    services = []

    def service():
        s = JmaService(cfg, station, store, clock, None)
        services.append(s)
        return s
    yield types.SimpleNamespace(clock=clock, station=station, service=service, store=store)
    for s in services:
        s.db.close()
    store.close()


def statuses(svc):
    return [(i["type"], i["status"]) for i in svc.items(START.date())]


def test_auto_airs_once_across_restart_and_overlap(world):
    svc = world.service()
    assert svc.handle(landslide_auto(), "feed:a") == (True, "approved")
    assert svc.handle(landslide_auto(), "inbox:a.xml") == (True, "duplicate")
    assert world.service().handle(landslide_auto(), "feed:b") == (True, "duplicate")
    (b,) = world.station.bulletins.values()
    assert b["kind"] == "alert" and b["interrupt"] and b["repeat"] == 2
    assert b["text"].startswith("午前10時、稚内地方気象台の発表です。真岡市に、")
    b["state"] = "aired"
    svc.tick()
    assert statuses(svc) == [("VPWW56", "aired")]


def test_items_are_read_in_the_jma_voice(world, tmp_path):
    cfg = JmaConfig(enabled=True, feeds=(), inbox=tmp_path / "inbox", voice="makoto")
    svc = JmaService(cfg, world.station, world.store, world.clock, None)
    try:
        assert svc.handle(landslide_auto(), "feed:a") == (True, "approved")
        (b,) = world.station.bulletins.values()
        assert b["voice"] == "makoto"
    finally:
        svc.db.close()


def test_drill_other_areas_and_older_messages_never_air(world):
    svc = world.service()
    assert svc.handle(variant(landslide_auto(), status="訓練"), "x")[1] == "ignored"
    other_area = jmautil.at(sample("15_16_01_241031_VPWW56.xml"), START)
    assert svc.handle(other_area, "x")[1].startswith("ignored")
    newer = storm_approve(START + dt.timedelta(minutes=1))
    assert svc.handle(newer, "x")[1] == "pending"
    assert svc.handle(jmautil.storm_lifted(START), "x")[1] == "ignored"  # older than in force
    assert world.station.bulletins == {}
    items = svc.items(START.date())
    assert items[0]["title"].startswith("【訓練】")
    assert items[-1]["reason"] == "発表中の情報より古い電文です"


def test_drafts_wait_for_approval_and_expire(world):
    svc = world.service()
    svc.handle(storm_approve(), "x")
    (item,) = svc.items(START.date())
    assert item["status"] == "pending" and world.station.bulletins == {}
    svc.approve(item["id"], "tanaka")
    assert [b["interrupt"] for b in world.station.bulletins.values()] == [False]
    with pytest.raises(AlertError):
        svc.approve(item["id"], "tanaka")  # once only
    other = jmautil.at(jmautil.for_mooka("15_16_05_241226_VPWW59.xml"), START)
    svc.handle(other, "x")
    world.clock.advance(180 * 60 + 1)
    svc.tick()
    assert statuses(svc)[-1] == ("VPWW59", "expired")
    with pytest.raises(AlertError, match="承認できません"):
        svc.approve(svc.items(START.date())[-1]["id"], "tanaka")


def test_withdrawal_of_an_aired_item_airs_a_withdrawal(world):
    svc = world.service()
    svc.handle(landslide_auto(), "x")
    next(iter(world.station.bulletins.values()))["state"] = "aired"
    svc.tick()
    assert svc.handle(withdrawal_of(landslide_auto()), "x") == (True, "approved")
    texts = [b["text"] for b in world.station.bulletins.values()]
    assert texts[1] == "午前10時1分、稚内地方気象台の発表です。さきほどお伝えした、宗谷地方土砂災害警報・注意報は、取り消されました。"
    assert [i["title"][:4] for i in svc.items(START.date())] == ["宗谷地方", "【取消】"]


def test_withdrawal_before_air_removes_the_queued_airing_and_the_draft(world):
    svc = world.service()
    svc.handle(landslide_auto(), "x")
    svc.handle(storm_approve(), "x")
    svc.handle(withdrawal_of(landslide_auto()), "x")
    svc.handle(withdrawal_of(storm_approve()), "x")
    assert [b["state"] for b in world.station.bulletins.values()] == ["cancelled"]
    assert svc.in_force("b1") is False
    assert statuses(svc) == [("VPWW56", "withdrawn"), ("VPWW58", "withdrawn"),
                             ("VPWW56", "logged"), ("VPWW58", "logged")]


def test_a_crash_between_record_and_queue_is_queued_at_start(world, monkeypatch):
    svc = world.service()
    monkeypatch.setattr(svc, "_air", lambda item: None)  # "killed" here
    svc.handle(landslide_auto(), "x")
    assert world.station.bulletins == {}
    world.service().tick()  # the restarted service
    world.service().tick()
    assert len(world.station.bulletins) == 1


# -- the feed poller ----------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_one_request_per_feed_per_interval_with_if_modified_since_and_backoff():
    calls, answers, mono = [], [], Clock()

    def fetcher(url, *, limit, if_modified_since=None):
        calls.append((url, if_modified_since, mono.t))
        answer = answers.pop(0) if answers else Response(304)
        if isinstance(answer, Exception):
            raise answer
        return answer

    got = []
    seen = set()
    p = FeedPoller(["http://h/feed.xml"], 60, lambda d, s: got.append(s), seen.__contains__,
                   seen.add, fetcher=fetcher, monotonic=mono, offices=OFFICES)
    answers[:] = [Response(200, jmautil.atom(["http://h/a.xml"]), "Wed, 02 Dec 2026 00:00:00 GMT"),
                  Response(200, sample("18_01_01_100806_VPOA50.xml"))]
    for t in range(0, 125):
        mono.t = t
        p.poll_due()
    feed_calls = [c for c in calls if c[0].endswith("feed.xml")]
    assert [c[2] for c in feed_calls] == [0, 60, 120]
    assert feed_calls[1][1] == "Wed, 02 Dec 2026 00:00:00 GMT"
    assert got == ["http://h/a.xml"]
    answers[:] = [feedmod.FetchError("down")] * 3
    for t in range(125, 800):
        mono.t = t
        p.poll_due()
    assert [c[2] for c in calls if c[0].endswith("feed.xml")][3:] == [180, 300, 540]


def test_feed_links_to_other_hosts_and_hostile_messages(world, caplog):
    caplog.set_level(logging.INFO)
    with FeedServer() as server, FeedServer() as elsewhere:
        bad = elsewhere.put("/evil.xml", landslide_auto())
        links = [server.put(f"/data/{n}", d) for n, d in hostile().items()]
        links += [server.put("/data/huge.xml", huge()), bad,
                  server.url("/data/x.html"), server.put("/data/ok.xml", storm_approve())]
        feed = server.set_feed("/feed/extra.xml", links)
        svc = world.service()
        svc.feeds = [FeedPoller([feed], 1, svc._from_feed, svc.db.fetched,
                                lambda u: svc.db.mark_fetched(u, START), offices=OFFICES)]
        svc.start()
        try:
            deadline = time.monotonic() + 20
            while not svc.items(START.date()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert statuses(svc) == [("VPWW58", "pending")]
            assert svc.health() == "ok"
        finally:
            svc.stop()
        assert elsewhere.count("/evil.xml") == 0
        assert server.count("/data/x.html") == 0
        assert world.station.bulletins == {}
        assert caplog.text.count("rejected:") == 5
        assert "too large" in caplog.text and "not on 127.0.0.1" in caplog.text


# -- the inbox ------------------------------------------------------------------------------
def test_inbox_moves_files_to_done_or_rejected(world, tmp_path, caplog):
    svc = world.service()
    box = Inbox(tmp_path / "in", svc.handle)
    box.ensure()
    (box.folder / "ok.xml").write_bytes(storm_approve())
    (box.folder / "unhandled.xml").write_bytes(sample("24_04_01_100806_VPFD50.xml"))
    (box.folder / "big.xml").write_bytes(huge())
    (box.folder / "bomb.xml").write_bytes(hostile()["bomb.xml"])
    os.symlink("/etc/passwd", box.folder / "passwd.xml")
    (box.folder / ".partial").write_bytes(b"<")
    assert box.scan() == 0  # first sight: wait for the files to hold still
    assert box.scan() == 5
    assert sorted(p.name for p in (box.folder / "done").iterdir()) == ["ok.xml", "unhandled.xml"]
    assert sorted(p.name for p in (box.folder / "rejected").iterdir()) == [
        "big.xml", "bomb.xml", "passwd.xml"]
    assert (box.folder / ".partial").exists()
    assert "not a regular file" in caplog.text and "too large" in caplog.text


# -- config ----------------------------------------------------------------------------------
def test_jma_config_is_validated(tmp_path):
    path = tmp_path / "station.yaml"
    path.write_text("jma:\n  enabled: true\n  feeds: [ftp://x]\n  area: [1]\n"
                    "  policy: {warning: air}\n  poll_seconds: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = "\n".join(info.value.problems)
    assert "jma.feeds: https:// で始まる URL" in text
    assert 'jma.area: 不明なキー "area" です（"areas" の間違いではありませんか？）' in text
    assert 'jma.policy.warning: "air" は使えません' in text
    assert "jma.poll_seconds: 1 から 3600 までの値" in text
    path.write_text("jma: {enabled: true, inbox: in, areas: ['0934200'], policy: {warning: log}}\n",
                    encoding="utf-8")
    cfg = load_config(path).jma
    assert cfg.inbox == tmp_path / "in" and cfg.areas == ("0934200",)
    assert cfg.policy == {"warning": "log"}
    path.write_text("jma: {policy: {landslide: log, quake_moderate: auto}, approve_minutes: 30,\n"
                    "      max_age_minutes: {quake_strong: 5}, unattended_minutes: 20}\n",
                    encoding="utf-8")
    cfg = load_config(path).jma
    assert cfg.policy == {"danger": "log", "quake_moderate": "auto"}
    assert cfg.approve_minutes["tornado"] == 30 and cfg.max_age_minutes == {"quake_strong": 5}
    assert cfg.unattended_minutes == 20


def test_health_goes_stale_without_a_successful_poll(world):
    svc = world.service()
    svc.cfg = JmaConfig(enabled=True, feeds=("http://127.0.0.1:9/feed.xml",), poll_seconds=2)
    assert svc.health() == "ok"  # just started
    svc._started -= 11
    assert svc.health() == "stale"
    svc.feeds = [FeedPoller(svc.cfg.feeds, 2, None, None, None)]
    svc.feeds[0].last_ok = time.monotonic()
    assert svc.health() == "ok"


def test_old_keys_are_pruned_but_recent_ones_kept(world):
    svc = world.service()
    svc.handle(storm_approve(), "x")
    assert svc.db.prune(START - dt.timedelta(days=1)) == 0
    assert svc.db.processed(parse(storm_approve()).key)
    assert svc.db.prune(START + dt.timedelta(seconds=1)) == 1


# -- what other parts ask (the station's re-air rule, the alerts page) --------------------
def test_in_force_follows_liftings_withdrawals_follow_ups_and_validity(world):
    svc = world.service()
    assert svc.handle(landslide_auto(), "x") == (True, "approved")
    (land,) = world.station.bulletins
    assert svc.in_force(land) and svc.item_of_bulletin(land)["type"] == "VPWW56"
    assert svc.bulletin_of(svc.item_of_bulletin(land)["id"]) == land
    svc.handle(withdrawal_of(landslide_auto()), "x")
    assert not svc.in_force(land)
    svc.handle(jmautil.quake_flash(START), "x")
    flash = list(world.station.bulletins)[-1]
    assert svc.in_force(flash)
    svc.handle(jmautil.quake_detail(1, START + dt.timedelta(minutes=1)), "x")
    detail = list(world.station.bulletins)[-1]
    assert not svc.in_force(flash) and svc.in_force(detail)
    world.clock.advance(61 * 60)
    assert not svc.in_force(detail) and not svc.in_force("nope")


def test_a_lifting_ends_what_a_draft_approved_and_aired_said(world):
    svc = world.service()
    svc.handle(storm_approve(), "x")
    (draft,) = [i for i in svc.items(START.date()) if i["status"] == "pending"]
    svc.approve(draft["id"], "tanaka")
    (bid,) = world.station.bulletins
    assert svc.in_force(bid)
    world.clock.advance(30 * 60)
    svc.handle(jmautil.storm_lifted(START + dt.timedelta(minutes=30)), "x")
    assert not svc.in_force(bid)


def test_staff_can_stop_a_queued_item(world):
    svc = world.service()
    svc.handle(landslide_auto(), "x")
    (item,) = svc.items(START.date())
    assert svc.stop_item(item["id"], "tanaka")["status"] == "withdrawn"
    assert [b["state"] for b in world.station.bulletins.values()] == ["cancelled"]
    with pytest.raises(AlertError):
        svc.stop_item(item["id"], "tanaka")
