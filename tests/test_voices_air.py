"""Both announcers on air (issue 18), recorded from the PulseAudio null sink's monitor:
まこと sounds like a man and あいか like a woman, both at the station's loudness and
without a DC offset, and the as-run log names who read each notice."""

import numpy as np
import pytest

from tests.daemonutil import daemon, jst_in, make_token, write_notice  # noqa: F401 (fixture)
from tests.voiceutil import dc_dbfs, lufs, median_f0

pytestmark = [pytest.mark.audio, pytest.mark.slow]

TEXT = "明日は燃えるごみの収集日です。朝8時までに、決められた場所に出してください。"


def speech_of(samples: np.ndarray, threshold: float = 0.003) -> np.ndarray:
    """The recording from the first to the last sound: silence around an item would
    hide an offset in the mean."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    assert loud.size, "no sound reached the sink"
    return samples[loud[0]:loud[-1] + 1].astype(np.float64)


def air(d, folder, pulse, token, notice_id: str, voice: str | None):
    extra = f"    voice: {voice}\n" if voice else ""
    rec = pulse.record()
    write_notice(folder, notice_id, notice_id, jst_in(2), text=TEXT,
                 extra="    chime: false\n" + extra)
    d.wait_for(lambda: any(r["id"] == notice_id and r["status"] == "aired"
                           for r in d.get("/api/airlog", token=token)), timeout=120, interval=0.3)
    audio = speech_of(rec.stop())
    (row,) = [r for r in d.get("/api/airlog", token=token) if r["id"] == notice_id]
    (folder / "schedules" / f"{notice_id}.yaml").unlink()
    return audio, row


def test_makoto_and_aika_on_air(daemon, station_dir, pulse):
    token = make_token(station_dir)
    daemon.start()
    makoto, makoto_row = air(daemon, station_dir, pulse, token, "otoko", "makoto")
    aika, aika_row = air(daemon, station_dir, pulse, token, "onna", None)
    assert (makoto_row["voice"], aika_row["voice"]) == ("makoto", "aika")
    # The station's fixed openings were made ready in both voices at start.
    assert "Openers prepared: 8 first phrases in 2 voices" in daemon.log_text()
    assert median_f0(makoto) < 160
    assert median_f0(aika) > 180
    for audio in (makoto, aika):
        assert lufs(audio) == pytest.approx(-24.0, abs=1.0)
        assert dc_dbfs(audio) < -60
