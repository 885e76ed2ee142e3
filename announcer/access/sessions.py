"""Server-side records of staff sessions (a table in the station's SQLite file).

Rules:
- The browser holds only a random session id (inside Flask's signed cookie); the
  database holds its SHA-256, the user, when it began and when it was last used.
  A cookie copied before logout is worthless after it: the record is gone.
- A session ends at logout, when its user is removed, disabled, or gets a new role or
  password, after ``idle`` without a request, and ``lifetime`` after login whatever
  happens. Expired records are deleted when found and at each new login.
- ``last_seen`` is written at most once a minute, so a polling page costs no writes.
- One user keeps at most MAX_PER_USER sessions (the oldest goes first).
"""

import datetime as dt
import hashlib
import secrets

from announcer.record.store import Store, iso

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    addr TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
"""
MAX_PER_USER = 20
_TOUCH = dt.timedelta(minutes=1)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "replace")).hexdigest()


class Sessions:
    def __init__(self, store: Store, clock, idle: dt.timedelta = dt.timedelta(hours=2),
                 lifetime: dt.timedelta = dt.timedelta(hours=12)):
        self.store, self.clock = store, clock
        self.idle, self.lifetime = idle, lifetime
        store.ensure_schema(SCHEMA)

    def begin(self, user: str, addr: str = "") -> str:
        """A new session for ``user``; returns the id the cookie carries."""
        now = self.clock.now()
        self._purge(now)
        sid = secrets.token_urlsafe(32)
        self.store.execute("INSERT INTO sessions VALUES (?,?,?,?,?)",
                           (_hash(sid), user, iso(now), iso(now), addr[:64]))
        self.store.execute(
            "DELETE FROM sessions WHERE user=? AND id_hash NOT IN (SELECT id_hash FROM"
            " sessions WHERE user=? ORDER BY created_at DESC LIMIT ?)",
            (user, user, MAX_PER_USER))
        return sid

    def user_of(self, sid) -> str | None:
        """The user of a live session (and it counts as used now), else None."""
        if not isinstance(sid, str) or len(sid) > 100:
            return None
        rows = self.store.query("SELECT * FROM sessions WHERE id_hash=?", (_hash(sid),))
        if not rows:
            return None
        row, now = rows[0], self.clock.now()
        seen = dt.datetime.fromisoformat(row["seen_at"])
        if now - seen > self.idle or \
                now - dt.datetime.fromisoformat(row["created_at"]) > self.lifetime:
            self.end(sid)
            return None
        if now - seen > _TOUCH:
            self.store.touch("UPDATE sessions SET seen_at=? WHERE id_hash=?",
                             (iso(now), row["id_hash"]))
        return row["user"]

    def end(self, sid) -> None:
        if isinstance(sid, str):
            self.store.execute("DELETE FROM sessions WHERE id_hash=?", (_hash(sid),))

    def end_user(self, user: str) -> int:
        """End every session of ``user``; returns how many there were."""
        return self.store.execute("DELETE FROM sessions WHERE user=?", (user,)).rowcount

    def count(self, user: str | None = None) -> int:
        sql, args = ("SELECT COUNT(*) FROM sessions", ()) if user is None else \
            ("SELECT COUNT(*) FROM sessions WHERE user=?", (user,))
        return self.store.query(sql, args)[0][0]

    def _purge(self, now: dt.datetime) -> None:
        self.store.execute("DELETE FROM sessions WHERE seen_at < ? OR created_at < ?",
                           (iso(now - self.idle), iso(now - self.lifetime)))
