"""The reading dictionary: row validation, Open JTalk rows, and compiling with real Open JTalk.

Loading a user dictionary changes pyopenjtalk's global state, so every reading check runs
in a child process and this test process never loads one.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from announcer.core.errors import ConfigError, SpeechError
from announcer.readings import compiler, rows
from announcer.readings.rows import Entry, load_entries, mora_count

REPO = Path(__file__).resolve().parents[1]
SHIPPED = rows.find_dictionaries(REPO / "voices" / "dict")


def write(folder: Path, text: str, name: str = "words.csv") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(*paths: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_entries(paths)
    return caught.value.problems


# -- mora counting and rows ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kana, moras",
    [("モーカ", 3), ("キャ", 1), ("ギョーヤガワ", 5), ("ニッコー", 4), ("ホクリョー", 4),
     ("ヴァイオリン", 5), ("クヮ", 1), ("ン", 1), ("エフエムモーカ", 7)],
)
def test_mora_count(kana, moras):
    assert mora_count(kana) == moras


def test_rows_header_and_comments(tmp_path):
    path = write(tmp_path, """\
        # a comment
        surface,pronunciation,accent_type,priority

        真岡,モーカ,0
          # indented comment
        真岡市, モーカシ ,3,8
        """)
    assert load_entries([path]) == [
        Entry("真岡", "モーカ", 0, 5, f"{path}:4"),
        Entry("真岡市", "モーカシ", 3, 8, f"{path}:6"),
    ]


def test_priority_defaults_to_5_also_when_empty(tmp_path):
    path = write(tmp_path, "真岡,モーカ,0,\n")
    assert load_entries([path])[0].priority == 5


def test_accent_may_fall_after_the_last_mora(tmp_path):
    path = write(tmp_path, "真岡,モーカ,3\n")
    assert load_entries([path])[0].accent_type == 3


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffsurface,pronunciation,accent_type\n真岡,モーカ,0\n".encode())
    assert [e.surface for e in load_entries([path])] == ["真岡"]


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, message",
    [
        ("真岡,モーカ", "列の数が違います。表記,読み,アクセント型[,優先度] の 3 列か 4 列で書いてください: 2 列"),
        ("真岡,モーカ,0,5,x", "列の数が違います。表記,読み,アクセント型[,優先度] の 3 列か 4 列で書いてください: 5 列"),
        (",モーカ,0", "表記が空です"),
        ("真 岡,モーカ,0", "表記に空白・カンマ・引用符は使えません: 真 岡"),
        ('"真,岡",モーカ,0', "表記に空白・カンマ・引用符は使えません: 真,岡"),
        ("真岡,もおか,0", "読みはカタカナで書いてください: もおか"),
        ("真岡,moka,0", "読みはカタカナで書いてください: moka"),
        ("真岡,真岡,0", "読みはカタカナで書いてください: 真岡"),
        ("真岡,ﾓｰｶ,0", "読みはカタカナで書いてください: ﾓｰｶ"),
        ("真岡,,0", "読みが空です"),
        ("真岡,ーカ,0", "読みの「ー」の前にかながありません: ーカ"),
        ("真岡,ンャ,0", "読みの小さい「ャ」の前に普通のかながありません: ンャ"),
        ("真岡,モーカ,平板", "アクセント型は整数で書いてください: 平板"),
        ("真岡,モーカ,4", "アクセント型は 0〜3 で書いてください（モーカ は 3 モーラ）: 4"),
        ("真岡,モーカ,-1", "アクセント型は 0〜3 で書いてください（モーカ は 3 モーラ）: -1"),
        ("真岡,モーカ,0,高", "優先度は整数で書いてください: 高"),
        ("真岡,モーカ,0,11", "優先度は 0〜10 で書いてください: 11"),
        ("真岡," + "ア" * 41 + ",0", "読みが長すぎます（40 モーラまで）: " + "ア" * 41),
    ],
)
def test_bad_row(tmp_path, row, message):
    path = write(tmp_path, f"# header\n{row}\n")
    assert problems_of(path) == [f"{path}:2: {message}"]


def test_every_problem_of_every_file_is_reported(tmp_path):
    first = write(tmp_path, """\
        真岡,もおか,x
        益子町,マシコマチ,3
        茂木,モテギ,0,99
        """, "a.csv")
    second = write(tmp_path, "益子町,マシコマチ,0\n,,\n", "b.csv")
    assert problems_of(first, second) == [
        f"{first}:1: 読みはカタカナで書いてください: もおか",
        f"{first}:1: アクセント型は整数で書いてください: x",
        f"{first}:3: 優先度は 0〜10 で書いてください: 99",
        f"{second}:2: 表記が空です",
        f"{second}:2: 読みが空です",
        f"{second}:2: アクセント型が空です",
        f"{second}:1: 表記「益子町」は {first}:2 にもあります",
    ]


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "sjis.csv"
    path.write_bytes("真岡,モーカ,0\n".encode() + "益子,マシコ,0\n".encode("cp932"))
    assert problems_of(path) == [f"{path}:2: UTF-8 で保存してください"]


def test_shipped_dictionaries_are_valid():
    entries = load_entries(SHIPPED)
    assert {e.surface: (e.pronunciation, e.accent_type) for e in entries}["真岡"] == ("モーカ", 0)
    assert len(entries) >= 10


# -- Open JTalk rows and version ------------------------------------------------------------


def test_openjtalk_row_widens_ascii_like_open_jtalk_does():
    entry = Entry("FMもおか", "エフエムモーカ", 0, 5, "x.csv:1")
    assert compiler.to_openjtalk_rows([entry]) == (
        "ＦＭもおか,,,3488,名詞,固有名詞,地域,一般,*,*,ＦＭもおか,"
        "エフエムモーカ,エフエムモーカ,0/7,*\n"
    )


def test_higher_priority_means_lower_cost():
    costs = [compiler.priority_cost(p) for p in range(11)]
    assert costs == sorted(costs, reverse=True) and len(set(costs)) == 11


def test_version_follows_content_not_order_or_source():
    a, b = Entry("真岡", "モーカ", 0, 5, "a:1"), Entry("茂木", "モテギ", 0, 5, "a:2")
    version = compiler.dictionary_version([a, b])
    assert version == compiler.dictionary_version([b, Entry("真岡", "モーカ", 0, 5, "z:9")])
    assert version != compiler.dictionary_version([b, Entry("真岡", "モーカ", 1, 5, "a:1")])
    assert len(version) == 12


# -- compiling with real Open JTalk -----------------------------------------------------------

READ_IN_CHILD = """
import json, sys
from announcer.speech.jtalk import import_pyopenjtalk
pj = import_pyopenjtalk()
texts = json.loads(sys.argv[2])
before = {t: pj.g2p(t, kana=True) for t in texts}
pj.update_global_jtalk_with_user_dict(sys.argv[1])
after = {t: pj.g2p(t, kana=True) for t in texts}
accents = {t: pj.run_frontend(t)[0]["acc"] for t in texts}
print(json.dumps([before, after, accents], ensure_ascii=False))
"""


def read_with(dic: Path, texts: list[str]) -> tuple[dict, dict, dict]:
    """(reading without, reading with, accent of the first phrase with) ``dic``."""
    result = subprocess.run(
        [sys.executable, "-c", READ_IN_CHILD, str(dic), json.dumps(texts)],
        capture_output=True, text=True, cwd=REPO, check=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    return tuple(json.loads(result.stdout.splitlines()[-1]))


SHIPPED_READINGS = {
    "真岡市": "モーカシ",
    "真岡駅": "モーカエキ",
    "真岡鐵道": "モーカテツドー",
    "真岡市役所": "モーカシヤクショ",
    "真岡北陵高校": "モーカホクリョーコーコー",
    "益子町": "マシコマチ",
    "芳賀町": "ハガマチ",
    "芳賀郡": "ハガグン",
    "茂木町": "モテギマチ",
    "市貝町": "イチカイマチ",
    "井頭公園": "イガシラコーエン",
    "鬼怒川": "キヌガワ",
    "行屋川": "ギョーヤガワ",
    "西田井駅": "ニシダイエキ",
    "山前小学校": "ヤマサキショーガッコー",
    "益子焼": "マシコヤキ",
    "FMもおかです": "エフエムモーカデス",
    "下野新聞": "シモツケシンブン",
    "小山市": "オヤマシ",
    # names a dictionary entry must not take over
    "茂木さん": "モキサン",
    "小山さん": "コヤマサン",
    "それもおかしい": "ソレモオカシイ",
}


def test_shipped_dictionary_reads_local_names(tmp_path):
    dic = tmp_path / "user.dic"
    version = compiler.compile_dictionary(SHIPPED, dic)
    assert version == compiler.dictionary_version(load_entries(SHIPPED))
    before, after, accent = read_with(dic, [*SHIPPED_READINGS, "真岡"])
    assert before["真岡市"] == "シンオカシ"  # what it fixes
    assert {t: after[t] for t in SHIPPED_READINGS} == SHIPPED_READINGS
    assert (after["真岡"], accent["真岡"], accent["真岡市"]) == ("モーカ", 0, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["user.dic"]  # no temp files left


def test_recompiling_replaces_the_dictionary(tmp_path):
    dic = tmp_path / "user.dic"
    compiler.compile_dictionary([write(tmp_path, "真岡,モーカ,0\n")], dic)
    compiler.compile_dictionary([write(tmp_path, "真岡,マオカ,0\n")], dic)
    assert read_with(dic, ["真岡"])[1] == {"真岡": "マオカ"}


@pytest.fixture
def previous(tmp_path) -> Path:
    """A live dictionary path already holding a (stand-in) dictionary."""
    path = tmp_path / "live" / "user.dic"
    path.parent.mkdir()
    path.write_bytes(b"previous")
    return path


def test_invalid_rows_leave_the_previous_dictionary(tmp_path, previous):
    with pytest.raises(ConfigError):
        compiler.compile_dictionary([write(tmp_path, "真岡,もおか,0\n")], previous)
    assert previous.read_bytes() == b"previous"


def test_file_without_words_is_refused(tmp_path, previous):
    path = write(tmp_path, "# nothing yet\n")
    with pytest.raises(ConfigError) as caught:
        compiler.compile_dictionary([path], previous)
    assert caught.value.problems == [f"{path}: 辞書に単語が 1 つもありません"]


def test_garbage_dictionary_is_refused(tmp_path, previous, monkeypatch):
    monkeypatch.setattr(compiler, "_build", lambda rows, dic: dic.write_bytes(os.urandom(4096)))
    with pytest.raises(SpeechError, match="作ったユーザー辞書を Open JTalk が読み込めません"):
        compiler.compile_dictionary([write(tmp_path, "真岡,モーカ,0\n")], previous)
    assert previous.read_bytes() == b"previous"
    assert [p.name for p in previous.parent.iterdir()] == ["user.dic"]


def test_dictionary_that_crashes_open_jtalk_is_refused(tmp_path, previous, monkeypatch):
    # A row cut short compiles fine, then Open JTalk reads past its fields: it segfaults
    # at the first use of the word, or (undefined behaviour) reads garbage. Either way
    # the check refuses it, naming the row.
    monkeypatch.setattr(compiler, "to_openjtalk_rows", lambda entries: "真岡,,,3000,名詞\n")
    path = write(tmp_path, "真岡,モーカ,0\n")
    with pytest.raises(ConfigError) as caught:
        compiler.compile_dictionary([path], previous)
    [problem] = caught.value.problems
    assert problem == f"{path}:1: この単語で Open JTalk が異常終了しました（辞書は入れ替えていません）: 真岡" \
        or problem.startswith(f"{path}:1: 辞書に入れても「真岡」が モーカ と読まれません（")
    assert previous.read_bytes() == b"previous"


def test_word_that_never_wins_is_reported(tmp_path, previous, monkeypatch):
    monkeypatch.setattr(compiler, "PRIORITY_COSTS", (20000,) * 11)
    path = write(tmp_path, "真岡,モーカ,0\n")
    with pytest.raises(ConfigError) as caught:
        compiler.compile_dictionary([path], previous)
    assert caught.value.problems == [
        f"{path}:1: 辞書に入れても「真岡」が モーカ と読まれません（モオカ）。優先度を上げてください"
    ]
    assert previous.read_bytes() == b"previous"


def test_low_priority_word_may_lose(tmp_path, previous):
    path = write(tmp_path, "真岡,モーカ,0,0\n")
    compiler.compile_dictionary([path], previous)
    assert read_with(previous, ["真岡"])[1] == {"真岡": "モオカ"}
