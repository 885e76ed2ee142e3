"""The parts of a JMA message the station uses, read from a parsed tree in one pass each.

Rules: every walk visits each element a bounded number of times (no search inside a
search: the quadratic Head ``Name`` × ``Kind`` lookup that let a 1.4 MB file stall the
intake for a minute is gone), at most ``MAX_ITEMS`` items per list, and every step is
counted against the message's deadline (``Steps``); every text is capped (``cap``).
"""

import datetime as dt
import re
import time
from dataclasses import dataclass, field

MAX_TEXT = 1200              # characters kept of any one text field
MAX_ITEMS = 5000             # warning items / areas looked at in one message

HEAD = "{http://xml.kishou.go.jp/jmaxml1/informationBasis1/}"
MET = "{http://xml.kishou.go.jp/jmaxml1/body/meteorology1/}"
SEIS = "{http://xml.kishou.go.jp/jmaxml1/body/seismology1/}"
VOLC = "{http://xml.kishou.go.jp/jmaxml1/body/volcanology1/}"
EB = "{http://xml.kishou.go.jp/jmaxml1/elementBasis1/}"


class Steps:
    """A step counter with a deadline: ``check()`` raises TimeoutError once past it
    (the clock is read every 256 steps, so counting is cheap)."""

    def __init__(self, deadline: float):
        self.deadline, self.n = deadline, 0

    def check(self) -> None:
        self.n += 1
        if self.n % 256 == 1 and time.monotonic() > self.deadline:
            raise TimeoutError

    def limited(self, iterable):
        for i, x in enumerate(iterable):
            if i >= MAX_ITEMS:
                return
            self.check()
            yield x


@dataclass(frozen=True)
class Kind:
    name: str
    code: str = ""
    status: str = ""      # 発表 | 継続 | 解除 | なし | 特別警報から警報 | …
    last: str = ""        # LastKind/Name: what it replaces or lifts
    condition: str = ""


@dataclass(frozen=True)
class AreaWarning:
    code: str
    name: str
    kinds: tuple[Kind, ...]
    group: str = ""       # the Warning's type, e.g. 気象警報・注意報（市町村等）


@dataclass(frozen=True)
class HeadItem:
    info: str             # the Information's type
    kind: str
    condition: str = ""
    last: str = ""
    codes: tuple = ()
    names: tuple = ()


@dataclass(frozen=True)
class BulletinArea:
    code: str
    name: str
    status: str = ""      # 付近 …


@dataclass(frozen=True)
class Quake:
    origin_time: dt.datetime | None
    epicentre: str
    magnitude: str                          # JMA's description, e.g. 「Ｍ６．３」
    areas: dict = field(default_factory=dict)   # intensity area code -> (name, MaxInt)
    cities: dict = field(default_factory=dict)  # 市町村 code -> (name, MaxInt)
    comment: str = ""
    depth: str = ""                         # JMA's words: 「１０ｋｍ」, 「ごく浅い」 …
    max_int: str = ""                       # the overall maximum intensity
    tsunami: bool = False                   # the comment speaks of a tsunami warning


def cap(value) -> str:
    return (value or "").strip()[:MAX_TEXT]


def read(root, head, steps: Steps) -> dict:
    """The body parts of ``Message`` (keyword arguments)."""
    met = root.find(f"{MET}Body")
    seis = root.find(f"{SEIS}Body")
    parts = {"head_items": _head_items(head, steps)}
    if met is not None:
        parts.update(warnings=_warnings(met, steps), notice=_notice(met),
                     bulletin_areas=_bulletin_areas(met, steps),
                     main_text=_main_text(met, steps))
    if seis is not None:
        parts["quake"] = _quake(seis, steps)
    return parts


def _head_items(head, steps: Steps) -> tuple[HeadItem, ...]:
    out = []
    for info in steps.limited(head.iterfind(f"{HEAD}Headline/{HEAD}Information")):
        for item in steps.limited(info.iterfind(f"{HEAD}Item")):
            areas = list(steps.limited(item.iterfind(f"{HEAD}Areas/{HEAD}Area")))
            codes = tuple(cap(a.findtext(f"{HEAD}Code")) for a in areas)
            names = tuple(cap(a.findtext(f"{HEAD}Name")) for a in areas)
            last = cap(item.findtext(f"{HEAD}LastKind/{HEAD}Name"))
            for kind in item.findall(f"{HEAD}Kind")[:50] or [None]:
                steps.check()
                out.append(HeadItem(
                    cap(info.get("type")),
                    cap(kind.findtext(f"{HEAD}Name")) if kind is not None else "",
                    cap(kind.findtext(f"{HEAD}Condition")) if kind is not None else "",
                    last, codes, names))
    return tuple(out)


def _warnings(body, steps: Steps) -> tuple[AreaWarning, ...]:
    out = []
    for warning in steps.limited(body.iterfind(f"{MET}Warning")):
        group = cap(warning.get("type"))
        for item in steps.limited(warning.iterfind(f"{MET}Item")):
            kinds = tuple(
                Kind(cap(k.findtext(f"{MET}Name")), cap(k.findtext(f"{MET}Code")),
                     cap(k.findtext(f"{MET}Status")), cap(k.findtext(f"{MET}LastKind/{MET}Name")),
                     cap(k.findtext(f"{MET}Condition")))
                for k in steps.limited(item.iterfind(f"{MET}Kind")))
            areas = item.findall(f"{MET}Area") + item.findall(f"{MET}Areas/{MET}Area")
            for area in steps.limited(areas):
                out.append(AreaWarning(cap(area.findtext(f"{MET}Code")),
                                       cap(area.findtext(f"{MET}Name")), kinds, group))
    return tuple(out)


def _notice(body) -> str:
    return cap(body.findtext(f"{MET}Notice"))


def _bulletin_areas(body, steps: Steps) -> tuple[BulletinArea, ...]:
    path = f"{MET}MeteorologicalInfos/{MET}MeteorologicalInfo/{MET}Item/{MET}Area"
    return tuple(BulletinArea(cap(a.findtext(f"{MET}Code")), cap(a.findtext(f"{MET}Name")),
                              cap(a.findtext(f"{MET}Status")))
                 for a in steps.limited(body.iterfind(path)))


def _main_text(body, steps: Steps) -> str:
    for prop in steps.limited(body.iter(f"{MET}Property")):
        if cap(prop.findtext(f"{MET}Type")) == "主文":
            return cap(prop.findtext(f"{MET}Text"))
    return ""


def _quake(body, steps: Steps) -> Quake:
    eq = body.find(f"{SEIS}Earthquake")
    origin, epicentre, magnitude, depth = None, "", "", ""
    if eq is not None:
        origin = when(cap(eq.findtext(f"{SEIS}OriginTime")))
        area = eq.find(f"{SEIS}Hypocenter/{SEIS}Area")
        if area is not None:
            epicentre = cap(area.findtext(f"{SEIS}Name"))
            coord = area.find(f"{EB}Coordinate")
            depth = _depth(cap(coord.get("description"))) if coord is not None else ""
        mag = eq.find(f"{EB}Magnitude")
        magnitude = cap(mag.get("description")) if mag is not None else ""
    areas, cities = {}, {}
    observation = body.find(f"{SEIS}Intensity/{SEIS}Observation")
    max_int = cap(observation.findtext(f"{SEIS}MaxInt")) if observation is not None else ""
    for pref in steps.limited(body.iterfind(f"{SEIS}Intensity/{SEIS}Observation/{SEIS}Pref")):
        for area in steps.limited(pref.iterfind(f"{SEIS}Area")):
            areas[cap(area.findtext(f"{SEIS}Code"))] = (cap(area.findtext(f"{SEIS}Name")),
                                                        cap(area.findtext(f"{SEIS}MaxInt")))
            for city in steps.limited(area.iterfind(f"{SEIS}City")):
                cities[cap(city.findtext(f"{SEIS}Code"))] = (cap(city.findtext(f"{SEIS}Name")),
                                                             cap(city.findtext(f"{SEIS}MaxInt")))
    comment = cap(body.findtext(f"{SEIS}Comments/{SEIS}ForecastComment/{SEIS}Text"))
    tsunami = bool(re.search("津波警報|津波注意報|大津波", comment))
    return Quake(origin, epicentre, magnitude, areas, cities, comment, depth, max_int, tsunami)


def _depth(description: str) -> str:
    m = re.search(r"深さ[\s　]*(\S+)$", description)
    if m:
        return "不明" if m.group(1) == "不明" else m.group(1)
    return "ごく浅い" if "ごく浅い" in description else ""


def when(value: str) -> dt.datetime | None:
    """A JMA date-time (``Z`` or an offset; naive read as UTC), None when unreadable."""
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
