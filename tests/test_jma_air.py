"""Official information you can leave alone at night, through the real daemon: one daemon
(PulseAudio null sink, real speech, real SQLite, a local feed server and a second feed
that drips one byte a second the whole time) shared by the tests of this module, which
run in order and build on what is in force. Messages are official samples edited for
真岡市 / 益子町 / 栃木県南部 and dated now.

Done-when cases of issue 16: a stale file never cuts in; one quake with three VXSE53
serials gives one cut-in and one follow-up; H27 + R06 of one 特別警報 air once; a
北部-only tornado stays silent; a 益子町 warning names 益子町; a downgrade airs
「切り替えられました」; a 継続 update leaves the draft approvable; 「０５時０７分」 reads
ゴジナナフン. Then each hostile input of item 9, each followed by a real message that
must still go on air."""

import datetime as dt
import os
import shutil
import sqlite3
import textwrap
import time

import pytest

from tests import jmautil as J
from tests.conftest import REPO, started_pulse, write_config
from tests.daemonutil import Daemon, cli, free_port, make_token
from tests.jmautil import FeedServer
from tests.test_jma_intake import Dripping, quadratic

pytestmark = [pytest.mark.audio, pytest.mark.slow]


@pytest.fixture(scope="module")
def feeds():
    with FeedServer() as server:
        server.set_feed("/feed/extra.xml", [])
        yield server


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, feeds):
    folder = tmp_path_factory.mktemp("station")
    shutil.copytree(REPO / "voices", folder / "voices")
    (folder / "schedules").mkdir()
    drip = Dripping()
    pulse = started_pulse(tmp_path_factory)
    port = free_port()
    write_config(folder, device="default", port=port, extra=textwrap.dedent(f"""\
        emergency: {{repeat: 1}}
        jma:
          enabled: true
          feeds: ["{feeds.url('/feed/extra.xml')}", "{drip.url}"]
          poll_seconds: 1
          inbox: var/jma-inbox
          areas: ["0920900", "0934200"]
        """))
    d = Daemon(folder, pulse.env, port)
    d.folder, d.token, d.links = folder, make_token(folder), []
    d.start()
    yield d
    d.terminate()
    drip.close()
    pulse.stop()


def drop(d, name: str, data: bytes) -> None:
    """A file into the inbox the way a relay should: written aside, renamed in."""
    inbox = d.folder / "var" / "jma-inbox"
    (inbox / f".{name}.part").write_bytes(data)
    os.rename(inbox / f".{name}.part", inbox / name)


def processed(d, *names: str) -> None:
    inbox = d.folder / "var" / "jma-inbox"
    d.wait_for(lambda: all((inbox / "done" / n).exists() or (inbox / "rejected" / n).exists()
                           for n in names), timeout=60)


def items(d) -> list[dict]:
    """Every JMA item with its station bulletin (read from the station's SQLite file)."""
    db = sqlite3.connect(f"file:{d.folder / 'var' / 'announcer.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM jma_items ORDER BY rowid")]
    finally:
        db.close()


def since(d, before: list[dict]) -> list[dict]:
    ids = {i["id"] for i in before}
    return [i for i in items(d) if i["id"] not in ids]


def bulletin(d, bid: str) -> dict:
    return d.get(f"/api/bulletins/{bid}", token=d.token)


def on_air(d, item: dict, stop: bool = True) -> dict:
    """Wait until the item's bulletin is on air (or aired); stop it there to save time."""
    d.wait_for(lambda: next(i for i in items(d) if i["id"] == item["id"])["bulletin"], timeout=60)
    bid = next(i for i in items(d) if i["id"] == item["id"])["bulletin"]
    d.wait_for(lambda: bulletin(d, bid)["status"] in ("on_air", "aired"), timeout=90)
    b = bulletin(d, bid)
    if stop and b["status"] == "on_air":
        d.request("DELETE", f"/api/bulletins/{bid}", token=d.token)
    return b


def aired_fully(d, item: dict) -> dict:
    on_air(d, item, stop=False)
    bid = next(i for i in items(d) if i["id"] == item["id"])["bulletin"]
    d.wait_for(lambda: bulletin(d, bid)["status"] == "aired", timeout=120)
    d.wait_for(lambda: next(i for i in items(d) if i["id"] == item["id"])["status"] == "aired",
               timeout=20)
    return next(i for i in items(d) if i["id"] == item["id"])


def approve(d, item: dict) -> None:
    status, body = d.request("POST", f"/api/alerts/{item['id']}/approve", token=d.token)
    assert status == 202, body


def test_a_stale_file_never_cuts_in(daemon):
    before = items(daemon)
    drop(daemon, "old-landslide.xml", J.landslide_auto(J.now() - dt.timedelta(days=3)))
    drop(daemon, "2011.xml", J.sample("32-39_11_05_240613_VXSE53.xml"))
    processed(daemon, "old-landslide.xml", "2011.xml")
    assert sorted((i["type"], i["status"], i["bulletin"]) for i in since(daemon, before)) == [
        ("VPWW56", "stale", None), ("VXSE53", "stale", None)]
    drop(daemon, "landslide.xml", J.landslide_auto())
    processed(daemon, "landslide.xml")
    (fresh,) = [i for i in since(daemon, before) if i["status"] not in ("stale",)]
    assert on_air(daemon, fresh)["interrupt"] is True


def test_one_quake_gives_one_cut_in_and_one_follow_up_and_reads_its_time(daemon):
    before = items(daemon)
    drop(daemon, "q0.xml", J.quake_flash())
    for n in (1, 2, 3):
        drop(daemon, f"q{n}.xml", J.quake_detail(n, J.now() + dt.timedelta(seconds=n)))
    processed(daemon, "q0.xml", "q1.xml", "q2.xml", "q3.xml")
    new = since(daemon, before)
    assert [(i["type"], i["status"] != "logged") for i in new] == [
        ("VXSE51", True), ("VXSE53", True), ("VXSE53", False), ("VXSE53", False)]
    flash, follow_up = new[0], new[1]
    assert aired_fully(daemon, flash)["status"] == "aired"
    assert bulletin(daemon, flash["bulletin"])["interrupt"] is True
    assert aired_fully(daemon, follow_up)["status"] == "aired"
    assert bulletin(daemon, follow_up["bulletin"])["interrupt"] is False
    assert "震源の深さは" in follow_up["text"]
    assert "０５時０７分" in flash["text"]
    reading = cli(daemon.folder, "reading", flash["text"])
    assert reading.returncode == 0 and "ゴジナナフン" in reading.stdout
    assert "ゼロゴ" not in reading.stdout


def test_a_mashiko_warning_names_mashiko(daemon):
    before = items(daemon)
    drop(daemon, "mashiko.xml", J.mashiko())
    processed(daemon, "mashiko.xml")
    (draft,) = since(daemon, before)
    assert draft["status"] == "pending"
    assert "益子町に、大雨警報、洪水警報が発表されました。" in draft["text"]
    assert "真岡市に、" not in draft["text"]
    approve(daemon, draft)
    assert "益子町に" in aired_fully(daemon, draft)["text"]


def test_h27_and_r06_of_one_special_warning_air_once_and_the_downgrade_is_said(daemon):
    before = items(daemon)
    drop(daemon, "sp-h27.xml", J.special_h27())
    drop(daemon, "sp-r06.xml", J.special_r06(J.now() + dt.timedelta(seconds=1)))
    processed(daemon, "sp-h27.xml", "sp-r06.xml")
    new = since(daemon, before)
    assert [i["status"] for i in new] == ["approved", "logged"]
    assert on_air(daemon, new[0])["interrupt"] is True
    assert len([i for i in since(daemon, before) if i["bulletin"]]) == 1
    drop(daemon, "down.xml", J.heavy_rain_r06(3, J.now() + dt.timedelta(seconds=2)))
    processed(daemon, "down.xml")
    (down,) = since(daemon, before)[2:]
    assert down["status"] == "pending" and "切り替えられました" in down["text"]
    approve(daemon, down)
    done = aired_fully(daemon, down)
    assert done["status"] == "aired"
    assert "真岡市のレベル５大雨特別警報は、レベル３大雨警報に切り替えられました。" in done["text"]
    assert bulletin(daemon, done["bulletin"])["interrupt"] is False


def test_a_continuing_update_leaves_the_draft_approvable(daemon):
    before = items(daemon)
    drop(daemon, "storm.xml", J.storm_approve())
    processed(daemon, "storm.xml")
    for n in (1, 2):
        drop(daemon, f"storm{n}.xml", J.storm_continued(J.now() + dt.timedelta(seconds=n)))
    processed(daemon, "storm1.xml", "storm2.xml")
    draft = since(daemon, before)[0]
    assert [i["status"] for i in since(daemon, before)] == ["pending", "logged", "logged"]
    approve(daemon, draft)
    assert aired_fully(daemon, draft)["status"] == "aired"


def test_a_tornado_for_the_north_only_stays_silent(daemon):
    before = items(daemon)
    drop(daemon, "tornado-north.xml", J.tornado_north())
    processed(daemon, "tornado-north.xml")
    assert since(daemon, before) == []


# -- item 9: each hostile input, then a real message that must still go on air ----------
def rain(n: int) -> bytes:
    """記録的短時間大雨情報 for 栃木県南部, its observation time made unique per use."""
    minute = f"{n:02d}".translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return J.edit(J.rain_vpoa50(J.now() + dt.timedelta(seconds=n)),
                  ("１９時４０分", f"１９時{minute}分"))


def real_rain_airs(d, before, n: int, via_feed: bool = False) -> None:
    name = f"rain{n}.xml"
    if via_feed:
        d.links.append(d.feeds.put(f"/data/{name}", rain(n)))
        d.feeds.set_feed("/feed/extra.xml", d.links)
    else:
        drop(d, name, rain(n))
    d.wait_for(lambda: [i for i in since(d, before) if i["type"] == "VPOA50"], timeout=60)
    (item,) = [i for i in since(d, before) if i["type"] == "VPOA50"]
    assert item["status"] == "approved"
    assert on_air(d, item)["interrupt"] is True


def test_a_future_withdrawal_then_a_real_message(daemon):
    before = items(daemon)
    drop(daemon, "2099.xml", J.withdrawal_of(J.storm_approve(), dt.datetime(2099, 1, 1,
                                                                           tzinfo=J.TOKYO)))
    processed(daemon, "2099.xml")
    assert (daemon.folder / "var" / "jma-inbox" / "rejected" / "2099.xml").exists()
    real_rain_airs(daemon, before, 1)


def test_leftover_dot_files_then_a_real_message(daemon):
    inbox = daemon.folder / "var" / "jma-inbox"
    for i in range(1000):
        (inbox / f".left{i:04d}").write_bytes(b"<")
    real_rain_airs(daemon, items(daemon), 2)


def test_a_huge_crafted_file_then_a_real_message(daemon):
    before = items(daemon)
    drop(daemon, "crafted.xml", quadratic())
    real_rain_airs(daemon, before, 3)


def test_a_writer_that_pauses_then_its_message_airs(daemon):
    before, data = items(daemon), rain(4)
    path = daemon.folder / "var" / "jma-inbox" / "rain4.xml"
    with open(path, "wb") as f:
        f.write(data[:3000])
        f.flush()
        time.sleep(1.5)  # the relay writer's pause, as found (not a stand-in for a clock)
        f.write(data[3000:])
    daemon.wait_for(lambda: [i for i in since(daemon, before) if i["type"] == "VPOA50"],
                    timeout=60)
    assert not (daemon.folder / "var" / "jma-inbox" / "rejected" / "rain4.xml").exists()
    (item,) = [i for i in since(daemon, before) if i["type"] == "VPOA50"]
    assert on_air(daemon, item)["interrupt"] is True


def test_a_newline_in_a_file_name_then_a_real_message(daemon):
    before = items(daemon)
    drop(daemon, "x.xml\nJMA inbox: forged.xml → done (ok)", b"<not-jma/>")
    real_rain_airs(daemon, before, 5)
    assert "\nJMA inbox: forged.xml" not in daemon.log.read_text(errors="replace")


def test_a_dripping_feed_never_blocks_the_other(daemon, feeds):
    daemon.feeds = feeds
    real_rain_airs(daemon, items(daemon), 6, via_feed=True)
    assert daemon.get("/healthz", token=daemon.token)["jma"] == "ok"
