"""The web-managed dictionary file voices/dict/web.csv: changes validated like the files,
written atomically, compiled by the real studio (Open JTalk in child processes), and put
back when compiling fails. No synthesis workers are started here."""

import pytest

from announcer.core.config import load_config
from announcer.readings.staff import (PREAMBLE, STALE, DictionaryError, WebDictionary, Word,
                                 accent_notation, katakana, parse_fields)
from announcer.core.errors import SpeechError
from announcer.studio.service import Studio
from announcer.readings import compiler, rows

HEADER = "surface,pronunciation,accent_type,priority\n"


@pytest.fixture
def studio(station_dir):
    studio = Studio(load_config(station_dir / "station.yaml"))
    studio.reload_dictionary()
    yield studio
    studio.stop()


@pytest.fixture
def dictionary(studio):
    return WebDictionary(studio.config.paths.voices / "dict", studio.reload_dictionary)


def entry(surface, pronunciation, accent_type="0", priority=""):
    return parse_fields({"surface": surface, "pronunciation": pronunciation,
                         "accent_type": accent_type, "priority": priority})


def refusal(call, *args, **kwargs) -> DictionaryError:
    with pytest.raises(DictionaryError) as caught:
        call(*args, **kwargs)
    return caught.value


def line_of(path, surface) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(f"{surface},"))


# -- pure helpers ----------------------------------------------------------------------------
@pytest.mark.parametrize("kana, accent, mark", [
    ("モーカダイ", 3, "モーカ'ダイ"), ("オーサキジンジャ", 0, "オーサキジンジャ'"),
    ("ホクリョー", 3, "ホクリョ'ー"), ("シモツケ", 4, "シモツケ'"), ("キャ", 1, "キャ'"),
])
def test_accent_notation(kana, accent, mark):
    assert accent_notation(kana, accent) == mark


def test_katakana():
    assert katakana("もーか・ゔぁ・ABC") == "モーカ・ヴァ・ABC"


# -- round trip ------------------------------------------------------------------------------
def test_add_edit_delete_round_trip(dictionary, studio):
    web = dictionary.path
    shipped_version = studio.dict_version
    assert not web.exists()

    word = dictionary.add(entry("大前神社", "オーサキジンジャ"), dictionary.version())
    assert word == Word("大前神社", "オーサキジンジャ", 0, 5, "web.csv", 3)
    assert web.read_text(encoding="utf-8") == PREAMBLE + HEADER + "大前神社,オーサキジンジャ,0,5\n"
    added_version = studio.dict_version
    assert added_version not in ("", shipped_version)
    assert (studio.dict_path.with_suffix(".version").read_text() == added_version
            == compiler.dictionary_version(rows.load_entries(
                rows.find_dictionaries(dictionary.folder))))

    dictionary.add(entry("根古屋台", "ネゴヤダイ", "3", "6"), dictionary.version())
    before, after = dictionary.edit("大前神社", entry("大前神社", "オーサキジンジャ", "5"),
                                    dictionary.version())
    assert (before.row(), after.row()) == ("大前神社,オーサキジンジャ,0,5", "大前神社,オーサキジンジャ,5,5")
    assert web.read_text(encoding="utf-8") == (PREAMBLE + HEADER + "大前神社,オーサキジンジャ,5,5\n"
                                               "根古屋台,ネゴヤダイ,3,6\n")
    assert studio.dict_version not in (added_version, shipped_version)
    assert [w.surface for w in dictionary.words() if w.editable] == ["大前神社", "根古屋台"]

    gone = dictionary.delete("大前神社", dictionary.version())
    assert gone == Word("大前神社", "オーサキジンジャ", 5, 5, "web.csv", 3)
    dictionary.delete("根古屋台", dictionary.version())
    assert web.read_text(encoding="utf-8") == PREAMBLE + HEADER
    assert studio.dict_version == shipped_version
    assert list(dictionary.folder.glob(".*")) == []  # no temp files left behind


def test_rename_while_editing(dictionary):
    dictionary.add(entry("大前神社", "オーサキジンジャ"), dictionary.version())
    before, after = dictionary.edit("大前神社", entry("大前", "オーサキ"), dictionary.version())
    assert (before.surface, after.surface) == ("大前神社", "大前")
    assert [(w.surface, w.line) for w in dictionary.words() if w.editable] == [("大前", 3)]


def test_search_by_surface_or_reading(dictionary):
    assert [w.surface for w in dictionary.search("いがしら")] == ["井頭"]
    assert [w.surface for w in dictionary.search("モーカ")] == ["真岡", "SLもおか", "FMもおか"]
    assert [w.surface for w in dictionary.search("下野")] == ["下野"]
    assert dictionary.search("該当なし") == []
    assert len(dictionary.search("  ")) == len(dictionary.words())


# -- refusals --------------------------------------------------------------------------------
@pytest.mark.parametrize("fields, errors", [
    (("真岡台", "もーかだい", "0"), {"pronunciation": ["読みはカタカナで書いてください: もーかだい"]}),
    (("真岡台", "モーカダイ", "6"),
     {"accent_type": ["アクセント型は 0〜5 で書いてください（モーカダイ は 5 モーラ）: 6"]}),
    (("真岡 台", "モーカダイ", "x", "11"),
     {"surface": ["表記に空白・カンマ・引用符は使えません: 真岡 台"],
      "accent_type": ["アクセント型は整数で書いてください: x"],
      "priority": ["優先度は 0〜10 で書いてください: 11"]}),
    (("", "", "0"), {"surface": ["表記が空です"], "pronunciation": ["読みが空です"]}),
])
def test_invalid_rows_are_refused_next_to_their_fields(fields, errors):
    exc = refusal(entry, *fields)
    assert (str(exc), exc.fields, exc.status) == (
        "入力に誤りがあります。赤い字の説明に沿って直してください", errors, 422)


def test_stale_version_is_refused_and_the_file_kept(dictionary):
    seen = dictionary.version()
    dictionary.add(entry("大前神社", "オーサキジンジャ"), seen)
    before = dictionary.path.read_bytes()
    exc = refusal(dictionary.add, entry("根古屋台", "ネゴヤダイ"), seen)
    assert (str(exc), exc.status) == (STALE, 409)
    exc = refusal(dictionary.delete, "大前神社", seen)
    assert (str(exc), exc.status) == (STALE, 409)
    assert dictionary.path.read_bytes() == before


def test_duplicate_surfaces_are_refused(dictionary):
    moka = dictionary.folder / "moka.csv"
    exc = refusal(dictionary.add, entry("真岡", "マオカ"), dictionary.version())
    message = f"表記「真岡」はすでに moka.csv（{line_of(moka, '真岡')} 行目）にあります"
    assert (str(exc), exc.fields, exc.status) == (message, {"surface": [message]}, 409)

    dictionary.add(entry("大前神社", "オーサキジンジャ"), dictionary.version())
    exc = refusal(dictionary.add, entry("大前神社", "オオマエジンジャ"), dictionary.version())
    assert exc.fields == {"surface": ["表記「大前神社」はすでに web.csv（3 行目）にあります"]}
    dictionary.add(entry("根古屋台", "ネゴヤダイ"), dictionary.version())
    exc = refusal(dictionary.edit, "根古屋台", entry("大前神社", "ネゴヤダイ"), dictionary.version())
    assert exc.fields == {"surface": ["表記「大前神社」はすでに web.csv（3 行目）にあります"]}

    # Open JTalk widens ASCII, so ＦＭもおか is FMもおか: the same word as the file's
    exc = refusal(dictionary.add, entry("ＦＭもおか", "エフエム"), dictionary.version())
    message = f"表記「ＦＭもおか」はすでに moka.csv（{line_of(moka, 'FMもおか')} 行目）にあります"
    assert (str(exc), exc.fields, exc.status) == (message, {"surface": [message]}, 409)
    assert [w.surface for w in dictionary.words() if w.editable] == ["大前神社", "根古屋台"]


def test_a_hand_made_word_is_overridden_from_the_page_and_back(dictionary):
    """Staff words win over hand-made ones (README): with ``override`` the page may
    register a hand-made surface; deleting it brings the file's reading back."""
    moka = dictionary.folder / "moka.csv"
    before = moka.read_bytes()
    word = dictionary.add(entry("真岡", "マオカ"), dictionary.version(), override=True)
    assert (word.file, word.pronunciation) == ("web.csv", "マオカ")
    mooka = [w for w in dictionary.words() if w.surface == "真岡"]
    assert [(w.file, w.pronunciation) for w in mooka] == [("web.csv", "マオカ")]
    assert moka.read_bytes() == before  # the file is untouched
    exc = refusal(dictionary.add, entry("真岡", "シンオカ"), dictionary.version(), override=True)
    assert exc.status == 409  # once in web.csv, like any word
    dictionary.delete("真岡", dictionary.version())
    mooka = [w for w in dictionary.words() if w.surface == "真岡"]
    assert [(w.file, w.pronunciation) for w in mooka] == [("moka.csv", "モーカ")]


def test_shipped_and_unknown_words_cannot_be_changed(dictionary):
    exc = refusal(dictionary.delete, "真岡", dictionary.version())
    assert (str(exc), exc.status) == (
        "「真岡」は moka.csv の単語です。このページでは変更できません（ファイルを手で編集してください）", 403)
    exc = refusal(dictionary.edit, "大前神社", entry("大前神社", "オーサキ"), dictionary.version())
    assert (str(exc), exc.status) == (
        "「大前神社」は辞書にありません。ほかの人が削除したかもしれません。一覧を読み込み直してください", 404)


# -- compiling fails: web.csv goes back, the dictionary on air stays ---------------------------
def test_failing_compile_restores_web_csv(dictionary, studio, monkeypatch):
    def broken(paths, out):
        raise SpeechError("ユーザー辞書を作れませんでした（終了コード 139）")

    monkeypatch.setattr(compiler, "compile_dictionary", broken)
    shipped = (studio.dict_version, studio.dict_path.read_bytes())
    exc = refusal(dictionary.add, entry("大前神社", "オーサキジンジャ"), dictionary.version())
    assert (str(exc), exc.fields) == (
        "辞書を作り直せなかったため、変更を取り消しました（放送には前の辞書を使い続けます）\n"
        "ユーザー辞書を作れませんでした（終了コード 139）", {})
    assert not dictionary.path.exists()  # there was no web.csv before
    assert (studio.dict_version, studio.dict_path.read_bytes()) == shipped
    assert studio.pool.dict_version == shipped[0]

    monkeypatch.undo()
    dictionary.add(entry("大前神社", "オーサキジンジャ"), dictionary.version())
    good = (dictionary.path.read_bytes(), studio.dict_version, studio.dict_path.read_bytes())
    monkeypatch.setattr(compiler, "compile_dictionary", broken)
    refusal(dictionary.edit, "大前神社", entry("大前神社", "オオマエジンジャ"), dictionary.version())
    assert (dictionary.path.read_bytes(), studio.dict_version, studio.dict_path.read_bytes()) == good
    assert list(dictionary.folder.glob(".*")) == []


def test_a_word_open_jtalk_does_not_read_as_written_is_undone(dictionary, studio):
    """The real check (a child process reads every word) refuses it; the message goes
    next to the priority field."""
    shipped = studio.dict_version
    exc = refusal(dictionary.add, entry("東京", "トーキョート"), dictionary.version())
    assert exc.fields == {"priority": [
        "辞書に入れても「東京」が トーキョート と読まれません（トーキョー）。優先度を上げてください"]}
    assert not dictionary.path.exists()
    assert studio.dict_version == shipped
