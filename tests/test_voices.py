"""Two announcers (issue 18): まこと is the nitech m001 male voice, shipped in the repo
with its licence; every bulletin, notice and preview can choose who reads it; unknown
voices are refused with a clear 422; what staff hear in a preview is the chosen voice."""

import hashlib
import io
import shutil
import subprocess
import uuid
import wave

import numpy as np
import pytest

from announcer.core.config import load_config
from announcer.core.errors import ConfigError
from announcer.studio.service import Studio
from announcer.studio.voices import load_voices
from tests.conftest import REPO, write_config
from tests.voiceutil import median_f0
from tests.webutil import (KNOWN_LEAKS, app, cancel_open_bulletins, client, csrf,  # noqa: F401
                           services, staff)

pytestmark = KNOWN_LEAKS

M001 = "nitech_jp_atr503_m001.htsvoice"
# Debian's hts-voice-nitech-jp-atr503-m001 1.05 ships the same bytes.
M001_SHA256 = "1329c5e4c0176dc037eef50a73712c60bede2b26ff4a1cba5008223608ca942f"
KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def output():
    from announcer.audio.fake import FakeOutput

    return FakeOutput()


@pytest.fixture(autouse=True)
def empty_queue(request):
    yield
    if "services" in request.fixturenames:
        cancel_open_bulletins(request.getfixturevalue("services"))


def wav_samples(body: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(body)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32767


# -- the voice file, on a fresh clone ----------------------------------------------------------
def test_a_fresh_clone_finds_makoto_without_any_download(tmp_path):
    """What the README's set-up starts from is a clone: the voice is in it, with its
    licence, byte-identical to Debian's package, and the preset loads it."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)],
                   check=True, capture_output=True)
    voice = clone / "voices" / M001
    assert hashlib.sha256(voice.read_bytes()).hexdigest() == M001_SHA256
    licence = (clone / "voices" / "nitech_jp_atr503_m001.COPYING.txt").read_text()
    assert "Creative Commons Attribution 3.0" in licence
    assert "Nagoya Institute of Technology" in licence and "Tokyo Institute of Technology" in licence
    voices = load_voices(clone / "voices")
    assert voices["makoto"].htsvoice == str(voice)
    assert voices["aika"].htsvoice is None  # pyopenjtalk's own mei_normal
    readme = (clone / "README.md").read_text(encoding="utf-8")
    assert "nitech_jp_atr503_m001" in readme and "CC BY 3.0" in readme


def test_presets_declare_their_dsp():
    voices = load_voices(REPO / "voices")
    assert (voices["makoto"].highpass_hz, voices["makoto"].presence_db) == (50.0, 12.0)
    assert (voices["aika"].highpass_hz, voices["aika"].presence_db) == (50.0, 0.0)
    assert voices["makoto"].half_tone == 0.0  # m001 at its own pitch


def test_a_bad_dsp_key_is_reported_with_its_line(tmp_path):
    shutil.copy(REPO / "voices" / M001, tmp_path / M001)
    (tmp_path / "x.yaml").write_text(f"htsvoice: {M001}\nhighpass_hz: 10\npresence_db: 40\n",
                                     encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_voices(tmp_path)
    text = str(e.value)
    assert "x.yaml:2: highpass_hz: 0（使わない）か 20〜120 で書いてください: 10" in text
    assert "x.yaml:3: presence_db:" in text


@pytest.mark.parametrize(("rotation", "message"), [
    ('{"25:00": aika}', '時刻は "HH:MM" で書いてください: "25:00"'),
    ("[aika]", "時刻と声の組で書いてください"),
])
def test_a_bad_rotation_is_reported(station_dir, rotation, message):
    write_config(station_dir, extra=f"speech: {{rotation: {rotation}}}\n")
    with pytest.raises(ConfigError) as e:
        load_config(station_dir / "station.yaml")
    assert f"station.yaml:5: speech.rotation: {message}" in str(e.value)


def test_a_rotation_to_an_unknown_voice_stops_the_start(station_dir):
    write_config(station_dir, extra='speech: {rotation: {"17:00": hanako}}\n')
    with pytest.raises(ConfigError) as e:
        Studio(load_config(station_dir / "station.yaml"))
    assert 'speech.rotation: 声のプリセット "hanako" が' in str(e.value)


def test_an_unknown_jma_voice_stops_the_start(station_dir):
    write_config(station_dir, extra="jma: {voice: hanako}\n")
    with pytest.raises(ConfigError) as e:
        Studio(load_config(station_dir / "station.yaml"))
    assert 'jma.voice: 声のプリセット "hanako" が' in str(e.value)


# -- the bulletin API and the emergency form ---------------------------------------------------
def api(client, services, body):
    token = services.accounts.create_token(f"t{uuid.uuid4().hex[:8]}", scope="bulletins")
    return client.post("/api/bulletins", json=body,
                       headers={"Authorization": f"Bearer {token}"})


def test_the_api_takes_a_voice_and_refuses_an_unknown_one(client, services):
    resp = api(client, services, {"text": "避難してください。", "voice": "makoto"})
    assert resp.status_code == 202
    bid = resp.get_json()["id"]
    assert services.station.bulletin(bid)["voice"] == "makoto"
    assert services.station.engine.queued()[0].voice == "makoto"
    default = api(client, services, {"text": "落ち着いてください。"}).get_json()["id"]
    assert services.station.bulletin(default)["voice"] == "aika"
    bad = api(client, services, {"text": "避難してください。", "voice": "hanako"})
    assert bad.status_code == 422
    assert bad.get_json() == {"error": "声「hanako」はありません。使える声: あいか（aika）、まこと（makoto）"}
    assert api(client, services, {"text": "避難", "voice": 3}).status_code == 400


def form(staff, step, text, **extra):
    return staff.post("/emergency", data={"csrf_token": csrf(staff), "request_key": KEY,
                                          "text": text, "repeat": "1", "timing": "after",
                                          "step": step, **extra})


def test_the_form_offers_the_voices_and_airs_the_chosen_one(staff, services):
    html = staff.get("/emergency").get_data(as_text=True)
    assert ('<label><input type="radio" name="voice" value="aika" checked><span>あいか（標準）'
            '</span></label>') in html
    assert '<input type="radio" name="voice" value="makoto"><span>まこと</span>' in html
    confirm = form(staff, "confirm", "中央地区に避難指示。", voice="makoto").get_data(as_text=True)
    assert '<dd id="sum-voice">まこと</dd>' in confirm
    assert '<input type="hidden" name="voice" value="makoto">' in confirm
    resp = form(staff, "air", "中央地区に避難指示。", voice="makoto")
    assert resp.status_code == 303
    bid = resp.headers["Location"].split("=")[1]
    assert services.station.bulletin(bid)["voice"] == "makoto"
    bad = form(staff, "confirm", "中央地区に避難指示。", voice="hanako")
    assert bad.status_code == 422
    assert "声「hanako」はありません" in bad.get_data(as_text=True)


# -- previews play the chosen voice ------------------------------------------------------------
def test_the_emergency_preview_is_read_in_the_chosen_voice(staff):
    def preview(voice):
        resp = staff.post("/staff/preview", json={"text": "避難所は中学校の体育館です。", "chime": False,
                                                  "voice": voice},
                          headers={"X-CSRF-Token": csrf(staff)})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return median_f0(wav_samples(resp.get_data()))
    assert preview("makoto") < 160 < 180 < preview(None)
    bad = staff.post("/staff/preview", json={"text": "避難", "voice": "hanako"},
                     headers={"X-CSRF-Token": csrf(staff)})
    assert bad.status_code == 422


def test_the_readings_preview_is_read_in_the_chosen_voice(staff):
    assert 'id="sample-voice"' in staff.get("/readings").get_data(as_text=True)
    resp = staff.post("/staff/readings/preview",
                      json={"text": "大前神社のお祭りは、あしたです。", "voice": "makoto"},
                      headers={"X-CSRF-Token": csrf(staff)})
    assert resp.status_code == 200
    assert median_f0(wav_samples(resp.get_data())) < 160


def test_the_staff_pages_credit_the_voices(staff):
    html = staff.get("/").get_data(as_text=True)
    assert 'href="/about">このシステムについて・声のクレジット</a>' in html
    about = staff.get("/about").get_data(as_text=True)
    assert "まこと（makoto）" in about and "あいか（aika） … 局の標準の声" in about
    assert "NIT ATR503 M001" in about and "Tokyo Institute of Technology" in about
    assert "CC BY 3.0" in about


def test_the_confirmation_prepares_the_first_phrase_in_the_chosen_voice(staff, services):
    studio, text = services.studio, "北真岡駅前の皆さんへ、給水車が来ました。"
    assert form(staff, "confirm", text, voice="makoto").status_code == 200
    phrases, hits = studio.renderer.phrases, studio.renderer.phrases.hits
    studio.preparing.join(timeout=60)
    program = studio.bulletin_program(text, repeat=1, chime=False, voice="makoto", urgent=False)
    next(program)
    program.close()
    assert phrases.hits == hits + 1  # 放送する would start from the prepared phrase
