"""Turn a staff-written script into sentences that are safe to synthesize.

Open JTalk crashes on pieces with no phoneme (a lone 。, an emoji) and on very long
runs without a break, so the script is cut into sentences of bounded size, stripped of
characters it cannot read, and pieces with nothing readable are dropped. Inline reading
overrides ``{漢字|ヨミ}`` are resolved to their katakana here.
"""

import re
import unicodedata
from dataclasses import dataclass

from announcer.core.errors import NothingToSay
from announcer.text.normalize import normalize

MAX_SENTENCE = 90  # characters; far below the ~300-kana run that segfaults Open JTalk
QUICK_START = 24  # characters: an emergency's first phrase, synthesized alone and fast
REPEAT_JOINER = "繰り返します。"
INLINE = re.compile(r"\{([^{}|]*)\|([^{}|]*)\}")
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|\n")
_SOFT_BREAK = re.compile(r"(?<=[、，,　 ・；;：:])")
_READABLE = re.compile(r"[0-9A-Za-zぁ-ゖァ-ヺ一-鿿㐀-䶿豈-﫿]")
_KATAKANA = re.compile(r"^[ァ-ヺー]+$")
# Characters Open JTalk knows; anything else (emoji, symbols, control chars) is dropped.
_KEEP = re.compile(
    r"[^0-9A-Za-zぁ-ゖゝゞァ-ヺーヽヾ一-鿿㐀-䶿豈-﫿々〆ヶ"
    r"。、！？!?,.，．「」『』（）()・：:；;～〜 　%％+＋\-－−]"
)


@dataclass(frozen=True)
class Sentence:
    """One synthesis unit and the pause that follows it."""

    text: str
    pause: str = "sentence"  # "sentence" | "paragraph" | "repeat" | "phrase" | "accent"


class InlineError(ValueError):
    pass


def resolve_inline(text: str) -> list[tuple[str, bool]]:
    """Split text into (piece, is_reading) parts; readings must be katakana."""
    parts, pos = [], 0
    for m in INLINE.finditer(text):
        reading = unicodedata.normalize("NFKC", m.group(2)).strip()
        if not _KATAKANA.match(reading):
            raise InlineError(f"読みはカタカナで書いてください: {{{m.group(1)}|{m.group(2)}}}")
        parts.append((text[pos:m.start()], False))
        parts.append((reading, True))
        pos = m.end()
    parts.append((text[pos:], False))
    return [p for p in parts if p[0]]


def prepare_text(text: str, *, url_phrase: str = "ホームページ") -> str:
    """Normalize for broadcast and resolve inline readings; returns one string."""
    out = []
    for piece, is_reading in resolve_inline(text):
        out.append(piece if is_reading else normalize(piece, url_phrase=url_phrase))
    return "".join(out)


def is_speakable(piece: str) -> bool:
    return bool(_READABLE.search(piece))


def _hard_split(sentence: str) -> list[str]:
    """Cut an over-long sentence at soft breaks, then at MAX_SENTENCE characters."""
    pieces, current = [], ""
    for chunk in _SOFT_BREAK.split(sentence):
        while len(chunk) > MAX_SENTENCE:
            pieces.append(current + chunk[: MAX_SENTENCE - len(current)])
            chunk, current = chunk[MAX_SENTENCE - len(current):], ""
        if len(current) + len(chunk) > MAX_SENTENCE:
            pieces.append(current)
            current = ""
        current += chunk
    pieces.append(current)
    return [p for p in pieces if p]


_RUN = re.compile(r"(.)\1{5,}")
_LONG_VOWEL_RUN = re.compile(r"ー{3,}")


def _clean(piece: str) -> str:
    """Drop what Open JTalk cannot read and shorten runs of one character: long runs of
    one kana make its vocoder diverge (ア×20 peaks at 10^8) or crash it."""
    piece = _KEEP.sub("", piece)
    piece = _RUN.sub(lambda m: m.group(1) * 5, piece)
    piece = _LONG_VOWEL_RUN.sub("ーー", piece)
    return re.sub(r"[ 　]+", " ", piece).strip()


def paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n[ \t　]*\n", text) if p.strip()]


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of at most MAX_SENTENCE characters, each with something to read."""
    sentences: list[Sentence] = []
    for raw in _SENTENCE_END.split(text):
        for piece in _hard_split(_clean(raw)):
            if is_speakable(piece):
                sentences.append(Sentence(piece))
    return sentences


def _prepared_sentences(text: str, url_phrase: str) -> list[Sentence]:
    """Paragraph by paragraph (blank lines), so paragraphs keep their longer pause."""
    sentences: list[Sentence] = []
    for paragraph in paragraphs(text):
        if sentences:
            sentences[-1] = Sentence(sentences[-1].text, "paragraph")
        sentences.extend(split_sentences(prepare_text(paragraph, url_phrase=url_phrase)))
    return sentences


def script_sentences(
    text: str, *, repeat: int = 1, prefix: str = "", url_phrase: str = "ホームページ"
) -> list[Sentence]:
    """The full list of sentences to air for a script, repeats included.

    Raises NothingToSay when nothing in the text can be read aloud, and InlineError
    (a ValueError) for a malformed ``{漢字|ヨミ}``.
    """
    body = _prepared_sentences(text, url_phrase)
    if not body:
        raise NothingToSay()
    head = _prepared_sentences(prefix, url_phrase) if prefix else []
    out: list[Sentence] = list(head)
    for i in range(repeat):
        if i:
            out[-1] = Sentence(out[-1].text, "repeat")
            out.append(Sentence(REPEAT_JOINER))
        out.extend(body)
    return out


def quick_start(sentences: list[Sentence], limit: int = QUICK_START) -> list[Sentence]:
    """Cut a long first sentence at its first phrase break (、) within ``limit``
    characters, so that the first sound of an emergency waits only for a short phrase.
    The text heard is the same; the break gets a phrase pause."""
    if not sentences or len(sentences[0].text) <= limit:
        return sentences
    first = sentences[0]
    cut = next((m.end() for m in re.finditer("[、，,]", first.text[: limit + 1])
                if m.end() >= 4), 0)
    if not cut or not is_speakable(first.text[cut:]) or not is_speakable(first.text[:cut]):
        return sentences
    return [Sentence(first.text[:cut], "phrase"), Sentence(first.text[cut:], first.pause),
            *sentences[1:]]
