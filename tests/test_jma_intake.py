"""Intake that one bad file cannot blind (issue 16, item 9): each hostile or faulty input,
then a real message that must still be queued to air — through the real service, store,
parser, inbox and feed code, with a fake station and (where time matters) a fake clock."""

import datetime as dt
import logging
import os
import socket
import threading
import time

import pytest

from announcer.core import events
from announcer.jma import feed as feedmod
from announcer.jma import intake as intakemod
from announcer.jma.feed import FeedPoller
from announcer.jma.inbox import INCOMPLETE_SECONDS, MAX_FILES, Inbox
from announcer.jma.intake import Intake
from announcer.jma.parse import Overrun, parse
from tests import jmautil
from tests.jmautil import FeedServer, sample
from tests.test_jma import START, FakeStation, world  # noqa: F401 (fixture)

OFFICES = ("宇都宮地方気象台",)


def aired(world) -> list[str]:
    return [b["title"] for b in world.station.bulletins.values()]


class Mono:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_a_future_withdrawal_that_withdrew_nothing_blocks_nothing(world):
    svc = world.service()
    future = jmautil.withdrawal_of(jmautil.landslide_auto(START),
                                   dt.datetime(2099, 1, 1, tzinfo=START.tzinfo))
    ok, outcome = svc.handle(future, "inbox:2099.xml")
    assert not ok and "future" in outcome
    storm_cancel = jmautil.withdrawal_of(jmautil.storm_approve(START),
                                         START + dt.timedelta(minutes=4))
    assert svc.handle(storm_cancel, "x") == (True, "ignored: nothing to withdraw")
    assert svc.handle(jmautil.landslide_auto(START), "x") == (True, "approved")
    assert svc.handle(jmautil.storm_approve(START + dt.timedelta(seconds=1)), "x") == \
        (True, "pending")
    assert len(aired(world)) == 1


def test_a_writer_that_pauses_is_waited_for_not_rejected(world, tmp_path):
    svc, mono = world.service(), Mono()
    box = Inbox(tmp_path / "in", svc.handle, intake=svc.intake, monotonic=mono)
    box.ensure()
    data = jmautil.landslide_auto(START)
    path = box.folder / "relay.xml"
    path.write_bytes(data[:5000])  # the writer pauses here
    for _ in range(3):
        box.scan()
        mono.t += 1
    assert path.exists() and not list((box.folder / "rejected").iterdir())
    with open(path, "ab") as f:
        f.write(data[5000:])
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1))
    box.scan()
    assert box.scan() == 1 and (box.folder / "done" / "relay.xml").exists()
    assert aired(world) and svc.intake.problems() == []


def test_a_rejected_file_that_changes_is_read_again(world, tmp_path):
    svc, mono = world.service(), Mono()
    box = Inbox(tmp_path / "in", svc.handle, intake=svc.intake, monotonic=mono)
    box.ensure()
    data = jmautil.landslide_auto(START)
    path = box.folder / "slow.xml"
    path.write_bytes(data[:5000])
    box.scan()
    box.scan()
    mono.t += INCOMPLETE_SECONDS + 1
    box.scan()
    rejected = box.folder / "rejected" / "slow.xml"
    assert rejected.exists() and svc.intake.problems()
    with open(rejected, "ab") as f:  # the writer still holds the file it was writing
        f.write(data[5000:])
    os.utime(rejected, ns=(time.time_ns(), time.time_ns() + 1))
    for _ in range(3):
        box.scan()
    assert (box.folder / "done" / "slow.xml").exists() and aired(world)


def test_leftover_dot_files_never_hide_a_real_one_and_a_backlog_is_reported(world, tmp_path):
    svc = world.service()
    box = Inbox(tmp_path / "in", svc.handle, intake=svc.intake)
    box.ensure()
    for i in range(1000):
        (box.folder / f".tmp{i:04d}").write_bytes(b"<")
    for i in range(MAX_FILES + 20):
        (box.folder / f"a{i:04d}.xml").write_bytes(jmautil.at(sample(
            "15_16_01_241031_VPWW56.xml"), START - dt.timedelta(seconds=i + 1)))  # not ours
    (box.folder / "z-real.xml").write_bytes(jmautil.landslide_auto(START))
    box.scan()
    assert box.scan() == MAX_FILES and svc.intake.backlog == 21
    assert "まだ読んでいないファイルが 21 件" in svc.intake.problems()[0]
    assert box.scan() == 21 and svc.intake.backlog == 0
    assert aired(world) and svc.intake.problems() == []


def quadratic(n: int = 19000) -> bytes:
    """A JMA-shaped message whose Head holds ``n`` area Names and ``n`` Kinds (1.4 MB): the
    old lookup of each Name among all Kinds made this a minute of work."""
    head = jmautil.landslide_auto(START).decode()
    areas = "<Areas>" + "<Area><Name>区域</Name><Code>1</Code></Area>" * n + "</Areas>"
    items = "<Item>" + areas + "<Kind><Name>x</Name></Kind>" * n + "</Item>"
    return head.replace('<Information type="気象警報・注意報（府県予報区等）">',
                        f'<Information type="x">{items}</Information><Information '
                        'type="気象警報・注意報（府県予報区等）">', 1).encode()


def test_a_huge_crafted_head_is_read_within_the_budget_and_holds_nothing_up(world):
    data = quadratic()
    assert len(data) > 1_300_000
    started = time.monotonic()
    try:
        parse(data)
    except Overrun:
        pass
    assert time.monotonic() - started < 10 * 3.0  # the budget, with a 10x margin
    with pytest.raises(Overrun):
        parse(data, budget=0.0)


def test_a_file_over_its_budget_is_rejected_and_reported_and_the_next_one_airs(world, tmp_path,
                                                                               monkeypatch):
    svc = world.service()
    monkeypatch.setattr("announcer.jma.parse.BUDGET", 0.0)
    monkeypatch.setattr("announcer.jma.service.parse", lambda d: parse(d, budget=(
        0.0 if d is slow else 3.0)))
    slow = quadratic(2000)
    ok, outcome = svc.handle(slow, "inbox:slow.xml")
    assert not ok and "longer than" in outcome
    assert "時間がかかりすぎて打ち切った" in " ".join(svc.intake.problems())
    assert svc.handle(jmautil.landslide_auto(START), "inbox:real.xml") == (True, "approved")


class Dripping:
    """An HTTP server that answers one byte a second, for as long as it runs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed/extra.xml"

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        try:
            for ch in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100000:
                if self.stop.wait(1.0):
                    break
                conn.sendall(bytes([ch]))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


def test_a_dripping_feed_is_cut_off_at_its_deadline():
    server = Dripping()
    try:
        with pytest.raises(feedmod.DeadlineExceeded):
            feedmod.fetch(server.url, limit=1000, deadline=1.5)
    finally:
        server.close()


def test_a_dripping_feed_never_blocks_another(world, monkeypatch):
    monkeypatch.setattr(feedmod, "DEADLINE", 3600.0)  # a drip that outlasts the test
    drip = Dripping()
    try:
        with FeedServer() as good:
            link = good.put("/data/real.xml", jmautil.landslide_auto(START))
            svc = world.service()
            svc.feeds = [FeedPoller([url], 1, svc._from_feed, svc.db.fetched,
                                    lambda u: svc.db.mark_fetched(u, START), offices=OFFICES)
                         for url in (drip.url, good.set_feed("/feed/extra.xml", [link]))]
            svc.start()
            try:
                deadline = time.monotonic() + 60
                while not aired(world) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert aired(world)
            finally:
                svc._stop.set()
                drip.close()
                svc.stop()
    finally:
        drip.close()


def test_a_link_is_remembered_only_once_its_message_was_processed():
    seen, delivered = set(), []

    class Killed(BaseException):
        pass

    def fetcher(url, *, limit, if_modified_since=None):
        if url.endswith("feed.xml"):
            return feedmod.Response(200, jmautil.atom(["http://h/a.xml"]))
        return feedmod.Response(200, b"<x/>")

    def crash(data, source):
        raise Killed  # the process dies between fetching and processing

    p = FeedPoller(["http://h/feed.xml"], 60, crash, seen.__contains__, seen.add,
                   fetcher=fetcher, offices=OFFICES)
    with pytest.raises(Killed):
        p.poll_due()
    assert seen == set()
    after = FeedPoller(["http://h/feed.xml"], 60, lambda d, s: delivered.append(s),
                       seen.__contains__, seen.add, fetcher=fetcher, offices=OFFICES)
    after.poll_due()
    assert delivered == ["http://h/a.xml"] and seen == {"http://h/a.xml"}


def test_entries_are_filtered_by_kind_and_office_before_fetching():
    fetched = []

    def fetcher(url, *, limit, if_modified_since=None):
        if url.endswith("feed.xml"):
            return feedmod.Response(200, jmautil.atom([
                ("http://h/forecast.xml", "府県天気予報", "宇都宮地方気象台"),
                ("http://h/osaka.xml", "気象警報・注意報（Ｒ０６）（大雨）", "大阪管区気象台"),
                ("http://h/quake.xml", "震度速報", "気象庁"),
                ("http://h/landslide.xml", "土砂災害警戒情報", "栃木県　宇都宮地方気象台")]))
        fetched.append(url)
        return feedmod.Response(200, b"<x/>")

    p = FeedPoller(["http://h/feed.xml"], 60, lambda d, s: True, set().__contains__,
                   lambda u: None, fetcher=fetcher, offices=OFFICES)
    p.poll_due()
    assert fetched == ["http://h/quake.xml", "http://h/landslide.xml"] and p.skipped == 2


def test_a_newline_in_a_file_name_or_title_cannot_forge_a_log_line(world, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    svc = world.service()
    box = Inbox(tmp_path / "in", svc.handle, intake=svc.intake)
    box.ensure()
    forged = "x.xml\nJMA inbox: real.xml → done (forged)"
    (box.folder / forged).write_bytes(b"<not-jma/>")
    title = jmautil.edit(jmautil.storm_approve(START),
                         ("<Title>宗谷地方暴風警報・注意報</Title>",
                          "<Title>暴風\nJMA VPWW56 forged → approved</Title>"))
    (box.folder / "title.xml").write_bytes(title)
    box.scan()
    box.scan()
    assert all("\n" not in r.getMessage() for r in caplog.records)
    assert "x.xml\\nJMA inbox" in caplog.text and "暴風\\nJMA VPWW56" in caplog.text
    assert svc.handle(jmautil.landslide_auto(START), "x") == (True, "approved")


def test_intake_health_is_published_while_bad_and_cleared_after():
    got, mono = [], Mono()
    intake = Intake(monotonic=mono, publish=lambda *a: got.append(a))
    intake.report()
    assert got[-1][:3] == (events.JMA_INTAKE, "intake", True)
    intake.rejected("受信フォルダ bad.xml")
    intake.report()
    assert got[-1][2] is False and "bad.xml" in got[-1][3]
    mono.t += intakemod.WINDOW + 1
    intake.report()
    assert got[-1][2] is True and events.JMA_INTAKE in events.KINDS
