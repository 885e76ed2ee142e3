import dataclasses
import datetime as dt

import pytest

from announcer.core.clock import TOKYO, FakeClock
from announcer.notices.files import Notice
from announcer.notices.schedule import Airing, airings_between, classify_missed, next_airing

BASE = Notice(
    id="gomi", text="t", times=(dt.time(7, 30), dt.time(18, 30)), days=frozenset(range(7)),
    title="gomi", voice=None, chime=True, holidays="any", start=None, end=None, dates=(),
    grace=dt.timedelta(seconds=300), enabled=True, repeat=1, source="schedules/a.yaml:2",
)


def notice(**changes) -> Notice:
    return dataclasses.replace(BASE, **changes)


def at(y, mo, d, h=0, mi=0, s=0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=TOKYO)


# 2026-11-23 (Mon) is 勤労感謝の日; 2026-11-24 (Tue) is an ordinary day.

def test_next_airing_same_day():
    assert next_airing(notice(), at(2026, 11, 24, 8)) == at(2026, 11, 24, 18, 30)


def test_next_airing_is_strictly_after():
    assert next_airing(notice(), at(2026, 11, 24, 7, 30)) == at(2026, 11, 24, 18, 30)
    assert next_airing(notice(), at(2026, 11, 24, 7, 29, 59)) == at(2026, 11, 24, 7, 30)


def test_next_airing_rolls_to_tomorrow():
    assert next_airing(notice(), at(2026, 11, 24, 19)) == at(2026, 11, 25, 7, 30)


def test_after_in_another_zone_is_converted():
    after = dt.datetime(2026, 11, 24, 22, 0, tzinfo=dt.timezone.utc)   # 07:00 on the 25th in Tokyo
    result = next_airing(notice(), after)
    assert result == at(2026, 11, 25, 7, 30)
    assert result.tzinfo == TOKYO


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError):
        next_airing(notice(), dt.datetime(2026, 11, 24, 8))


def test_days():
    tuesdays = notice(days=frozenset({1}))
    assert next_airing(tuesdays, at(2026, 11, 24, 19)) == at(2026, 12, 1, 7, 30)


def test_holidays_skip():
    mondays = notice(days=frozenset({0}), holidays="skip")
    assert next_airing(mondays, at(2026, 11, 22)) == at(2026, 11, 30, 7, 30)


def test_holidays_only():
    holidays = notice(holidays="only")
    assert next_airing(holidays, at(2026, 11, 20)) == at(2026, 11, 23, 7, 30)
    assert next_airing(holidays, at(2026, 12, 31, 20)) == at(2027, 1, 1, 7, 30)


def test_holidays_only_with_none_ahead_never_airs(monkeypatch):
    monkeypatch.setattr("announcer.notices.schedule.jpholiday.is_holiday", lambda day: False)
    assert next_airing(notice(holidays="only"), at(2026, 11, 20)) is None


def test_start_and_end():
    season = notice(start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 2))
    assert next_airing(season, at(2026, 11, 24)) == at(2026, 12, 1, 7, 30)
    assert next_airing(season, at(2026, 12, 2, 18, 30)) is None


def test_end_in_the_past():
    assert next_airing(notice(end=dt.date(2020, 1, 1)), at(2026, 11, 24)) is None


def test_one_off_dates():
    once = notice(dates=(dt.date(2026, 12, 25), dt.date(2026, 12, 28)))
    assert next_airing(once, at(2026, 11, 24)) == at(2026, 12, 25, 7, 30)
    assert next_airing(once, at(2026, 12, 25, 19)) == at(2026, 12, 28, 7, 30)
    assert next_airing(once, at(2026, 12, 28, 18, 30)) is None


def test_paused_notice_never_airs():
    paused = notice(enabled=False)
    assert next_airing(paused, at(2026, 11, 24)) is None
    assert airings_between([paused], at(2026, 11, 24), at(2026, 11, 25)) == []


def test_airings_between_is_half_open_and_sorted():
    morning = notice(id="asa", times=(dt.time(7, 0),))
    result = airings_between([notice(), morning], at(2026, 11, 24, 7, 0), at(2026, 11, 25, 7, 30))
    assert result == [
        Airing(at(2026, 11, 24, 7, 30), 0, "gomi"),
        Airing(at(2026, 11, 24, 18, 30), 0, "gomi"),
        Airing(at(2026, 11, 25, 7, 0), 1, "asa"),
        Airing(at(2026, 11, 25, 7, 30), 0, "gomi"),
    ]


def test_twins_come_in_file_order():
    b, a = notice(id="b"), notice(id="a")
    result = airings_between([b, a], at(2026, 11, 24, 7), at(2026, 11, 24, 8))
    assert [(x.at, x.notice_id) for x in result] == [(at(2026, 11, 24, 7, 30), "b"), (at(2026, 11, 24, 7, 30), "a")]


def test_airings_respect_holidays_across_the_range():
    mondays = notice(days=frozenset({0}), holidays="skip", times=(dt.time(7, 0),))
    result = airings_between([mondays], at(2026, 11, 22), at(2026, 12, 1))
    assert [x.at for x in result] == [at(2026, 11, 30, 7)]


def test_classify_missed_by_grace():
    clock = FakeClock(at(2026, 11, 24, 7, 0))
    last_alive = clock.now()
    clock.set(at(2026, 11, 24, 18, 35))          # down all day; back 5 minutes after 18:30
    early = notice(id="asa", times=(dt.time(7, 10),))
    air_now, missed = classify_missed([notice(), early], last_alive, clock.now())
    assert air_now == [Airing(at(2026, 11, 24, 18, 30), 0, "gomi")]
    assert missed == [Airing(at(2026, 11, 24, 7, 10), 1, "asa"), Airing(at(2026, 11, 24, 7, 30), 0, "gomi")]


def test_classify_missed_just_past_grace():
    air_now, missed = classify_missed([notice()], at(2026, 11, 24, 7), at(2026, 11, 24, 7, 35, 1))
    assert (air_now, missed) == ([], [Airing(at(2026, 11, 24, 7, 30), 0, "gomi")])


def test_a_notice_airs_now_at_most_once():
    often = notice(times=(dt.time(7, 30), dt.time(7, 32)), grace=dt.timedelta(minutes=10))
    air_now, missed = classify_missed([often], at(2026, 11, 24, 7), at(2026, 11, 24, 7, 33))
    assert air_now == [Airing(at(2026, 11, 24, 7, 32), 0, "gomi")]
    assert missed == [Airing(at(2026, 11, 24, 7, 30), 0, "gomi")]


def test_twins_both_air_after_an_outage():
    air_now, missed = classify_missed([notice(id="b"), notice(id="a")], at(2026, 11, 24, 7), at(2026, 11, 24, 7, 31))
    assert [x.notice_id for x in air_now] == ["b", "a"]
    assert missed == []


def test_a_thousand_notices_for_a_day():  # its speed is measured in bench/, not here
    notices = [notice(id=f"n{i}", times=(dt.time(i % 24, i % 60), dt.time((i + 12) % 24, 0)),
                      days=frozenset({i % 7, (i + 3) % 7}), holidays=("any", "skip", "only")[i % 3])
               for i in range(1000)]
    result = airings_between(notices, at(2026, 11, 24, 12), at(2026, 11, 25, 12))
    for n in notices[:200]:
        nxt = next_airing(n, at(2026, 11, 24, 12))
        assert nxt is None or nxt > at(2026, 11, 24, 12)
    assert len(result) > 100
    assert result == sorted(result)
