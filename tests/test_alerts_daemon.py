"""The real daemon on the PulseAudio null sink, its silence monitor on the sink's monitor
source, alerts to a real SMTP server and a local webhook receiver: one alarm per episode
on both channels, a recovery when sound returns, and a dead mail server that changes
nothing on air."""

import subprocess
import time

import pytest

from tests.conftest import write_config
from tests.daemonutil import Daemon, free_port, jst_in, make_token, write_notice
from tests.notifyutil import DeadServer, hooks, mailbox  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.audio, pytest.mark.slow]
LONG = "本日は晴天なり。" * 20


def configure(folder, smtp_port, hook_url, on_air_seconds=30, timeout=5):
    port = free_port()
    write_config(folder, device="default", port=port, extra=f"""\
monitor: {{device: pulse, pulse_source: onair.monitor, silence_seconds: 2, silence_dbfs: -50,
           on_air_seconds: {on_air_seconds}, retry_seconds: 1}}
notify:
  email: {{smtp_host: 127.0.0.1, smtp_port: {smtp_port}, from: announcer@fm-moka.jp,
          to: [engineer@fm-moka.jp], timeout: {timeout}}}
  webhooks: ["{hook_url}"]
  repeat_minutes: 60
  recovery_seconds: 1
""")
    return port


@pytest.fixture
def daemon(station_dir, pulse, mailbox, hooks):
    port = configure(station_dir, mailbox.port, hooks.url)
    d = Daemon(station_dir, pulse.env, port)
    yield d
    d.terminate()


def mail_states(mailbox, title):
    """The mark (警報/回復/…) of every mail whose subject mentions ``title``."""
    return [s.split("】")[0].split("【")[1] for s in mailbox.subjects() if title in s]


def hook_states(hooks, event):
    return [b["state"] for b in hooks.bodies(event=event)]


def test_playing_nothing_raises_one_alarm_and_sound_clears_it(daemon, station_dir, mailbox,
                                                              hooks):
    token = make_token(station_dir)
    daemon.start()
    daemon.wait_for(lambda: hook_states(hooks, "silence") and mail_states(mailbox, "無音"),
                    timeout=20)
    [body] = hooks.bodies(event="silence")
    assert body["station"] == "FMもおか" and "2 秒以上" in body["detail"]
    assert "いつから:" in body["text"] and "確認すること:" in body["text"]
    write_notice(station_dir, "gomi", "gomi", jst_in(4))
    # The notice clears the silence; when it ends, silence again is a new episode.
    daemon.wait_for(lambda: len(hook_states(hooks, "silence")) >= 3
                    and len(mail_states(mailbox, "放送の音")) >= 3, timeout=40)
    time.sleep(2)  # nothing more may follow
    assert hook_states(hooks, "silence") == ["alarm", "recovered", "alarm"]
    assert mail_states(mailbox, "放送の音") == ["警報", "回復", "警報"]
    assert hook_states(hooks, "audio") == []
    assert [r["status"] for r in daemon.get("/api/airlog", token=token)] == ["aired"]
    status = daemon.get("/healthz")
    assert status["status"] == "ok"


def test_pulling_the_sound_server_one_alarm_each_and_recovery(daemon, station_dir, pulse,
                                                               mailbox, hooks):
    daemon.start()
    write_notice(station_dir, "long", "long", jst_in(3), text=LONG)
    # Silence until the notice starts, then its sound: that first episode is over.
    daemon.wait_for(lambda: hook_states(hooks, "silence") == ["alarm", "recovered"], timeout=30)
    assert daemon.get("/healthz")["on_air"]
    hooks_before, mails_before = len(hooks.received), len(mailbox.messages)
    pulse.stop()
    daemon.wait_for(lambda: hook_states(hooks, "audio") and
                    hook_states(hooks, "silence")[2:], timeout=20)
    pulse.start()
    daemon.wait_for(lambda: daemon.get("/healthz")["status"] == "ok", timeout=30)
    write_notice(station_dir, "after", "after", jst_in(4))
    # "after" clears the silence; when it ends, silence again is a new episode.
    daemon.wait_for(lambda: len(hook_states(hooks, "silence")) >= 5
                    and len(mailbox.messages) >= len(hooks.received), timeout=45)
    time.sleep(2)
    new = [(b["event"], b["state"]) for _, b in hooks.received[hooks_before:]]
    assert sorted(new) == sorted([("audio", "alarm"), ("airing", "alarm"), ("silence", "alarm"),
                                  ("audio", "recovered"), ("silence", "recovered"),
                                  ("silence", "alarm")]), new
    assert hook_states(hooks, "silence")[2:] == ["alarm", "recovered", "alarm"]
    assert hook_states(hooks, "audio") == ["alarm", "recovered"]
    mails = [m["Subject"] for _, m in mailbox.messages[mails_before:]]
    assert sorted(mails) == sorted(b["text"].split("\n")[0] for _, b in hooks.received[hooks_before:])
    # The notice on air when the server went away is one failed airing, sent once.
    assert "お知らせ「long」を放送できませんでした" in hooks.bodies(event="airing")[0]["detail"]


def test_silence_while_our_item_airs_is_the_gravest(station_dir, pulse, mailbox, hooks):
    # Our output goes to another sink: we air, the monitor (onair.monitor) hears nothing.
    subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=elsewhere"],
                   env=pulse.env, check=True, capture_output=True)
    port = configure(station_dir, mailbox.port, hooks.url, on_air_seconds=2)
    d = Daemon(station_dir, dict(pulse.env, PULSE_SINK="elsewhere"), port)
    try:
        d.start()
        write_notice(station_dir, "long", "long", jst_in(3), text=LONG)
        d.wait_for(lambda: hook_states(hooks, "on_air_silence"), timeout=40)
        [body] = hooks.bodies(event="on_air_silence")
        assert body["severity"] == "critical" and "を送出中ですが" in body["detail"]
        d.wait_for(lambda: any("【重大】" in s for s in mailbox.subjects()), timeout=10)
        assert hook_states(hooks, "silence") == ["alarm"]  # and the plain silence, once
    finally:
        d.terminate()


def test_a_dead_mail_server_does_not_delay_a_notice(station_dir, pulse, hooks):
    dead = DeadServer()
    port = configure(station_dir, dead.port, hooks.url, timeout=30)
    d = Daemon(station_dir, pulse.env, port)
    token = make_token(station_dir)
    try:
        d.start()
        d.wait_for(lambda: hook_states(hooks, "silence"), timeout=20)  # the mail hangs
        when = jst_in(5)
        write_notice(station_dir, "gomi", "gomi", when)
        rec = pulse.record()
        d.wait_for(lambda: [r for r in d.get("/api/airlog", token=token)
                            if r["status"] == "aired"], timeout=40)
        rec.stop()
        onsets = rec.onsets()
        assert onsets, "no sound reached the sink"
        late = onsets[0] - when.timestamp()
        print(f"onset error with a dead SMTP server: {late * 1000:+.0f} ms")
        assert abs(late) < 0.25
    finally:
        d.terminate()
        dead.stop()


SPEECH = "訓練です。訓練です。訓練です。"  # three short sentences: no second of unbroken sound


def longest_loud_run(samples, threshold_dbfs=-50.0, block=4800) -> float:
    """Seconds of the longest run of 100 ms blocks at or above the threshold."""
    import numpy as np

    n = len(samples) // block
    power = (samples[: n * block].reshape(n, block).astype("float64") ** 2).mean(axis=1)
    loud = 10 * np.log10(power + 1e-30) >= threshold_dbfs
    best = run = 0
    for flag in loud:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best * block / 48000


def air_speech_only(daemon, token):
    status, body = daemon.request("POST", "/api/bulletins", {
        "text": SPEECH, "repeat": 1, "chime": False, "interrupt": False}, token=token)
    assert status == 202, body
    daemon.wait_for(lambda: [r for r in daemon.get("/api/airlog", token=token)
                             if r["status"] == "aired"], timeout=60)


def test_speech_alone_after_a_silence_alarm_sends_one_recovery_on_each_channel(
        daemon, station_dir, pulse, mailbox, hooks):
    token = make_token(station_dir)
    daemon.start()
    daemon.wait_for(lambda: hook_states(hooks, "silence") and mail_states(mailbox, "無音"),
                    timeout=30)
    rec = pulse.record()
    air_speech_only(daemon, token)
    samples = rec.stop()
    assert 0 < longest_loud_run(samples) < 1.0  # the old rule (1 s unbroken) never cleared
    daemon.wait_for(lambda: len(hook_states(hooks, "silence")) >= 3
                    and len(mail_states(mailbox, "放送の音")) >= 3, timeout=40)
    time.sleep(2)  # nothing more may follow
    assert hook_states(hooks, "silence") == ["alarm", "recovered", "alarm"]
    assert mail_states(mailbox, "放送の音") == ["警報", "回復", "警報"]


def test_a_restart_during_an_open_episode_neither_alarms_again_nor_loses_the_recovery(
        daemon, station_dir, mailbox, hooks):
    token = make_token(station_dir)
    daemon.start()
    daemon.wait_for(lambda: hook_states(hooks, "silence") and mail_states(mailbox, "無音"),
                    timeout=30)
    assert daemon.terminate() == 0
    daemon.start()
    daemon.wait_for(lambda: "silence/monitor still holds after the restart" in daemon.log_text(),
                    timeout=30)
    assert hook_states(hooks, "silence") == ["alarm"] and mail_states(mailbox, "無音") == ["警報"]
    air_speech_only(daemon, token)
    daemon.wait_for(lambda: len(hook_states(hooks, "silence")) >= 2
                    and len(mail_states(mailbox, "放送の音")) >= 2, timeout=40)
    assert hook_states(hooks, "silence")[:2] == ["alarm", "recovered"]
    assert mail_states(mailbox, "放送の音")[:2] == ["警報", "回復"]
    [recovered] = hooks.bodies(state="recovered", event="silence")
    first = hooks.bodies(event="silence")[0]
    assert recovered["since"] == first["since"]  # the same episode, from before the restart
