"""How the staff pages show a notice: its colour, its rule in words, its dates and times,
and its next airings. Shared by the notices list and the timetable, so a notice looks
the same on both."""

import datetime as dt
import hashlib

from announcer.notices import schedule

DAY_NAMES = "月火水木金土日"
HOLIDAY_LABELS = {"any": "祝日も放送", "skip": "祝日は休み", "only": "祝日だけ放送"}
COLOURS = 12  # .c0 … .c11 in notices.css
NEXT_COUNT = 3


def colour_of(notice_id: str) -> int:
    """A colour class per id that stays the same from page to page and day to day."""
    return int(hashlib.sha1(notice_id.encode("utf-8")).hexdigest(), 16) % COLOURS


def days_label(days: frozenset[int]) -> str:
    named = {frozenset(range(7)): "毎日", frozenset(range(5)): "平日", frozenset({5, 6}): "土日"}
    return named.get(days) or "・".join(DAY_NAMES[d] for d in sorted(days))


def rule_label(notice) -> str:
    if notice.dates:
        return "・".join(month_day(d) for d in notice.dates) + " のみ"
    parts = [days_label(notice.days)]
    if notice.holidays != "any":
        parts.append(HOLIDAY_LABELS[notice.holidays])
    if notice.start or notice.end:
        parts.append(f"{notice.start or ''}〜{notice.end or ''}")
    return "／".join(parts)


def month_day(day: dt.date) -> str:
    return f"{day.month}/{day.day}（{DAY_NAMES[day.weekday()]}）"


def when_label(at: dt.datetime) -> str:
    return f"{month_day(at.date())} {at:%H:%M}" + (f":{at:%S}" if at.second else "")


def next_airings(notice, after: dt.datetime, count: int = NEXT_COUNT) -> list[dt.datetime]:
    found = []
    while len(found) < count:
        after = schedule.next_airing(notice, after, tz=after.tzinfo)
        if after is None:
            break
        found.append(after)
    return found
