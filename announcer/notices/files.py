"""Notice files (schedules/**/*.yaml): what to read out, and when, validated at load.

A file with any problem is rejected whole, so a half-edited file never airs half its
notices. In a directory, a rejected file keeps airing its last good version.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from yaml.nodes import MappingNode, SequenceNode

from announcer.core.errors import ConfigError
from announcer.core.yamlfile import (Invalid, Problems, Section, boolean, choice, integer, items,
                                number, preset, read_node, suggest, text)

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
                "voice", "chime", "grace", "enabled", "repeat", "easy_text")
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
    easy_text: str = ""                 # やさしい日本語 beside the text on the public page


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
        raise Invalid(f"{len(value) - MAX_TEXT} 文字多すぎます（いま {len(value)} 文字、上限 {MAX_TEXT} 文字）。短くしてください")
    return value


def _seconds(node) -> dt.timedelta:
    return dt.timedelta(seconds=number(0, 86400)(node))


# --- lists --------------------------------------------------------------------------

def _times(sec: Section) -> tuple[dt.time, ...]:
    key, problems = sec.sub("times"), sec.problems
    first: dict[dt.time, int] = {}
    for i, item in enumerate(_list(sec, "times", "時刻", required=True)):
        value = problems.convert(item, f"{key}[{i}]", _time)
        if value in first:
            problems.add(item, f"{key}[{i}]",
                         f'時刻 "{item.value}" が重複しています（{key}[{first[value]}] と同じ）')
        elif value is not None:
            first[value] = i
    return tuple(sorted(first))


def _days(sec: Section) -> frozenset[int]:
    if sec.node_of("days") is None:
        return frozenset(range(7))
    days: set[int] = set()
    for i, item in enumerate(_list(sec, "days", "曜日")):
        days |= sec.problems.convert(item, f"{sec.sub('days')}[{i}]", _day, frozenset())
    return frozenset(days)


def _dates(sec: Section) -> tuple[dt.date, ...]:
    found = {sec.problems.convert(item, f"{sec.sub('dates')}[{i}]", _date)
             for i, item in enumerate(_list(sec, "dates", "日付"))}
    return tuple(sorted(found - {None}))


def _list(sec: Section, name: str, what: str, *, required: bool = False,
          empty_ok: bool = False) -> list:
    """The item nodes of list ``name``; absent is a problem only when ``required``."""
    node, key = sec.node_of(name), sec.sub(name)
    if node is None:
        if required:
            sec.problems.add(sec.values.get(name) or sec.node, key, f"{what}を1つ以上書いてください（省略できません）")
        return []
    found = sec.problems.convert(node, key, items, [])
    if not found and isinstance(node, SequenceNode) and not empty_ok:
        sec.problems.add(node, key, f"{what}が1つもありません。1つ以上書いてください")
    return found


# --- one notice, one file -------------------------------------------------------------

def _notice(sec: Section, default_grace: dt.timedelta) -> Notice | None:
    """The notice in ``sec``, or None when it has problems (already recorded)."""
    before = sec.problems.count()
    notice_id = sec.get("id", _id, required=True)
    start, end, dates = sec.get("start", _date), sec.get("end", _date), _dates(sec)
    notice = Notice(
        id=notice_id,
        text=sec.get("text", _notice_text, required=True),
        times=_times(sec),
        days=_days(sec),
        title=sec.get("title", text, notice_id),
        voice=sec.get("voice", preset, nullable=True),
        chime=sec.get("chime", boolean, True),
        holidays=sec.get("holidays", choice(HOLIDAY_RULES), "any"),
        start=start,
        end=end,
        dates=dates,
        grace=sec.get("grace", _seconds, default_grace),
        enabled=sec.get("enabled", boolean, True),
        repeat=sec.get("repeat", integer(1, 3), 1),
        source=f"{sec.problems.label}:{sec.node.start_mark.line + 1}",
        easy_text=sec.get("easy_text", _notice_text, ""),
    )
    _check_together(sec, notice)
    return notice if sec.problems.count() == before else None


def _check_together(sec: Section, notice: Notice) -> None:
    if notice.start and notice.end and notice.start > notice.end:
        sec.problems.add(sec.node_of("end"), sec.sub("end"),
                         f"終了日 {notice.end} が開始日 {notice.start} より前です")
    if sec.node_of("dates") is not None:
        for name in _NOT_WITH_DATES:
            if name in sec.values:
                sec.problems.add(sec.values[name], sec.sub(name),
                                 f"dates（その日だけ放送）と {name} は一緒に使えません")


def load_notice_file(path: Path, *, default_grace: dt.timedelta) -> list[Notice]:
    """The notices in one file, in file order; raises ConfigError listing every problem."""
    problems = Problems(str(path))
    root = Section(read_node(Path(path)), "", problems, ("notices",))
    notices: list[Notice] = []
    first: dict[str, Notice] = {}
    for i, node in enumerate(_list(root, "notices", "お知らせ", empty_ok=True)):
        if not isinstance(node, MappingNode):
            problems.add(node, f"notices[{i}]", "お知らせは「id:」「text:」「times:」などの表で書いてください")
            continue
        sec = Section(node, f"notices[{i}]", problems, _NOTICE_KEYS)
        notice = _notice(sec, default_grace)
        if notice and notice.id in first:
            problems.add(sec.node_of("id"), f"notices[{i}].id",
                         f'id "{notice.id}" は {first[notice.id].source} でも使われています')
        elif notice:
            first[notice.id] = notice
            notices.append(notice)
    problems.raise_if_any()
    return notices


# --- a directory ----------------------------------------------------------------------

def notice_files(directory: Path) -> list[Path]:
    """``directory/**/*.yaml``, sorted, skipping hidden files and folders (editor droppings)."""
    found = (p for p in Path(directory).glob("**/*.yaml")
             if not any(part.startswith(".") for part in p.relative_to(directory).parts))
    return sorted(p for p in found if p.is_file())


def dir_signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime_ns, size) of every notice file: cheap enough to poll every second."""
    signature = []
    for path in notice_files(directory):
        try:
            st = path.stat()
        except OSError:
            continue        # deleted between listing and stat; the next poll sees it gone
        signature.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(signature)


def load_notice_dir(directory: Path, *, default_grace: dt.timedelta,
                    previous: NoticeSet | None = None) -> NoticeSet:
    """Every notice under ``directory``; never raises for a bad file.

    A broken file is listed in ``errors``; if ``previous`` had a good version of it,
    those notices stay in effect (and the file is in ``kept``). An id already used by
    an earlier file (in sorted path order) is an error in the later file; the first wins.
    """
    result = NoticeSet()
    directory = Path(directory)
    if not directory.is_dir():
        result.errors[directory] = [f"{directory}: フォルダがありません"]
        return result
    for path in notice_files(directory):
        _load_into(result, path, default_grace, previous)
    _resolve_ids(result)
    return result


def _load_into(result: NoticeSet, path: Path, default_grace, previous) -> None:
    try:
        result.mtimes[path] = path.stat().st_mtime
        result.files[path] = tuple(load_notice_file(path, default_grace=default_grace))
    except FileNotFoundError:
        result.mtimes.pop(path, None)
    except ConfigError as e:
        result.errors[path] = list(e.problems)
        if previous is not None and path in previous.files:
            result.files[path] = previous.files[path]
            result.kept.add(path)


def _resolve_ids(result: NoticeSet) -> None:
    for path, notices in result.files.items():
        for i, notice in enumerate(notices):
            first = result.notices.get(notice.id)
            if first is None:
                result.notices[notice.id] = notice
            else:
                result.errors.setdefault(path, []).append(
                    f'{notice.source}: notices[{i}].id: id "{notice.id}" は {first.source} でも'
                    "使われています（先に読んだ方だけを放送します）")
