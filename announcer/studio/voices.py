"""Voice presets: ``voices/<id>.yaml`` name an htsvoice, how to speak with it, and how
its sound is cleaned for air.

Rules: every preset gets the same loudness target and peak ceiling (the station's);
what differs per preset is the voice itself (``htsvoice``, ``speed``, ``half_tone``),
its pauses, a level offset (``volume``) and its equalization: ``highpass_hz`` (DC and
rumble removal, 0 = off) and a high-shelf ``presence_db`` at ``presence_hz`` (a lift
for a dull voice, chosen by measuring the energy above 4 kHz: ``bench/speech_bench.py``).
"""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from announcer.core import yamlfile as y
from announcer.core.errors import ConfigError
from announcer.speech.pool import Finish, VoiceParams

BUNDLED = "mei_normal"  # the voice pyopenjtalk ships
HIGHPASS_HZ = 50.0  # removes the vocoder's DC offset and rumble; speech has nothing there


@dataclass(frozen=True)
class Pauses:
    sentence: float = 0.55
    paragraph: float = 1.0
    repeat: float = 1.5


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    htsvoice: str | None = None  # absolute path; None = bundled mei_normal
    speed: float = 1.0
    half_tone: float = 0.0
    volume: float = 0.0  # dB relative to the station's loudness target
    pauses: Pauses = field(default_factory=Pauses)
    highpass_hz: float = HIGHPASS_HZ
    presence_db: float = 0.0
    presence_hz: float = 3000.0

    @property
    def params(self) -> VoiceParams:
        return VoiceParams(self.htsvoice, self.speed, self.half_tone)

    def finish(self, rate: int, loudness: float, peak: float) -> Finish:
        """How this voice's speech is prepared for air at the station's levels."""
        return Finish(rate, loudness + self.volume, peak, highpass_hz=self.highpass_hz,
                      presence_db=self.presence_db, presence_hz=self.presence_hz, trim=True)

    def cache_key(self) -> dict:
        return {"htsvoice": self.htsvoice, "speed": self.speed, "half_tone": self.half_tone,
                "volume": self.volume, "pauses": vars(self.pauses),
                "eq": [self.highpass_hz, self.presence_db, self.presence_hz]}


def _htsvoice(voices_dir: Path, problems: y.Problems):
    def convert(node) -> str | None:
        value = y.text(node)
        if value == BUNDLED:
            return None
        path = Path(value) if Path(value).is_absolute() else voices_dir / value
        if path.suffix != ".htsvoice":
            raise y.Invalid(f".htsvoice ファイルを指定してください: {value}")
        if not path.is_file():
            raise y.Invalid(f"ファイルがありません: {path}")
        return str(path)
    return convert


def _highpass(node) -> float:
    value = y.number(0.0, 120.0)(node)
    if 0 < value < 20:
        raise y.Invalid(f"0（使わない）か 20〜120 で書いてください: {value:g}")
    return value


_KEYS = ("name", "htsvoice", "speed", "half_tone", "volume", "pauses", "highpass_hz",
         "presence_db", "presence_hz")


def load_voice(path: Path) -> Voice:
    problems = y.Problems(str(path))
    root = y.Section(y.read_node(path), "", problems, _KEYS)
    pause = root.section("pauses", ("sentence", "paragraph", "repeat"))
    secs = y.number(0.0, 5.0)
    voice = Voice(
        id=path.stem,
        name=root.get("name", y.text, path.stem),
        htsvoice=root.get("htsvoice", _htsvoice(path.parent, problems), None),
        speed=root.get("speed", y.number(0.5, 2.0), 1.0),
        half_tone=root.get("half_tone", y.number(-12.0, 12.0), 0.0),
        volume=root.get("volume", y.number(-6.0, 0.0), 0.0),
        pauses=Pauses(pause.get("sentence", secs, 0.55), pause.get("paragraph", secs, 1.0),
                      pause.get("repeat", secs, 1.5)),
        highpass_hz=root.get("highpass_hz", _highpass, HIGHPASS_HZ),
        presence_db=root.get("presence_db", y.number(0.0, 15.0), 0.0),
        presence_hz=root.get("presence_hz", y.number(1000.0, 8000.0), 3000.0),
    )
    problems.raise_if_any()
    return voice


def load_voices(voices_dir: Path) -> dict[str, Voice]:
    """Every preset in ``voices_dir``; raises ConfigError listing every broken one."""
    voices, problems = {}, []
    for path in sorted(voices_dir.glob("*.yaml")):
        try:
            voices[path.stem] = load_voice(path)
        except ConfigError as e:
            problems.extend(e.problems)
    if problems:
        raise ConfigError(problems)
    return voices


def voice_label(voice: Voice) -> str:
    """How staff see a voice: its name and id, e.g. ``まこと (makoto)``."""
    return f"{voice.name} ({voice.id})"


def rotation_voice(rotation: tuple[tuple[dt.time, str], ...], at: dt.time) -> str | None:
    """The preset a rotation gives at time of day ``at``: the last entry that began at
    or before it (before the first entry of the day, the day's last one still holds);
    None without a rotation."""
    if not rotation:
        return None
    current = rotation[-1][1]
    for start, voice in rotation:
        if start <= at:
            current = voice
    return current
