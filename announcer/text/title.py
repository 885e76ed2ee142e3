"""The subject (件名) of a bulletin: what staff see on the status card, the queue, the
as-run log, the CSV and the audit page, so that two bulletins can be told apart.

Rules: a subject is at most ``MAX_TITLE`` characters on one line. When none is given it
is derived from the script: the preamble every template starts with (「緊急放送、緊急
放送。」「こちらは、真岡市役所です。」) is skipped, inline readings ``{漢字|ヨミ}`` keep
their written form, and the first remaining sentence is used whole if it fits, else cut
at the last word boundary (a 、 or a space, else where a particle ends and a new word
begins) and ended with 「…」. Never cut mid-word when a boundary exists.
"""

import re
import unicodedata

MAX_TITLE = 40
ELLIPSIS = "…"
_INLINE = re.compile(r"\{([^{}|]*)\|[^{}|]*\}")
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
# Sentences that say nothing about this bulletin: the alarm words and who is speaking.
_PREAMBLE = re.compile(r"^(?:(?:緊急放送|緊急|こちらは)[、，。\s　]*)+$|^こちらは[、，\s　]*.{1,30}です[。]?$"
                       r"|^ただいまから[、，]?$")
_SOFT = "、，,　 ・"
_KANA_HIRA = re.compile(r"[ぁ-ゖ]")


class TitleError(ValueError):
    pass


def check_title(title: str) -> str:
    """A subject staff typed, or a ``TitleError`` in plain Japanese."""
    title = title.strip()
    if "\n" in title or "\r" in title:
        raise TitleError("件名は 1 行で書いてください")
    if len(title) > MAX_TITLE:
        raise TitleError(f"件名が {len(title) - MAX_TITLE} 文字多すぎます"
                         f"（{len(title)} 文字。{MAX_TITLE} 文字以内にしてください）")
    return title


def derive_title(text: str) -> str:
    """The default subject of a script (see the module rules)."""
    plain = unicodedata.normalize("NFC", _INLINE.sub(r"\1", text))
    sentences = [s.strip() for s in _SENTENCE.findall(plain) if s.strip()]
    body = [s for s in sentences if not _PREAMBLE.match(s)]
    first = (body or sentences or [""])[0].rstrip("。")
    return shorten(first)


def shorten(sentence: str, limit: int = MAX_TITLE) -> str:
    if len(sentence) <= limit:
        return sentence
    room = sentence[:limit - len(ELLIPSIS)]
    cut = max(room.rfind(c) for c in _SOFT)
    if cut <= 0:
        cut = _particle_boundary(room)
    return (room[:cut] if cut > 0 else room).rstrip(_SOFT) + ELLIPSIS


def _particle_boundary(room: str) -> int:
    """The last place where hiragana (a particle, an ending) is followed by another
    script (the next word), or 0."""
    for i in range(len(room) - 1, 0, -1):
        if _KANA_HIRA.match(room[i - 1]) and not _KANA_HIRA.match(room[i]):
            return i
    return 0
