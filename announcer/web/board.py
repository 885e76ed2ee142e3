"""The status board's data: what is on air, the queue in air order with the reason for
each place, today's notices and as-run log, and the health box — all read through the
station's read-only view (``announcer.station.view``), in staff words.

Health rule: the box is green ("ok") only when the audio output, every schedule file and
the server connection are fine. A broken schedule file is amber ("warn": the station
keeps airing that file's last good version); no sound is red ("bad"). The server
connection is judged by the page itself (``status.js``) when a poll fails. Each state
says what to do in plain Japanese; the technical detail is folded away.
"""

import datetime as dt

from flask import current_app

from announcer.record.airlog_csv import KIND_LABELS, STATUS_LABELS, detail_words
from announcer.station.view import StationView

# What the page says about the order when an emergency meets another (README too).
ORDER_RULE = ("放送中の緊急放送は、別の緊急放送で途中で切られることはありません。"
              "「今すぐ割り込む」で送った放送は、放送中のものが終わりしだい、"
              "割り込みなしで待っている放送より先に流れます。お知らせは緊急放送が来るとすぐ中断し、"
              "訓練放送は本番の「今すぐ割り込む」でただちに中断します。")


# The short form of it, under the timing choice on the emergency form.
ORDER_HINT = ("お知らせはすぐ中断します。緊急放送の放送中は、それが終わりしだい、"
              "割り込みなしで待っている放送より先に流れます（途中では切りません）。")


def _services():
    return current_app.extensions["announcer"]


def station_view() -> StationView:
    """The app's one read-only view of the station (made on first use)."""
    ext = current_app.extensions
    if "announcer.view" not in ext:
        s = ext["announcer"]
        ext["announcer.view"] = StationView(s.station, s.store)
    return ext["announcer.view"]


def hms(iso: str | None, tz) -> str:
    if not iso:
        return ""
    return dt.datetime.fromisoformat(iso).astimezone(tz).strftime("%H:%M:%S")


def queue_reason(q: dict, tz) -> str:
    if q["kind"] == "notice":
        at = dt.datetime.fromisoformat(q["scheduled_at"]).astimezone(tz).strftime("%H:%M:%S") \
            if q.get("scheduled_at") else ""
        return f"お知らせ（{at} の予定）。緊急放送のあと" if at else "お知らせ。緊急放送のあと"
    if q.get("test"):
        return "訓練：本番の緊急放送がすべて終わってから"
    if q.get("interrupt"):
        return "今すぐ割り込む：割り込みなしの放送より先（放送中のものが終わりしだい）"
    return "現在の放送のあとに：受け付けた順"


def health_view(health: dict) -> dict:
    """{"level": ok|warn|bad, "headline", "advice": [...], "details": [...]}."""
    audio, problems = health["audio"], health["schedule_errors"]
    if not audio["ok"]:
        advice = ["受け付けた緊急放送は消えません。機器が戻りしだい、最初から放送します。",
                  "出力機器（ミキサー・USB 音声機器）の電源とケーブルを確かめてください。"
                  "直らなければ技術担当に連絡してください。"]
        if problems:
            advice.append(f"お知らせファイルにも誤りがあります（{len(problems)} 件）。")
        return {"level": "bad", "headline": "音が出ていません（出力機器の異常）",
                "advice": advice, "details": [f"出力機器: {audio['detail']}", *problems]}
    if problems:
        return {"level": "warn",
                "headline": f"お知らせファイルに誤りがあります（{len(problems)} 件）",
                "advice": ["誤りのあるファイルは、直前の正しい内容で放送を続けています。",
                           "「お知らせ」画面で確かめて直すか、技術担当に連絡してください。"],
                "details": problems}
    return {"level": "ok", "headline": "正常：音声・お知らせファイル・サーバー接続に問題はありません",
            "advice": [], "details": [f"出力機器: {audio['detail']}"]}


def _remaining_today(view: StationView, now: dt.datetime) -> list[dict]:
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
    hours = (midnight - now).total_seconds() / 3600
    return [{"at": at.strftime("%H:%M"), "id": n.id, "title": n.title}
            for at, n in view.upcoming(hours, now)[:50]]


def airlog_rows(view: StationView, day: dt.date, tz) -> list[dict]:
    """Today's as-run log, newest first, with labels ready to show."""
    return [{"time": hms(r["started_at"] or r["scheduled_at"], tz) or "—", "kind": r["kind"],
             "kind_label": KIND_LABELS.get(r["kind"], r["kind"]), "id": r["id"],
             "title": r["title"], "status": r["status"],
             "status_label": STATUS_LABELS.get(r["status"], r["status"]),
             "detail": detail_words(r["detail"])}
            for r in reversed(view.airlog(day))]


def attention_rows(status: dict, tz) -> list[dict]:
    """Partial and failed airings nobody acknowledged yet (red until someone does)."""
    return [dict(a, time=hms(a["at"], tz), kind_label=KIND_LABELS.get(a["kind"], a["kind"]),
                 detail=detail_words(a["detail"]),
                 status_label=STATUS_LABELS.get(a["status"], a["status"]))
            for a in status.get("attention", [])]


def board() -> dict:
    """The station's status plus health, today's remaining notices and as-run log."""
    s = _services()
    view, tz = station_view(), s.config.station.timezone
    now = s.clock.now()
    status = view.status()
    on_air = status["on_air"]
    if on_air is not None:
        on_air = dict(on_air, label=KIND_LABELS.get(on_air["kind"], on_air["kind"]),
                      since=hms(on_air["started_at"], tz))
    queue = [dict(q, label=KIND_LABELS.get(q["kind"], q["kind"]), position=n,
                  reason=queue_reason(q, tz)) for n, q in enumerate(status["queue"], 1)]
    health = view.health()
    return dict(status, on_air=on_air, queue=queue, now=now.strftime("%H:%M:%S"),
                attention=attention_rows(status, tz),
                health=health, health_view=health_view(health),
                today=_remaining_today(view, now), airlog=airlog_rows(view, now.date(), tz))
