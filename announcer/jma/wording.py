"""The spoken text of an item, built only from the message's own fields and words.

Rules: the station relays what JMA said (Weather Service Act art. 23); every text opens
with the credit 「気象庁の発表です。」. The templates live in one staff-editable file
(``voices/jma/templates.yaml``); it is re-read when it changes. A template that does not
parse or names a field it may not use is logged and replaced by the built-in one, so a
typo never silences a warning. Field values are JMA's text, capped; templates can only
name fields (no attribute or index access).
"""

import logging
import string
from pathlib import Path

import yaml

from announcer.jma.parse import Message
from announcer.jma.policy import Verdict

log = logging.getLogger(__name__)
MAX_SPOKEN = 1500   # characters: synthesis memory grows with the text
MAX_HEADLINE = 600

FIELDS = {
    "credit": set(), "correction": set(),
    "issued": {"area", "kinds"}, "lifted": {"area", "kinds"},
    "warning": {"credit", "correction", "issued", "lifted", "headline", "title", "area"},
    "landslide": {"credit", "correction", "issued", "lifted", "headline", "title", "area"},
    "bulletin": {"credit", "correction", "title", "headline"},
    "flood": {"credit", "correction", "title", "headline", "main", "area"},
    "intensity": {"name", "int"},
    "quake_flash": {"credit", "correction", "headline", "intensities", "time"},
    "quake": {"credit", "correction", "headline", "intensities", "time", "epicentre",
              "magnitude", "comment"},
    "withdrawal": {"credit", "title"},
}
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "voices" / "jma" / "templates.yaml"
_INT_WORDS = {"5-": "5弱", "5+": "5強", "6-": "6弱", "6+": "6強"}


def _fields_of(template: str) -> set[str] | None:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError:
        return None
    return names


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


def intensity_words(code: str) -> str:
    return _INT_WORDS.get(code, code)


def _clean(text: str, cap: int) -> str:
    # JMA's line breaks are layout; spoken, they are sentence ends at most.
    return " ".join(text.split())[:cap]


def compose(msg: Message, v: Verdict, tz, t: dict[str, str]) -> str:
    f = {"credit": t["credit"], "correction": t["correction"] if msg.info_type == "訂正" else "",
         "title": msg.title, "headline": _clean(msg.headline, MAX_HEADLINE), "area": v.area}
    if msg.type.startswith("VPWW") or msg.type == "VXWW50":
        f["issued"] = t["issued"].format(area=v.area, kinds="、".join(v.issued)) if v.issued else ""
        f["lifted"] = t["lifted"].format(area=v.area, kinds="、".join(v.lifted)) if v.lifted else ""
        key = "landslide" if msg.type == "VXWW50" else "warning"
    elif msg.type == "VXKOii":
        f["main"] = _clean(msg.main_text, MAX_HEADLINE)
        key = "flood"
    elif msg.type in ("VXSE51", "VXSE53"):
        f["intensities"] = "".join(t["intensity"].format(name=n, int=intensity_words(i))
                                   for n, i in v.intensities[:4])
        q = msg.quake
        when = (q.origin_time if q and q.origin_time else msg.report_time)
        f["time"] = when.astimezone(tz).strftime("%-d日%-H時%-M分") if when else ""
        f["epicentre"] = q.epicentre if q else ""
        f["magnitude"] = q.magnitude if q else ""
        f["comment"] = _clean(q.comment, MAX_HEADLINE) if q else ""
        key = "quake" if msg.type == "VXSE53" and q and q.epicentre else "quake_flash"
    else:
        key = "bulletin"
    return _format(t, key, f)


def withdrawal(title: str, t: dict[str, str]) -> str:
    return _format(t, "withdrawal", {"credit": t["credit"], "title": title})


def _format(t: dict[str, str], key: str, fields: dict) -> str:
    allowed = {k: fields.get(k, "") for k in FIELDS[key]}
    return t[key].format(**allowed)[:MAX_SPOKEN]
