"""Notice files written from the page: atomic, validated like ``check``, versioned."""

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from announcer.notices import editing as noticefiles
from announcer.core.clock import TOKYO
from announcer.notices.editing import (GONE, STALE, NoticeFileError, NoticeFiles, NoticeForm,
                                   field_errors, form_from_notice, notice_yaml, version_of)
from announcer.notices.files import load_notice_file

GRACE = dt.timedelta(seconds=300)
NOW = dt.datetime(2026, 5, 1, 9, 0, tzinfo=TOKYO)
GOMI = NoticeForm(id="gomi", title="燃えるごみ", text="明日は燃えるごみの収集日です。",
                  times=("07:30", "18:30:15"), days=frozenset(range(5)))
HAND = """\
notices:
  - id: late
    text: 今日の放送はこれで終わります。
    times: ["23:59"]
"""


@pytest.fixture
def files(tmp_path) -> NoticeFiles:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "hand.yaml").write_text(HAND, encoding="utf-8")
    return NoticeFiles(tmp_path / "schedules", tmp_path / "var" / "trash", GRACE,
                       voices=("aika", "makoto"))


def refused(call, *args) -> NoticeFileError:
    with pytest.raises(NoticeFileError) as info:
        call(*args)
    return info.value


def leftovers(files: NoticeFiles) -> list[str]:
    return sorted(p.name for p in files.web.iterdir() if p.name != ".lock")


# -- the YAML --------------------------------------------------------------------------------
def test_create_writes_one_file_that_check_accepts(files):
    before, after = files.create(GOMI)
    path = files.web / "gomi.yaml"
    assert before is None and path.read_text(encoding="utf-8") == after
    assert after == noticefiles.HEADER + (
        'notices:\n  - id: gomi\n    title: 燃えるごみ\n    text: 明日は燃えるごみの収集日です。\n'
        '    times: ["07:30", "18:30:15"]\n    days: [mon, tue, wed, thu, fri]\n')
    [notice] = load_notice_file(path, default_grace=GRACE)
    assert notice.times == (dt.time(7, 30), dt.time(18, 30, 15))
    assert leftovers(files) == ["gomi.yaml"]


def test_every_field_round_trips(files):
    form = NoticeForm(id="all", title="全部", text="一行目\n二行目: {真岡|モーカ}", times=("06:00",),
                      days=frozenset({5, 6}), holidays="skip", start="2026-05-01",
                      end="2026-05-31", chime=False, voice="makoto", repeat="3", grace="90.5",
                      enabled=False)
    files.create(form)
    [notice] = load_notice_file(files.web / "all.yaml", default_grace=GRACE)
    assert form_from_notice(notice, GRACE) == form


def test_one_off_dates_leave_days_out(files):
    form = dataclasses.replace(GOMI, id="once", days=frozenset(),
                               dates="2026-05-03, 2026-05-05、2026-05-04")
    files.create(form)
    [notice] = load_notice_file(files.web / "once.yaml", default_grace=GRACE)
    assert notice.dates == (dt.date(2026, 5, 3), dt.date(2026, 5, 4), dt.date(2026, 5, 5))
    assert "days" not in (files.web / "once.yaml").read_text(encoding="utf-8")


def test_text_that_looks_like_yaml_stays_text(files):
    text = '- "引用" # コメントではない\n{真岡|モーカ}: *アスタリスク'
    files.create(dataclasses.replace(GOMI, id="odd", text=text, title="yes"))
    [notice] = load_notice_file(files.web / "odd.yaml", default_grace=GRACE)
    assert (notice.text, notice.title) == (text, "yes")


# -- validation ------------------------------------------------------------------------------
def test_problems_are_mapped_to_their_fields(files):
    form = dataclasses.replace(GOMI, id="bad", times=("25:00", "07:30", "07:30"),
                               start="2026-06-01", end="2026-05-01", repeat="5", grace="x",
                               holidays="sometimes")
    error = refused(files.create, form)
    assert (str(error), error.status) == ("入力に誤りがあります。赤字の項目を直してください", 422)
    assert error.fields == {
        "times": ['時刻は HH:MM か HH:MM:SS で書いてください: "25:00"',
                  '時刻 "07:30" が重複しています（notices[0].times[1] と同じ）'],
        "holidays": ['"sometimes" は使えません（使える値: any, skip, only）'],
        "end": ["終了日 2026-05-01 が開始日 2026-06-01 より前です"],
        "repeat": ["1 から 3 までの値にしてください: 5"],
        "grace": ['数で書いてください: "x"'],
    }
    assert leftovers(files) == []


@pytest.mark.parametrize("form,fields", [
    (NoticeForm(id="a b", text="x", times=("07:00",)),
     {"id": ['id は半角英数字と「_」「-」で64文字以内にしてください: "a b"']}),
    (NoticeForm(id="t", text="  ", times=()),
     {"text": ["何も書かれていません。書いてください"], "times": ["時刻が1つもありません。1つ以上書いてください"]}),
    (NoticeForm(id="d", text="x", times=("07:00",), days=frozenset({0}), dates="2026-5-40"),
     {"days": ["dates（その日だけ放送）と days は一緒に使えません"],
      "dates": ['日付は YYYY-MM-DD で書いてください: "2026-5-40"']}),
    (NoticeForm(id="v", text="x", times=("07:00",), voice="nobody"),
     {"voice": ['声 "nobody" はありません']}),
])
def test_more_problems_by_field(files, form, fields):
    assert refused(files.create, form).fields == fields


def test_a_problem_without_a_key_is_placed_by_its_line():
    text = notice_yaml(GOMI)
    line = text.splitlines().index("    times: [\"07:30\", \"18:30:15\"]") + 1
    problems = [f"tmp.yaml:{line}: おかしな値です", "tmp.yaml:1: ファイル全体の問題"]
    assert field_errors(problems, "tmp.yaml", text) == {"times": ["おかしな値です"],
                                                        "": ["ファイル全体の問題"]}


# -- ids -----------------------------------------------------------------------------------------
def test_an_id_used_by_a_hand_edited_file_is_refused(files):
    error = refused(files.create, dataclasses.replace(GOMI, id="late"))
    assert error.status == 409
    assert error.fields == {"id": ['id "late" はすでに schedules/hand.yaml で使われています。'
                                   "別の id にしてください"]}
    assert not (files.web / "late.yaml").exists()


def test_an_id_in_a_broken_hand_edited_file_is_refused_too(files):
    (files.schedules / "broken.yaml").write_text(
        'notices:\n  - id: "kaigi"\n    times: ["25:00"]\n', encoding="utf-8")
    error = refused(files.create, dataclasses.replace(GOMI, id="kaigi"))
    assert error.fields["id"][0].startswith('id "kaigi" はすでに schedules/broken.yaml で')


def test_create_twice_is_refused(files):
    files.create(GOMI)
    error = refused(files.create, dataclasses.replace(GOMI, title="二つ目"))
    assert error.fields == {"id": ['id "gomi" はすでに schedules/web/gomi.yaml で使われています。'
                                   "別の id にしてください"]}
    assert "二つ目" not in (files.web / "gomi.yaml").read_text(encoding="utf-8")


def test_duplicates_get_free_ids_and_start_paused(files):
    [late] = load_notice_file(files.schedules / "hand.yaml", default_grace=GRACE)
    assert files.duplicate(late)[0] == "late-copy"
    assert files.duplicate(late)[0] == "late-copy2"
    form, _ = files.read("late-copy2")
    assert (form.title, form.enabled, form.text) == ("late（コピー）", False, late.text)


# -- versions ------------------------------------------------------------------------------------
def test_update_with_the_current_version(files):
    files.create(GOMI)
    form, version = files.read("gomi")
    before, after = files.update("gomi", dataclasses.replace(form, title="新しい題名"), version)
    assert "title: 燃えるごみ" in before and "title: 新しい題名" in after
    assert files.read("gomi")[1] == version_of(files.web / "gomi.yaml") != version


def test_a_stale_version_is_refused_and_the_file_unchanged(files):
    files.create(GOMI)
    form, version = files.read("gomi")
    files.update("gomi", dataclasses.replace(form, title="先に保存"), version)
    saved = (files.web / "gomi.yaml").read_bytes()
    error = refused(files.update, "gomi", dataclasses.replace(form, title="後から"), version)
    assert (str(error), error.status) == (STALE, 409)
    assert (files.web / "gomi.yaml").read_bytes() == saved
    assert leftovers(files) == ["gomi.yaml"]


def test_the_id_cannot_be_changed_by_an_update(files):
    files.create(GOMI)
    form, version = files.read("gomi")
    files.update("gomi", dataclasses.replace(form, id="other"), version)
    assert files.read("gomi")[0].id == "gomi"
    assert not (files.web / "other.yaml").exists()


def test_a_failed_rename_leaves_the_old_file(files, monkeypatch):
    files.create(GOMI)
    form, version = files.read("gomi")
    saved = (files.web / "gomi.yaml").read_bytes()

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(noticefiles.os, "replace", broken)
    with pytest.raises(OSError):
        files.update("gomi", dataclasses.replace(form, title="保存できない"), version)
    assert (files.web / "gomi.yaml").read_bytes() == saved
    assert leftovers(files) == ["gomi.yaml"]


def test_pause_and_resume_round_trip(files):
    _, original = files.create(GOMI)
    _, paused = files.set_enabled("gomi", False, files.read("gomi")[1])
    assert paused == original + "    enabled: false\n"
    assert load_notice_file(files.web / "gomi.yaml", default_grace=GRACE)[0].enabled is False
    before, after = files.set_enabled("gomi", True, files.read("gomi")[1])
    assert (before, after) == (paused, original)


def test_pause_with_a_stale_version_is_refused(files):
    files.create(GOMI)
    error = refused(files.set_enabled, "gomi", False, "not-the-version")
    assert (str(error), error.status) == (STALE, 409)


# -- delete --------------------------------------------------------------------------------------
def test_delete_moves_the_file_to_the_trash(files):
    _, text = files.create(GOMI)
    before, dest = files.delete("gomi", files.read("gomi")[1], NOW)
    assert before == text
    assert dest == files.trash / "20260501-090000-gomi.yaml"
    assert dest.read_text(encoding="utf-8") == text
    assert not (files.web / "gomi.yaml").exists()
    files.create(GOMI)
    assert files.delete("gomi", files.read("gomi")[1], NOW)[1].name == "20260501-090000-gomi-2.yaml"


def test_delete_with_a_stale_version_keeps_the_file(files):
    files.create(GOMI)
    assert refused(files.delete, "gomi", "old", NOW).status == 409
    assert (files.web / "gomi.yaml").exists()


def test_changing_a_deleted_notice_is_refused(files):
    files.create(GOMI)
    form, version = files.read("gomi")
    files.delete("gomi", version, NOW)
    error = refused(files.update, "gomi", form, version)
    assert (str(error), error.status) == (GONE, 409)
    assert not (files.web / "gomi.yaml").exists()


def test_hand_edited_and_unsafe_ids_cannot_be_read(files):
    assert refused(files.read, "late").status == 404
    assert refused(files.read, "../hand").status == 404
    assert isinstance(files.path_of("ok-1"), Path)
