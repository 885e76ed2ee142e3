"""Audio assembly: speech, chimes, silence and loudness, as float32 blocks.

Every piece (each sentence, each chime) is normalized to the station's loudness target
on its own (in the DSP worker, see ``announcer.speech.dsp``), so a program airs at
a steady −24 LKFS even when it is streamed sentence by sentence (emergencies) and never
needs a second pass over the whole (notices). Sample peaks are held at the ceiling
(−1 dBFS) by clipping after the gain.
"""

import itertools
import logging
import wave
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from announcer.playout.sources import WORDS_DONE
from announcer.speech.pool import Finish, SpeechError, SpeechPool
from announcer.text.script import Sentence
from announcer.studio.phrases import PhraseCache
from announcer.studio.voices import Voice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderSettings:
    rate: int = 48000
    loudness: float = -24.0  # LKFS
    peak: float = -1.0  # dBFS, sample peak ceiling
    head: float = 0.3  # seconds of silence before
    tail: float = 0.3  # seconds of silence after
    chime_gap: float = 0.35  # between a chime and the speech


class SentenceFailed(SpeechError):
    """A sentence that could not be synthesized; ``sentence`` is its text."""

    def __init__(self, sentence: str, cause: Exception):
        super().__init__(f"「{sentence[:40]}」を合成できませんでした ({cause})")
        self.sentence, self.cause = sentence, cause


PHRASE_PAUSE = 0.2  # seconds, between a quick first phrase and the rest of its sentence
# Between a first piece cut at an accent phrase (no 、 there) and the rest: the shortest
# pause that joins two separately synthesized pieces without running them together.
ACCENT_PAUSE = 0.08
# A bulletin's first sentence, when not ready in the phrase cache, is cut at an accent
# phrase boundary after CUT[0] morae if it has more than CUT[1]: the first sound then
# waits for about one second of speech, not a whole sentence.
CUT = (5, 10)


def _pause(voice: Voice, kind: str) -> float:
    if kind == "phrase":
        return PHRASE_PAUSE
    if kind == "accent":
        return ACCENT_PAUSE
    return getattr(voice.pauses, kind)


QUIET_DBFS = -50.0  # below this a sample counts as silence when head/tail are measured


def end_at_silence(x: np.ndarray, rate: int, floor_db: float = QUIET_DBFS,
                   fade: float = 0.02) -> np.ndarray:
    """Cut a clip's decay where it falls below ``floor_db`` for good, with a short fade,
    so a chime's long quiet ring does not lengthen the program's tail silence."""
    loud = np.flatnonzero(np.abs(x) > 10 ** (floor_db / 20))
    if loud.size == 0:
        return x[:0]
    end = int(loud[-1]) + 1
    n = min(end, int(fade * rate))
    out = np.array(x[:end], dtype=np.float32)
    out[end - n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return out


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(round(seconds * rate)), np.float32)


class Renderer:
    """Turns sentences into normalized audio, synthesizing ahead on every worker."""

    def __init__(self, pool: SpeechPool, settings: RenderSettings, workers: int = 2):
        self.pool = pool
        self.s = settings
        # Emergencies get threads of their own so they never queue behind a pre-render.
        self._executors = {
            False: ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synth"),
            True: ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synth-urgent"),
        }
        self.lookahead = workers + 1
        self.phrases = PhraseCache(settings.rate)
        self._cuts: dict[tuple[str, str], tuple[str, str]] = {}  # (text, dict) -> (head, rest)

    def close(self) -> None:
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)

    def sentence_audio(self, sentence: Sentence, voice: Voice, urgent: bool = False,
                       quick: bool = False) -> np.ndarray:
        """One sentence, normalized (empty when it has nothing to read aloud).

        Raises SentenceFailed when it cannot be synthesized (its worker crashed twice,
        hung, or the pool is stopping): a render is never silently shortened.
        """
        try:
            audio, _rate = self.pool.synthesize(
                sentence.text, voice.params, urgent,
                voice.finish(self.s.rate, self.s.loudness, self.s.peak), quick=quick)
        except SpeechError as exc:
            raise SentenceFailed(sentence.text, exc) from exc
        return audio

    def phrase_key(self, text: str, voice: Voice) -> str:
        return self.phrases.key(voice.cache_key(), self.pool.dict_version, text, vars(self.s))

    def first_audio(self, sentence: Sentence, voice: Voice, urgent: bool = False,
                    cut: bool = True, quick: bool = True) -> tuple[np.ndarray, Sentence | None]:
        """A program's first piece, and the rest of its sentence when it was cut.

        From the phrase cache when it is there; else synthesized ``quick`` (no closing
        silence to synthesize: a pause follows it) and, with ``cut``, only up to its
        first accent-phrase boundary when the sentence is long (CUT), so the first
        sound waits for about a second of speech; then kept in the phrase cache.
        Prepared ahead (the openers), a piece is made whole: ``cut=False, quick=False``.
        """
        audio = self.phrases.get(self.phrase_key(sentence.text, voice))
        if audio is not None:
            return audio, None
        known = self._cuts.get((sentence.text, self.pool.dict_version)) if cut else None
        if known is not None:
            audio = self.phrases.get(self.phrase_key(known[0], voice))
            if audio is not None:
                return audio, Sentence(known[1], sentence.pause)
        finish = voice.finish(self.s.rate, self.s.loudness, self.s.peak)
        try:
            audio, head, rest = self.pool.synthesize_first(
                sentence.text, voice.params, urgent, finish, quick=quick,
                cut=CUT if cut else None)
        except SpeechError as exc:
            if not cut:
                raise SentenceFailed(sentence.text, exc) from exc
            # The cut reads its pieces too: never lose a sentence a whole read would make.
            log.warning("First piece failed with its cut (%s); trying it whole", exc)
            return self.first_audio(sentence, voice, urgent, cut=False, quick=quick)
        if audio.size:
            self.phrases.put(self.phrase_key(head or sentence.text, voice), audio)
        if not head:
            return audio, None
        if len(self._cuts) > 256:  # bounded: a memo, not a record
            self._cuts.clear()
        self._cuts[(sentence.text, self.pool.dict_version)] = (head, rest)
        return audio, Sentence(rest, sentence.pause)

    def finish(self, offset_db: float = 0.0) -> Finish:
        return Finish(self.s.rate, self.s.loudness + offset_db, self.s.peak)

    def speech(self, sentences: list[Sentence], voice: Voice, urgent: bool = False,
               on_missing: Callable[[SentenceFailed], None] | None = None,
               on_spoken: Callable[[], None] | None = None,
               quick_first: bool = False) -> Iterator[np.ndarray]:
        """Yield each sentence's audio followed by its pause, in order.

        The first sentence is synthesized alone (on a two-core machine its rivals would
        slow it down, and it decides the time to first sound); then later sentences are
        synthesized while earlier ones are consumed, at most ``lookahead`` ahead, so
        memory stays bounded whatever the text's length.

        A sentence that cannot be synthesized raises SentenceFailed, unless
        ``on_missing`` is given (bulletins: lives may depend on the rest): then it is
        reported there and the rest still airs. ``on_spoken()`` hears of each sentence
        that has audio (so a bulletin can tell "no speech at all" from "some").
        ``quick_first``: the first piece comes through the phrase cache
        (``first_audio``), as a bulletin's does.
        """
        pending: deque[tuple[Sentence, Future]] = deque()
        submit = self._executors[urgent].submit
        todo = iter(sentences)
        first = next(todo, None)
        if first is not None:
            make = self.first_audio if quick_first else self.sentence_audio
            pending.append((first, submit(make, first, voice, urgent)))
        try:
            while pending:
                sentence, future = pending.popleft()
                rest = None
                try:
                    audio = future.result()
                    if isinstance(audio, tuple):  # a first piece: (audio, rest of it)
                        audio, rest = audio
                except SentenceFailed as exc:
                    if on_missing is None:
                        raise
                    log.error("Sentence skipped in a bulletin: %s", exc)
                    on_missing(exc)
                    audio = np.zeros(0, np.float32)
                if rest is not None:  # the first piece was cut: its rest comes next
                    todo = itertools.chain([rest], todo)
                    sentence = Sentence(sentence.text, "accent")
                self._fill(pending, todo, submit, voice, urgent)
                if audio.size:
                    if on_spoken is not None:
                        on_spoken()
                    yield audio
                    if pending:
                        yield silence(_pause(voice, sentence.pause), self.s.rate)
        finally:
            for _s, future in pending:
                future.cancel()

    def _fill(self, pending, todo, submit, voice, urgent) -> None:
        while len(pending) < self.lookahead:
            nxt = next(todo, None)
            if nxt is None:
                return
            pending.append((nxt, submit(self.sentence_audio, nxt, voice, urgent)))

    def program(self, sentences: list[Sentence], voice: Voice, *, pre=None, post=None,
                head: bool = True, urgent: bool = False,
                on_missing: Callable[[SentenceFailed], None] | None = None,
                on_spoken: Callable[[], None] | None = None,
                quick_first: bool = False, mark_words: bool = False) -> Iterator[np.ndarray]:
        """A whole item: [head silence] [pre chime] speech [post chime] tail silence;
        with ``mark_words`` (streamed bulletins) the empty WORDS_DONE block after the
        speech tells the stream where its words end."""
        if head:
            yield silence(self.s.head, self.s.rate)
        if pre is not None:
            yield pre
            yield silence(self.s.chime_gap, self.s.rate)
        yield from self.speech(sentences, voice, urgent, on_missing, on_spoken, quick_first)
        if mark_words:
            yield WORDS_DONE
        if post is not None:
            yield silence(self.s.chime_gap, self.s.rate)
            yield post
        yield silence(self.s.tail, self.s.rate)


def write_wav(dest, blocks, rate: int) -> int:
    """Stream float blocks into a 16-bit mono WAV (a path or a binary file object);
    returns the number of frames written."""
    from announcer.audio.base import to_int16

    frames = 0
    with wave.open(dest if not isinstance(dest, Path) else str(dest), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        for block in blocks:
            w.writeframes(to_int16(block).tobytes())
            frames += len(block)
    return frames


def load_clip(path: Path) -> tuple[np.ndarray, int]:
    """Any audio file pydub (ffmpeg) reads, as mono float32 and its sample rate."""
    from pydub import AudioSegment

    with open(path, "rb") as f:  # pydub leaves a file it opened itself open
        seg = AudioSegment.from_file(f, format=path.suffix.lstrip(".") or None)
    seg = seg.set_channels(1)
    samples = np.array(seg.get_array_of_samples(), dtype=np.float32)
    samples /= float(1 << (8 * seg.sample_width - 1))
    return samples, seg.frame_rate
