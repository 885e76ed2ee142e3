"""Notice files (schedules/**/*.yaml): what to read out, and when, validated at load.

A file with any problem is rejected whole, so a half-edited file never airs half its
notices. In a directory, a rejected file keeps airing its last good version.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from announcer.errors import ConfigError
from announcer.yamlfile import (Invalid, Problems, Section, boolean, choice, integer, items,
                                number, read_node, suggest, text)

HOLIDAY_RULES = ("any", "skip", "only")
MAX_TEXT = 5000

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
_KANJI_DAYS = "月火水木金土日"
_ENGLISH_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS: dict[str, frozenset[int]] = {
    **{name: frozenset({i}) for i, name in enumerate(_ENGLISH_DAYS)},
    **{k + suffix: frozenset({i}) for i, k in enumerate(_KANJI_DAYS) for suffix in ("", "曜", "曜日")},
    **{name: frozenset(range(5)) for name in ("weekdays", "平日")},
    **{name: frozenset({5, 6}) for name in ("weekends", "週末", "土日")},
    **{name: frozenset(range(7)) for name in ("daily", "毎日")},
}
_NOTICE_KEYS = ("id", "title", "text", "times", "days", "holidays", "start", "end", "dates",
                "voice", "chime", "grace", "enabled", "repeat")
# With one-off dates, the recurring rule does not apply; saying both is a mistake.
_NOT_WITH_DATES = ("days", "holidays", "start", "end")


@dataclass(frozen=True)
class Notice:
    id: str
    text: str
    times: tuple[dt.time, ...]          # sorted, wall-clock in the station's zone
    days: frozenset[int]                # 0 = Monday
    title: str
    voice: str | None                   # None: the station's default voice
    chime: bool
    holidays: str                       # "any" | "skip" | "only" (Japanese public holidays)
    start: dt.date | None               # inclusive
    end: dt.date | None                 # inclusive
    dates: tuple[dt.date, ...]          # one-off dates; when given, the only days it airs
    grace: dt.timedelta                 # how late it may still air after downtime
    enabled: bool
    repeat: int                         # times the text is read, joined by 繰り返します
    source: str                         # "file:line" of the notice


@dataclass
class NoticeSet:
    """Every notice in effect from one directory, and what went wrong reading it."""

    notices: dict[str, Notice] = field(default_factory=dict)        # by id, in file order
    errors: dict[Path, list[str]] = field(default_factory=dict)
    mtimes: dict[Path, float] = field(default_factory=dict)
    files: dict[Path, tuple[Notice, ...]] = field(default_factory=dict)  # in effect per file
    kept: set[Path] = field(default_factory=set)  # broken files still airing their last good version


# --- converters ---------------------------------------------------------------------

def parse_time(raw: str) -> dt.time:
    """``HH:MM`` or ``HH:MM:SS``; raises Invalid."""
    m = _TIME.fullmatch(raw.strip())
    try:
        if not m:
            raise ValueError
        return dt.time(int(m[1]), int(m[2]), int(m[3] or 0))
    except ValueError:
        raise Invalid(f'時刻は HH:MM か HH:MM:SS で書いてください: "{raw}"') from None


def _time(node) -> dt.time:
    # The raw text, not the constructed value: YAML 1.1 reads unquoted 18:30 as 1110.
    return parse_time(text(node))


def _date(node) -> dt.date:
    raw = text(node)
    m = _DATE.fullmatch(raw.strip())
    try:
        if not m:
            raise ValueError
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise Invalid(f'日付は YYYY-MM-DD で書いてください: "{raw}"') from None


def _day(node) -> frozenset[int]:
    raw = text(node).strip()
    word = raw.lower()
    if word in _DAY_WORDS:
        return _DAY_WORDS[word]
    if all(ch in _KANJI_DAYS for ch in raw):    # "月水金"
        return frozenset(_KANJI_DAYS.index(ch) for ch in raw)
    guess = suggest(word, _DAY_WORDS)
    hint = f'"{guess}" の間違いではありませんか？' if guess else "mon〜sun, 月〜日, weekdays, weekends, daily"
    raise Invalid(f'曜日 "{raw}" がわかりません（{hint}）')


def _id(node) -> str:
    value = text(node)
    if not _ID.fullmatch(value):
        raise Invalid(f'id は半角英数字と「_」「-」で64文字以内にしてください: "{value}"')
    return value


def _notice_text(node) -> str:
    value = text(node).strip()
    if len(value) > MAX_TEXT:
        raise Invalid(f"長すぎます（{len(value)}文字）。{MAX_TEXT}文字以内にしてください")
    return value


def _voice(node) -> str:
    value = text(node)
    if "/" in value or "\\" in value or value.startswith("."):
        raise Invalid(f'声の名前に「/」や先頭の「.」は使えません: "{value}"')
    return value


def _seconds(node) -> dt.timedelta:
    return dt.timedelta(seconds=number(0, 86400)(node))


# --- lists --------------------------------------------------------------------------

def _times(sec: Section, problems: Problems) -> tuple[dt.time, ...] | None:
    node, key = sec.node_of("times"), sec.sub("times")
    seen: dict[dt.time, str] = {}
    for i, item in enumerate(_list(problems, node, key, "時刻")):
        value = problems.convert(item, f"{key}[{i}]", _time)
        if value in seen:
            problems.add(item, f"{key}[{i}]", f'時刻 "{item.value}" が重複しています（{seen[value]} と同じ）')
        elif value is not None:
            seen[value] = f"{key}[{len(seen) and i}]"
    return tuple(sorted(seen)) if seen else None


def _days(sec: Section, problems: Problems) -> frozenset[int]:
    node, key = sec.node_of("days"), sec.sub("days")
    if node is None:
        return frozenset(range(7))
    days: set[int] = set()
    for i, item in enumerate(_list(problems, node, key, "曜日")):
        days |= problems.convert(item, f"{key}[{i}]", _day, frozenset())
    return frozenset(days)


def _dates(sec: Section, problems: Problems) -> tuple[dt.date, ...]:
    node, key = sec.node_of("dates"), sec.sub("dates")
    if node is None:
        return ()
    found = {problems.convert(item, f"{key}[{i}]", _date)
             for i, item in enumerate(_list(problems, node, key, "日付"))}
    return tuple(sorted(found - {None}))


def _list(problems: Problems, node, key: str, what: str) -> list:
    if node is None:
        problems.add(None, key, f"必須です。{what}を1つ以上書いてください")
        return []
    found = problems.convert(node, key, items, [])
    if not found and isinstance(found, list) and node.value == []:
        problems.add(node, key, f"空です。{what}を1つ以上書いてください")
    return found
