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

# (store key, header)
COLUMNS = (("kind", "種類"), ("id", "ID"), ("title", "件名"), ("scheduled_at", "予定時刻"),
           ("started_at", "開始時刻"), ("ended_at", "終了時刻"), ("status", "結果"),
           ("detail", "備考"))
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


def _words(row: dict) -> dict:
    return dict(row, kind=KIND_LABELS.get(row["kind"], row["kind"]),
                status=STATUS_LABELS.get(row["status"], row["status"]),
                **{key: _local(row.get(key)) for key in _TIMES})


def airlog_csv_text(rows: list[dict], *, bom: bool = True, newline: str = "\r\n") -> str:
    """CSV of as-run rows (``Store.airlog``); with a BOM Excel opens the Japanese right."""
    buf = io.StringIO()
    if bom:
        buf.write("\ufeff")
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow([header for _key, header in COLUMNS])
    for r in rows:
        words = _words(r)
        writer.writerow([safe_cell(words[key]) for key, _header in COLUMNS])
    return buf.getvalue()
