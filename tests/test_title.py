"""Bulletin subjects: derived from the script past the shared preamble, cut at a word
boundary with 「…」, and limited to 40 characters on one line."""

import pytest

from announcer.text.title import MAX_TITLE, TitleError, check_title, derive_title
from announcer.web.pages import BLANK, TEMPLATES


def test_every_template_skips_the_shared_preamble():
    titles = [derive_title(BLANK.sub("中郷", script)) for _, script, _, _ in TEMPLATES]
    assert titles == ["中郷地区に、避難指示を発令しました", "中郷地区に、土砂災害警戒情報が発表されました",
                      "ただいま、真岡市で震度中郷の地震がありました",
                      "大雨のため、中郷川の水位が上がり、氾濫の危険が高まっています",
                      "ただいまから、中郷の訓練放送を行います"]
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("text,title", [
    ("{真岡|モーカ}市の防災無線は、本日の午後から点検のため一時的に停止しますので、ご注意ください。",
     "真岡市の防災無線は、本日の午後から点検のため一時的に停止しますので…"),
    ("あ" * 60, "あ" * 39 + "…"),
    ("真岡市役所からのお知らせです道路の工事のため通行止めになりますので迂回路を通行してください",
     "真岡市役所からのお知らせです道路の工事のため通行止めになりますので迂回路を…"),
    ("緊急放送、緊急放送。", "緊急放送、緊急放送"),  # nothing but the preamble: keep it
    ("", ""),
])
def test_long_sentences_are_cut_at_a_word_boundary(text, title):
    assert derive_title(text) == title
    assert len(derive_title(text)) <= MAX_TITLE


def test_check_title():
    assert check_title("  避難指示（中郷地区）  ") == "避難指示（中郷地区）"
    assert check_title("あ" * 40) == "あ" * 40
    with pytest.raises(TitleError, match="件名が 2 文字多すぎます"):
        check_title("あ" * 42)
    with pytest.raises(TitleError, match="1 行"):
        check_title("a\nb")
