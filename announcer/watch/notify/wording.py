"""What an alert says, in Japanese: station, what happened, since when, what to check.

``message(alert, station, tz)`` gives the subject, the plain text (mail body, and the
webhook's ``text``), and the webhook's JSON body. Webhook body, documented in the README:
``{"text", "station", "event", "key", "state", "severity", "title", "detail", "check",
"since", "until", "at", "count", "host"}`` — Slack and Teams incoming webhooks show ``text``
(``&``, ``<``, ``>`` escaped as Slack requires) and ignore the rest.
"""

import datetime as dt
import socket
from dataclasses import dataclass

from announcer.core import events
from announcer.watch.notify.episodes import ALARM, RECOVERED, REMINDER, REPEAT, Alert

# kind -> (what went wrong, what recovered, what to check)
TEXTS = {
    events.AUDIO: (
        "音声出力装置に異常があります（放送に音が出ていません）",
        "音声出力装置が回復しました",
        "オーディオインターフェースの電源とケーブル、サウンドサーバー（PulseAudio / PipeWire）、"
        "ログ（journalctl -u announcer）。受け付けた緊急放送は消えず、回復しだい最初から放送します。"),
    events.SILENCE: (
        "放送の音が止まっています（無音を検知しました）",
        "放送の音が戻りました（無音が解消しました）",
        "ミキサーのフェーダーと送出の切り替え、送信機への送り、中継の番組、"
        "無音検知の入力（monitor.device）のケーブル。"),
    events.ON_AIR_SILENCE: (
        "放送中のはずの音声が聞こえていません（放送中の無音）",
        "放送中の無音が解消しました",
        "放送システムは送出しているのに、送信機の側では無音です。出力デバイス（audio.device）から"
        "ミキサーのチャンネルとフェーダー、送信機までの経路を、すぐに確認してください。"),
    events.AIRING: (
        "放送できなかったものがあります",
        "",
        "職員画面の「番組表」と「放送の状態」の放送記録、ログ（journalctl -u announcer）。"),
    events.NOTICE_FILE: (
        "お知らせファイルに誤りがあります",
        "お知らせファイルの誤りが直りました",
        "announcer check で誤りの行を確かめて直してください。直すまで、そのファイルは"
        "直前の正しい内容で放送します。"),
    events.RENDER: (
        "お知らせの音声を作れません",
        "お知らせの音声を作れるようになりました",
        "原稿の文字と読み辞書（voices/dict/）、ログ（journalctl -u announcer）。"),
    events.JMA_STALE: (
        "気象庁の防災情報が届いていません（情報が古いままです）",
        "気象庁の防災情報の受信が回復しました",
        "インターネットへの接続と、気象庁の配信（防災情報 XML）の状況。"),
    events.JMA_INTAKE: (
        "気象庁の防災情報の受け取りに問題があります",
        "気象庁の防災情報の受け取りが正常に戻りました",
        "受信フォルダ（jma.inbox）の未処理のファイルと rejected/、中継装置の書き込み、"
        "ログ（journalctl -u announcer の JMA の行）。"),
    events.SPEECH: (
        "音声合成の処理が異常終了を繰り返しています（緊急放送の文が抜けるおそれ）",
        "音声合成の処理が回復しました",
        "ログ（journalctl -u announcer）の「Worker crashed」、メモリとディスクの空き。"
        "職員画面の放送記録に「一部のみ放送」「失敗」がないか確かめてください。"),
    events.DISK: (
        "データ用ディスクの空きが少なくなっています",
        "データ用ディスクの空きが戻りました",
        "var/ の書き出し音声（aired/）やキャッシュ、古いバックアップを整理してください。"
        "空きがなくなると放送記録を書けなくなります。"),
    events.NOTIFY: (
        "通知の送り先が通知を受け付けません（再送しても届きません）",
        "通知の送り先に通知が届くようになりました",
        "station.yaml の notify（メールの宛先・送信元・ユーザー名とパスワード、Webhook の URL）"
        "とメールサーバーの設定。直したら announcer notify-test で確かめてください。"),
    events.PUBLISH: (
        "放送内容の公開ページを更新・送信できません",
        "放送内容の公開ページの更新・送信が回復しました",
        "放送には影響ありません。publish.command（rsync など）の送り先のサーバーとネットワーク、"
        "公開フォルダ（publish.dir）の空きと書き込み権限、ffmpeg、ログ（journalctl -u announcer）。"),
    events.RECORD: (
        "放送記録を書き込めません（データベースがロック中か、ディスクがいっぱいです）",
        "放送記録を書き込めるようになりました",
        "データ用ディスクの空き（df -h）と、ほかのプログラム（バックアップ、sqlite3 など）が "
        "var/announcer.db を使っていないか。そのあいだ放送は続き、記録は一時保存ファイル"
        "（var/asrun.journal）に残して、書けるようになりしだい書き込みます。"
        "緊急放送の受け付けは止まっています（画面と API は理由を表示します）。"),
    events.CLOCK: (
        "本体の時計が大きくずれました（時刻が飛びました）",
        "",
        "NTP の状態（timedatectl timesync-status）と時計の電池。放送予定は新しい時刻で判断し、"
        "放送済みのものは繰り返しません。飛ばされた時刻のお知らせは放送記録に理由つきで残ります。"),
    events.CACHE: (
        "作り置き音声（キャッシュ）を保存できません",
        "作り置き音声を保存できるようになりました",
        "データ用ディスクの空き（var/cache/）。そのあいだお知らせは放送の直前に音声を作って"
        "放送します（少し遅れることがあります）。"),
    events.TEST: (
        "通知のテストです",
        "",
        "テスト送信です。対応は必要ありません（announcer notify-test）。"),
}
_MARKS = {ALARM: "【警報】", REMINDER: "【継続中】", RECOVERED: "【回復】", REPEAT: "【再発】"}
_DAYS = "月火水木金土日"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    payload: dict


def chat_escape(text: str) -> str:
    """Slack's rule for message text (``<!channel>`` would ping everyone); Teams shows
    the entities as the characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def severity(alert: Alert) -> str:
    if alert.state == RECOVERED:
        return "ok"
    if alert.kind == events.TEST:
        return "info"
    return "critical" if alert.kind in (events.ON_AIR_SILENCE, events.AUDIO, events.RECORD) \
        else "warning"


def when(t: float, tz) -> str:
    d = dt.datetime.fromtimestamp(t, tz)
    return f"{d.month}月{d.day}日({_DAYS[d.weekday()]}) {d:%H:%M:%S}"


def duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds} 秒"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} 分"
    return f"{minutes // 60} 時間 {minutes % 60} 分"


def _title(alert: Alert) -> str:
    bad, good, _check = TEXTS.get(alert.kind, (alert.kind, alert.kind + " 回復", ""))
    if alert.kind == events.TEST:
        return bad
    return good if alert.state == RECOVERED else bad


def _mark(alert: Alert) -> str:
    if alert.kind == events.TEST:
        return "【テスト】"
    if alert.kind == events.ON_AIR_SILENCE and alert.state != RECOVERED:
        return "【重大】"
    return _MARKS.get(alert.state, "")


def _since_line(alert: Alert, tz) -> str:
    if alert.state == RECOVERED:
        until = alert.until or alert.at
        return (f"{when(alert.since, tz)} から {when(until, tz)} まで"
                f"（{duration(until - alert.since)}）")
    if alert.state == REPEAT:
        return (f"{when(alert.since, tz)} から {when(alert.until or alert.at, tz)} までに、"
                f"最初の通知のあとさらに {alert.count} 回")
    if alert.kind == events.TEST:
        return when(alert.at, tz)
    return f"{when(alert.since, tz)} から（{duration(alert.at - alert.since)} 続いています）" \
        if alert.at - alert.since >= 1 else f"{when(alert.since, tz)} から"


def message(alert: Alert, station: str, tz, host: str | None = None) -> Message:
    host = host or socket.gethostname()
    title = _title(alert)
    check = TEXTS.get(alert.kind, ("", "", ""))[2]
    subject = f"[{station}] {_mark(alert)}{title}"
    lines = [f"{station} 放送システムからの通知です。", "", f"{_mark(alert)}{title}"]
    if alert.detail:
        lines.append(f"内容: {alert.detail}")
    lines.append(f"{'日時' if alert.kind == events.TEST else 'いつから'}: {_since_line(alert, tz)}")
    if alert.state != RECOVERED and check:
        lines.append(f"確認すること: {check}")
    if alert.state == REMINDER:
        lines.append("（まだ続いているため、もう一度お知らせします）")
    lines += ["", f"発信: announcer（{host}） {when(alert.at, tz)}"]
    text = "\n".join(lines)

    def iso(t):
        return dt.datetime.fromtimestamp(t, tz).isoformat(timespec="seconds") if t else None

    payload = {"text": chat_escape(f"{subject}\n{text}"), "station": station, "event": alert.kind,
               "key": alert.key, "state": alert.state, "severity": severity(alert),
               "title": title, "detail": alert.detail, "check": check,
               "since": iso(alert.since), "until": iso(alert.until), "at": iso(alert.at),
               "count": alert.count, "host": host}
    return Message(subject, text, payload)
