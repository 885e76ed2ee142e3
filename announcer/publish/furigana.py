"""Furigana for the public page, from the analysis and dictionaries that drive the voice.

Rules:
- The words and their readings are Open JTalk's, in a speech worker with the station's
  user dictionary loaded (``SpeechPool.furigana_words``): what the page shows over 真岡 is
  what the listener heard. pyopenjtalk never runs in this process; a worker that crashes
  costs that line its furigana, never the page.
- Readings are shown in hiragana as they are written, not as they are said: a word from
  the system dictionary has its written reading (東京 とうきょう); a word from the
  station's dictionaries is written as said (モーカ), so its long vowels are spelled from,
  in order, the postal data the area list was made from (東郷 ヒガシゴウ), the system
  dictionary's own spelling of that surface when it sounds the same (真岡 モオカ), or the
  usual rule (オ段 + ー → う, エ段 + ー → い, otherwise the vowel).
- Only kanji get ruby; okurigana stay outside it (燃(も)える). Digits read with a counter
  (3日 みっか) share one ruby. A word that cannot be placed in the text gets none.
- ``{漢字|ヨミ}`` in a script shows 漢字 with its given reading.
"""

import csv
import logging
import re
import unicodedata
from pathlib import Path

from announcer.readings.area import loose, spellings
from announcer.readings.rows import AREA, Entry, dict_surface

log = logging.getLogger(__name__)

Segment = tuple[str, str]  # (text, ruby or "")
KANJI = re.compile(r"[一-鿿㐀-䶿豈-﫿々〆ヶ]")
_NUMERALS = "〇一二三四五六七八九十百千万億"
_INLINE = re.compile(r"\{([^{}|]*)\|([^{}|]*)\}")
_SENTENCE_END = re.compile(r"(?<=[。！？!?])")
_SOFT_BREAK = re.compile(r"(?<=[、，,　 ・])")
_KANA = re.compile(r"[ぁ-ゖァ-ヺーゝゞヽヾ]")
# What a worker is given: anything else becomes a full-width space (same length, so
# positions stay; Open JTalk reads it as a pause). Long runs of one character make
# Open JTalk crash or diverge: such a chunk is not analysed.
_UNSAFE = re.compile(r"[^0-9A-Za-z０-９Ａ-Ｚａ-ｚぁ-ゖゝゞァ-ヺーヽヾ一-鿿㐀-䶿豈-﫿々〆ヶ"
                     r"。、！？!?,.，．「」『』（）()・：:；;～〜 　%％+＋\-－−]")
_RUN = re.compile(r"(.)\1{5,}")
MAX_CHUNK = 80
BATCH = 32  # chunks per worker request
_VOWEL_OF = {}
for _row, _vowel in (("アカサタナハマヤラワガザダバパァャヮ", "ア"), ("イキシチニヒミリギジヂビピィ", "イ"),
                     ("ウクスツヌフムユルグズヅブプゥュヴ", "ウ"), ("エケセテネヘメレゲゼデベペェ", "イ"),
                     ("オコソトノホモヨロゴゾドボポォョヲ", "ウ")):
    _VOWEL_OF.update(dict.fromkeys(_row, _vowel))


def hiragana(kana: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in kana)


def spelled_by_rule(pron: str) -> str:
    """A pronunciation's long vowels written out: ギョーヤガワ → ギョウヤガワ."""
    out: list[str] = []
    for c in pron:
        out.append(_VOWEL_OF.get(out[-1], "ー") if c == "ー" and out else c)
    return "".join(out)


def area_spellings(path: Path) -> dict[str, str]:
    """Surface -> reading as Japan Post writes it, from ``data/area/kenall-haga.csv``."""
    found: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for row in csv.DictReader(line for line in f if not line.startswith("#")):
                for surface in spellings(row["name"]):
                    found.setdefault(surface, row["kana"])
    except (OSError, KeyError, csv.Error) as exc:
        log.warning("Area spellings not read from %s: %s", path, exc)
    return found


def written_reading(word: list, entries: dict[str, Entry], area: dict[str, str]) -> str:
    """The katakana a word is written with (see the module docstring)."""
    surface, read, pron, plain = word
    entry = entries.get(surface)
    if entry is None or entry.pronunciation != pron:
        return read  # the system dictionary's written reading
    if entry.kind == AREA and surface in area and loose(area[surface]) == loose(pron):
        return area[surface]
    if "ー" not in pron:
        return pron
    if plain and loose(plain) == loose(pron):
        return plain
    return spelled_by_rule(pron)


def split_okurigana(base: str, reading: str) -> list[Segment]:
    """Ruby over the kanji runs of ``base`` only: 燃える + もえる → 燃(も)える."""
    runs = re.findall(r"[ぁ-ゖァ-ヺーゝゞ]+|[^ぁ-ゖァ-ヺーゝゞ]+", base)
    pattern = "".join(re.escape(hiragana(r)) if _KANA.match(r) else "(.+?)" for r in runs)
    m = re.fullmatch(pattern, reading)
    if m is None or sum(1 for r in runs if not _KANA.match(r)) != len(m.groups()):
        return [(base, reading)]
    groups = iter(m.groups())
    return [(r, "") if _KANA.match(r) else (r, next(groups) if KANJI.search(r) else "")
            for r in runs]


# -- placing the worker's words in the text ----------------------------------------------
def _normalized(text: str) -> tuple[str, list[int]]:
    """NFKC of ``text`` char by char, with the index of each char's source."""
    out, where = [], []
    for i, c in enumerate(text):
        n = unicodedata.normalize("NFKC", c)
        out.append(n)
        where += [i] * len(n)
    return "".join(out), where


def _word_pattern(surface: str) -> re.Pattern:
    """Open JTalk writes digits as kanji numerals (3日 → 三日): a run of numerals also
    matches the digits the text had."""
    parts = []
    surface = unicodedata.normalize("NFKC", surface)
    for run in re.findall(f"[{_NUMERALS}]+|[^{_NUMERALS}]+", surface):
        if run[0] in _NUMERALS:
            parts.append(f"(?:[0-9]+(?:[.,][0-9]+)*|{re.escape(run)})")
        else:
            parts.append(re.escape(run))
    return re.compile("".join(parts))


def place(text: str, words: list, entries, area) -> list[tuple[int, int, str]]:
    """(start, end, hiragana) in ``text`` of each word that has kanji there."""
    norm, where = _normalized(text)
    found, pos = [], 0
    for word in words:
        surface = word[0]
        if not surface.strip() or surface in "、。":
            continue
        m = _word_pattern(surface).search(norm, pos, min(len(norm), pos + len(surface) + 12))
        if m is None or m.end() == m.start():
            continue
        pos = m.end()
        start, end = where[m.start()], where[m.end() - 1] + 1
        if KANJI.search(text[start:end]):
            found.append((start, end, hiragana(written_reading(word, entries, area))))
    return found


def chunks(line: str) -> list[tuple[int, str]]:
    """(offset, piece) of a line cut for the worker: sentences, then soft breaks, at most
    MAX_CHUNK characters; pieces without kanji need no analysis and are left out."""
    out, offset = [], 0
    for sentence in _SENTENCE_END.split(line):
        for piece in _hard_split(sentence):
            if KANJI.search(piece) and not _RUN.search(piece):
                out.append((offset, _UNSAFE.sub("　", piece)))
            offset += len(piece)
    return out


def _hard_split(sentence: str) -> list[str]:
    pieces, current = [], ""
    for part in _SOFT_BREAK.split(sentence):
        while len(part) > MAX_CHUNK:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(part[:MAX_CHUNK])
            part = part[MAX_CHUNK:]
        if len(current) + len(part) > MAX_CHUNK:
            pieces.append(current)
            current = ""
        current += part
    if current:
        pieces.append(current)
    return pieces


def inline_reading(base: str, reading: str, area: dict[str, str]) -> str:
    """The hiragana of a ``{漢字|ヨミ}`` reading (katakana as said)."""
    if base in area and loose(area[base]) == loose(reading):
        return hiragana(area[base])
    return hiragana(spelled_by_rule(reading))


class Furigana:
    """Ruby for whole texts: ``ruby(text)`` -> paragraphs -> lines -> segments.

    ``words(texts)`` is the speech pool's ``furigana_words``; ``entries()`` the station's
    dictionary entries (``ReadingDictionary.entries``); ``area`` from ``area_spellings``."""

    def __init__(self, words, entries, area: dict[str, str]):
        self._words, self._entries, self.area = words, entries, area

    def ruby(self, text: str) -> list[list[list[Segment]]]:
        paragraphs = [[line.strip() for line in p.split("\n") if line.strip()]
                      for p in re.split(r"\n[ \t　]*\n", text.replace("\r\n", "\n"))]
        paragraphs = [p for p in paragraphs if p]
        lines = [line for p in paragraphs for line in p]
        done = iter(self._lines(lines))
        return [[next(done) for _ in p] for p in paragraphs]

    def line(self, text: str) -> list[Segment]:
        """One line (a title)."""
        text = " ".join(text.split())
        return self._lines([text])[0] if text else []

    def _lines(self, lines: list[str]) -> list[list[Segment]]:
        entries = self._entries_by_surface()
        marks = self._marks(lines, entries)
        known = self._inline_bases(lines, entries)

        def spell(base: str, reading: str) -> str:
            said, written = known.get(base, ("", ""))
            if said and loose(said) == loose(reading):  # the dictionary says it so too
                return hiragana(written)
            return inline_reading(base, reading, self.area)
        return [_segments(line, m, spell) for line, m in zip(lines, marks)]

    def _inline_bases(self, lines: list[str], entries) -> dict[str, tuple[str, str]]:
        """For each ``{漢字|ヨミ}`` base, (how the voice would say it, how that is written)."""
        bases = sorted({base for line in lines for *_, base, _r in _analysis_text(line)[1]
                        if KANJI.search(base) and len(base) <= MAX_CHUNK
                        and not _UNSAFE.search(base)})
        known = {}
        for start in range(0, len(bases), BATCH):
            batch = bases[start:start + BATCH]
            for base, words in zip(batch, self._analyse(batch)):
                if words:
                    known[base] = ("".join(w[2] for w in words),
                                   "".join(written_reading(w, entries, self.area) for w in words))
        return known

    def _entries_by_surface(self) -> dict[str, Entry]:
        try:
            return {dict_surface(e.surface): e for e in self._entries()}
        except Exception as exc:  # a broken file: readings from the analysis alone
            log.warning("Furigana without the station's dictionary entries: %s", exc)
            return {}

    def _marks(self, lines: list[str], entries) -> list[list[tuple[int, int, str]]]:
        """Ruby positions per line, in the lines' analysis text (inline readings in)."""
        jobs = []  # (line index, offset in the analysis text, chunk)
        for i, line in enumerate(lines):
            jobs += [(i, off, chunk) for off, chunk in chunks(_analysis_text(line)[0])]
        marks: list[list[tuple[int, int, str]]] = [[] for _ in lines]
        for start in range(0, len(jobs), BATCH):
            batch = jobs[start:start + BATCH]
            for (i, off, chunk), words in zip(batch, self._analyse([c for _, _, c in batch])):
                marks[i] += [(off + s, off + e, r)
                             for s, e, r in place(chunk, words, entries, self.area)]
        return marks

    def _analyse(self, texts: list[str]) -> list[list]:
        """The worker's words per text; a text that crashes the worker gets none."""
        try:
            return self._words(texts)
        except Exception as exc:
            if len(texts) == 1:
                log.warning("No furigana for %r: %s", texts[0][:40], exc)
                return [[]]
        return [self._analyse([t])[0] for t in texts]


def _analysis_text(line: str) -> tuple[str, list[tuple[int, int, int, str, str]]]:
    """The line as the voice reads it (``{漢字|ヨミ}`` → ヨミ) and the inline spans:
    (start in the line, end in the line, start in the analysis text, base, reading)."""
    out, spans, pos, shift = [], [], 0, 0
    for m in _INLINE.finditer(line):
        out.append(line[pos:m.start()])
        reading = unicodedata.normalize("NFKC", m.group(2)).strip()
        spans.append((m.start(), m.end(), m.start() - shift, m.group(1), reading))
        out.append(reading)
        shift += (m.end() - m.start()) - len(reading)
        pos = m.end()
    out.append(line[pos:])
    return "".join(out), spans


def _segments(line: str, marks, spell_inline) -> list[Segment]:
    """The display line as segments: analysis positions mapped back through inline spans."""
    analysed, spans = _analysis_text(line)
    # analysis index -> line index, for the plain stretches between inline readings
    pieces: list[tuple[int, int, int]] = []  # (analysis start, analysis end, line start)
    a = lpos = 0
    for l_start, l_end, a_start, base, reading in spans:
        pieces.append((a, a_start, lpos))
        a, lpos = a_start + len(reading), l_end
    pieces.append((a, len(analysed), lpos))
    ruby_at: dict[int, tuple[int, str]] = {}
    for s, e, r in marks:
        for a_start, a_end, l_start in pieces:
            if a_start <= s and e <= a_end:
                ruby_at[l_start + s - a_start] = (l_start + e - a_start, r)
    inline = {l_start: (l_end, base, reading) for l_start, l_end, _, base, reading in spans}
    out: list[Segment] = []
    plain, i = [], 0
    while i < len(line):
        if i in inline or i in ruby_at:
            if plain:
                out.append(("".join(plain), ""))
                plain = []
            if i in inline:
                end, base, reading = inline[i]
                out += split_okurigana(base, spell_inline(base, reading)) if KANJI.search(base) \
                    else [(base, "")]
            else:
                end, reading = ruby_at[i]
                out += split_okurigana(line[i:end], reading)
            i = end
            continue
        plain.append(line[i])
        i += 1
    if plain:
        out.append(("".join(plain), ""))
    return _merge(out)


def _merge(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for text, rt in segments:
        if not text:
            continue
        if out and not rt and not out[-1][1]:
            out[-1] = (out[-1][0] + text, "")
        else:
            out.append((text, rt))
    return out


def plain_text(paragraphs) -> str:
    """The text without ruby (the feed, search engines)."""
    return "\n\n".join("\n".join("".join(t for t, _ in line) for line in p) for p in paragraphs)
