"""The spoken text of an item, built only from the message's own fields and words.

Rules: the station relays what JMA said (Weather Service Act art. 23); every text opens
with who issued it and when (「午後3時5分、宇都宮地方気象台の発表です。」; joint issuers
joined with 「と」), a stale draft with 「○日○時○分発表の情報です。」. Warnings name each
town with its own kinds, say every change (「…は、…に切り替えられました」), what is in
force now, and 「…の警報は、すべて解除されました」 when the last warning ends; the
headline is read only when something was issued or changed (never after a lifting
alone). JMA's parentheses are not read (「噴火警報（居住地域）」 → 「噴火警報」; a
title's closing 「（竜巻注意）」 becomes 「、竜巻注意」). The templates live in one
staff-editable file (``voices/jma/templates.yaml``), re-read when it changes; a template
that does not parse or names a field it may not use is logged and replaced by the
built-in one, so a typo never silences a warning. Templates can only name fields.
"""

import datetime as dt
import logging
import re
import string
from pathlib import Path

import yaml

log = logging.getLogger(__name__)
MAX_SPOKEN = 1500   # characters: synthesis memory grows with the text
MAX_HEADLINE = 600

_PIECES = {"credit": {"time", "issuer"}, "stale": {"time"}, "correction": set(),
           "issued": {"area", "kinds"}, "changed": {"area", "old", "new"},
           "lifted": {"area", "kinds"}, "all_lifted": {"area"}, "in_force": {"area", "kinds"},
           "continuing": {"area", "kinds"}, "valid": {"time"}, "intensity": {"name", "int"},
           "depth": {"depth"}, "max_int": {"int"}}
_TOP = {"credit", "stale", "correction", "title", "headline"}
FIELDS = {
    **_PIECES,
    "warning": _TOP | {"changes", "area"}, "landslide": _TOP | {"changes", "area"},
    "flood": _TOP | {"changes", "main", "area"}, "bulletin": _TOP | {"valid"},
    "info": _TOP, "volcano": _TOP,
    "quake_flash": _TOP | {"intensities", "time"},
    "quake": _TOP | {"intensities", "time", "epicentre", "magnitude", "comment", "depth",
                     "max_int"},
    "withdrawal": {"credit", "title"},
}
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "voices" / "jma" / "templates.yaml"
_INT_WORDS = {"5-": "5弱", "5+": "5強", "6-": "6弱", "6+": "6強"}
_PAREN = re.compile(r"[（(][^（）()]*[)）]")
_ENDS = "。、！？」』】］〉》＞>]"  # a line ending so needs no 。 (a bracket is a pause)


def _fields_of(template: str) -> set[str] | None:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError:
        return None


def _builtin() -> dict[str, str]:
    try:
        data = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        data = None
    if not isinstance(data, dict):  # the repo's file is part of the program
        raise RuntimeError(f"{DEFAULT_FILE} is missing or broken")
    return {k: str(data[k]) for k in FIELDS}


class Templates:
    def __init__(self, path: Path | None):
        self.path = path
        self._builtin = _builtin()
        self._stamp = None
        self._current = dict(self._builtin)

    def get(self) -> dict[str, str]:
        if self.path is None:
            return self._builtin
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp:
            self._stamp = stamp
            self._current = self._load() if stamp else dict(self._builtin)
        return self._current

    def _load(self) -> dict[str, str]:
        out = dict(self._builtin)
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            log.error("%s: cannot read the JMA templates (%s); using the built-in ones",
                      self.path, exc)
            return out
        if not isinstance(data, dict):
            log.error("%s: not a mapping; using the built-in JMA templates", self.path)
            return out
        for key, value in data.items():
            if key not in FIELDS:
                log.error("%s: %s: unknown template name (ignored)", self.path, key)
                continue
            names = _fields_of(str(value)) if isinstance(value, (str, int)) else None
            if names is None or not names <= FIELDS[key]:
                bad = sorted((names or set()) - FIELDS[key]) or ["{"]
                log.error("%s: %s: field(s) %s not allowed; using the built-in template",
                          self.path, key, ", ".join(bad))
                continue
            out[key] = str(value)
        return out


# -- JMA's text, made speakable ------------------------------------------------------
def intensity_words(code: str) -> str:
    return _INT_WORDS.get(code, code)


def unparen(text: str) -> str:
    """Without JMA's parenthesised asides (nested ones too)."""
    while _PAREN.search(text):
        text = _PAREN.sub("", text)
    return text


def spoken_title(title: str) -> str:
    """A title whose last parenthesis names the kind keeps it as a phrase:
    埼玉県気象防災速報（竜巻注意） → 埼玉県気象防災速報、竜巻注意."""
    m = re.fullmatch(r"(.+?)[（(]([^（）()]+)[)）]", title or "")
    if m and m.group(1).endswith("速報"):
        return f"{unparen(m.group(1))}、{m.group(2)}"
    return unparen(title or "")


def clean(text: str, cap: int = MAX_HEADLINE) -> str:
    # JMA's line breaks are layout; spoken, they are pauses at most.
    lines = [" ".join(line.split()) for line in (text or "").splitlines()]
    joined = "".join(line if line[-1] in _ENDS else line + "。" for line in lines if line)
    return unparen(joined.rstrip("。") + ("。" if joined.endswith("。") else ""))[:cap]


def radio_time(t: dt.datetime | None, tz, day: bool = False) -> str:
    """午前／午後 H時M分 as radio says it (午後0時 for noon); ``day`` adds 「○日」."""
    if t is None:
        return ""
    t = t.astimezone(tz)
    words = f"{'午前' if t.hour < 12 else '午後'}{t.hour % 12}時" + (f"{t.minute}分" if t.minute else "")
    return (f"{t.day}日" if day else "") + words


def issuers(office: str) -> str:
    return "と".join((office or "気象庁").split()) or "気象庁"


# -- composing ----------------------------------------------------------------------
def compose(content: dict, tz, t: dict[str, str]) -> str:
    kind = content.get("kind", "info")
    when = _when(content.get("time"))
    f = {"credit": t["credit"].format(time=radio_time(when, tz),
                                      issuer=issuers(content.get("issuer", ""))),
         "stale": (t["stale"].format(time=radio_time(when, tz, day=True))
                   if content.get("stale") else ""),
         "correction": t["correction"] if content.get("correction") else "",
         "title": spoken_title(content.get("title", "")),
         "headline": clean(content.get("headline", ""))}
    if kind in ("warning", "landslide", "flood"):
        towns = content.get("towns") or []
        f["changes"] = "".join(_town(town, t) for town in towns)
        if not any(town.get("issued") or town.get("changed") for town in towns):
            f["headline"] = ""  # nothing issued: JMA's headline would contradict a lifting
        f["main"] = clean(content.get("main", "")) if f["headline"] else ""
        f["area"] = towns[0]["name"] if towns else ""
    elif kind == "bulletin":
        valid = _when(content.get("valid"))
        f["valid"] = t["valid"].format(time=radio_time(valid, tz)) if valid else ""
    elif kind in ("quake", "quake_flash"):
        _quake_fields(content, tz, t, f)
    return _format(t, kind if kind in FIELDS else "info", f)


def _town(town: dict, t: dict) -> str:
    area, now = town.get("name", ""), town.get("now") or []
    out = []
    if town.get("issued"):
        out.append(t["issued"].format(area=area, kinds="、".join(town["issued"])))
    for old, new in town.get("changed") or []:
        out.append(t["changed"].format(area=area, old=old, new=new) if old else
                   t["issued"].format(area=area, kinds=new))
    if town.get("lifted"):
        out.append(t["lifted"].format(area=area, kinds="、".join(town["lifted"])))
    if town.get("all_lifted"):
        out.append(t["all_lifted"].format(area=area))
    said = set(town.get("issued") or []) | {n for _, n in town.get("changed") or []}
    if out and set(now) - said:
        out.append(t["in_force"].format(area=area, kinds="、".join(now)))
    elif not out and now:
        out.append(t["continuing"].format(area=area, kinds="、".join(now)))
    return "".join(out)


def _quake_fields(content: dict, tz, t: dict, f: dict) -> None:
    f["intensities"] = "".join(t["intensity"].format(name=n, int=intensity_words(i))
                               for n, i in content.get("intensities", [])[:4])
    origin = _when(content.get("origin")) or _when(content.get("time"))
    f["time"] = radio_time(origin, tz, day=True)
    f["epicentre"] = unparen(content.get("epicentre", ""))
    f["magnitude"] = content.get("magnitude", "")
    depth = content.get("depth", "")
    f["depth"] = t["depth"].format(depth=depth) if depth else ""
    top = content.get("max_int", "")
    f["max_int"] = t["max_int"].format(int=intensity_words(top)) if top else ""
    f["comment"] = clean(content.get("comment", ""))


def _when(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime) or value is None:
        return value
    try:
        return dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _format(t: dict[str, str], key: str, fields: dict) -> str:
    allowed = {k: fields.get(k, "") for k in FIELDS[key]}
    return t[key].format(**allowed)[:MAX_SPOKEN]
