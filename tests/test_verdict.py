"""One health verdict (issue 17): the station's own fields plus every condition bad now
on the trouble bus, each in staff words with what to do, the colour the worst of them;
and the ``speech`` condition made from worker crashes. Pure logic, fakes only."""

import datetime as dt
import threading

import pytest

from announcer.core import events
from announcer.core.clock import TOKYO
from announcer.station.verdict import HEADLINE_OK, KINDS, verdict
from announcer.studio.speechwatch import SpeechWatch

FINE = {"state": "ok", "audio": {"ok": True, "detail": "file"}, "schedule_errors": [],
        "jma": "ok"}


def bad(*conditions):
    bus = events.Bus()
    for kind, key, detail in conditions:
        bus.publish(kind, key, False, detail)
    return bus.bad_now()


def test_green_only_when_nothing_is_wrong():
    v = verdict(FINE, [])
    assert (v["level"], v["headline"], v["problems"]) == ("ok", HEADLINE_OK, [])


@pytest.mark.parametrize("kind, level", [
    ("audio", "bad"), ("silence", "bad"), ("on_air_silence", "bad"), ("speech", "bad"),
    ("jma_stale", "bad"), ("record", "bad"), ("jma_intake", "warn"),
    ("cache", "warn"), ("disk", "warn"), ("notice_file", "warn"), ("notify", "warn")])
def test_every_kind_on_the_bus_has_a_reason_what_to_do_and_a_colour(kind, level):
    v = verdict(FINE, bad((kind, "k", "技術的な内容")))
    (p,) = v["problems"]
    assert (v["level"], p["kind"], p["level"]) == (level, kind, level)
    assert p["reason"].startswith(KINDS[kind][1]) and p["todo"]
    assert p["details"] == ["技術的な内容"] and v["headline"] == p["reason"]
    assert dt.datetime.fromisoformat(p["since"])


def test_the_station_faults_and_a_recent_clock_step_are_in_the_verdict():
    """The record and its jobs (issue 20) are the station's own fields; a wall-clock step
    is a one-shot event on the bus, so the station tells of a recent large one."""
    v = verdict(dict(FINE, faults=[{"kind": "jobs", "detail": "処理が 12 秒止まっています"}],
                     clock_step={"seconds": -600.0, "at": "2026-12-03T09:00:00+09:00"}), [])
    assert v["level"] == "bad" and [p["kind"] for p in v["problems"]] == ["jobs", "clock"]
    assert v["problems"][1]["details"] == ["09:00:00 に 600 秒戻りました"]
    one_shot = verdict(FINE, bad(("clock", "wall", "時計が進みました")))
    assert one_shot["level"] == "ok"  # one-shot: the bus keeps no condition of it


def test_an_unknown_kind_still_counts_with_its_detail():
    v = verdict(FINE, bad(("printer", "p1", "紙がありません")))
    (p,) = v["problems"]
    assert (v["level"], p["reason"], p["details"]) == ("warn", "異常があります（printer）",
                                                       ["紙がありません"])


def test_the_colour_is_the_worst_and_the_worst_comes_first():
    v = verdict(dict(FINE, schedule_errors=["a.yaml:3: times: 誤り"]),
                bad(("disk", "/var", "空き 5 %"), ("silence", "monitor", "無音 40 秒")))
    assert v["level"] == "bad"
    assert [p["kind"] for p in v["problems"]] == ["silence", "notice_file", "disk"]
    assert v["headline"] == KINDS["silence"][1] + "（ほかに 2 件）"


def test_own_fields_and_the_bus_say_the_same_thing_once():
    own = dict(FINE, audio={"ok": False, "detail": "device gone"}, jma="stale",
               state="starting")
    v = verdict(own, bad(("audio", "output", "device gone"), ("jma_stale", "feed", "古い")))
    kinds = [p["kind"] for p in v["problems"]]
    assert sorted(kinds) == ["audio", "jma_stale", "starting"]
    audio = next(p for p in v["problems"] if p["kind"] == "audio")
    assert audio["details"] == ["出力機器: device gone"]


def test_a_broken_file_is_fixed_on_the_page_only_when_the_page_wrote_it():
    own = dict(FINE, schedule_errors=["x: 誤り"], broken_files=["/s/web/a.yaml"])
    on_page = verdict(own, [], page_files=lambda f: "/web/" in f)["problems"][0]
    by_hand = verdict(dict(own, broken_files=["/s/gomi.yaml"]), [],
                      page_files=lambda f: "/web/" in f)["problems"][0]
    assert "「お知らせ」画面" in on_page["todo"] and "読み取り専用" not in on_page["todo"]
    assert "画面からは直せません（読み取り専用）" in by_hand["todo"]


def test_a_condition_that_clears_leaves_the_verdict():
    bus = events.Bus()
    bus.publish("jma_stale", "feed", False, "古い")
    bus.publish("airing", "bulletin:1", False, "one-shot: never a condition")
    assert verdict(FINE, bus.bad_now(), tz=TOKYO)["level"] == "bad"
    bus.publish("jma_stale", "feed", True)
    assert verdict(FINE, bus.bad_now())["level"] == "ok"


# -- the speech condition ---------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def watch():
    got, clock = [], Clock()
    w = SpeechWatch(publish=lambda *a: got.append(a), monotonic=clock)
    return w, got, clock


def test_one_retried_crash_is_not_a_problem_a_storm_is():
    w, got, clock = watch()
    w.heard("synthesis", False, "synthesis worker died (exit -11)")
    w.heard("synthesis", True, "")
    assert got == [] and not w.bad
    clock.t += 5
    w.heard("synthesis", False, "synthesis worker died (exit -11)")
    assert w.bad
    (kind, key, ok, detail), = got
    assert (kind, key, ok) == ("speech", "workers", False)
    assert "2 回" in detail and "exit -11" in detail


def test_fine_again_after_an_answer_and_a_quiet_hold():
    w, got, clock = watch()
    for _ in range(3):
        w.heard("dsp", False, "DSP worker died")
    w.heard("dsp", True, "")  # an answer during the hold: still bad
    assert w.bad and len(got) == 2  # from the second crash on
    clock.t += SpeechWatch.HOLD
    w.tick(probe=lambda: pytest.fail("no probe needed: a worker answered"))
    assert not w.bad and got[-1] == ("speech", "workers", True, "")


def test_a_quiet_station_is_probed_after_the_hold():
    w, got, clock = watch()
    w.heard("synthesis", False, "died")
    w.heard("synthesis", False, "died")
    probed = []
    w.tick(probe=lambda: probed.append(1))
    assert probed == []  # within the hold
    clock.t += SpeechWatch.HOLD

    answered = threading.Event()

    def probe():
        probed.append(1)
        w.heard("synthesis", True, "")  # the pool's listener hears the ping's answer
        answered.set()

    w.tick(probe=probe)
    assert answered.wait(10)  # the probe runs on a thread of its own
    assert probed == [1] and not w.bad
