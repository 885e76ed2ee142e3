"""What the public site holds, in the station's SQLite file (``public_items``).

Rules: a row is written once an airing that went out has been prepared for the public
(text, furigana, audio): it holds only what the public may see, plus the internal
``kind``/``item_id`` that tie it to the as-run log and are never written to the site.
A withdrawn item keeps its row (``withdrawn_at``, a note); rows older than the site's
window are deleted with their files. The table is created through
``Store.ensure_schema``; this module keeps its own connection, like ``jma.store``.
"""

import datetime as dt
import json
import sqlite3
import threading

from announcer.record.store import connect, iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS public_items (
    slug TEXT PRIMARY KEY,         -- the public name: 20261203-183000
    kind TEXT NOT NULL,            -- notice | bulletin | alert (internal)
    item_id TEXT NOT NULL,         -- internal, never published
    day TEXT NOT NULL,             -- station-local date it aired
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    status TEXT NOT NULL,          -- aired | partial | withdrawn
    drill INTEGER NOT NULL DEFAULT 0,
    series TEXT,                   -- an alert's JMA series (for 取消)
    content TEXT NOT NULL,         -- JSON: title, body and easy text as ruby segments
    audio TEXT,                    -- file name under audio/, or NULL
    audio_bytes INTEGER NOT NULL DEFAULT 0,
    audio_seconds REAL NOT NULL DEFAULT 0,
    withdrawn_at TEXT,
    withdrawn_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS public_items_day ON public_items(day);
-- the site's order, read a few rows at a time (each_since)
CREATE INDEX IF NOT EXISTS public_items_order ON public_items(day, started_at, slug);
"""


class PublicStore:
    def __init__(self, store):
        store.ensure_schema(SCHEMA)
        self.tz = store.tz
        self._lock = threading.Lock()
        self.db = connect(store.path)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def _q(self, sql: str, args=()) -> list[dict]:
        with self._lock:
            return [_row(r) for r in self.db.execute(sql, args).fetchall()]

    def _x(self, sql: str, args=()) -> int:
        with self._lock:
            return self.db.execute(sql, args).rowcount

    def free_slug(self, started_at: dt.datetime) -> str:
        base = started_at.astimezone(self.tz).strftime("%Y%m%d-%H%M%S")
        slug, n = base, 1
        while self._x("UPDATE public_items SET slug=slug WHERE slug=?", (slug,)):
            n += 1
            slug = f"{base}-{n}"
        return slug

    def add(self, row: dict) -> None:
        self._x(
            "INSERT INTO public_items(slug,kind,item_id,day,started_at,ended_at,status,drill,"
            "series,content,audio,audio_bytes,audio_seconds,withdrawn_at,withdrawn_note)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (row["slug"], row["kind"], row["item_id"],
             row["started_at"].astimezone(self.tz).date().isoformat(),
             self._iso(row["started_at"]), self._iso(row["ended_at"]), row["status"],
             int(row.get("drill", False)), row.get("series"),
             json.dumps(row["content"], ensure_ascii=False), row.get("audio"),
             row.get("audio_bytes", 0), row.get("audio_seconds", 0.0),
             self._iso(row.get("withdrawn_at")), row.get("withdrawn_note", "")))

    def _iso(self, t: dt.datetime | None) -> str | None:
        """Times are stored in the station's zone: their text sorts as time does."""
        return iso(t.astimezone(self.tz)) if t else None

    def each_since(self, day: dt.date, limit: int | None = None, chunk: int = 16):
        """The rows from ``day`` on, newest first (at most ``limit``), read ``chunk`` at a
        time: a rebuild holds a few rows in memory, never the whole window. Ordered by
        the station-local day first, so a day's rows are together whatever offset their
        times were written with; the cursor is the stored text, never a re-formatting."""
        after, left = None, limit
        while left is None or left > 0:
            take = chunk if left is None else min(chunk, left)
            where = "day >= ?" + (" AND (day, started_at, slug) < (?, ?, ?)" if after else "")
            with self._lock:
                found = self.db.execute(
                    f"SELECT *, started_at AS cursor FROM public_items WHERE {where}"
                    " ORDER BY day DESC, started_at DESC, slug DESC LIMIT ?",
                    (day.isoformat(), *(after or ()), take)).fetchall()
            for r in found:
                yield _row(r)
            if len(found) < take:
                return
            after = (found[-1]["day"], found[-1]["cursor"], found[-1]["slug"])
            left = None if left is None else left - len(found)

    def names_since(self, day: dt.date) -> tuple[set[str], set[str]]:
        """(slugs, audio file names) of the rows from ``day`` on."""
        with self._lock:
            found = self.db.execute("SELECT slug, audio FROM public_items WHERE day >= ?",
                                    (day.isoformat(),)).fetchall()
        return {r[0] for r in found}, {r[1] for r in found if r[1]}

    def keys_since(self, day: dt.date) -> set[tuple]:
        """(kind, item_id, started_at) of the rows from ``day`` on."""
        with self._lock:
            found = self.db.execute("SELECT kind, item_id, started_at FROM public_items"
                                    " WHERE day >= ?", (day.isoformat(),)).fetchall()
        return {(k, i, dt.datetime.fromisoformat(s)) for k, i, s in found}

    def older_than(self, day: dt.date) -> list[dict]:
        return self._q("SELECT * FROM public_items WHERE day < ?", (day.isoformat(),))

    def delete(self, slug: str) -> None:
        self._x("DELETE FROM public_items WHERE slug=?", (slug,))

    def withdraw(self, slug: str, at: dt.datetime, note: str) -> bool:
        """Mark a row withdrawn (its audio is no longer offered); False if it already was."""
        return self._x("UPDATE public_items SET status='withdrawn', withdrawn_at=?,"
                       " withdrawn_note=?, audio=NULL WHERE slug=? AND withdrawn_at IS NULL",
                       (self._iso(at), note, slug)) == 1

    def open_alerts(self, day: dt.date) -> list[dict]:
        """Alerts from ``day`` on with a JMA series that are not withdrawn."""
        return self._q("SELECT * FROM public_items WHERE kind='alert' AND series IS NOT NULL"
                       " AND withdrawn_at IS NULL AND day >= ?", (day.isoformat(),))


def _row(row: sqlite3.Row) -> dict:
    d = dict(row)
    d.pop("cursor", None)
    d["content"] = json.loads(d["content"])
    for key in ("started_at", "ended_at", "withdrawn_at"):
        d[key] = dt.datetime.fromisoformat(d[key]) if d.get(key) else None
    return d
