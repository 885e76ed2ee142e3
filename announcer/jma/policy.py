"""Categories, levels and the station's settings: pure functions of names and numbers.

Rules (defaults in ``announcer.core.config_sections.JMA_CATEGORIES``; each category's
decision can be overridden in ``jma.policy``, its age limit in ``jma.max_age_minutes``
and its approval window in ``jma.approve_minutes``):

- A kind is categorised by its level word: 特別警報 (5) → ``special_warning``, 危険警報 (4)
  → ``danger``, 警報 (3) → ``warning``, 注意報 (2) → ``advisory``; the 2026 river names
  (レベル５氾濫特別警報 … レベル２氾濫注意報) and the old ones (氾濫発生・危険・警戒・注意情報)
  by the same levels; 土砂災害警戒情報 is level 4. All 警戒レベル４ items share ``danger``.
- Decisions rank ``auto`` > ``approve`` > ``log``. A change (…から…) or a lifting is
  decided one step below the decision of what it replaces (``lower``); liftings never
  cut in.
- Earthquakes by the strongest local intensity: 5弱 and up ``quake_strong``, 3–4
  ``quake_moderate``, 1–2 ``other``.
"""

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from announcer.core.config_sections import JMA_CATEGORIES, JMA_DECISIONS, JMA_POLICY_DEFAULTS

DECISIONS, DEFAULTS = JMA_DECISIONS, JMA_POLICY_DEFAULTS  # declared with the config
CATEGORIES = tuple(JMA_CATEGORIES)
INTENSITIES = ("1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")
RANK = {"log": 0, "approve": 1, "auto": 2}
LEVEL_CATEGORY = {5: "special_warning", 4: "danger", 3: "warning", 2: "advisory"}
UNATTENDED = ("special_warning", "danger", "warning")  # drafts jma.unattended_minutes airs
_LEVEL_WORDS = (("特別警報", 5), ("危険警報", 4), ("警報", 3), ("注意報", 2))
_FLOOD_WORDS = (("氾濫発生情報", 5), ("氾濫危険情報", 4), ("氾濫警戒情報", 3), ("氾濫注意情報", 2))
_SAME_HAZARD = {"強風": "暴風", "風雪": "暴風雪"}  # one hazard, two level names
_PAREN = re.compile(r"[（(][^（）()]*[)）]")


@dataclass(frozen=True)
class Settings:
    areas: tuple = ("0920900",)
    quake_areas: tuple = ("311",)
    wide_areas: tuple = ("090010", "090012")
    rivers: tuple = ("鬼怒川", "小貝川")
    volcanoes: tuple = ("那須岳", "日光白根山")
    offices: tuple = ("宇都宮地方気象台",)
    overrides: dict = field(default_factory=dict)
    approve_minutes: dict = field(default_factory=dict)
    max_age_minutes: dict = field(default_factory=dict)
    unattended_minutes: int | None = None

    @classmethod
    def from_config(cls, cfg) -> "Settings":
        return cls(tuple(cfg.areas), tuple(cfg.quake_areas), tuple(cfg.wide_areas),
                   tuple(cfg.rivers), tuple(cfg.volcanoes), tuple(cfg.offices),
                   dict(cfg.policy), dict(cfg.approve_minutes), dict(cfg.max_age_minutes),
                   cfg.unattended_minutes)

    def decision(self, category: str) -> str:
        return self.overrides.get(category) or DEFAULTS[category]

    def max_age(self, category: str) -> dt.timedelta:
        return dt.timedelta(minutes=self.max_age_minutes.get(category)
                            or JMA_CATEGORIES[category][1])

    def window(self, category: str) -> dt.timedelta:
        return dt.timedelta(minutes=self.approve_minutes.get(category)
                            or JMA_CATEGORIES[category][2])

    @property
    def bulletin_areas(self) -> frozenset:
        return frozenset(self.areas) | frozenset(self.wide_areas)


def lower(decision: str) -> str:
    """One step below: auto → approve → log."""
    return {"auto": "approve", "approve": "log"}.get(decision, "log")


def strongest(decisions) -> str:
    return max(decisions, key=RANK.__getitem__, default="log")


def unparen(name: str) -> str:
    """JMA's name as written, without its parentheses (nested ones too)."""
    name = (name or "").strip()
    while _PAREN.search(name):
        name = _PAREN.sub("", name)
    return name


def plain(name: str) -> str:
    """JMA's name without width variants and without its parentheses (for comparing)."""
    return unparen(unicodedata.normalize("NFKC", name or ""))


def classify(name: str) -> tuple[str, int]:
    """(hazard, level) of a kind name; level 0 for a lifting (…解除), -1 if unknown.

    >>> classify("レベル４大雨危険警報"), classify("強風注意報"), classify("氾濫警戒情報解除")
    (('大雨', 4), ('暴風', 2), ('氾濫', 0))
    """
    n = plain(name)
    lifted = n.endswith("解除")
    n = n[:-2] if lifted else n
    explicit = re.match(r"レベル([1-5])", n)
    n = re.sub(r"^レベル[1-5]", "", n)
    for word, level in _FLOOD_WORDS:
        if n.endswith(word):
            return "氾濫", 0 if lifted else level
    for word, level in _LEVEL_WORDS:
        if n.endswith(word) and len(n) > len(word):
            hazard = n[:-len(word)]
            level = int(explicit.group(1)) if explicit else level
            return _SAME_HAZARD.get(hazard, hazard), 0 if lifted else level
    return n, -1


def level_category(level: int) -> str:
    return LEVEL_CATEGORY.get(level, "other")


def quake_category(top: str) -> str:
    i = INTENSITIES.index(top) if top in INTENSITIES else -1
    if i >= INTENSITIES.index("5-"):
        return "quake_strong"
    if i >= INTENSITIES.index("3"):
        return "quake_moderate"
    return "other"


def intensity_rank(code: str) -> int:
    return INTENSITIES.index(code) if code in INTENSITIES else -1
