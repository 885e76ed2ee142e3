"""The as-run log in staff words: the Japanese labels of kinds and results, and the CSV
that the staff page (``/airlog.csv``) and ``announcer airlog --csv`` both write.

Rules: headers and words are Japanese (the JSON API keeps its English keys and words);
no cell may start a spreadsheet formula — a leading ``= + - @`` in ASCII or full width
(``＝ ＋ － ＠``), or a tab or carriage return, gets a ``'`` in front.
"""

import csv
import datetime as dt
import io

KIND_LABELS = {"bulletin": "緊急放送", "notice": "お知らせ", "alert": "気象庁の情報"}
STATUS_LABELS = {"on_air": "放送中", "aired": "放送済み", "partial": "一部のみ放送",
                 "interrupted": "中断", "missed": "未放送", "failed": "失敗",
                 "cancelled": "取り消し"}

# The as-run ``detail`` the engine and the station write (English, for engineers and
# the JSON API), in staff words. Prefixes end with ": " and keep what follows.
DETAIL_WORDS = {
    "stopped": "本体（放送プログラム）の停止",
    "too late": "遅れすぎ（猶予を過ぎた）",
    "device unavailable": "出力機器が使えなかった",
    "daemon was not running": "本体が止まっていた",
    "due while the daemon was starting": "本体の起動中に時刻が来た（猶予を過ぎた）",
    "expired before it could air": "放送できないまま有効期限が過ぎた",
    "daemon stopped before it aired": "放送が始まる前に本体が止まった",
    "superseded by a later airing": "同じお知らせの後の回を放送した（遅れての放送は 1 回だけ）",
    "clock stepped forward": "本体の時計が進められ、猶予を過ぎた",
    "station jobs stalled": "本体の処理が止まっていて、猶予を過ぎた",
    "too late: waited behind bulletin": "緊急放送のあとで待つうちに猶予を過ぎた",
    "too late: waited behind alert": "気象庁の情報のあとで待つうちに猶予を過ぎた",
    "too late: waited behind notice": "前のお知らせのあとで待つうちに猶予を過ぎた",
    "render failed: disk full": "ディスクがいっぱいで音声を作れなかった",
    "all words aired": "すべての言葉を放送した（終わりの無音のみ残り）",
}
_CAUSES = {"stopped": "本体の停止で", "cut by a restart": "本体の異常終了で",
           "cut by an emergency": "緊急放送の割り込みで"}
_OUTCOMES = {"replayed from start": "再起動後に最初から放送し直し",
             "replay queued": "再起動後に最初から放送し直す予定",
             "skipped (too late)": "遅すぎたので放送し直さず",
             "replay did not start; skipped (too late)":
                 "放送し直す前にまた止まり、遅すぎたので放送し直さず",
             "not aired again": "放送し直さず（取り消し・期限切れ）",
             "airs at its time": "再起動後に予定どおり放送"}
_PREFIXES = {"missing: ": "合成できず抜けた文: ", "render failed: ": "音声を作れませんでした: ",
             "output lost: ": "出力機器の異常: ",
             "audio could not be produced: ": "音声を作れませんでした: ",
             "re-air of ": "再放送（元の放送: "}
# Parts of a detail joined by "; " (a person's cut of a relay, a re-air, no speech).
_PARTS = {"airs again (still in force)": "まだ有効なので、そのあと最初から放送し直し",
          "not aired again (no longer in force)": "もう有効でないので放送し直さず",
          "aired again after a staff bulletin cut it": "職員の緊急放送で中断したあと、最初から放送し直し",
          "no speech": "音声が一文も出なかった（チャイムだけ）"}
_CUT_BY = {"bulletin": "緊急放送の割り込みで中断", "alert": "気象庁の情報の割り込みで中断"}


def detail_words(detail: str | None) -> str:
    """An as-run detail in staff words (unknown details are shown as they are)."""
    detail = detail or ""
    if detail in DETAIL_WORDS:
        return DETAIL_WORDS[detail]
    cause, _, outcome = detail.partition("; ")
    if cause in _CAUSES and outcome in _OUTCOMES:
        words = _OUTCOMES[outcome]
        if cause == "cut by an emergency":  # replayed right after it, not after a restart
            words = words.replace("再起動後に", "")
        return f"{_CAUSES[cause]}中断・{words}"
    if detail.startswith("no speech; "):  # sentences may hold "; " themselves
        return f"{_PARTS['no speech']}・{_part(detail[len('no speech; '):])}"
    if detail.startswith("missing: "):
        return _part(detail)
    return "・".join(_part(p) for p in detail.split("; "))


def _part(part: str) -> str:
    if part in DETAIL_WORDS or part in _PARTS:
        return DETAIL_WORDS.get(part) or _PARTS[part]
    if part.startswith("cut in by "):
        kind = part[len("cut in by "):].split(" ", 1)[0]
        return _CUT_BY.get(kind, "割り込みで中断")
    for prefix, words in _PREFIXES.items():
        if part.startswith(prefix):
            return words + part[len(prefix):] + ("）" if prefix == "re-air of " else "")
    return part


# (store key, header)
COLUMNS = (("kind", "種類"), ("id", "ID"), ("title", "件名"), ("scheduled_at", "予定時刻"),
           ("started_at", "開始時刻"), ("ended_at", "終了時刻"), ("status", "結果"),
           ("detail", "備考"), ("voice", "声"))
_FORMULA = ("=", "+", "-", "@", "＝", "＋", "－", "＠", "\t", "\r")


def safe_cell(value) -> str:
    """Text as a spreadsheet should show it, never as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


_TIMES = ("scheduled_at", "started_at", "ended_at")


def _local(iso: str | None) -> str:
    """"2026-12-03 07:30:00" in the station's time (the stored offset), as Excel reads it."""
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _words(row: dict, voice_names: dict[str, str]) -> dict:
    voice = row.get("voice") or ""
    return dict(row, kind=KIND_LABELS.get(row["kind"], row["kind"]),
                voice=voice_names.get(voice, voice),
                status=STATUS_LABELS.get(row["status"], row["status"]),
                detail=detail_words(row.get("detail")),
                **{key: _local(row.get(key)) for key in _TIMES})


def airlog_csv_text(rows: list[dict], *, bom: bool = True, newline: str = "\r\n",
                    voice_names: dict[str, str] | None = None) -> str:
    """CSV of as-run rows (``Store.airlog``); with a BOM Excel opens the Japanese right.
    ``voice_names`` (preset id -> name) shows the voice as staff know it (まこと)."""
    buf = io.StringIO()
    if bom:
        buf.write("\ufeff")
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow([header for _key, header in COLUMNS])
    for r in rows:
        words = _words(r, voice_names or {})
        writer.writerow([safe_cell(words[key]) for key, _header in COLUMNS])
    return buf.getvalue()
