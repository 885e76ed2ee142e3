"""Dictionary rows: one word a row in ``voices/dict/*.csv``, validated like a form.

Staff write one word a row, like VOICEVOX's user dictionary::

    # comment
    surface,pronunciation,accent_type,priority
    真岡,モーカ,0
    真岡市,モーカシ,3,5

``accent_type`` is the mora after which the pitch falls (0 = 平板); ``priority`` (0..10,
default 5) decides how hard the word beats the system dictionary.

Three kinds of file, by name (``kind_of``): ``area.csv`` is generated from Japan Post's
postal data (``scripts/make_area_dict.py``), ``web.csv`` is written by the staff page, every
other file is edited by hand. A surface may appear once among the hand-made files and
once in web.csv; the staff page's word shadows a hand-made one of the same surface (staff
override a file from the page), and any word a person wrote shadows an area word, so
what a person wrote always wins over the generated list: staff > hand-made > area.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from announcer.core.errors import ConfigError

HEADER = ("surface", "pronunciation", "accent_type", "priority")
DEFAULT_PRIORITY = 5
MAX_SURFACE = 40  # characters; Open JTalk crashes on very long input
MAX_MORA = 40

AREA_CSV, WEB_CSV = "area.csv", "web.csv"
AREA, HAND, STAFF = "area", "hand", "staff"
KIND_LABELS = {AREA: "地区名リスト", HAND: "手作り辞書", STAFF: "スタッフ登録"}

SMALL_KANA = set("ァィゥェォャュョヮ")
_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


@dataclass(frozen=True)
class Entry:
    surface: str
    pronunciation: str
    accent_type: int
    priority: int
    source: str  # "file:line"

    @property
    def file(self) -> str:
        return Path(self.source.rpartition(":")[0]).name

    @property
    def line(self) -> int:
        number = self.source.rpartition(":")[2]
        return int(number) if number.isdigit() else 0

    @property
    def kind(self) -> str:
        return kind_of(self.file)


def mora_count(kana: str) -> int:
    """Moras in katakana: small ャュョァィゥェォヮ join the kana before; ー, ッ, ン count."""
    return sum(1 for c in kana if c not in SMALL_KANA)


def kind_of(name: str) -> str:
    """AREA, HAND or STAFF, from a dictionary file's name."""
    return {AREA_CSV: AREA, WEB_CSV: STAFF}.get(Path(name).name, HAND)


def find_dictionaries(directory: Path) -> list[Path]:
    """The dictionary files of a voices/dict directory, in a stable order."""
    return sorted(Path(directory).glob("*.csv"))


# -- reading and validation --------------------------------------------------------------


def load_entries(paths: Iterable[Path]) -> list[Entry]:
    """Every entry of every file, in file order, shadowed words dropped (a hand-made word
    under a staff word, an area word under either); ConfigError lists every problem."""
    entries: list[Entry] = []
    problems: list[str] = []
    for path in paths:
        _read_file(Path(path), entries, problems)
    for kind in (HAND, STAFF, AREA):
        _check_duplicates([e for e in entries if e.kind == kind], problems)
    if problems:
        raise ConfigError(problems)
    staff = {dict_surface(e.surface) for e in entries if e.kind == STAFF}
    taken = staff | {dict_surface(e.surface) for e in entries if e.kind == HAND}
    return [e for e in entries if e.kind == STAFF
            or (e.kind == HAND and dict_surface(e.surface) not in staff)
            or (e.kind == AREA and dict_surface(e.surface) not in taken)]


def _read_file(path: Path, entries: list[Entry], problems: list[str]) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{path}: 辞書ファイルを読めません: {exc.strerror or exc}")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(f"{path}:{line}: UTF-8 で保存してください")
        return
    header_allowed = True
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [cell.strip() for cell in next(csv.reader([line]))]
        if header_allowed and tuple(cells) in (HEADER, HEADER[:3]):
            continue
        header_allowed = False
        source = f"{path}:{number}"
        entry, messages = parse_row(cells, source)
        problems.extend(f"{source}: {message}" for message in messages)
        if entry:
            entries.append(entry)


def parse_row(cells: list[str], source: str) -> tuple[Entry | None, list[str]]:
    """One row as an Entry, or None and the messages saying why not."""
    if len(cells) not in (3, 4):
        return None, [
            "列の数が違います。表記,読み,アクセント型[,優先度] の 3 列か 4 列で書いてください"
            f": {len(cells)} 列"
        ]
    surface, pronunciation, accent_text = cells[:3]
    kana_problems = _pronunciation_problems(pronunciation)
    messages = _surface_problems(surface) + kana_problems
    accent, message = _integer(accent_text, "アクセント型")
    if message:
        messages.append(message)
    elif not kana_problems and not 0 <= accent <= mora_count(pronunciation):
        moras = mora_count(pronunciation)
        messages.append(
            f"アクセント型は 0〜{moras} で書いてください"
            f"（{pronunciation} は {moras} モーラ）: {accent}"
        )
    priority, message = DEFAULT_PRIORITY, None
    if len(cells) == 4 and cells[3]:
        priority, message = _integer(cells[3], "優先度")
        if message is None and not 0 <= priority <= 10:
            message = f"優先度は 0〜10 で書いてください: {priority}"
    if message:
        messages.append(message)
    if messages:
        return None, messages
    return Entry(surface, pronunciation, accent, priority, source), []


def _surface_problems(surface: str) -> list[str]:
    if not surface:
        return ["表記が空です"]
    if any(c.isspace() or c in ',"' for c in surface):
        return [f"表記に空白・カンマ・引用符は使えません: {surface}"]
    if len(surface) > MAX_SURFACE:
        return [f"表記が長すぎます（{MAX_SURFACE} 文字まで）: {surface}"]
    return []


def _pronunciation_problems(kana: str) -> list[str]:
    if not kana:
        return ["読みが空です"]
    if not all("ァ" <= c <= "ヴ" or c == "ー" for c in kana):
        return [f"読みはカタカナで書いてください: {kana}"]
    for before, c in zip(" " + kana, kana):
        if c == "ー" and before in " ー":
            return [f"読みの「ー」の前にかながありません: {kana}"]
        if c in SMALL_KANA and (before in " ーッン" or before in SMALL_KANA):
            return [f"読みの小さい「{c}」の前に普通のかながありません: {kana}"]
    if mora_count(kana) > MAX_MORA:
        return [f"読みが長すぎます（{MAX_MORA} モーラまで）: {kana}"]
    return []


def _integer(text: str, name: str) -> tuple[int, str | None]:
    if not text:
        return 0, f"{name}が空です"
    try:
        return int(text), None
    except ValueError:
        return 0, f"{name}は整数で書いてください: {text}"


def _check_duplicates(entries: list[Entry], problems: list[str]) -> None:
    first: dict[str, Entry] = {}
    for entry in entries:
        key = dict_surface(entry.surface)
        if key in first:
            problems.append(f"{entry.source}: 表記「{entry.surface}」は {first[key].source} にもあります")
        else:
            first[key] = entry


def dict_surface(surface: str) -> str:
    """The surface as MeCab sees it: Open JTalk widens ASCII first ("FM" → "ＦＭ")."""
    return surface.translate(_FULLWIDTH)
