"""What every staff page's "試聴" (preview) and reading try-out share: how much of a
script they may make the server read, and the small slots they run in.

Rules:
- A preview is bounded after every expansion: the script as typed (PREVIEW_CHARS),
  the text to speak once inline readings ``{表記|ヨミ}`` are resolved and numbers and
  symbols are spelled out (PREVIEW_SPOKEN), and the kana once the dictionaries have
  replaced words by their readings (PREVIEW_KANA). Sentences past a bound are left
  out; if not even the first fits, the preview is refused (413).
- Previews take one of PREVIEW_SLOTS, reading try-outs one of READING_SLOTS, each
  waited for at most SLOT_WAIT before a fast 503 ("混み合っています"). So however many
  previews arrive, they hold at most a few of the web server's threads: the emergency
  form, ``POST /api/bulletins`` and ``/healthz`` always find one. Their synthesis is
  never urgent, so a bulletin going on air is served first by the speech workers.
"""

import dataclasses
import threading

from flask import current_app

from announcer.core.errors import AnnouncerError
from announcer.text.script import is_speakable

PREVIEW_CHARS = 400   # the preview reads the start of the script: enough to hear mistakes
PREVIEW_SPOKEN = 600  # characters once inline readings and normalization are applied
PREVIEW_KANA = 900    # kana once the dictionaries have had their say
PREVIEW_SLOTS, READING_SLOTS = 1, 2
SLOT_WAIT = 1.0       # seconds; then 503 at once rather than holding a web thread
BUSY = "試聴が混み合っています。少し待ってから押してください"


class PreviewTooLong(AnnouncerError):
    status = 413


class Busy(AnnouncerError):
    status = 503

    def __init__(self, message: str = BUSY):
        super().__init__(message)


def preview_text(text: str) -> str:
    """The first PREVIEW_CHARS characters, cut after a sentence where there is one,
    and never inside a ``{漢字|ヨミ}``."""
    if len(text) <= PREVIEW_CHARS:
        return text
    head = text[:PREVIEW_CHARS]
    if head.rfind("{") > head.rfind("}"):
        head = head[:head.rfind("{")]
    end = max(head.rfind("。"), head.rfind("\n"))
    return head[:end + 1] if end >= PREVIEW_CHARS // 2 else head


def bounded_sentences(studio, text: str, *, repeat: int = 1, drill: bool = False,
                      accent: bool = False) -> tuple[list, list[str]]:
    """The sentences of ``text`` a preview may read, and their readings (kana)."""
    sentences = studio.sentences(preview_text(text), repeat=repeat, drill=drill)
    studio.wait_ready()  # the dictionaries are loaded by then
    kept, readings, spoken, kana = [], [], 0, 0
    known: dict[str, str] = {}
    for sentence in sentences:
        spoken += len(sentence.text)
        if spoken > PREVIEW_SPOKEN:
            break
        if sentence.text not in known:
            known[sentence.text] = studio.pool.reading(sentence.text, accent=accent)
        reading = known[sentence.text]
        if kana + len(reading) > PREVIEW_KANA:  # the dictionaries made it long: its start
            sentence, reading = _shortened(studio, sentence, reading, PREVIEW_KANA - kana,
                                           accent)
            if sentence is not None:
                kept.append(sentence)
                readings.append(reading)
            break
        kana += len(reading)
        kept.append(sentence)
        readings.append(reading)
    if not kept:
        raise PreviewTooLong("読みが長すぎて試聴できません。文を短くするか、読みの長い単語を"
                             "減らしてください")
    return kept, readings


def _shortened(studio, sentence, reading: str, budget: int, accent: bool):
    """The start of ``sentence`` whose reading fits ``budget`` kana (None: none does)."""
    text = sentence.text
    for _ in range(4):
        text = text[:len(text) * budget // max(len(reading), 1)]
        if not is_speakable(text):
            return None, ""
        reading = studio.pool.reading(text, accent=accent)
        if len(reading) <= budget:
            return dataclasses.replace(sentence, text=text), reading
    return None, ""


def bounded_reading(studio, text: str, *, accent: bool = False) -> str:
    """Like ``Studio.reading``, within the preview bounds."""
    _, readings = bounded_sentences(studio, text, accent=accent)
    return "。".join(r.rstrip("、") for r in readings if r.rstrip("、"))


class _Slot:
    def __init__(self, semaphore: threading.BoundedSemaphore):
        self.semaphore = semaphore

    def __enter__(self):
        if not self.semaphore.acquire(timeout=SLOT_WAIT):
            raise Busy()
        return self

    def __exit__(self, *exc):
        self.semaphore.release()


def preview_slot() -> _Slot:
    """``with preview_slot():`` around rendering a preview (503 when all are taken)."""
    return _Slot(current_app.extensions.setdefault(
        "announcer.preview", threading.BoundedSemaphore(PREVIEW_SLOTS)))


def reading_slot() -> _Slot:
    return _Slot(current_app.extensions.setdefault(
        "announcer.reading", threading.BoundedSemaphore(READING_SLOTS)))
