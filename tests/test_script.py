"""script_sentences(): safe-sized, speakable sentences with their pauses (pure, no synthesis)."""

import pytest

from announcer.core.errors import NothingToSay
from announcer.text.script import (MAX_SENTENCE, REPEAT_JOINER, InlineError, Sentence,
                                   prepare_text, resolve_inline, script_sentences,
                                   split_sentences)

NOTICE = "真岡市からのお知らせです。本日14:00から、井頭公園で花火大会があります。"


def texts(sentences):
    return [s.text for s in sentences]


def pauses(sentences):
    return [s.pause for s in sentences]


# -- size --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "あいうえお" * 200,
    "あいうえお。" * 600,
    "本日は、晴天なり、" * 50,
    ("真岡市の" * 30 + "、") * 10,
])
def test_every_piece_fits_and_nothing_is_lost(text):
    pieces = texts(split_sentences(text))
    assert max(len(p) for p in pieces) <= MAX_SENTENCE
    assert "".join(pieces) == text


def test_a_run_without_breaks_is_cut_at_max_sentence():
    text = "あいうえお" * 40
    assert texts(split_sentences(text)) == [text[:MAX_SENTENCE], text[MAX_SENTENCE:2 * MAX_SENTENCE],
                                            text[2 * MAX_SENTENCE:]]


def test_runs_of_one_character_are_shortened():
    # Open JTalk's vocoder diverges on long runs of one kana (ア×20 peaks near 10^8).
    assert texts(split_sentences("ア" * 400)) == ["アアアアア"]
    assert texts(split_sentences("ワーーーーーイ")) == ["ワーーイ"]


def test_a_long_sentence_is_cut_at_its_commas():
    part = "あいうえお" * 12 + "、"
    assert texts(split_sentences(part * 3 + "です。")) == [part, part, part + "です。"]


def test_sentences_end_at_full_stops_and_question_marks():
    assert texts(split_sentences("晴れです。雨ですか？はい！")) == ["晴れです。", "雨ですか？", "はい！"]


# -- unspeakable pieces ------------------------------------------------------------------

def test_unspeakable_pieces_are_dropped():
    assert split_sentences("お知らせです。😀。！？\n、、、。ー。") == [Sentence("お知らせです。")]


def test_unreadable_characters_inside_a_sentence_are_removed():
    assert texts(split_sentences("明日は雨😀です★。")) == ["明日は雨です。"]


@pytest.mark.parametrize("text", ["", "。", "😀", "　\n\n　", "、、、！？", "★☆♪", "ーー。"])
def test_nothing_speakable_is_a_clear_error(text):
    with pytest.raises(NothingToSay) as exc:
        script_sentences(text)
    assert str(exc.value) == "読み上げられる文字がありません"


# -- pauses, repeats, prefix ---------------------------------------------------------------

def test_a_blank_line_ends_a_paragraph():
    sentences = script_sentences("一段落目です。次です。\n\n二段落目です。")
    assert pauses(sentences) == ["sentence", "paragraph", "sentence"]


def test_a_blank_line_ends_a_paragraph_in_a_script():
    sentences = script_sentences("一段落目です。\n\n二段落目です。")
    assert pauses(sentences) == ["paragraph", "sentence"]


def test_a_single_line_break_ends_a_sentence_only():
    sentences = script_sentences("一行目です\n二行目です")
    assert texts(sentences) == ["一行目です。", "二行目です"]
    assert pauses(sentences) == ["sentence", "sentence"]


def test_repeat_joins_the_body_with_kurikaeshimasu():
    sentences = script_sentences("火事です。逃げてください。", repeat=2)
    assert sentences == [
        Sentence("火事です。"), Sentence("逃げてください。", "repeat"), Sentence(REPEAT_JOINER),
        Sentence("火事です。"), Sentence("逃げてください。"),
    ]
    assert REPEAT_JOINER == "繰り返します。"


def test_three_repeats_say_kurikaeshimasu_twice():
    sentences = script_sentences("火事です。", repeat=3)
    assert texts(sentences) == ["火事です。", REPEAT_JOINER] * 2 + ["火事です。"]
    assert pauses(sentences) == ["repeat", "sentence"] * 2 + ["sentence"]


def test_drill_prefix_comes_once_before_the_repeats():
    sentences = script_sentences("火事です。", repeat=2, prefix="これは訓練です。")
    assert texts(sentences) == ["これは訓練です。", "火事です。", REPEAT_JOINER, "火事です。"]


def test_normalization_runs_before_splitting():
    assert texts(script_sentences(NOTICE)) == [
        "真岡市からのお知らせです。", "本日14時から、井頭公園で花火大会があります。"]


def test_urls_are_read_as_the_configured_phrase():
    sentences = script_sentences("詳しくは https://www.city.moka.lg.jp/ をご覧ください。",
                                 url_phrase="市のウェブサイト")
    assert texts(sentences) == ["詳しくは 市のウェブサイト をご覧ください。"]


# -- inline readings ----------------------------------------------------------------------

def test_inline_reading_replaces_the_written_form():
    assert prepare_text("{真岡|モーカ}の天気") == "モーカの天気"


def test_inline_reading_is_not_normalized():
    assert texts(script_sentences("{14:00|ジューヨジ}から。")) == ["ジューヨジから。"]


def test_inline_reading_accepts_half_width_katakana():
    assert resolve_inline("{真岡|ﾓｰｶ}です") == [("モーカ", True), ("です", False)]


@pytest.mark.parametrize("override", ["{真岡|もーか}", "{真岡|moka}", "{真岡|}"])
def test_inline_reading_must_be_katakana(override):
    with pytest.raises(InlineError) as exc:
        script_sentences(f"{override}市です。")
    assert str(exc.value) == f"読みはカタカナで書いてください: {override}"
