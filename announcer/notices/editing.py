"""Notices written from the staff page: one YAML file each under ``schedules/web/``.

The files stay the single source of truth: a save writes a temp file in the same
folder, validates it with ``load_notice_file`` (so the page refuses exactly what
``announcer check`` refuses), then fsyncs and renames it into place. Every change
names the version (content hash) it was based on; a stale version is refused, so two
staff editing the same notice never overwrite each other. Deleted files move to
``<data>/trash/`` instead of being unlinked.
"""

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from announcer.core.fsutil import fsync_dir
from announcer.core.errors import AnnouncerError, ConfigError
from announcer.notices.files import Notice, load_notice_dir, load_notice_file, notice_files

WEB_FOLDER = "web"
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIELDS = ("id", "title", "text", "times", "days", "holidays", "start", "end", "dates",
          "chime", "voice", "repeat", "grace", "enabled", "easy_text")
HEADER = "# 放送システムの画面（お知らせ）で作成したファイルです。変更は画面から行ってください。\n"
STALE = ("他の人がこのお知らせを先に変更しました。あなたの入力はこの画面に残っています。"
         "最新の内容を開いて確かめてから、もう一度変更してください。")
INVALID = "入力に誤りがあります。赤字の項目を直してください"
GONE = "このお知らせはすでに削除されています。一覧を開き直してください。"

_FIELD_KEY = re.compile(r"(\d+): notices\[0\]\.(\w+)(?:\[\d+\])?: (.*)", re.S)
_LINE = re.compile(r"(\d+): (.*)", re.S)
_LOOSE_ID = re.compile(r"^\s*(?:-\s*)?id:\s*[\"']?([A-Za-z0-9_-]{1,64})[\"']?\s*$", re.M)
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DATE_SPLIT = re.compile(r"[\s,、，]+")
_NUMBER = re.compile(r"\d+(\.\d+)?")


class NoticeFileError(AnnouncerError):
    """A save the files refuse. ``fields`` maps a form field ("" for the whole form) to
    messages staff understand; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 422,
                 fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status = status
        self.fields = fields or {}


@dataclass(frozen=True)
class NoticeForm:
    """A notice as the form shows it: what staff typed, before validation."""

    id: str = ""
    title: str = ""
    text: str = ""
    times: tuple[str, ...] = ()
    days: frozenset[int] = frozenset(range(7))
    holidays: str = "any"
    start: str = ""
    end: str = ""
    dates: str = ""             # one-off dates, separated by spaces, commas or 、
    chime: bool = True
    voice: str = ""             # "": the station's default voice
    repeat: str = "1"
    grace: str = ""             # seconds; "": the station's default
    enabled: bool = True
    easy_text: str = ""         # やさしい日本語 for the public page; "": none


def form_from_notice(notice: Notice, default_grace: dt.timedelta) -> NoticeForm:
    grace = notice.grace.total_seconds()
    return NoticeForm(
        id=notice.id, title=notice.title, text=notice.text,
        times=tuple(t.strftime("%H:%M:%S" if t.second else "%H:%M") for t in notice.times),
        days=notice.days, holidays=notice.holidays,
        start=notice.start.isoformat() if notice.start else "",
        end=notice.end.isoformat() if notice.end else "",
        dates=", ".join(d.isoformat() for d in notice.dates), chime=notice.chime,
        voice=notice.voice or "", repeat=str(notice.repeat),
        grace="" if notice.grace == default_grace else f"{grace:g}", enabled=notice.enabled,
        easy_text=notice.easy_text)


# --- the YAML text ----------------------------------------------------------------------

class _Quoted(str):
    """Written in double quotes: times and dates read as what staff typed."""


class _Flow(list):
    """Written on one line: ``times: ["07:30", "18:30"]``."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)     # "  - id:" under "notices:"


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(
    _Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style='"'))


def _number_or_text(raw: str):
    raw = raw.strip()
    if _NUMBER.fullmatch(raw):
        return float(raw) if "." in raw else int(raw)
    return raw      # the loader says what is wrong with it


def notice_mapping(form: NoticeForm) -> dict:
    """The notice's keys as they go into the file; defaults are left out."""
    data: dict = {"id": form.id.strip()}
    if form.title.strip():
        data["title"] = form.title.strip()
    data["text"] = form.text.replace("\r\n", "\n").strip()
    if form.easy_text.strip():
        data["easy_text"] = form.easy_text.replace("\r\n", "\n").strip()
    data["times"] = _Flow(_Quoted(t.strip()) for t in form.times if t.strip())
    dates = _Flow(_Quoted(d) for d in _DATE_SPLIT.split(form.dates.strip()) if d)
    # Days left blank beside one-off dates mean "only those dates", not "never".
    if form.days != frozenset(range(7)) and not (dates and not form.days):
        data["days"] = _Flow(DAY_KEYS[d] for d in sorted(form.days))
    if form.holidays != "any":
        data["holidays"] = form.holidays
    for key in ("start", "end"):
        if getattr(form, key).strip():
            data[key] = _Quoted(getattr(form, key).strip())
    if dates:
        data["dates"] = dates
    if not form.chime:
        data["chime"] = False
    if form.voice.strip():
        data["voice"] = form.voice.strip()
    if form.repeat.strip() not in ("", "1"):
        data["repeat"] = _number_or_text(form.repeat)
    if form.grace.strip():
        data["grace"] = _number_or_text(form.grace)
    if not form.enabled:
        data["enabled"] = False
    return data


def notice_yaml(form: NoticeForm) -> str:
    body = yaml.dump({"notices": [notice_mapping(form)]}, Dumper=_Dumper, allow_unicode=True,
                     sort_keys=False, default_flow_style=False, width=1000)
    return HEADER + body


def _field_lines(text: str) -> dict[int, str]:
    """Line number → the notice key written on it (lines of a multi-line value too)."""
    lines, current = {}, ""
    for number, line in enumerate(text.splitlines(), start=1):
        m = re.match(r"  (?:- |  )(\w+):", line)
        current = m[1] if m else current
        lines[number] = current
    return lines


def field_errors(problems: list[str], label: str, text: str) -> dict[str, list[str]]:
    """``file:line: key: message`` problems by form field; "" for the whole form."""
    lines = _field_lines(text)
    found: dict[str, list[str]] = {}
    for problem in problems:
        rest = problem[len(label) + 1:] if problem.startswith(label + ":") else problem
        m = _FIELD_KEY.fullmatch(rest)
        if m and m[2] in FIELDS:
            field, message = m[2], m[3]
        elif (m := _LINE.fullmatch(rest)) is not None:
            field, message = lines.get(int(m[1]), ""), m[2]
        else:
            field, message = "", rest
        found.setdefault(field if field in FIELDS else "", []).append(message)
    return found


# --- the files ----------------------------------------------------------------------------

def version_of(path: Path) -> str | None:
    """The content hash a form carries, or None when the file does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    except FileNotFoundError:
        return None


class NoticeFiles:
    """Create, change, duplicate, pause/resume and delete the page's notice files."""

    def __init__(self, schedules: Path, trash: Path, default_grace: dt.timedelta,
                 voices: tuple[str, ...] | None = None):
        self.schedules = Path(schedules)
        self.web = self.schedules / WEB_FOLDER
        self.trash = Path(trash)
        self.default_grace = default_grace
        self.voices = voices

    def path_of(self, notice_id: str) -> Path:
        if not _SAFE_ID.fullmatch(notice_id or ""):
            raise NoticeFileError("そのお知らせはありません", 404)
        return self.web / f"{notice_id}.yaml"

    def shown(self, path: Path) -> str:
        """A path as staff see it: relative to the folder holding schedules/."""
        try:
            return str(Path(path).relative_to(self.schedules.parent))
        except ValueError:
            return str(path)

    def is_web(self, path: Path) -> bool:
        return Path(path).parent == self.web

    def read(self, notice_id: str) -> tuple[NoticeForm, str]:
        """The page's notice as a form and its version; 404 when it is not a page file."""
        path = self.path_of(notice_id)
        version = version_of(path)
        try:
            notices = load_notice_file(path, default_grace=self.default_grace)
        except ConfigError:
            raise NoticeFileError("そのお知らせは画面から変更できません", 404) from None
        if version is None or [n.id for n in notices] != [notice_id]:
            raise NoticeFileError("そのお知らせは画面から変更できません", 404)
        return form_from_notice(notices[0], self.default_grace), version

    # -- changes: each returns (before, after) file texts ----------------------------
    def create(self, form: NoticeForm) -> tuple[None, str]:
        with self._locked():
            return None, self._save(form, new=True)

    def update(self, notice_id: str, form: NoticeForm, version: str) -> tuple[str, str]:
        target = self.path_of(notice_id)
        form = dataclasses.replace(form, id=notice_id)      # the id is the file's name
        with self._locked():
            before = self._current(target, version)     # stale: refused before anything
            return before, self._save(form, new=False)

    def set_enabled(self, notice_id: str, enabled: bool, version: str) -> tuple[str, str]:
        form, current = self.read(notice_id)
        if current != version:
            raise NoticeFileError(STALE, 409)
        return self.update(notice_id, dataclasses.replace(form, enabled=enabled), version)

    def duplicate(self, notice: Notice) -> tuple[str, str]:
        """A paused copy of ``notice`` (from any file) under a free id: (new id, text)."""
        form = form_from_notice(notice, self.default_grace)
        used = set(self.ids_in_use())
        base, n = notice.id[:58], 1
        new_id = f"{base}-copy"
        while new_id in used or self.path_of(new_id).exists():
            n += 1
            new_id = f"{base}-copy{n}"
        copy = dataclasses.replace(form, id=new_id, title=f"{notice.title}（コピー）", enabled=False)
        return new_id, self.create(copy)[1]

    def delete(self, notice_id: str, version: str, now: dt.datetime) -> tuple[str, Path]:
        """Move the file to the trash; returns (its text, where it went)."""
        with self._locked():
            target = self.path_of(notice_id)
            before = self._current(target, version)
            self.trash.mkdir(parents=True, exist_ok=True)
            dest = self.trash / f"{now:%Y%m%d-%H%M%S}-{notice_id}.yaml"
            n = 1
            while dest.exists():
                n += 1
                dest = self.trash / f"{now:%Y%m%d-%H%M%S}-{notice_id}-{n}.yaml"
            shutil.move(str(target), str(dest))
            fsync_dir(self.web)
        return before, dest

    # -- ids -----------------------------------------------------------------------
    def ids_in_use(self) -> dict[str, Path]:
        """Every id in schedules/ (broken files too, as far as they can be read)."""
        found = load_notice_dir(self.schedules, default_grace=self.default_grace)
        ids = {n.id: path for path, notices in found.files.items() for n in notices}
        for path in notice_files(self.schedules):
            if path in found.errors:
                text = path.read_text(encoding="utf-8", errors="replace")
                ids.update({m: path for m in _LOOSE_ID.findall(text) if m not in ids})
        return ids

    def _check_id_free(self, notice_id: str, target: Path) -> None:
        owner = target if target.exists() else self.ids_in_use().get(notice_id)
        if owner is not None:
            raise NoticeFileError("", 409, {"id": [self._clash(notice_id, owner)]})

    def _clash(self, notice_id: str, owner: Path) -> str:
        return (f'id "{notice_id}" はすでに {self.shown(owner)} で使われています。'
                "別の id にしてください")

    # -- writing ---------------------------------------------------------------------
    def _save(self, form: NoticeForm, *, new: bool) -> str:
        """Write ``form`` as its id's file (the caller holds the lock): the temp file is
        validated exactly as ``check`` would, then renamed into place."""
        text = notice_yaml(form)
        with self._temp(text) as tmp:
            self._validate(tmp, text, form)
            target = self.path_of(form.id.strip())
            if new:
                self._check_id_free(form.id.strip(), target)
            os.replace(tmp, target)
            fsync_dir(self.web)
        return text

    def _validate(self, tmp: Path, text: str, form: NoticeForm) -> None:
        try:
            load_notice_file(tmp, default_grace=self.default_grace)
        except ConfigError as e:
            raise NoticeFileError(INVALID, 422, field_errors(e.problems, str(tmp), text)) from None
        voice = form.voice.strip()
        if voice and self.voices is not None and voice not in self.voices:
            raise NoticeFileError(INVALID, 422, {"voice": [f'声 "{voice}" はありません']})

    def _current(self, target: Path, version: str) -> str:
        try:
            before = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NoticeFileError(GONE, 409) from None
        if version_of(target) != version:
            raise NoticeFileError(STALE, 409)
        return before

    @contextlib.contextmanager
    def _temp(self, text: str):
        """A hidden temp file in the web folder, fsynced; removed unless renamed."""
        fd, name = tempfile.mkstemp(prefix=".notice-", suffix=".tmp", dir=self.web)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self):
        """One change at a time, across threads and processes (flock on web/.lock)."""
        self.web.mkdir(parents=True, exist_ok=True)
        with open(self.web / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
