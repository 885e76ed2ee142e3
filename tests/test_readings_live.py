"""The live reading dictionary: compiled only when its content changed (a start with
unchanged files never compiles), the speech workers told in order, origins of words."""

import shutil

import pytest

from announcer.readings import compiler
from announcer.readings.live import ReadingDictionary
from tests.conftest import REPO


@pytest.fixture
def folder(tmp_path):
    shutil.copytree(REPO / "voices" / "dict", tmp_path / "dict")
    return tmp_path / "dict"


def test_unchanged_content_is_not_compiled_again(folder, tmp_path, monkeypatch):
    told = []
    live = ReadingDictionary(folder, tmp_path / "out" / "user.dic",
                             on_change=lambda path, version: told.append((path, version)))
    version = live.reload()
    assert live.stamp.read_text() == version == live.version and live.path.is_file()

    def no_compile(*args):
        raise AssertionError("compiled although nothing changed")

    monkeypatch.setattr(compiler, "compile_dictionary", no_compile)
    again = ReadingDictionary(folder, live.path)  # a restarted daemon
    assert again.reload() == version
    assert told == [(str(live.path), version)]


def test_changed_content_is_compiled(folder, tmp_path):
    live = ReadingDictionary(folder, tmp_path / "user.dic")
    first = live.reload()
    (folder / "web.csv").write_text("大前神社,オーサキジンジャ,0\n", encoding="utf-8")
    assert live.reload() not in ("", first)


def test_no_words_means_no_dictionary(tmp_path):
    told = []
    (tmp_path / "dict").mkdir()
    live = ReadingDictionary(tmp_path / "dict", tmp_path / "user.dic",
                             on_change=lambda *a: told.append(a))
    assert live.reload() == "" and told == [("", "")]


def test_origins_match_surface_and_reading(folder, tmp_path):
    live = ReadingDictionary(folder, tmp_path / "user.dic")
    found = live.origins([("東郷", "ヒガシゴー"), ("地区", "チク"), ("真岡", "モオカ"),
                          ("ＦＭもおか", "エフエムモーカ")])
    assert [(s, e.kind, e.file) for s, _kana, e in found] == [
        ("東郷", "area", "area.csv"), ("ＦＭもおか", "hand", "moka.csv")]


def test_text_preparation_does_not_import_speech_and_readings_not_the_edges():
    import ast

    def imports(folder):
        for path in (REPO / "announcer" / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module:
                    yield path.name, node.module
                elif isinstance(node, ast.Import):
                    yield from ((path.name, a.name) for a in node.names)

    assert [m for _f, m in imports("text") if m.startswith("announcer.speech")] == []
    edges = ("announcer.web", "announcer.playout", "announcer.audio", "announcer.station.service", "flask")
    assert [m for _f, m in imports("readings") if m.startswith(edges)] == []
