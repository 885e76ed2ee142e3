"""The configured audio output: the sound device, or WAV files when there is none."""

import logging

from announcer.audio.device import DeviceOutput, find_device
from announcer.audio.filesink import FileOutput
from announcer.core.config import Config

log = logging.getLogger(__name__)


def make_output(config: Config, fallback_to_file: bool = False):
    """The configured output. With ``fallback_to_file`` a machine without any sound
    device writes WAV files instead (for trying the station out), and says so loudly."""
    use_file = config.audio.device == "file"
    if fallback_to_file and not use_file and not _device_present(config.audio.device):
        log.warning("=" * 70)
        log.warning("NO SOUND DEVICE matches audio.device=%r: NOTHING GOES ON AIR.",
                    config.audio.device)
        log.warning("Falling back to audio.device \"file\" (WAV files under %s).",
                    config.paths.data / "aired")
        log.warning("=" * 70)
        use_file = True
    if use_file:
        log.warning("audio.device is \"file\": nothing goes to a sound card; programs are "
                    "written as WAV files under %s", config.paths.data / "aired")
        return FileOutput(config.paths.data / "aired", config.audio.rate,
                          tz=config.station.timezone)
    return DeviceOutput(config.audio.device, config.audio.rate, config.audio.latency,
                        config.audio.retry_seconds)


def _device_present(name: str) -> bool:
    try:
        return find_device(name) is not None
    except Exception:  # PortAudio itself missing or broken
        return False
