"""A sentence that kills Open JTalk twice (real pyopenjtalk, real workers): a notice's
render fails and nothing is cached; a bulletin airs the rest and names what is missing;
the station logs the notice ``failed`` and the bulletin ``partial``."""

import datetime as dt
import time

import numpy as np
import pytest

from announcer.audio.fake import FakeOutput
from announcer.core.clock import TOKYO, FakeClock
from announcer.studio.render import SentenceFailed
from announcer.station.service import Station
from announcer.record.store import Store
from announcer.text.script import Sentence

KILLER = "ア" * 400  # Open JTalk segfaults on it every time (the text pipeline would
# shorten the run: the tests hand it to the renderer directly, as a bug there would)


@pytest.fixture(scope="module")
def studio(module_studio):
    return module_studio


@pytest.fixture
def killer(studio, monkeypatch):
    real = studio.sentences

    def sentences(text, **kw):
        out = real(text, **kw)
        return out[:1] + [Sentence(KILLER)] + out[1:] if "二文目" in text else out
    monkeypatch.setattr(studio, "sentences", sentences)


def test_a_notice_with_a_killing_sentence_fails_and_caches_nothing(studio, killer):
    text = "一文目です。二文目です。"
    crashes = studio.pool.crashes
    with pytest.raises(SentenceFailed) as info:
        studio.render_notice(text, chime=False)
    assert info.value.sentence == KILLER
    assert studio.pool.crashes == crashes + 2
    assert studio.cache.load(studio.notice_key(text, chime=False)) is None
    assert not list(studio.cache.folder.glob("*.tmp*"))
    # and the next attempt tries again (it is not remembered as a short render)
    with pytest.raises(SentenceFailed):
        studio.render_notice(text, chime=False)


def test_a_bulletin_with_a_killing_sentence_airs_the_rest(studio, killer):
    missing = []
    blocks = list(studio.bulletin_program("一文目です。二文目です。", repeat=1, chime=False,
                                          on_missing=missing.append))
    assert [m.sentence for m in missing] == [KILLER]
    speech = np.concatenate(blocks)
    assert (np.abs(speech) > 0.01).sum() / 48000 > 0.5  # both good sentences are there


def test_the_station_logs_failed_and_partial(studio, killer, tmp_path):
    folder = studio.config.paths.schedules
    (folder / "k.yaml").write_text(
        'notices:\n  - id: k\n    text: 一文目です。二文目です。\n    times: ["09:00"]\n',
        encoding="utf-8")
    clock = FakeClock(dt.datetime(2026, 12, 3, 8, 59, 58, tzinfo=TOKYO))
    store = Store(tmp_path / "a.db", TOKYO)
    out = FakeOutput(48000, clock=clock)
    station = Station(studio.config, clock, studio, store, out)
    try:
        station.start(started_at=clock.now())
        clock.advance(1)
        station.plan()
        station.wait_cues(60)
        bid, _ = station.submit_bulletin("一文目です。二文目です。", repeat=1, chime=False)
        for _ in range(400):  # up to 20 s of audio, pulled as fast as it is produced
            out.run(0.05)
            if store.bulletin(bid)["state"] not in ("queued", "on_air"):
                break
            time.sleep(0.01)
        station.engine.drain_events()
        rows = {r["kind"]: r for r in store.airlog(dt.date(2026, 12, 3))}
        assert rows["notice"]["status"] == "failed"
        assert KILLER[:40] in rows["notice"]["detail"]
        assert rows["bulletin"]["status"] == "partial"
        assert rows["bulletin"]["detail"] == f"missing: 「{KILLER[:40]}」"
    finally:
        station.stop()
        store.close()
        (folder / "k.yaml").unlink()
