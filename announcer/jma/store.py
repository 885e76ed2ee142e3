"""What the JMA subsystem remembers, in the station's SQLite file.

Rules: every message key ever processed is kept (``jma_processed``), so a restart, a
feed overlap or the same file in the inbox never acts twice; the rules' state
(``jma_state``: one JSON value, see ``announcer.jma.state``); every feed entry link
processed (``jma_fetched``); and every item shown to staff (``jma_items``). A message's
key, the new state, its items and the status changes it caused are written in one
transaction (``commit``), so a crash leaves either all of it or none. The tables are
created through ``Store.ensure_schema`` (columns added since issue 10 are added to an
older file here); this module keeps its own connection to the same file so its
transactions never mix with other writers'.
"""

import datetime as dt
import json
import threading

from announcer.jma import state as st
from announcer.record.store import connect, iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS jma_processed (
    key TEXT PRIMARY KEY, at TEXT NOT NULL, source TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS jma_state (
    id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jma_fetched (url TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jma_items (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,             -- the message's key (jma_processed)
    series TEXT NOT NULL,
    type TEXT NOT NULL,            -- VPWW54 …
    title TEXT NOT NULL,
    areas TEXT NOT NULL,           -- JSON list of area codes concerned
    received_at TEXT NOT NULL,
    day TEXT NOT NULL,
    decision TEXT NOT NULL,        -- auto | approve | log
    status TEXT NOT NULL,          -- aired|pending|approved|expired|withdrawn|ignored|logged|stale
    text TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    info_type TEXT NOT NULL DEFAULT '',
    msg_status TEXT NOT NULL DEFAULT '',
    expires_at TEXT,
    bulletin TEXT,                 -- the station bulletin id once queued
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS jma_items_day ON jma_items(day);
CREATE INDEX IF NOT EXISTS jma_items_series ON jma_items(series);
CREATE INDEX IF NOT EXISTS jma_items_status ON jma_items(status);
CREATE INDEX IF NOT EXISTS jma_items_bulletin ON jma_items(bulletin);
"""
ADDED = (("category", "TEXT NOT NULL DEFAULT 'other'"), ("valid_until", "TEXT"),
         ("interrupt", "INTEGER NOT NULL DEFAULT 0"), ("chime", "INTEGER NOT NULL DEFAULT 0"))
OPEN = ("pending", "approved")
_COLUMNS = ("id", "key", "series", "type", "title", "areas", "received_at", "day", "decision",
            "status", "text", "reason", "info_type", "msg_status", "expires_at", "updated_at",
            "category", "valid_until", "interrupt", "chime")


class JmaStore:
    def __init__(self, store):
        store.ensure_schema(SCHEMA)
        self.tz = store.tz
        self._lock = threading.Lock()
        self.db = connect(store.path)
        have = {r["name"] for r in self.db.execute("PRAGMA table_info(jma_items)")}
        for name, decl in ADDED:
            if name not in have:
                self.db.execute(f"ALTER TABLE jma_items ADD COLUMN {name} {decl}")

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def _q(self, sql: str, args=()) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self.db.execute(sql, args).fetchall()]

    def _x(self, sql: str, args=()) -> None:
        with self._lock:
            self.db.execute(sql, args)

    # -- keys, state, fetched links -----------------------------------------------------
    def processed(self, key: str) -> bool:
        return bool(self._q("SELECT 1 FROM jma_processed WHERE key=?", (key,)))

    def state(self) -> dict:
        rows = self._q("SELECT data FROM jma_state WHERE id=1")
        try:
            return st.load(json.loads(rows[0]["data"])) if rows else st.empty()
        except ValueError:
            return st.empty()

    def fetched(self, url: str) -> bool:
        return bool(self._q("SELECT 1 FROM jma_fetched WHERE url=?", (url,)))

    def mark_fetched(self, url: str, now: dt.datetime) -> None:
        self._x("INSERT OR IGNORE INTO jma_fetched(url, at) VALUES (?,?)", (url, iso(now)))

    def commit(self, now: dt.datetime, *, key: str | None = None, source: str = "",
               outcome: str = "", state: dict | None = None, items=(), statuses=()) -> bool:
        """Key, state, new items and status changes (``(id, status, reason, by)``) in one
        transaction; False (and nothing written) if ``key`` was already processed."""
        with self._lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                if key is not None:
                    if self.db.execute("SELECT 1 FROM jma_processed WHERE key=?",
                                       (key,)).fetchone():
                        self.db.execute("ROLLBACK")
                        return False
                    self.db.execute("INSERT INTO jma_processed(key,at,source,outcome) "
                                    "VALUES (?,?,?,?)",
                                    (key, iso(now), source[:300], outcome[:300]))
                if state is not None:
                    self.db.execute(
                        "INSERT INTO jma_state(id,data,updated_at) VALUES (1,?,?) ON CONFLICT"
                        "(id) DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at",
                        (json.dumps(state, ensure_ascii=False), iso(now)))
                for item in items:
                    self._insert(item, now)
                for item_id, status, reason, by in statuses:
                    self._set_status(item_id, status, now, reason, by, ())
                self.db.execute("COMMIT")
                return True
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def _insert(self, item: dict, now: dt.datetime) -> None:
        received = item.get("received_at", now)
        row = {**item, "areas": json.dumps(list(item.get("areas", ())), ensure_ascii=False),
               "received_at": iso(received), "day": received.astimezone(self.tz).date().isoformat(),
               "expires_at": iso(item.get("expires_at")), "updated_at": iso(now),
               "valid_until": iso(item.get("valid_until")),
               "interrupt": int(bool(item.get("interrupt"))), "chime": int(bool(item.get("chime")))}
        self.db.execute(f"INSERT INTO jma_items({','.join(_COLUMNS)}) VALUES "
                        f"({','.join('?' * len(_COLUMNS))})",
                        [row.get(c, "") if c not in ("expires_at", "valid_until") else row[c]
                         for c in _COLUMNS])

    def add_item(self, item: dict, now: dt.datetime) -> None:
        with self._lock:
            self._insert(item, now)

    def prune(self, before: dt.datetime) -> int:
        """Forget message keys and fetched links older than ``before`` (feeds hold
        minutes to days, never a month); items stay."""
        with self._lock:
            n = self.db.execute("DELETE FROM jma_processed WHERE at < ?", (iso(before),)).rowcount
            n += self.db.execute("DELETE FROM jma_fetched WHERE at < ?", (iso(before),)).rowcount
        return n

    # -- items ---------------------------------------------------------------------------
    def item(self, item_id: str) -> dict | None:
        rows = self._q("SELECT * FROM jma_items WHERE id=?", (item_id,))
        return _item(rows[0]) if rows else None

    def item_by_bulletin(self, bulletin_id: str) -> dict | None:
        rows = self._q("SELECT * FROM jma_items WHERE bulletin=?", (bulletin_id,))
        return _item(rows[0]) if rows else None

    def items(self, day: dt.date) -> list[dict]:
        return [_item(r) for r in self._q(
            "SELECT * FROM jma_items WHERE day=? ORDER BY received_at, rowid", (day.isoformat(),))]

    def open_items(self) -> list[dict]:
        return [_item(r) for r in self._q(
            "SELECT * FROM jma_items WHERE status IN ('pending','approved') ORDER BY rowid")]

    def series_items(self, series: str) -> list[dict]:
        return [_item(r) for r in self._q(
            "SELECT * FROM jma_items WHERE series=? ORDER BY rowid", (series,))]

    def set_status(self, item_id: str, status: str, now: dt.datetime, *, reason: str | None = None,
                   by: str = "", expect: tuple = ()) -> bool:
        """Change an item's status; with ``expect``, only from one of those (False if not)."""
        with self._lock:
            return self._set_status(item_id, status, now, reason, by, expect)

    def _set_status(self, item_id, status, now, reason, by, expect) -> bool:
        sql = "UPDATE jma_items SET status=?, updated_at=?, updated_by=?"
        args = [status, iso(now), by]
        if reason is not None:
            sql += ", reason=?"
            args.append(reason)
        sql += " WHERE id=?"
        args.append(item_id)
        if expect:
            sql += f" AND status IN ({','.join('?' * len(expect))})"
            args += list(expect)
        return self.db.execute(sql, args).rowcount == 1

    def passed_over(self, start: dt.datetime, end: dt.datetime) -> list[dict]:
        """Messages received in [start, end) that were not for us (another region, a
        type we do not air): ``{"at", "source", "reason"}``, oldest first (the page)."""
        return [{"at": r["at"], "source": r["source"], "reason": r["outcome"][len("ignored: "):]}
                for r in self._q("SELECT at, source, outcome FROM jma_processed WHERE at >= ?"
                                 " AND at < ? AND outcome LIKE 'ignored: %' ORDER BY at LIMIT 500",
                                 (iso(start), iso(end)))]

    def set_bulletin(self, item_id: str, bulletin_id: str) -> None:
        self._x("UPDATE jma_items SET bulletin=? WHERE id=?", (bulletin_id, item_id))


def _item(row: dict) -> dict:
    row["areas"] = json.loads(row["areas"])
    row["interrupt"], row["chime"] = bool(row.get("interrupt")), bool(row.get("chime"))
    return row
