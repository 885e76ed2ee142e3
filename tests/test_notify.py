"""Alerts: grouping into episodes (pure, explicit times), wording, the couriers, and the
real channels against a real SMTP server and a local webhook receiver."""

import datetime as dt
import json
import subprocess
import time

import pytest

from announcer.core import events
from announcer.core.clock import TOKYO
from announcer.core.config import load_config
from announcer.core.config_sections import EmailConfig, NotifyConfig
from announcer.core.events import Bus, Event
from announcer.watch.notify.channels import EmailChannel, WebhookChannel, build_channels, mask
from announcer.watch.notify.courier import Courier
from announcer.watch.notify.episodes import Episodes
from announcer.watch.notify.service import Alerts, send_test
from announcer.watch.notify.wording import message
from tests.conftest import write_config
from tests.daemonutil import cli
from tests.notifyutil import DeadServer, Hooks, Mailbox, hooks, mailbox, wait_until  # noqa: F401

T0 = dt.datetime(2026, 12, 3, 3, 12, 5, tzinfo=TOKYO).timestamp()


def ev(kind, ok, at, key="k", detail="d"):
    return Event(kind, key, ok, detail, at)


def states(alerts):
    return [(a.state, a.kind, a.key) for a in alerts]


# -- episodes ---------------------------------------------------------------------------
def test_one_alarm_per_episode_then_one_recovery_after_it_settles():
    e = Episodes(repeat=3600, settle=10)
    assert states(e.feed(ev("silence", False, T0), T0)) == [("alarm", "silence", "k")]
    assert e.feed(ev("silence", False, T0 + 1), T0 + 1) == []
    assert e.due(T0 + 5) == []
    assert e.feed(ev("silence", True, T0 + 20), T0 + 20) == []
    assert e.due(T0 + 29) == []
    [rec] = e.due(T0 + 30)
    assert (rec.state, rec.since, rec.until) == ("recovered", T0, T0 + 20)
    assert e.open() == [] and e.due(T0 + 5000) == []


def test_flapping_stays_one_episode():
    e = Episodes(repeat=3600, settle=10)
    e.feed(ev("audio", False, T0), T0)
    for i in range(1, 6):
        assert e.feed(ev("audio", True, T0 + 2 * i), T0 + 2 * i) == []
        assert e.feed(ev("audio", False, T0 + 2 * i + 1), T0 + 2 * i + 1) == []
        assert e.due(T0 + 2 * i + 1) == []
    assert e.open() == [("audio", "k")]


def test_reminders_every_repeat_while_it_lasts():
    e = Episodes(repeat=60 * 60, settle=10)
    e.feed(ev("disk", False, T0), T0)
    assert e.due(T0 + 3599) == []
    assert states(e.due(T0 + 3600)) == [("reminder", "disk", "k")]
    assert e.due(T0 + 3700) == []
    assert states(e.due(T0 + 7200)) == [("reminder", "disk", "k")]
    assert e.next_due(T0 + 7200) == 3600


def test_no_reminders_when_repeat_is_zero():
    e = Episodes(repeat=0, settle=10)
    e.feed(ev("disk", False, T0), T0)
    assert e.due(T0 + 10 ** 6) == []
    assert e.next_due(T0) is None


def test_keys_are_separate_episodes():
    e = Episodes(repeat=3600)
    assert len(e.feed(ev("notice_file", False, T0, key="a.yaml"), T0)) == 1
    assert len(e.feed(ev("notice_file", False, T0, key="b.yaml"), T0)) == 1
    assert len(e.feed(ev("audio", False, T0, key="a.yaml"), T0)) == 1


def test_recovery_without_an_episode_says_nothing():
    e = Episodes(repeat=3600, settle=0)
    assert e.feed(ev("audio", True, T0), T0) == [] and e.due(T0 + 1) == []


def test_one_shot_first_at_once_then_one_summary_per_window():
    e = Episodes(repeat=600)
    assert states(e.feed(ev("airing", False, T0, key="notice:gomi"), T0)) == [
        ("alarm", "airing", "notice:gomi")]
    assert e.feed(ev("airing", False, T0 + 100, key="notice:gomi"), T0 + 100) == []
    assert e.feed(ev("airing", False, T0 + 200, key="notice:gomi"), T0 + 200) == []
    [summary] = e.due(T0 + 600)
    assert (summary.state, summary.count, summary.until) == ("repeat", 2, T0 + 200)
    assert states(e.feed(ev("airing", False, T0 + 700, key="notice:gomi"), T0 + 700)) == [
        ("alarm", "airing", "notice:gomi")]
    assert e.due(T0 + 1300) == []  # nothing came after the first: no summary


# -- bus ----------------------------------------------------------------------------------
def test_publish_state_publishes_only_changes():
    bus, seen = Bus(), []
    bus.subscribe(lambda e: seen.append((e.kind, e.key, e.ok)))
    bus.publish_state("notice_file", {"a.yaml": "a:1: bad"})
    bus.publish_state("notice_file", {"a.yaml": "a:1: bad", "b.yaml": "b:2: bad"})
    bus.publish_state("notice_file", {"b.yaml": "b:2: bad"})
    assert seen == [("notice_file", "a.yaml", False), ("notice_file", "b.yaml", False),
                    ("notice_file", "a.yaml", True)]


def test_a_failing_listener_does_not_reach_the_publisher():
    bus, seen = Bus(), []
    bus.subscribe(lambda e: 1 / 0)
    bus.subscribe(seen.append)
    bus.publish("audio", "output", False, "x")
    assert len(seen) == 1


def test_airing_ended_publishes_failed_and_partial_only():
    seen = []
    off = events.BUS.subscribe(seen.append)
    try:
        for status in ("aired", "cancelled", "failed", "partial", "interrupted"):
            events.airing_ended("notice", "gomi", "ごみ", status, "why")
    finally:
        off()
    seen = [e for e in seen if e.kind == "airing"]  # the shared bus may replay others
    assert [(e.kind, e.key, e.ok) for e in seen] == [("airing", "notice:gomi", False)] * 2
    assert "途中まで" in seen[1].detail and "ごみ" in seen[1].detail


# -- wording ------------------------------------------------------------------------------
def test_alarm_says_station_what_since_and_what_to_check():
    [alert] = Episodes(3600).feed(ev("silence", False, T0, key="monitor",
                                     detail="30 秒以上、-50 dBFS 未満"), T0 + 30)
    m = message(alert, "FMもおか", TOKYO, host="audio-pc")
    assert m.subject == "[FMもおか] 【警報】放送の音が止まっています（無音を検知しました）"
    assert "内容: 30 秒以上、-50 dBFS 未満" in m.text
    assert "いつから: 12月3日(木) 03:12:05 から（30 秒 続いています）" in m.text
    assert "確認すること: ミキサーのフェーダー" in m.text
    assert m.payload["text"].startswith(m.subject + "\nFMもおか 放送システムからの通知です。")
    assert (m.payload["event"], m.payload["state"], m.payload["severity"]) == (
        "silence", "alarm", "warning")
    assert m.payload["since"] == "2026-12-03T03:12:05+09:00"


def test_on_air_silence_is_the_gravest():
    [alert] = Episodes(3600).feed(ev("on_air_silence", False, T0), T0)
    m = message(alert, "FMもおか", TOKYO)
    assert "【重大】" in m.subject and m.payload["severity"] == "critical"


def test_recovery_says_from_when_to_when():
    e = Episodes(3600, settle=10)
    e.feed(ev("audio", False, T0), T0)
    e.feed(ev("audio", True, T0 + 125), T0 + 125)
    [rec] = e.due(T0 + 135)
    m = message(rec, "FMもおか", TOKYO)
    assert m.subject == "[FMもおか] 【回復】音声出力装置が回復しました"
    assert "12月3日(木) 03:12:05 から 12月3日(木) 03:14:10 まで（2 分）" in m.text
    assert "確認すること" not in m.text


def test_webhook_text_is_escaped_for_chat_and_detail_kept_raw():
    [alert] = Episodes(3600).feed(ev("notice_file", False, T0, detail="a.yaml:1: <!channel> & co"),
                                  T0)
    m = message(alert, "FMもおか", TOKYO)
    assert "&lt;!channel&gt; &amp; co" in m.payload["text"] and "<!channel>" not in m.payload["text"]
    assert m.payload["detail"] == "a.yaml:1: <!channel> & co"
    assert "<!channel> & co" in m.text  # the mail is plain text


def test_webhook_urls_are_masked():
    assert mask("https://hooks.slack.com/services/T00/B00/XXXXSECRET") == \
        "https://hooks.slack.com/service…"


# -- couriers -----------------------------------------------------------------------------
class FlakyChannel:
    name = "flaky"

    def __init__(self, failures):
        self.failures, self.got = failures, []

    def send(self, message):
        if self.failures:
            self.failures -= 1
            raise OSError("down")
        self.got.append(message)


def test_courier_retries_in_order_until_delivered():
    channel = FlakyChannel(2)
    courier = Courier(channel, retry=(0.01,))
    courier.start("t")
    for m in ("alarm", "recovered"):
        courier.post(m_(m))
    deadline = time.monotonic() + 5
    while len(channel.got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    courier.stop()
    assert [m.subject for m in channel.got] == ["alarm", "recovered"]
    assert courier.failures == 2


def test_courier_outbox_is_bounded():
    channel = FlakyChannel(10 ** 6)
    courier = Courier(channel, retry=(60,), limit=3)
    courier.start("t")
    for i in range(10):
        courier.post(m_(str(i)))
    assert courier.pending() == 3 and courier.dropped == 7
    courier.stop(timeout=0.5)


def m_(subject):
    from announcer.watch.notify.wording import Message

    return Message(subject, subject, {"text": subject})


# -- real channels ------------------------------------------------------------------------
def email_cfg(port, **kw):
    return EmailConfig(smtp_host="127.0.0.1", smtp_port=port, sender="announcer@fm-moka.jp",
                       to=("engineer@fm-moka.jp", "duty@fm-moka.jp"), timeout=5, **kw)


def test_email_and_webhook_deliver_japanese(mailbox, hooks):
    [alert] = Episodes(3600).feed(ev("audio", False, T0, detail="default: 出力が止まりました"), T0)
    msg = message(alert, "FMもおか", TOKYO)
    EmailChannel(email_cfg(mailbox.port)).send(msg)
    WebhookChannel(hooks.url).send(msg)
    [(_, mail)] = mailbox.messages
    assert mail["Subject"] == msg.subject
    assert mail["To"] == "engineer@fm-moka.jp, duty@fm-moka.jp"
    assert "default: 出力が止まりました" in mail.get_content()
    assert mailbox.envelopes[0].rcpt_tos == ["engineer@fm-moka.jp", "duty@fm-moka.jp"]
    [body] = hooks.bodies()
    assert body["text"] == msg.payload["text"] and body["station"] == "FMもおか"


def test_webhook_error_status_is_a_failure():
    h = Hooks(status=500).start()
    try:
        with pytest.raises(OSError, match="HTTP 500"):
            WebhookChannel(h.url).send(m_("x"))
    finally:
        h.stop()


def test_starttls_and_login(tmp_path, monkeypatch):
    import ssl

    from aiosmtpd.smtp import AuthResult

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"announcer" and auth_data.password == b"s3cret"
        return AuthResult(success=ok)

    box = Mailbox(tls_context=context, require_starttls=True, authenticator=authenticator,
                  auth_require_tls=True).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test's own certificate
    try:
        cfg = email_cfg(box.port, starttls=True, username="announcer")
        EmailChannel(cfg, password="s3cret").send(m_("tls"))
        assert box.subjects() == ["tls"]
        assert box.envelopes[0].mail_from == "announcer@fm-moka.jp"
    finally:
        box.stop()


def test_alerts_service_groups_and_delivers_to_both(mailbox, hooks, tmp_path):
    config = load_config(write_config(tmp_path))
    config = _with_notify(config, NotifyConfig(email=email_cfg(mailbox.port),
                                               webhooks=(hooks.url,), repeat_minutes=60,
                                               recovery_seconds=0.2))
    bus = Bus()
    alerts = Alerts(config, build_channels(config.notify), bus=bus)
    alerts.start()
    try:
        for _ in range(5):
            bus.publish("silence", "monitor", False, "無音")
        bus.publish("silence", "monitor", True)
        wait_until(lambda: len(hooks.received) >= 2 and len(mailbox.messages) >= 2)
        time.sleep(0.3)
    finally:
        alerts.stop()
    assert [b["state"] for b in hooks.bodies(event="silence")] == ["alarm", "recovered"]
    assert [s.split("】")[0] for s in mailbox.subjects()] == ["[FMもおか] 【警報", "[FMもおか] 【回復"]


def test_dead_smtp_does_not_hold_back_the_webhook(hooks, tmp_path):
    dead = DeadServer()
    config = load_config(write_config(tmp_path))
    config = _with_notify(config, NotifyConfig(email=email_cfg(dead.port),
                                               webhooks=(hooks.url,)))
    bus = Bus()
    alerts = Alerts(config, build_channels(config.notify), bus=bus)
    alerts.start()
    try:
        started = time.monotonic()
        bus.publish("audio", "output", False, "x")
        publish_took = time.monotonic() - started
        wait_until(lambda: hooks.received)
        assert time.monotonic() - started < 3  # the mail is still hanging (5 s timeout)
        assert publish_took < 0.05
    finally:
        stopping = time.monotonic()
        alerts.stop()
        assert time.monotonic() - stopping < 3
        dead.stop()


def test_send_test_reports_each_channel(mailbox, hooks, tmp_path):
    dead = DeadServer()
    config = load_config(write_config(tmp_path))
    config = _with_notify(config, NotifyConfig(email=email_cfg(mailbox.port),
                                               webhooks=(hooks.url, f"http://127.0.0.1:{dead.port}/x")))
    try:
        channels = build_channels(config.notify)
        channels[2].timeout = 0.5
        results = send_test(config, channels)
    finally:
        dead.stop()
    assert [r[1] is None for r in results] == [True, True, False]
    assert "【テスト】" in mailbox.subjects()[0]
    assert hooks.bodies()[0]["event"] == "test"


def test_notify_test_command(mailbox, hooks, tmp_path):
    write_config(tmp_path, extra=f"""\
notify:
  email: {{smtp_host: 127.0.0.1, smtp_port: {mailbox.port}, from: a@fm-moka.jp, to: [b@fm-moka.jp]}}
  webhooks: ["{hooks.url}"]
""")
    result = cli(tmp_path, "notify-test")
    assert result.returncode == 0, result.stderr
    assert "送信しました" in result.stdout and result.stdout.count("送信しました") == 2
    assert len(mailbox.messages) == 1 and len(hooks.received) == 1


def test_notify_test_without_channels_says_so(tmp_path):
    write_config(tmp_path)
    result = cli(tmp_path, "notify-test")
    assert result.returncode == 1
    assert "通知先が設定されていません" in result.stderr


def _with_notify(config, notify):
    import dataclasses

    return dataclasses.replace(config, notify=notify)


def test_disk_under_the_limit_is_an_alarm(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    config = load_config(write_config(tmp_path))
    usage = namedtuple("usage", "total used free")
    bus, seen = Bus(), []
    bus.subscribe(seen.append)
    alerts = Alerts(config, [], bus=bus, disk_path=tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(100e9, 95e9, 5e9))
    alerts.check_disk()
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(100e9, 50e9, 50e9))
    alerts.check_disk()
    assert [(e.kind, e.ok) for e in seen] == [("disk", False), ("disk", True)]
    assert seen[0].detail == f"{tmp_path} の空きが 5.0 GB（5 %、下限 10 %）です"


# -- open episodes survive a restart -------------------------------------------------------
def test_restored_episodes_are_confirmed_without_a_second_alarm_or_recovered():
    before = Episodes(repeat=3600, settle=10)
    before.feed(ev("silence", False, T0, key="monitor"), T0)
    before.feed(ev("audio", False, T0, key="output"), T0)
    before.feed(ev("airing", False, T0, key="notice:gomi"), T0)
    saved = json.loads(json.dumps(before.snapshot()))
    after = Episodes(repeat=3600, settle=10)
    restart = T0 + 100
    assert after.restore(saved + [{"kind": 1}, "junk"], restart, lambda kind: 60) == 3
    assert sorted(after.open()) == [("airing", "notice:gomi"), ("audio", "output"),
                                    ("silence", "monitor")]
    # The silence is still there: confirmed, no second alarm; the audio is not reported.
    assert after.feed(ev("silence", False, restart + 30, key="monitor"), restart + 30) == []
    assert after.feed(ev("airing", False, restart + 31, key="notice:gomi"), restart + 31) == []
    assert after.due(restart + 59) == []
    [recovered] = after.due(restart + 60)
    assert (recovered.state, recovered.kind, recovered.since, recovered.until) == (
        "recovered", "audio", T0, restart)
    assert after.due(restart + 600) == []
    assert ("silence", "monitor") in after.open()
    after.feed(ev("silence", True, restart + 700, key="monitor"), restart + 700)
    [back] = after.due(restart + 710)
    assert (back.state, back.since, back.until) == ("recovered", T0, restart + 700)


def test_alerts_keep_open_episodes_in_the_database(hooks, tmp_path):
    from announcer.record.store import Store

    config = load_config(write_config(tmp_path))
    config = _with_notify(config, NotifyConfig(webhooks=(hooks.url,), recovery_seconds=0.1))
    store = Store(tmp_path / "announcer.db", TOKYO)
    try:
        bus = Bus()
        alerts = Alerts(config, build_channels(config.notify), bus=bus, store=store)
        alerts.start()
        bus.publish("silence", "monitor", False, "無音")
        wait_until(lambda: hooks.bodies(event="silence"))
        alerts.stop()
        bus = Bus()  # the daemon again
        again = Alerts(config, build_channels(config.notify), bus=bus, store=store)
        assert again.open_alarms("monitor") == {"silence"}
        again.start()
        try:
            bus.publish("silence", "monitor", False, "まだ無音")
            bus.publish("silence", "monitor", True)
            wait_until(lambda: len(hooks.bodies(event="silence")) >= 2)
        finally:
            again.stop()
        assert [b["state"] for b in hooks.bodies(event="silence")] == ["alarm", "recovered"]
        assert Alerts(config, [], bus=Bus(), store=store).open_alarms("monitor") == set()
    finally:
        store.close()


# -- permanent refusals ------------------------------------------------------------------------
class RefusingChannel(FlakyChannel):
    name = "refusing"

    def __init__(self):
        super().__init__(0)
        self.attempts = 0

    def send(self, message):
        from announcer.watch.notify.channels import PermanentError

        self.attempts += 1
        raise PermanentError("550 no such user")


def test_courier_does_not_retry_a_permanent_refusal():
    channel, refused = RefusingChannel(), []
    courier = Courier(channel, retry=(0.01,), on_refused=lambda c, m, e: refused.append(m))
    courier.start("t")
    courier.post(m_("alarm"))
    courier.post(m_("recovered"))
    wait_until(lambda: len(refused) == 2)
    time.sleep(0.2)  # with a 0.01 s retry, a retry would have happened by now
    courier.stop()
    assert channel.attempts == 2 and courier.refused == 2 and courier.pending() == 0
    assert [m.subject for m in refused] == ["alarm", "recovered"]


@pytest.fixture
def refusing_mailbox():
    class Box(Mailbox):
        def __init__(self):
            super().__init__()
            self.rcpts = []
            box = self

            class Handler:
                async def handle_RCPT(self, server, session, envelope, address, options):
                    box.rcpts.append(address)
                    return "550 5.1.1 no such user here"

            self.controller.handler = Handler()

    box = Box().start()
    yield box
    box.stop()


def test_smtp_5xx_is_reported_once_on_the_other_channels(refusing_mailbox, hooks, tmp_path,
                                                          caplog):
    from announcer.watch.notify.channels import PermanentError

    with pytest.raises(PermanentError, match="550"):
        EmailChannel(email_cfg(refusing_mailbox.port)).send(m_("x"))
    refusing_mailbox.rcpts.clear()
    config = load_config(write_config(tmp_path))
    config = _with_notify(config, NotifyConfig(email=email_cfg(refusing_mailbox.port),
                                               webhooks=(hooks.url,), recovery_seconds=0.1))
    bus = Bus()
    alerts = Alerts(config, build_channels(config.notify), bus=bus)
    for courier in alerts.couriers:
        courier.retry = (0.01,)  # a retry, were there one, would come at once
    alerts.start()
    try:
        bus.publish("audio", "output", False, "出力が止まりました")
        wait_until(lambda: hooks.bodies(event="notify"))
        bus.publish("disk", "/var", False, "空きが少ない")
        wait_until(lambda: hooks.bodies(event="disk") and len(refusing_mailbox.rcpts) >= 4)
        time.sleep(0.3)
    finally:
        alerts.stop()
    [notify] = hooks.bodies(event="notify")  # once, although every mail is refused
    assert notify["state"] == "alarm" and "メール 127.0.0.1" in notify["key"]
    assert "550 5.1.1 no such user here" in notify["detail"]
    assert "【警報】通知の送り先が通知を受け付けません" in notify["text"]
    # Two alerts, each tried once (two recipients each): no retries.
    assert len(refusing_mailbox.rcpts) == 4 and refusing_mailbox.messages == []
    assert sum("refused" in r.getMessage() and "not retried" in r.getMessage()
               for r in caplog.records) == 2


def test_webhook_4xx_is_permanent_5xx_is_not():
    from announcer.watch.notify.channels import PermanentError

    for status, error in ((404, PermanentError), (429, OSError), (503, OSError)):
        h = Hooks(status=status).start()
        try:
            with pytest.raises(error, match=f"HTTP {status}") as caught:
                WebhookChannel(h.url).send(m_("x"))
            assert (caught.type is PermanentError) == (error is PermanentError)
        finally:
            h.stop()


def test_the_record_clock_and_cache_alerts_speak_japanese_and_recoveries_say_how_it_is_now():
    e = Episodes(3600, settle=10)
    [alarm] = e.feed(ev("record", False, T0, detail="放送記録を書き込めません: ロック"), T0)
    m = message(alarm, "FMもおか", TOKYO)
    assert m.subject == ("[FMもおか] 【警報】放送記録を書き込めません（データベースがロック中か、"
                         "ディスクがいっぱいです）")
    assert m.payload["severity"] == "critical" and "asrun.journal" in m.text
    e.feed(ev("disk", False, T0, key="var", detail="空きが 0.1 GB（1 %）"), T0)
    e.feed(ev("disk", True, T0 + 5, key="var", detail="空きが 20.0 GB（40 %）"), T0 + 5)
    [recovered] = [a for a in e.due(T0 + 20) if a.kind == "disk"]
    assert "20.0 GB" in message(recovered, "FMもおか", TOKYO).text
    assert "0.1 GB" not in message(recovered, "FMもおか", TOKYO).text
    for kind in ("clock", "cache"):
        [a] = Episodes(3600).feed(ev(kind, False, T0, key=kind), T0)
        assert "【警報】" in message(a, "FMもおか", TOKYO).subject
