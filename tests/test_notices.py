import datetime as dt
import os
from pathlib import Path

import pytest

from announcer.core.errors import ConfigError
from announcer.notices.files import dir_signature, load_notice_dir, load_notice_file

GRACE = dt.timedelta(seconds=300)
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def schedules(tmp_path, monkeypatch):
    """A relative schedules/ directory, so messages read as staff see them."""
    monkeypatch.chdir(tmp_path)
    Path("schedules").mkdir()
    return Path("schedules")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path):
    return load_notice_file(path, default_grace=GRACE)


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(path)
    return info.value.problems


GOMI = """\
notices:
  - id: gomi
    text: 明日は燃えるごみの収集日です。
    times: ["18:30", "07:30"]
    days: [mon, tue, wed, thu, fri]
"""


def test_a_notice_with_defaults(schedules):
    [notice] = load(write(schedules / "gomi.yaml", GOMI))
    assert notice.id == "gomi"
    assert notice.title == "gomi"
    assert notice.text == "明日は燃えるごみの収集日です。"
    assert notice.times == (dt.time(7, 30), dt.time(18, 30))
    assert notice.days == frozenset(range(5))
    assert (notice.voice, notice.chime, notice.holidays) == (None, True, "any")
    assert (notice.start, notice.end, notice.dates) == (None, None, ())
    assert (notice.grace, notice.enabled, notice.repeat) == (GRACE, True, 1)
    assert notice.source == "schedules/gomi.yaml:2"


def test_every_optional_key(schedules):
    [notice] = load(write(schedules / "a.yaml", """\
notices:
  - id: ichigo
    title: いちご
    text: いちご狩り
    times: ["10:00"]
    voice: mei
    chime: false
    holidays: skip
    start: 2026-01-05
    end: 2026/05/31
    grace: 60
    enabled: false
    repeat: 3
"""))
    assert (notice.title, notice.voice, notice.chime, notice.holidays) == ("いちご", "mei", False, "skip")
    assert (notice.start, notice.end) == (dt.date(2026, 1, 5), dt.date(2026, 5, 31))
    assert (notice.grace, notice.enabled, notice.repeat) == (dt.timedelta(seconds=60), False, 3)


def test_unquoted_times_are_read_as_typed(schedules):
    # YAML 1.1 would make 18:30:15 the integer 66615.
    [notice] = load(write(schedules / "a.yaml", "notices:\n  - {id: a, text: t, times: [07:30, 18:30:15, 9:05]}\n"))
    assert notice.times == (dt.time(7, 30), dt.time(9, 5), dt.time(18, 30, 15))


def test_a_single_time_without_brackets(schedules):
    [notice] = load(write(schedules / "a.yaml", "notices:\n  - {id: a, text: t, times: 18:30}\n"))
    assert notice.times == (dt.time(18, 30),)


def test_bad_time(schedules):
    path = write(schedules / "gomi.yaml", 'notices:\n  - id: gomi\n    text: t\n    times: ["07:30", "25:00"]\n')
    assert problems(path) == [
        'schedules/gomi.yaml:4: notices[0].times[1]: 時刻は HH:MM か HH:MM:SS で書いてください: "25:00"'
    ]


def test_same_time_twice_in_one_notice(schedules):
    path = write(schedules / "a.yaml", 'notices:\n  - id: a\n    text: t\n    times: ["07:30", "07:30:00"]\n')
    assert problems(path) == [
        'schedules/a.yaml:4: notices[0].times[1]: 時刻 "07:30:00" が重複しています（notices[0].times[0] と同じ）'
    ]


def test_required_keys(schedules):
    path = write(schedules / "a.yaml", "notices:\n  - title: x\n    times: []\n")
    assert problems(path) == [
        "schedules/a.yaml:2: notices[0].id: この項目は省略できません。書いてください",
        "schedules/a.yaml:2: notices[0].text: この項目は省略できません。書いてください",
        "schedules/a.yaml:3: notices[0].times: 時刻が1つもありません。1つ以上書いてください",
    ]


def test_missing_times(schedules):
    assert problems(write(schedules / "a.yaml", "notices:\n  - {id: a, text: t}\n")) == [
        "schedules/a.yaml:2: notices[0].times: 時刻を1つ以上書いてください（省略できません）"
    ]


def test_bad_id_and_long_text(schedules):
    path = write(schedules / "a.yaml", f"notices:\n  - id: ごみ\n    text: {'あ' * 5001}\n    times: ['07:00']\n")
    assert problems(path) == [
        'schedules/a.yaml:2: notices[0].id: id は半角英数字と「_」「-」で64文字以内にしてください: "ごみ"',
        "schedules/a.yaml:3: notices[0].text: 1 文字多すぎます（いま 5001 文字、上限 5000 文字）。短くしてください",
    ]


def test_unknown_key_in_a_notice(schedules):
    path = write(schedules / "a.yaml", "notices:\n  - id: a\n    text: t\n    times: ['07:00']\n    holiday: skip\n")
    assert problems(path) == [
        'schedules/a.yaml:5: notices[0].holiday: 不明なキー "holiday" です（"holidays" の間違いではありませんか？）'
    ]


def test_bad_holidays_value(schedules):
    path = write(schedules / "a.yaml", "notices:\n  - {id: a, text: t, times: ['07:00'], holidays: skp}\n")
    assert problems(path) == [
        'schedules/a.yaml:2: notices[0].holidays: "skp" は使えません（"skip" の間違いではありませんか？）'
    ]


@pytest.mark.parametrize("days, expected", [
    ("[mon, Wed, sun]", {0, 2, 6}),
    ("[月, 水曜, 金曜日]", {0, 2, 4}),
    ("月水金", {0, 2, 4}),
    ("weekdays", {0, 1, 2, 3, 4}),
    ("[weekends]", {5, 6}),
    ("[daily]", set(range(7))),
    ("[平日, 土]", {0, 1, 2, 3, 4, 5}),
])
def test_days(schedules, days, expected):
    [notice] = load(write(schedules / "a.yaml", f"notices:\n  - {{id: a, text: t, times: ['07:00'], days: {days}}}\n"))
    assert notice.days == frozenset(expected)


def test_bad_day(schedules):
    path = write(schedules / "a.yaml", "notices:\n  - id: a\n    text: t\n    times: ['07:00']\n    days: [mon, thurs]\n")
    assert problems(path) == [
        'schedules/a.yaml:5: notices[0].days[1]: 曜日 "thurs" がわかりません（"thu" の間違いではありませんか？）'
    ]


def test_start_after_end(schedules):
    path = write(schedules / "a.yaml",
                 "notices:\n  - id: a\n    text: t\n    times: ['07:00']\n    start: 2026-04-01\n    end: 2026-03-01\n")
    assert problems(path) == [
        "schedules/a.yaml:6: notices[0].end: 終了日 2026-03-01 が開始日 2026-04-01 より前です"
    ]


def test_one_off_dates(schedules):
    [notice] = load(write(schedules / "a.yaml",
                          "notices:\n  - {id: a, text: t, times: ['09:00'], dates: [2026-12-28, 2026-12-25]}\n"))
    assert notice.dates == (dt.date(2026, 12, 25), dt.date(2026, 12, 28))


def test_dates_do_not_mix_with_days(schedules):
    path = write(schedules / "a.yaml",
                 "notices:\n  - id: a\n    text: t\n    times: ['09:00']\n    dates: [2026-12-25]\n    days: [mon]\n")
    assert problems(path) == [
        "schedules/a.yaml:6: notices[0].days: dates（その日だけ放送）と days は一緒に使えません"
    ]


def test_bad_date(schedules):
    path = write(schedules / "a.yaml", "notices:\n  - {id: a, text: t, times: ['09:00'], dates: [2026-02-30]}\n")
    assert problems(path) == [
        'schedules/a.yaml:2: notices[0].dates[0]: 日付は YYYY-MM-DD で書いてください: "2026-02-30"'
    ]


def test_duplicate_id_in_one_file_names_both_places(schedules):
    path = write(schedules / "a.yaml", "notices:\n  - {id: a, text: t, times: ['07:00']}\n"
                                       "  - {id: a, text: u, times: ['08:00']}\n")
    assert problems(path) == [
        'schedules/a.yaml:3: notices[1].id: id "a" は schedules/a.yaml:2 でも使われています'
    ]


def test_yaml_syntax_error(schedules):
    path = write(schedules / "a.yaml", "notices:\n  - id: a\n    text: 注意: 雨\n")
    assert problems(path) == [
        'schedules/a.yaml:3: YAML の書き方に誤りがあります: 値に「: 」を含むときは値を "…" で囲んでください'
        "（mapping values are not allowed here）"
    ]


def test_empty_file_and_empty_list_are_fine(schedules):
    assert load(write(schedules / "a.yaml", "")) == []
    assert load(write(schedules / "b.yaml", "notices: []\n")) == []


def test_item_that_is_not_a_mapping(schedules):
    assert problems(write(schedules / "a.yaml", "notices:\n  - gomi\n")) == [
        "schedules/a.yaml:2: notices[0]: お知らせは「id:」「text:」「times:」などの表で書いてください"
    ]


# --- directories --------------------------------------------------------------------

def notice(id_: str, time: str = "07:00") -> str:
    return f"  - {{id: {id_}, text: t, times: ['{time}']}}\n"


def test_directory_reads_subfolders_in_sorted_order_and_skips_hidden(schedules):
    write(schedules / "b.yaml", "notices:\n" + notice("b"))
    write(schedules / "a.yaml", "notices:\n" + notice("a1") + notice("a2"))
    write(schedules / "web" / "c.yaml", "notices:\n" + notice("c"))
    write(schedules / ".#a.yaml", "not: [yaml")
    write(schedules / "readme.txt", "ignored")
    result = load_notice_dir(schedules, default_grace=GRACE)
    assert list(result.notices) == ["a1", "a2", "b", "c"]
    assert result.errors == {}
    assert set(result.mtimes) == {schedules / "a.yaml", schedules / "b.yaml", schedules / "web" / "c.yaml"}


def test_duplicate_id_across_files_first_wins(schedules):
    write(schedules / "a.yaml", "notices:\n" + notice("gomi"))
    write(schedules / "b.yaml", "notices:\n" + notice("x") + notice("gomi", "09:00"))
    result = load_notice_dir(schedules, default_grace=GRACE)
    assert list(result.notices) == ["gomi", "x"]
    assert result.notices["gomi"].source == "schedules/a.yaml:2"
    assert result.errors == {schedules / "b.yaml": [
        'schedules/b.yaml:3: notices[1].id: id "gomi" は schedules/a.yaml:2 でも使われています'
        "（先に読んだ方だけを放送します）"
    ]}


def test_broken_file_keeps_its_last_good_version(schedules):
    path = write(schedules / "a.yaml", "notices:\n" + notice("gomi"))
    write(schedules / "b.yaml", "notices:\n" + notice("b"))
    good = load_notice_dir(schedules, default_grace=GRACE)
    write(path, "notices:\n  - {id: gomi, text: t, times: ['25:00']}\n")
    result = load_notice_dir(schedules, default_grace=GRACE, previous=good)
    assert list(result.notices) == ["gomi", "b"]
    assert result.notices["gomi"] is good.notices["gomi"]
    assert result.kept == {path}
    assert result.errors == {path: [
        'schedules/a.yaml:2: notices[0].times[0]: 時刻は HH:MM か HH:MM:SS で書いてください: "25:00"'
    ]}


def test_broken_file_without_a_previous_version_airs_nothing(schedules):
    path = write(schedules / "a.yaml", "notices: [")
    result = load_notice_dir(schedules, default_grace=GRACE)
    assert result.notices == {}
    assert list(result.errors) == [path]
    assert result.kept == set()


def test_deleted_file_stops_airing(schedules):
    path = write(schedules / "a.yaml", "notices:\n" + notice("gomi"))
    good = load_notice_dir(schedules, default_grace=GRACE)
    path.unlink()
    assert load_notice_dir(schedules, default_grace=GRACE, previous=good).notices == {}


def test_missing_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = load_notice_dir(Path("nowhere"), default_grace=GRACE)
    assert result.errors == {Path("nowhere"): ["nowhere: フォルダがありません"]}


def test_signature_changes_when_a_file_changes(schedules):
    path = write(schedules / "a.yaml", "notices: []\n")
    before = dir_signature(schedules)
    assert dir_signature(schedules) == before
    os.utime(path, ns=(0, 1_000_000_000))
    assert dir_signature(schedules) != before
    touched = dir_signature(schedules)
    write(schedules / "web" / "b.yaml", "")
    assert len(dir_signature(schedules)) == 2 != len(touched)


def test_shipped_schedules_load_cleanly():
    result = load_notice_dir(REPO / "schedules", default_grace=GRACE)
    assert result.errors == {}
    assert len(result.notices) >= 5
    assert any(n.holidays == "skip" for n in result.notices.values())
    assert any(n.days != frozenset(range(7)) for n in result.notices.values())


def test_voice_must_be_a_plain_name(schedules):
    path = write(schedules / "a.yaml", "notices:\n  - {id: a, text: t, times: ['07:00'], voice: ../etc}\n")
    assert problems(path) == [
        'schedules/a.yaml:2: notices[0].voice: 名前に「/」や先頭の「.」は使えません: "../etc"'
    ]
