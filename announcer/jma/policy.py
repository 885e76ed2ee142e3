"""What the station does with a parsed message: a pure function of (message, settings).

Rules (defaults; each category can be overridden in ``jma.policy``):

| category          | what                                                        | default |
|-------------------|-------------------------------------------------------------|---------|
| special_warning   | 特別警報 (レベル５)                                          | auto    |
| landslide         | 土砂災害警戒情報 (VXWW50), 土砂災害危険警報                   | auto    |
| record_rain       | 記録的短時間大雨情報 (VPOA50), 気象防災速報 (VPBS50)          | auto    |
| flood_danger      | 指定河川洪水予報 氾濫危険情報・氾濫発生情報                    | auto    |
| quake_strong      | 震度5弱以上 in ``quake_areas`` (or 市町村 in ``areas``)        | auto    |
| warning           | other 警報 / 危険警報                                         | approve |
| tornado           | 竜巻注意情報 (VPHW50), 気象防災速報（竜巻…）                   | approve |
| flood_warning     | 氾濫警戒情報                                                  | approve |
| quake_moderate    | 震度3・4                                                      | approve |
| advisory          | 注意報, 氾濫注意情報                                           | log     |
| other             | the rest (継続 only, 震度1・2, …)                              | log     |

Only what concerns the configured areas counts (warnings: ``areas``, 市町村等 codes;
rain/tornado bulletins: ``areas`` or ``wide_areas``; river floods: ``rivers`` by name;
earthquakes: ``quake_areas`` intensity areas or ``areas`` cities). A lifted item (解除)
is decided under the category of what it lifts. 継続 alone changes nothing: ``log``.
Status 訓練/試験 and 取消 are the service's business, not this function's.
"""

from dataclasses import dataclass, field

from announcer.core.config_sections import JMA_DECISIONS, JMA_POLICY_DEFAULTS
from announcer.jma.parse import Message

DECISIONS, DEFAULTS = JMA_DECISIONS, JMA_POLICY_DEFAULTS  # declared with the config
INTENSITIES = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")
_RANK = {"log": 0, "approve": 1, "auto": 2}


@dataclass(frozen=True)
class Settings:
    areas: frozenset = frozenset({"0920900"})
    quake_areas: frozenset = frozenset({"311"})
    wide_areas: frozenset = frozenset()
    rivers: tuple = ("鬼怒川", "小貝川")
    overrides: dict = field(default_factory=dict)

    def decision(self, category: str) -> str:
        return self.overrides.get(category) or DEFAULTS[category]


@dataclass(frozen=True)
class Verdict:
    relevant: bool
    decision: str = "log"
    category: str = "other"
    reason: str = ""
    area: str = ""                          # the local area's name as JMA wrote it
    areas: tuple = ()                       # local area codes concerned
    issued: tuple = ()                      # kind names newly issued (or changed to)
    lifted: tuple = ()                      # kind names lifted
    intensities: tuple = ()                 # ((area name, MaxInt), …), strongest first


IGNORE = Verdict(relevant=False, reason="対象地域外")


def decide(msg: Message, s: Settings) -> Verdict:
    handler = {"VXWW50": _warnings, "VPOA50": _bulletin, "VPBS50": _bulletin,
               "VPHW50": _bulletin, "VXKOii": _flood, "VXSE51": _quake,
               "VXSE53": _quake}.get(msg.type)
    if handler is None and msg.type.startswith("VPWW"):
        handler = _warnings
    if handler is None:
        return Verdict(relevant=False, reason=f"{msg.type} は放送の対象外")
    return handler(msg, s)


def kind_category(name: str) -> str:
    if "特別警報" in name:
        return "special_warning"
    if "土砂災害" in name and ("危険警報" in name or "警戒情報" in name):
        return "landslide"
    if name == "警戒":  # VXWW50's own kind name
        return "landslide"
    if "警報" in name:
        return "warning"
    if "注意報" in name:
        return "advisory"
    return "other"


def _strongest(s: Settings, categories) -> tuple[str, str]:
    categories = list(categories) or ["other"]
    best = (categories[0], s.decision(categories[0]))
    for c in categories:
        if _RANK[s.decision(c)] > _RANK[best[1]]:
            best = (c, s.decision(c))
    return best


def _warnings(msg: Message, s: Settings) -> Verdict:
    local = [w for w in msg.warnings if w.code in s.areas]
    if not local:
        return IGNORE
    issued, lifted, cats = [], [], []
    for w in local:
        for k in w.kinds:
            if k.status == "発表":
                issued.append(k.name)
                cats.append(kind_category(k.name))
            elif k.status == "解除":
                lifted.append(k.last or k.name)
                cats.append(kind_category(k.last or k.name))
    if msg.type == "VXWW50":  # its kinds are 警戒 / 解除: the message names the thing
        issued = [_landslide_name(msg)] if issued else []
        lifted = [_landslide_name(msg)] if lifted else []
        cats = ["landslide"] * len(cats)
    category, decision = _strongest(s, cats)
    reason = "" if cats else "継続・変化なし"
    return Verdict(True, decision, category, reason, local[0].name,
                   tuple(dict.fromkeys(w.code for w in local)),
                   tuple(dict.fromkeys(issued)), tuple(dict.fromkeys(lifted)))


def _landslide_name(msg: Message) -> str:
    i = msg.title.find("レベル")
    return msg.title[i:] if i >= 0 else "土砂災害警戒情報"


def _bulletin(msg: Message, s: Settings) -> Verdict:
    local = msg.area_codes & (s.areas | s.wide_areas)
    if not local:
        return IGNORE
    if msg.type == "VPHW50" or "竜巻" in msg.title:
        category = "tornado"
    else:
        category = "record_rain"
    return Verdict(True, s.decision(category), category, "", "", tuple(sorted(local)),
                   (msg.title,))


def _flood(msg: Message, s: Settings) -> Verdict:
    rivers = [n for n in msg.area_names if any(r and r in n for r in s.rivers)]
    if not rivers and not msg.area_codes & s.areas:
        return IGNORE
    name = msg.head_kinds[0] if msg.head_kinds else msg.title
    lifted = name.endswith("解除")
    base = name[:-2] if lifted else name
    if "氾濫危険" in base or "氾濫発生" in base:
        category = "flood_danger"
    elif "氾濫警戒" in base:
        category = "flood_warning"
    elif "氾濫注意" in base:
        category = "advisory"
    else:
        category = "other"
    return Verdict(True, s.decision(category), category, "", rivers[0] if rivers else "",
                   tuple(dict.fromkeys(rivers)), () if lifted else (base,),
                   (base,) if lifted else ())


def _quake(msg: Message, s: Settings) -> Verdict:
    q = msg.quake
    if q is None:
        return IGNORE
    found = [(name, mx) for code, (name, mx) in q.cities.items() if code in s.areas]
    found += [(name, mx) for code, (name, mx) in q.areas.items() if code in s.quake_areas]
    found = [(n, m) for n, m in found if m in INTENSITIES]
    if not found:
        return IGNORE
    found.sort(key=lambda f: INTENSITIES.index(f[1]), reverse=True)
    top = INTENSITIES.index(found[0][1])
    if top >= INTENSITIES.index("5-"):
        category = "quake_strong"
    elif top >= INTENSITIES.index("3"):
        category = "quake_moderate"
    else:
        category = "other"
    codes = [c for c in q.cities if c in s.areas] + [c for c in q.areas if c in s.quake_areas]
    return Verdict(True, s.decision(category), category, "", found[0][0], tuple(codes),
                   intensities=tuple(found))
