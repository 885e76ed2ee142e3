"""The station service with real SQLite and notice files, a fake studio, fake output
and a fake clock: scheduling, restarts, bulletins, without sleeping or synthesizing."""

import datetime as dt
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from announcer.audio.fake import FakeOutput
from announcer.core.clock import TOKYO, FakeClock
from announcer.core.config import load_config
from announcer.core.errors import NothingToSay
from announcer.core.errors import BulletinError
from announcer.station.service import Station
from announcer.record.store import Store

RATE = 48000


class FakeStudio:
    """Renders every notice as 1 s of tone, every bulletin as 2 s."""

    voices = {"aika": SimpleNamespace(id="aika", name="あいか"),
              "makoto": SimpleNamespace(id="makoto", name="まこと")}

    def __init__(self):
        self.rendered = []
        self.voiced = []  # the voice of each bulletin program

    def voice(self, voice_id):
        return self.voices.get(voice_id or "aika", self.voices["aika"])

    def render_notice(self, text, **kw):
        self.rendered.append(text)
        return np.full(RATE, 0.5, np.float32)

    def sentences(self, text, repeat=1, drill=False):
        if not text.strip("。 "):
            raise NothingToSay()
        return [text]

    def bulletin_program(self, text, repeat=2, chime=True, drill=False, voice=None,
                         on_missing=None, sentences=None, on_spoken=None):
        self.voiced.append(voice)
        if on_spoken is not None:
            on_spoken()
        yield np.full(2 * RATE, 0.25, np.float32)


def at(h, m, s=0):
    return dt.datetime(2026, 12, 3, h, m, s, tzinfo=TOKYO)  # a Thursday


@pytest.fixture
def clock():
    return FakeClock(at(7, 29, 50))


@pytest.fixture
def config(station_dir):
    (station_dir / "schedules" / "gomi.yaml").write_text(textwrap.dedent("""\
        notices:
          - id: gomi
            text: 明日は燃えるごみの収集日です。
            times: ["07:30"]
          - id: early
            text: おはようございます。
            times: ["07:00"]
        """), encoding="utf-8")
    return load_config(station_dir / "station.yaml")


@pytest.fixture
def store(config):
    s = Store(config.paths.data / "announcer.db", TOKYO)
    yield s
    s.close()


def make_station(config, clock, store):
    out = FakeOutput(RATE, clock=clock)
    station = Station(config, clock, FakeStudio(), store, out)
    station.start()
    return station, out


@pytest.fixture
def station(config, clock, store):
    st, out = make_station(config, clock, store)
    st.out = out
    yield st
    st.stop()


def settle(station):
    """Wait for cue renders, delivered events and bulletin producers (real threads)."""
    station.wait_cues(timeout=5)
    station.engine.drain_events()
    for item in station.engine.queued():
        if hasattr(item.source, "first_block"):
            item.source.first_block.wait(5)


def run_until(station, out, when):
    """Plan and play, block by block, until the fake clock reaches ``when``."""
    while out.clock.now() < when:
        station.plan()
        settle(station)
        out.run(0.05)
    settle(station)


def statuses(store, day=dt.date(2026, 12, 3)):
    return [(r["kind"], r["id"], r["status"]) for r in store.airlog(day)]


def test_notice_airs_at_its_time_head_silence_early(station, clock, store):
    run_until(station, station.out, at(7, 30, 2))
    first = next(i for i, (_, tag) in enumerate(station.out.blocks) if tag == "notice-gomi")
    started = at(7, 29, 50) + dt.timedelta(seconds=(first + 1) * 480 / RATE)
    lead = dt.timedelta(seconds=station.config.playout.head_silence)
    assert abs((started - (at(7, 30) - lead)).total_seconds()) <= 0.011
    assert statuses(store) == [("notice", "gomi", "aired")]
    row = store.airlog(dt.date(2026, 12, 3))[0]
    assert row["scheduled_at"] == "2026-12-03T07:30:00.000+09:00"


def test_each_airing_is_cued_once(station, store):
    run_until(station, station.out, at(7, 30, 5))
    station.plan()
    settle(station)
    station.out.run(2)
    settle(station)
    assert statuses(store) == [("notice", "gomi", "aired")]


def test_restart_airs_within_grace_and_logs_older_as_missed(config, store):
    store.set_state("last_alive", at(6, 50).isoformat())
    clock = FakeClock(at(7, 33))
    station, out = make_station(config, clock, store)
    try:
        settle(station)
        out.run(1.5)
        settle(station)
        assert statuses(store) == [("notice", "early", "missed"), ("notice", "gomi", "aired")]
    finally:
        station.stop()


def test_killed_mid_notice_replays_from_the_start(config, store):
    row = store.airing_started("notice", "gomi", "gomi", at(7, 30), at(7, 30))
    store.set_state("last_alive", at(7, 30).isoformat())
    clock = FakeClock(at(7, 31))
    station, out = make_station(config, clock, store)
    try:
        settle(station)
        out.run(1.5)
        settle(station)
        rows = store.airlog(dt.date(2026, 12, 3))
        assert rows[0]["rowid"] == row and rows[0]["status"] == "interrupted"
        assert rows[0]["detail"] == "cut by a restart; replayed from start"
        assert [r["status"] for r in rows[1:]] == ["aired"]
    finally:
        station.stop()


def test_bulletin_is_on_disk_before_it_is_acknowledged(station, store):
    bid, created = station.submit_bulletin("避難してください。", by="tanaka")
    assert created
    again = Store(store.path, TOKYO)  # another connection sees the committed row
    assert again.bulletin(bid)["state"] == "queued"
    again.close()


def test_bulletin_airs_and_is_logged(station, store):
    bid, _ = station.submit_bulletin("避難してください。")
    settle(station)
    station.out.run(2.5)
    settle(station)
    assert store.bulletin(bid)["state"] == "aired"
    assert ("bulletin", bid, "aired") in statuses(store, dt.date(2026, 12, 3))


def test_unfinished_bulletin_airs_after_a_crash(config, store):
    clock = FakeClock(at(7, 0))
    first, _ = make_station(config, clock, store)
    bid, _ = first.submit_bulletin("避難してください。")
    # the process dies here: no stop(), nothing aired
    second, out = make_station(config, FakeClock(at(7, 1)), store)
    try:
        settle(second)
        out.run(2.5)
        settle(second)
        assert store.bulletin(bid)["state"] == "aired"
    finally:
        second.stop()
        first.engine.close()


def test_double_submit_with_the_same_key_queues_once(station, store):
    a = station.submit_bulletin("避難してください。", request_key="k1")
    b = station.submit_bulletin("避難してください。", request_key="k1")
    assert a[0] == b[0] and a[1] and not b[1]
    assert len(station.engine.queued()) == 1


@pytest.mark.parametrize("text,repeat,status", [
    ("", 2, 422), ("。", 2, 422), ("あ" * 5001, 2, 413), ("避難", 0, 422), ("避難", 6, 422),
    ("避難", True, 422),
])
def test_invalid_bulletins_are_refused(station, text, repeat, status):
    with pytest.raises(BulletinError) as e:
        station.submit_bulletin(text, repeat=repeat)
    assert e.value.status == status


def test_cancel_a_queued_bulletin(station, store):
    station.out.fail()
    bid, _ = station.submit_bulletin("避難してください。")
    assert station.cancel_bulletin(bid)
    settle(station)
    assert store.bulletin(bid)["state"] == "cancelled"


def test_bulletin_cut_by_device_loss_airs_again_when_it_returns(station, store):
    bid, _ = station.submit_bulletin("避難してください。")
    station.out.run(0.5)
    station.out.fail()
    settle(station)
    assert store.bulletin(bid)["state"] == "queued"
    station.out.recover()
    station.out.run(2.5)
    settle(station)
    assert store.bulletin(bid)["state"] == "aired"
    assert [s for k, i, s in statuses(store) if i == bid] == ["failed", "aired"]


def test_notice_cut_by_a_bulletin_airs_again_from_the_start(station, store):
    run_until(station, station.out, at(7, 30, 0))
    station.out.run(0.5)
    station.submit_bulletin("避難してください。")
    settle(station)
    station.out.run(2.5)
    settle(station)
    station.out.run(1.5)
    settle(station)
    assert [s for k, i, s in statuses(store) if i == "gomi"] == ["interrupted", "aired"]


def test_broken_file_is_reported_and_good_notices_stay(station, config):
    (config.paths.schedules / "broken.yaml").write_text("notices: [", encoding="utf-8")
    assert station.reload_notices()
    health = station.health()
    assert "gomi" in station.notices.notices
    assert health["schedule_errors"][0].startswith(str(config.paths.schedules / "broken.yaml"))


def test_status_reports_on_air_and_next(station):
    station.submit_bulletin("避難してください。")
    settle(station)
    station.out.run(0.1)
    status = station.status()
    assert status["on_air"]["kind"] == "bulletin"
    assert status["audio"] == "ok"
    assert status["next"][0]["id"] == "gomi"


def test_stopping_a_notice_on_air_names_who_and_does_not_replay(station, store):
    run_until(station, station.out, at(7, 30, 0))
    station.out.run(0.3)
    assert station.engine.on_air().id == "gomi"
    assert not station.stop_notice("early", by="tanaka")  # not on air
    assert station.stop_notice("gomi", by="tanaka")
    station.out.run(0.3)
    settle(station)
    station.out.run(2.0)
    settle(station)
    rows = [r for r in store.airlog(dt.date(2026, 12, 3)) if r["id"] == "gomi"]
    assert [(r["status"], r["detail"]) for r in rows] == [("cancelled", "tanaka が停止しました")]


def test_bulletins_carry_a_subject(station, store):
    bid, _ = station.submit_bulletin("緊急放送、緊急放送。こちらは、真岡市役所です。中郷地区に避難指示。")
    assert store.bulletin(bid)["title"] == "中郷地区に避難指示"
    bid2, _ = station.submit_bulletin("避難してください。", title="  避難指示（大内）  ", test=True)
    assert store.bulletin(bid2)["title"] == "避難指示（大内）"
    assert [i.title for i in station.engine.queued()] == ["中郷地区に避難指示", "【訓練】避難指示（大内）"]
    with pytest.raises(BulletinError, match="件名は 1 行で書いてください"):
        station.submit_bulletin("避難してください。", title="一行目\n二行目")


def test_a_real_interrupting_bulletin_cuts_a_drill_which_is_not_aired_again(station, store):
    drill, _ = station.submit_bulletin("訓練です。" * 5, test=True)
    settle(station)
    station.out.run(0.3)
    real, _ = station.submit_bulletin("避難してください。", interrupt=True)
    settle(station)
    station.out.run(3.0)
    settle(station)
    assert store.bulletin(drill)["state"] == "cancelled"
    assert store.bulletin(real)["state"] == "aired"
    assert [s for k, i, s in statuses(store) if i == drill] == ["interrupted"]


def test_an_old_database_gets_the_title_column(config, tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE bulletins (id TEXT PRIMARY KEY, text TEXT NOT NULL,
        options TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT,
        created_by TEXT NOT NULL DEFAULT '', request_key TEXT UNIQUE, updated_at TEXT NOT NULL);
        INSERT INTO bulletins VALUES ('old', '古い放送です。', '{"repeat": 1, "interrupt": true,
        "chime": true, "test": false}', 'queued', '2026-12-01T00:00:00+09:00', NULL, '', NULL,
        '2026-12-01T00:00:00+09:00');""")
    db.close()
    store = Store(path, TOKYO)
    try:
        assert store.bulletin("old")["title"] == ""
        Store(path, TOKYO).close()  # a second open leaves it alone
        bid, _ = store.add_bulletin("new", "新しい放送です。", {"repeat": 1}, at(8, 0), None,
                                    title="新しい")
        assert store.bulletin("new")["title"] == "新しい"
    finally:
        store.close()


# -- a person outranks a machine (issue 17) ------------------------------------------------
def rows_of(store, bid):
    return [(r["status"], r["detail"]) for r in store.airlog(dt.date(2026, 12, 3))
            if r["id"] == bid]


@pytest.mark.parametrize("in_force", [True, False])
def test_a_staff_interrupt_cuts_a_relay_which_airs_again_only_while_in_force(
        station, store, in_force):
    asked = []
    station.relay_in_force = lambda bid: asked.append(bid) or in_force
    relay, _ = station.submit_bulletin("気象庁の発表です。震度5弱。" * 5, kind="alert",
                                       title="震度5弱", by="jma")
    settle(station)
    station.out.run(0.3)
    staff, _ = station.submit_bulletin("避難指示です。", interrupt=True, by="tanaka")
    settle(station)
    station.out.run(3.0)
    settle(station)
    station.out.run(12.0)
    settle(station)
    assert asked == [relay]
    cut = f"cut in by bulletin {staff}; "
    if in_force:
        assert rows_of(store, relay) == [
            ("interrupted", cut + "airs again (still in force)"),
            ("aired", "aired again after a staff bulletin cut it")]
        assert store.bulletin(relay)["state"] == "aired"
    else:
        assert rows_of(store, relay) == [
            ("interrupted", cut + "not aired again (no longer in force)")]
        assert store.bulletin(relay)["state"] == "expired"
    assert rows_of(store, staff) == [("aired", "")]
    aired = [tag for i, (_, tag) in enumerate(station.out.blocks)
             if tag and (i == 0 or station.out.blocks[i - 1][1] != tag)]
    assert aired == [f"alert-{relay}", f"bulletin-{staff}"] + ([f"alert-{relay}"] * in_force)


def test_without_a_jma_answer_an_unexpired_cut_relay_airs_again(station, store):
    relay, _ = station.submit_bulletin("気象庁の発表です。" * 5, kind="alert", by="jma")
    settle(station)
    station.out.run(0.3)
    station.submit_bulletin("避難指示です。", interrupt=True, by="tanaka")
    settle(station)
    station.out.run(3.0)
    settle(station)
    station.out.run(12.0)
    settle(station)
    assert [s for s, _ in rows_of(store, relay)] == ["interrupted", "aired"]


def test_stop_item_stops_every_kind_on_air_or_queued(station, store):
    relay, _ = station.submit_bulletin("気象庁の発表です。" * 5, kind="alert", by="jma")
    settle(station)
    station.out.run(0.3)
    queued, _ = station.submit_bulletin("あとの放送です。", interrupt=False, by="t")
    settle(station)
    assert not station.stop_item("bulletin", relay, by="tanaka")  # kind must match
    assert station.stop_item("bulletin", queued, by="tanaka")
    assert station.stop_item("alert", relay, by="tanaka")
    settle(station)
    station.out.run(0.5)
    settle(station)
    assert rows_of(store, relay) == [("cancelled", "tanaka が停止しました")]
    assert rows_of(store, queued) == [("cancelled", "tanaka が停止しました")]
    assert not station.stop_item("alert", relay, by="tanaka")  # already over
    assert not station.stop_item("notice", "gomi")  # not on air or queued


# -- who reads what (issue 18) ----------------------------------------------------------

def test_a_bulletin_is_read_and_logged_in_its_voice(station, store):
    chosen, _ = station.submit_bulletin("避難してください。", voice="makoto")
    default, _ = station.submit_bulletin("落ち着いて行動してください。")
    settle(station)
    station.out.run(5.0)
    settle(station)
    assert station.studio.voiced == ["makoto", "aika"]
    assert store.bulletin(chosen)["voice"] == "makoto"
    assert store.bulletin(default)["voice"] == "aika"  # stored resolved: a restart airs it alike
    rows = {r["id"]: r for r in store.airlog(dt.date(2026, 12, 3))}
    assert (rows[chosen]["status"], rows[chosen]["voice"]) == ("aired", "makoto")
    assert (rows[default]["status"], rows[default]["voice"]) == ("aired", "aika")


def test_an_unknown_voice_is_refused_with_the_voices_there_are(station, store):
    with pytest.raises(BulletinError) as e:
        station.submit_bulletin("避難してください。", voice="hanako")
    assert e.value.status == 422
    assert str(e.value) == "声「hanako」はありません。使える声: あいか（aika）、まこと（makoto）"
    assert store.open_count() == 0


def test_a_notice_airs_in_its_voice_and_the_log_says_so(config, clock, store):
    (config.paths.schedules / "gomi.yaml").write_text(textwrap.dedent("""\
        notices:
          - id: gomi
            text: 明日は燃えるごみの収集日です。
            times: ["07:30"]
            voice: makoto
        """), encoding="utf-8")
    station, out = make_station(config, clock, store)
    try:
        run_until(station, out, at(7, 30, 2))
        row = store.airlog(dt.date(2026, 12, 3))[0]
        assert (row["id"], row["status"], row["voice"]) == ("gomi", "aired", "makoto")
    finally:
        station.stop()


def test_an_old_database_gets_the_voice_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    Store(path, TOKYO).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE airlog DROP COLUMN voice")
    db.execute("INSERT INTO airlog(kind,id,title,status,day) VALUES"
               " ('notice','old','古い','aired','2026-12-01')")
    db.commit()
    db.close()
    store = Store(path, TOKYO)
    try:
        assert store.airlog(dt.date(2026, 12, 1))[0]["voice"] == ""
    finally:
        store.close()


def test_a_rotation_reads_notices_without_a_voice_by_time_of_day(station_dir, clock, store):
    from tests.conftest import write_config

    (station_dir / "schedules" / "gomi.yaml").write_text(textwrap.dedent("""\
        notices:
          - id: gomi
            text: 明日は燃えるごみの収集日です。
            times: ["07:30"]
          - id: own
            text: おはようございます。
            times: ["07:00"]
            voice: aika
        """), encoding="utf-8")
    write_config(station_dir, extra='speech: {rotation: {"07:15": makoto, "18:00": aika}}\n')
    config = load_config(station_dir / "station.yaml")
    assert [(t.isoformat(), v) for t, v in config.speech.rotation] == [
        ("07:15:00", "makoto"), ("18:00:00", "aika")]
    station, out = make_station(config, clock, store)
    try:
        gomi, own = station.notices.notices["gomi"], station.notices.notices["own"]
        assert station.desk._voice(gomi, at(7, 14)) == "aika"  # the evening's, until 07:15
        assert station.desk._voice(gomi, at(7, 15)) == "makoto"
        assert station.desk._voice(own, at(7, 30)) == "aika"  # its own voice wins
        run_until(station, out, at(7, 30, 2))
        row = store.airlog(dt.date(2026, 12, 3))[0]
        assert (row["id"], row["status"], row["voice"]) == ("gomi", "aired", "makoto")
    finally:
        station.stop()
