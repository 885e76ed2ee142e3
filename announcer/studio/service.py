"""The studio: from a script to the audio that goes on air.

It joins text preparation, the reading dictionary, voice presets, chimes, synthesis and
the render cache behind a few calls the daemon, the web page and the CLI share, so a
notice sounds the same whichever of them produced it.
"""

import logging
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from announcer.studio.cache import RenderCache, cache_key
from announcer.core.config import Config
from announcer.core.errors import ConfigError
from announcer.readings.live import ReadingDictionary
from announcer.readings.rows import Entry
from announcer.studio.render import Renderer, RenderSettings, end_at_silence, load_clip, silence
from announcer.speech.pool import Finish, SpeechPool
from announcer.studio.speechwatch import SpeechWatch
from announcer.text.script import Sentence, quick_start, script_sentences
from announcer.studio.voices import Voice, load_voices

log = logging.getLogger(__name__)
DRILL_PREFIX = "これは訓練です。"


def render_settings(config: Config) -> RenderSettings:
    return RenderSettings(rate=config.audio.rate, loudness=config.audio.loudness,
                          peak=config.audio.peak, head=config.playout.head_silence,
                          tail=config.playout.tail_silence)


class Studio:
    def __init__(self, config: Config):
        self.config = config
        self.settings = render_settings(config)
        self.voices: dict[str, Voice] = load_voices(config.paths.voices)
        named = [("speech.voice", config.speech.voice), ("jma.voice", config.jma.voice),
                 *(("speech.rotation", v) for _t, v in config.speech.rotation)]
        for key, name in named:
            if name is not None and name not in self.voices:
                raise ConfigError(f"{config.path}: {key}: 声のプリセット "
                                  f'"{name}" が {config.paths.voices} にありません')
        self.readings = ReadingDictionary(config.paths.voices / "dict",
                                          config.paths.data / "dict" / "user.dic",
                                          on_change=self._use_dictionary)
        self.pool = SpeechPool(config.speech.workers)
        self.speech_watch = SpeechWatch()  # the ``speech`` health condition
        self.pool.synth.listener = self.speech_watch.listener("synthesis")
        self.pool.dsp.listener = self.speech_watch.listener("dsp")
        self.renderer = Renderer(self.pool, self.settings, config.speech.workers)
        self.cache = RenderCache(config.paths.data / "cache",
                                 config.playout.cache_max_mb * 1024 * 1024)
        self.pre = self.post = self.signal_start = self.signal_stop = None
        self.ready = threading.Event()
        self._starter: threading.Thread | None = None
        self._preparing = threading.BoundedSemaphore(1)  # one prepare_bulletin at a time
        self.preparing: threading.Thread | None = None  # the last one (tests join it)
        self._openers_warm = False

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Dictionary, warm workers and chimes, in this order, before returning."""
        try:
            self.reload_dictionary()
        except Exception as exc:  # a broken dictionary must not stop the station
            log.error("Reading dictionary not loaded: %s", exc)
        self.pool.start([v.params for v in self.voices.values()])
        self._load_clips()
        self.ready.set()

    def start_background(self) -> None:
        """The same as ``start`` in a thread of its own, so the daemon's log, schedule
        and page come up while the workers warm up, then the openers are prepared
        (``warm_openers``). Synthesis waits for ``ready``; a failure is logged and
        retried by the pool on first use."""
        def run():
            try:
                self.start()
            except Exception:
                log.exception("Speech did not start; retrying on first use")
                self.ready.set()
                return
            self.warm_openers()  # the station's, not a one-off command's: after ready
        self._starter = threading.Thread(target=run, name="studio-start", daemon=True)
        self._starter.start()

    def tick(self) -> None:
        """Once a second: crashing speech workers are probed until they answer again."""
        self.speech_watch.tick(self.pool.ping)

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self.ready.wait(timeout)

    def _load_clips(self) -> None:
        config = self.config
        self.pre = self._clip(config.chimes.pre, normalize=True)
        self.post = self._clip(config.chimes.post, normalize=True)
        if self.post is not None:  # the program's tail silence is ours (0.1–0.5 s)
            self.post = end_at_silence(self.post, self.settings.rate)
        self.signal_start = self._clip(config.emergency.signal_start, normalize=False)
        self.signal_stop = self._clip(config.emergency.signal_stop, normalize=False)

    def stop(self) -> None:
        if self._starter is not None:
            self._starter.join(timeout=10)
        self.renderer.close()
        self.pool.stop()

    def reload_dictionary(self) -> str:
        """Compile ``voices/dict/*.csv`` (checked before swap-in) and use it from now on."""
        return self.readings.reload()

    def _use_dictionary(self, path: str, version: str) -> None:
        self.pool.userdict, self.pool.dict_version = path, version
        if self._openers_warm:  # their readings may have changed: prepare them again
            threading.Thread(target=self.warm_openers, name="openers", daemon=True).start()

    def warm_openers(self) -> None:
        """Every opener's first piece (and the drill prefix), in every voice, into the
        phrase cache: cut only at its first 、 (``quick_start``), never inside a phrase,
        so the station's fixed openings sound whole. Failures only cost speed. Done
        again whenever the reading dictionary changes."""
        self._openers_warm = True
        done = 0
        for text in (DRILL_PREFIX, *self.config.emergency.openers):
            for voice in self.voices.values():
                try:
                    first = quick_start(self.sentences(text))[0]
                    self.renderer.first_audio(first, voice, cut=False, quick=False)
                    done += 1
                except Exception as exc:  # e.g. nothing speakable, a worker crash
                    log.warning("Opener %r not prepared in %s: %s", text, voice.id, exc)
        log.info("Openers prepared: %d first phrases in %d voices", done, len(self.voices))

    @property
    def dict_path(self) -> Path:
        return self.readings.path

    @property
    def dict_version(self) -> str:
        """The content hash of the dictionary in use ("" for none): part of cache keys."""
        return self.readings.version

    def _clip(self, path: Path | None, *, normalize: bool) -> np.ndarray | None:
        if path is None:
            return None
        full = path if path.is_absolute() else self.config.paths.voices / path
        try:
            samples, rate = load_clip(full)
            finish = self.renderer.finish() if normalize else \
                Finish(self.settings.rate, None, self.settings.peak)
            return self.pool.normalize(samples, rate, finish)
        except Exception as exc:  # a broken chime must not stop the station
            log.error("Cannot load %s: %s; airing without it", full, exc)
            return None

    # -- scripts ---------------------------------------------------------------------
    def voice(self, voice_id: str | None) -> Voice:
        """The preset ``voice_id`` (None or "": the station's default voice)."""
        voice = self.voices.get(voice_id or self.config.speech.voice)
        if voice is None:  # checked where it is chosen; never silence for a name
            log.warning("Unknown voice %r: reading in the default voice", voice_id)
            voice = self.voices[self.config.speech.voice]
        return voice

    def sentences(self, text: str, *, repeat: int = 1, drill: bool = False) -> list[Sentence]:
        return script_sentences(text, repeat=repeat, prefix=DRILL_PREFIX if drill else "",
                                url_phrase=self.config.speech.url_phrase)

    def reading(self, text: str, *, accent: bool = False) -> str:
        """The katakana the listener will hear, after normalization and dictionaries."""
        self.wait_ready()
        readings = (self.pool.reading(s.text, accent=accent).rstrip("、")
                    for s in self.sentences(text))
        return "。".join(r for r in readings if r)

    def reading_origins(self, text: str) -> list[tuple[str, str, Entry]]:
        """(surface, reading, entry) of every word of ``text`` read from the dictionary."""
        self.wait_ready()
        words = [w for s in self.sentences(text) for w in self.pool.words(s.text)]
        return self.readings.origins(words)

    # -- programs --------------------------------------------------------------------
    def notice_program(self, text: str, *, voice: str | None = None, chime: bool = True,
                       repeat: int = 1, sentences: list[Sentence] | None = None
                       ) -> Iterator[np.ndarray]:
        """``sentences`` (already cut to size, as previews are) replace the text's."""
        sentences = sentences or self.sentences(text, repeat=repeat)
        self.wait_ready()  # chimes and the dictionary are loaded by then
        return self.renderer.program(sentences, self.voice(voice),
                                     pre=self.pre if chime else None,
                                     post=self.post if chime else None)

    def notice_key(self, text: str, *, voice: str | None = None, chime: bool = True,
                   repeat: int = 1) -> str:
        return cache_key(text=text, voice=self.voice(voice).cache_key(), chime=chime,
                         repeat=repeat, dict=self.dict_version, settings=vars(self.settings),
                         url=self.config.speech.url_phrase,
                         chimes=[str(self.config.chimes.pre), str(self.config.chimes.post)])

    def render_notice(self, text: str, **kw) -> np.ndarray:
        """The notice's audio from the cache, rendering it first if needed (memory map)."""
        self.wait_ready()  # the key holds the dictionary's version
        key = self.notice_key(text, **kw)
        cached = self.cache.load(key)
        if cached is None:
            # A sentence that fails raises SentenceFailed out of the program: the cache
            # keeps nothing, so the next attempt renders again.
            cached = self.cache.store(key, self.notice_program(text, **kw))
        return cached

    def prepare_bulletin(self, text: str, *, drill: bool = False,
                         voice: str | None = None) -> bool:
        """Synthesize a bulletin's first piece into the phrase cache in the background
        (the confirmation page does, so that 放送する starts at once). Never urgent,
        at most one at a time (False: one is already running); failures cost nothing."""
        if not self._preparing.acquire(blocking=False):
            return False

        def run():
            try:
                self.wait_ready()
                first = quick_start(self.sentences(text, drill=drill))[0]
                self.renderer.first_audio(first, self.voice(voice))
            except Exception as exc:  # the airing itself will say what is wrong
                log.info("First piece not prepared: %s", exc)
            finally:
                self._preparing.release()
        self.preparing = threading.Thread(target=run, name="prepare", daemon=True)
        self.preparing.start()
        return True

    def bulletin_program(self, text: str, *, repeat: int = 2, chime: bool = True,
                         drill: bool = False, urgent: bool = True, voice: str | None = None,
                         on_missing=None, sentences: list[Sentence] | None = None,
                         on_spoken=None) -> Iterator[np.ndarray]:
        """An emergency bulletin, streamed: no head silence, station signals untouched.

        Its first piece is short (cut at its first 、 by ``quick_start``, or at an
        accent phrase by ``Renderer.first_audio``) and comes from the phrase cache when
        it is there, so the first speech comes fast.
        ``on_missing(SentenceFailed)`` hears of sentences that could not be synthesized
        (the rest airs); without it such a sentence ends the program with the error;
        ``on_spoken()`` hears of each sentence that has audio.
        ``urgent=False`` is for previews: they must not take an airing bulletin's threads;
        ``sentences`` (already cut to size, as previews are) replace the text's.
        """
        sentences = sentences or self.sentences(text, repeat=repeat, drill=drill)
        self.wait_ready()
        chosen = self.voice(voice)
        sentences = quick_start(sentences)
        if self.signal_start is not None:
            yield self.signal_start
        yield from self.renderer.program(sentences, chosen, head=False, urgent=urgent,
                                         pre=self.pre if chime else None,
                                         post=self.post if chime else None,
                                         on_missing=on_missing, on_spoken=on_spoken,
                                         quick_first=True, mark_words=True)
        if self.signal_stop is not None:
            yield self.signal_stop
            yield silence(self.settings.tail, self.settings.rate)
