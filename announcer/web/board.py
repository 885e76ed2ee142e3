"""The status board's data: what is on air, the queue in air order with the reason for
each place, today's notices and as-run log, and the health box — all read through the
station's read-only view (``announcer.station.view``), in staff words.

Health rule: the box shows the station's one verdict (``announcer.station.verdict``, the
same as ``/api/status`` and ``/healthz``): green only when nothing at all is wrong, else
amber or red from the worst problem, each problem with what to do in plain Japanese;
the technical detail is folded away. The server connection is judged by the page itself
(``status.js``) when a poll fails.
"""

import datetime as dt

from flask import current_app

from announcer.record.airlog_csv import KIND_LABELS, STATUS_LABELS, detail_words
from announcer.station.view import StationView

# What the page says about the order when an emergency meets another (README too).
ORDER_RULE = ("放送中の緊急放送は、別の緊急放送で途中で切られることはありません。"
              "「今すぐ割り込む」で送った放送は、放送中のものが終わりしだい、"
              "割り込みなしで待っている放送より先に流れます。お知らせは緊急放送が来るとすぐ中断し、"
              "訓練放送は本番の「今すぐ割り込む」でただちに中断します。"
              "人が機械より先です：気象庁の情報の自動放送は、職員の「今すぐ割り込む」でただちに中断し、"
              "まだ有効なら、そのあと最初から放送し直します。")


# The short form of it, under the timing choice on the emergency form.
ORDER_HINT = ("お知らせと、気象庁の情報の自動放送はすぐ中断します（気象庁の情報はあとで最初から流し直します）。"
              "職員の緊急放送の放送中は、それが終わりしだい、"
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
    if q["kind"] == "alert":
        return ("気象庁の情報（自動）：放送中のものが終わりしだい。"
                "職員の「今すぐ割り込む」はこれより先に流れます")
    if q.get("interrupt"):
        return "今すぐ割り込む：割り込みなしの放送より先（放送中のものが終わりしだい）"
    return "現在の放送のあとに：受け付けた順"


def health_view(health: dict) -> dict:
    """{"level": ok|warn|bad, "headline", "advice": [...], "details": [...]}."""
    v = health["verdict"]
    problems = v["problems"]
    if len(problems) == 1:
        advice = [problems[0]["todo"]]
    else:
        advice = [f"{p['reason']}：{p['todo']}" for p in problems]
    details = [f"{p['kind']}: {d}" for p in problems for d in p["details"]] + \
        [f"{p['kind']}: {p['since'][11:19]} から" for p in problems if p["since"]]
    return {"level": v["level"], "headline": v["headline"], "advice": advice,
            "details": details or [f"出力機器: {health['audio']['detail']}"]}


def _remaining_today(view: StationView, now: dt.datetime) -> list[dict]:
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
    hours = (midnight - now).total_seconds() / 3600
    return [{"at": at.strftime("%H:%M"), "id": n.id, "title": n.title}
            for at, n in view.upcoming(hours, now)[:50]]


_DAYS = "月火水木金土日"


def next_notice(view: StationView, now: dt.datetime) -> str:
    """When today has no more notices: when the next one is (within a week), in words."""
    upcoming = view.upcoming(24 * 7, now)
    if not upcoming:
        return "これから 1 週間、放送するお知らせはありません"
    at, notice = upcoming[0]
    at = at.astimezone(now.tzinfo)
    day = "明日" if at.date() == now.date() + dt.timedelta(days=1) else \
        f"{at.month}月{at.day}日（{_DAYS[at.weekday()]}）"
    return f"次は {day} {at:%H:%M}「{notice.title}」です"


# The status page shows the latest airings of the day, not all of them: it is polled while
# it is open, and a day of many bulletins would make every poll read, build and send the
# whole day (a soak at 180 airings an hour grew the daemon by 4–5 KiB per row of the day).
# The whole day is on the 番組表・記録 page and in the CSV.
AIRLOG_SHOWN = 30


def airlog_rows(view: StationView, day: dt.date, tz, latest: int | None = None) -> list[dict]:
    """Today's as-run log (its ``latest`` rows), newest first, with labels ready to show."""
    return [{"time": hms(r["started_at"] or r["scheduled_at"], tz) or "—", "kind": r["kind"],
             "kind_label": KIND_LABELS.get(r["kind"], r["kind"]), "id": r["id"],
             "title": r["title"], "status": r["status"],
             "status_label": STATUS_LABELS.get(r["status"], r["status"]),
             "detail": detail_words(r["detail"])}
            for r in reversed(view.airlog(day, latest=latest))]


def attention_rows(status: dict, tz) -> list[dict]:
    """Partial and failed airings nobody acknowledged yet (red until someone does), with
    the time the airing started (as the as-run log shows it) and whether it can be
    aired again from here (bulletins and official information)."""
    return [dict(a, time=hms(a.get("started_at") or a["at"], tz),
                 kind_label=KIND_LABELS.get(a["kind"], a["kind"]),
                 detail=detail_words(a["detail"]),
                 status_label=STATUS_LABELS.get(a["status"], a["status"]),
                 reair=a["kind"] in ("bulletin", "alert"))
            for a in status.get("attention", [])]


def sent_note(status: dict, bid: str) -> str:
    """Where a bulletin just sent is now: on air, its place in the queue, or done."""
    if status["on_air"] and status["on_air"]["id"] == bid:
        return "いま放送中です（下の「いま放送中」）。"
    place = next((n for n, q in enumerate(status["queue"], 1) if q["id"] == bid), None)
    if place is not None:
        return f"放送待ちの {place} 番目です（下の「放送待ち（流れる順）」）。"
    return "放送はもう終わりました（下の「今日の放送記録」）。"


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
    today = _remaining_today(view, now)
    return dict(status, on_air=on_air, queue=queue, now=now.strftime("%H:%M:%S"),
                attention=attention_rows(status, tz),
                health=health, health_view=health_view(health), today=today,
                next_notice="" if today else next_notice(view, now),
                airlog=airlog_rows(view, now.date(), tz, AIRLOG_SHOWN),
                airlog_total=view.airlog_count(now.date()))
