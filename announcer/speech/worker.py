"""The worker processes: one kind owns pyopenjtalk (synthesis), one does DSP (scipy).

Open JTalk can segfault; running it here means a crash costs the supervisor one
restart, never the daemon. Requests arrive on stdin and answers leave on the original
stdout; fd 1 is pointed at stderr so that C-level prints cannot corrupt the protocol.
"""

import os
import re
import sys

import numpy as np

from announcer.speech.userdict import DictionaryLoader
from announcer.speech import accent, dsp, protocol
from announcer.speech.jtalk import import_pyopenjtalk


# Normal speech peaks near 3e4 and at most ~1e5; Open JTalk's vocoder can diverge on
# odd input (10^8 … 10^113), which would be full-scale noise on air.
UNSTABLE = 1e6
MAX_TEXTS = 64  # texts per furigana request
_KANJI = re.compile(r"[一-鿿㐀-䶿豈-﫿々〆ヶ]")


class Worker:
    def __init__(self, pyopenjtalk):
        self.jt = pyopenjtalk
        self.engines = {}
        self.dictionary = DictionaryLoader(pyopenjtalk)
        self.plain = None  # Open JTalk without the user dictionary (``furigana``)

    def engine(self, htsvoice):
        key = htsvoice or ""
        if key not in self.engines:
            path = htsvoice.encode() if htsvoice else self.jt.DEFAULT_HTS_VOICE
            self.engines[key] = self.jt.HTSEngine(path)
        return self.engines[key]

    def labels(self, text):
        features = self.jt.run_frontend(text)
        if sum(f["mora_size"] for f in features) == 0:
            return features, []
        return features, self.jt.make_label(features)

    def tts(self, req):
        text, cut = req["text"], {}
        if req.get("cut"):  # a program's first piece: only its first phrase, if it is long
            pieces = self.split(text, *req["cut"])
            if pieces:
                text, cut = pieces[0], {"head": pieces[0], "rest": pieces[1]}
        _features, labels = self.labels(text)
        if not labels:  # an empty label list segfaults the HTS engine
            return {"ok": True, "rate": 48000, "empty": True}, b""
        labels = speech_labels(labels, bool(req.get("quick")))
        engine = self.engine(req.get("htsvoice"))
        engine.set_speed(float(req.get("speed", 1.0)))
        engine.add_half_tone(float(req.get("half_tone", 0.0)))
        wave = engine.synthesize(labels)
        rate = engine.get_sampling_frequency()
        wave = np.asarray(wave, dtype=np.float64)
        if wave.size and not (np.isfinite(wave).all() and np.abs(wave).max() < UNSTABLE):
            return {"ok": False, "error": "unstable synthesis (vocoder diverged)"}, b""
        # Trimmed in the DSP worker, after its high-pass (see announcer.speech.dsp).
        pcm = (wave / 32768.0).astype(np.float32)
        return {"ok": True, "rate": rate, "empty": pcm.size == 0, **cut}, pcm.tobytes()

    def warm(self, req):
        """Load every voice and speak a word with each, so none is cold on air."""
        for htsvoice in req.get("voices") or [""]:
            self.tts({"text": "あ", "htsvoice": htsvoice or None})
        return {"ok": True, "pid": os.getpid(), "voices": len(self.engines)}, b""

    def split(self, text: str, min_head: int, min_total: int) -> tuple[str, str] | None:
        """``text`` cut at its first accent-phrase boundary after ``min_head`` morae
        (see ``SpeechPool.synthesize``); None when there is none or when the pieces
        would read differently from the whole."""
        features, _ = self.labels(text)
        head = accent.first_phrase(features, int(min_head), int(min_total))
        if head is None:
            return None
        pieces = ("".join(f["string"] for f in features[:head]),
                  "".join(f["string"] for f in features[head:]))
        kana = [_kana(self.labels(p)[0]) for p in pieces]
        if not all(kana) or "".join(kana) != _kana(features):
            return None
        return pieces

    def reading(self, req):
        features, _ = self.labels(req["text"])
        if req.get("words"):  # each word as MeCab split it, to tell which entry it came from
            words = [[f["string"], f["pron"].replace("’", "")] for f in features]
            return {"ok": True, "words": words}, b""
        if req.get("accent"):
            return {"ok": True, "reading": accent.notation(features)}, b""
        kana = "".join(f["pron"].replace("’", "") for f in features)
        return {"ok": True, "reading": kana}, b""

    def furigana(self, req):
        """Each text's words as the voice analyses them: [surface, read (how it is
        written in kana), pron (how it is said), plain]. ``plain`` is the system
        dictionary's own written reading of the surface alone, for words whose reading
        is a long-vowel pronunciation (a user-dictionary word: モーカ is spelled もおか)."""
        texts = []
        for text in req["texts"][:MAX_TEXTS]:
            words = []
            for f in self.jt.run_frontend(text):
                read, pron = f["read"], f["pron"].replace("’", "")
                plain = None
                if "ー" in pron and read == pron and _KANJI.search(f["string"]):
                    plain = "".join(p["read"] for p in self._plain().run_frontend(f["string"]))
                words.append([f["string"], read, pron, plain])
            texts.append(words)
        return {"ok": True, "texts": texts}, b""

    def _plain(self):
        """Open JTalk with the system dictionary only (made once, on first use)."""
        if self.plain is None:
            from pyopenjtalk.openjtalk import OpenJTalk
            self.plain = OpenJTalk(dn_mecab=self.jt.OPEN_JTALK_DICT_DIR)
        return self.plain

    def handle(self, req, payload=b""):
        self.dictionary.use(req.get("userdict"), req.get("dict_version"))
        op = req.get("op")
        if op == "tts":
            return self.tts(req)
        if op == "reading":
            return self.reading(req)
        if op == "furigana":
            return self.furigana(req)
        if op == "warm":
            return self.warm(req)
        if op == "ping":
            return {"ok": True, "pid": os.getpid(), "voices": len(self.engines)}, b""
        return {"ok": False, "error": f"unknown op {op!r}"}, b""


def _kana(features) -> str:
    return "".join(f["pron"].replace("’", "") for f in features if f["mora_size"])


def speech_labels(labels: list[str], quick: bool) -> list[str]:
    """Open JTalk's labels without the opening silence (``sil``), and for a ``quick``
    piece without the closing one too. The vocoder's silence is cut afterwards anyway
    (our pauses are our own), and synthesizing it costs a quarter to a third of a short
    phrase's time; the speech between is the same (measured: envelopes within 0.6 dB).
    The closing silence is kept otherwise: the last sound decays into it."""
    start = 1 if len(labels) > 2 and "-sil+" in labels[0] else 0
    end = len(labels) - 1 if quick and len(labels) - start > 2 and "-sil+" in labels[-1] \
        else len(labels)
    return labels[start:end]


class DspWorker:
    """Resampling and loudness for every synthesis worker, in a process of its own."""

    def handle(self, req, payload=b""):
        if req.get("op") == "normalize":
            return self.normalize(req, payload)
        if req.get("op") == "ping":
            return {"ok": True, "pid": os.getpid()}, b""
        return {"ok": False, "error": f"unknown op {req.get('op')!r}"}, b""

    def normalize(self, req, payload):
        x = np.frombuffer(payload, dtype=np.float32)
        if req.get("loudness") is None:  # station signals: resampled, otherwise untouched
            out = dsp.resample(x, int(req["in_rate"]), int(req["rate"]))
        else:
            out = dsp.finish(x, int(req["in_rate"]), int(req["rate"]), float(req["loudness"]),
                             float(req["peak"]), trim_silence=bool(req.get("trim")),
                             highpass_hz=float(req.get("highpass_hz") or 0.0),
                             presence_db=float(req.get("presence_db") or 0.0),
                             presence_hz=float(req.get("presence_hz") or 3000.0))
        return {"ok": True, "rate": int(req["rate"])}, out.tobytes()


def main():
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = DspWorker() if "--dsp" in sys.argv[1:] else Worker(import_pyopenjtalk())
    stdin = sys.stdin.buffer
    while True:
        try:
            req, data = protocol.receive(stdin)
        except EOFError:
            return
        try:
            header, payload = worker.handle(req, data)
        except Exception as exc:  # report, keep serving
            header, payload = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}, b""
        protocol.send(out, header, payload)


if __name__ == "__main__":
    main()
