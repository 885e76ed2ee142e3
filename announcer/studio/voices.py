"""Voice presets: ``voices/<id>.yaml`` name an htsvoice and how to speak with it."""

from dataclasses import dataclass, field
from pathlib import Path

from announcer.core import yamlfile as y
from announcer.core.errors import ConfigError
from announcer.speech.pool import VoiceParams

BUNDLED = "mei_normal"  # the voice pyopenjtalk ships


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

    @property
    def params(self) -> VoiceParams:
        return VoiceParams(self.htsvoice, self.speed, self.half_tone)

    def cache_key(self) -> dict:
        return {"htsvoice": self.htsvoice, "speed": self.speed, "half_tone": self.half_tone,
                "volume": self.volume, "pauses": vars(self.pauses)}


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


def load_voice(path: Path) -> Voice:
    problems = y.Problems(str(path))
    root = y.Section(y.read_node(path), "", problems,
                     ("name", "htsvoice", "speed", "half_tone", "volume", "pauses"))
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
