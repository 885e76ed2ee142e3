"""SQLite storage: the as-run log, accepted bulletins, and the daemon's heartbeat.

WAL with ``synchronous=FULL``: a row is on disk when ``commit`` returns, which is what
lets the web page acknowledge a bulletin only once it would survive a power cut.
The heartbeat is the exception: it is written every second on a second connection with
``synchronous=NORMAL`` (no fsync per write), since a few seconds of it lost in a power
cut only widen the window that recovery looks at.
Times are stored as ISO 8601 strings with their UTC offset.

Every as-run row has a ``ref``, a key chosen when the airing starts (or the row is
decided): the as-run record (``announcer.record.asrun``) writes through ``apply`` with
entries keyed by it, so that applying an entry twice (after a crash, from the journal)
changes nothing. ``apply`` has a connection of its own with a short busy timeout, and
the record's reads another, so a write stuck behind another process's lock never holds
up the schedule's reads.

As-run statuses (the README lists them for staff):
``aired`` every word went out; ``partial`` a bulletin aired with sentences that could not
be synthesized (``detail`` names them); ``interrupted`` cut on air (by an emergency, a
stop of the daemon, or a crash: while an item airs its row reads ``interrupted``);
``missed`` due but never started (too late, daemon down or stopping); ``failed`` could not
be rendered or the output was lost; ``cancelled`` stopped by staff.
"""

import datetime as dt
import json
import logging
import sqlite3
import threading
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS airlog (
    rowid INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,            -- notice | bulletin
    id TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    scheduled_at TEXT,
    started_at TEXT,
    ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN (STATUSES)),
    detail TEXT NOT NULL DEFAULT '',
    day TEXT NOT NULL,             -- station-local date of scheduled_at or started_at
    acked_by TEXT,                 -- who acknowledged a partial/failed row on the page
    acked_at TEXT
);
CREATE INDEX IF NOT EXISTS airlog_day ON airlog(day);
CREATE INDEX IF NOT EXISTS airlog_item ON airlog(kind, id, scheduled_at);
-- ``ref`` (the as-run record's key of a row) is added by ``Store.__init__``
CREATE TABLE IF NOT EXISTS bulletins (
    id TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    options TEXT NOT NULL,         -- JSON: repeat, interrupt, chime, test
    state TEXT NOT NULL,           -- queued | on_air | aired | cancelled | expired | failed
    created_at TEXT NOT NULL,
    expires_at TEXT,
    created_by TEXT NOT NULL DEFAULT '',
    request_key TEXT UNIQUE,       -- idempotency: a double submit returns the first
    updated_at TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '' -- the subject (件名) staff see
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

OPEN_STATES = ("queued", "on_air")
STATUSES = ("aired", "partial", "interrupted", "missed", "failed", "cancelled")
SCHEMA = SCHEMA.replace("STATUSES", ",".join(f"'{s}'" for s in STATUSES))
_AIRLOG_TABLE = SCHEMA.split(";")[0]
# Details with a meaning for recovery (rows the daemon must look at again on start).
STOPPED = "stopped"  # the daemon was stopped (SIGTERM) before or while this aired
SPOKEN = "all words aired"  # on air, only its tail silence left: a crash now is "aired"
WRITE_WAIT_MS = 100  # ``apply``: a quick try; the as-run record retries every second
BEAT_WAIT_MS = 200  # the heartbeat gives up quickly: it is retried every second
BUSY_WAIT_MS = 5000  # any other write waits this long for another process's lock ...
FAULT_WAIT_MS = 250  # ... unless the record already knows it is locked or full


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat(timespec="milliseconds") if t else None


def new_ref() -> str:
    return uuid.uuid4().hex


def connect(path: Path, wait_ms: int = BUSY_WAIT_MS,
            synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection of its own to the station's database (a part that writes from its
    own thread): autocommit, rows by name, ``synchronous`` and a busy wait of ``wait_ms``."""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute(f"PRAGMA busy_timeout={wait_ms}")
    return db


class Store:
    def __init__(self, path: Path, tz):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.tz = path, tz
        self._lock = threading.RLock()
        self.db = connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self._wait_ms = BUSY_WAIT_MS
        self._migrate()
        self.ensure_schema(SCHEMA)
        self.ensure_column("bulletins", "title", "TEXT NOT NULL DEFAULT ''")
        self._beat = connect(path, BEAT_WAIT_MS, "NORMAL")
        self._beat_lock = threading.Lock()
        # A fingerprint of the request body, so a reused Idempotency-Key with another
        # script is refused instead of silently dropped (issue 9).
        self.ensure_column("bulletins", "request_body", "TEXT")
        # The voice preset an item was read in (issue 18): "" for rows of older versions.
        self.ensure_column("airlog", "voice", "TEXT NOT NULL DEFAULT ''")
        self._add_refs()
        self._writer, self._writer_lock = connect(path, WRITE_WAIT_MS), threading.Lock()
        self._reader, self._reader_lock = connect(path, WRITE_WAIT_MS), threading.Lock()

    def _add_refs(self) -> None:
        """Rows of an older version get a ref of their own (issue 20)."""
        with self._lock:
            names = {r["name"] for r in self.db.execute("PRAGMA table_info(airlog)")}
            if "ref" not in names:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    self.db.execute("ALTER TABLE airlog ADD COLUMN ref TEXT")
                    self.db.execute("UPDATE airlog SET ref='row-' || rowid")
                    self.db.execute("COMMIT")
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
            self.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS airlog_ref ON airlog(ref)")

    def _migrate(self) -> None:
        """Bring a database of an older version up to date, keeping every row."""
        with self._lock:
            row = self.db.execute("SELECT sql FROM sqlite_master WHERE name='airlog'").fetchone()
            if row is None or "'partial'" in row[0]:
                return
            # The status CHECK gained 'partial': SQLite cannot alter a CHECK, so the
            # table is rebuilt inside one transaction.
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("ALTER TABLE airlog RENAME TO airlog_old")
                self.db.execute("DROP INDEX IF EXISTS airlog_day")
                self.db.execute("DROP INDEX IF EXISTS airlog_item")
                self.db.execute(_AIRLOG_TABLE)
                cols = "rowid,kind,id,title,scheduled_at,started_at,ended_at,status,detail,day"
                self.db.execute(f"INSERT INTO airlog({cols}) SELECT {cols} FROM airlog_old")
                self.db.execute("DROP TABLE airlog_old")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def ensure_schema(self, sql: str) -> None:
        """Create tables (idempotent); other modules (accounts) add theirs this way."""
        with self._lock:
            self.db.executescript(sql)

    def ensure_column(self, table: str, column: str, decl: str) -> None:
        """Add a column to an existing table (databases made by an older version)."""
        with self._lock:
            names = {r["name"] for r in self.db.execute(f"PRAGMA table_info({table})")}
            if column not in names:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def close(self) -> None:
        with self._lock:
            self.db.close()
        with self._beat_lock:
            self._beat.close()
        with self._writer_lock:
            self._writer.close()
        with self._reader_lock:
            self._reader.close()

    def execute(self, sql: str, args=()) -> sqlite3.Cursor:
        """One statement on the shared connection. While the record knows writes fail
        (``write_blocked``: locked or full, not merely short of room) a write gives up
        after FAULT_WAIT_MS: threads queued on the
        lock behind one another's 5 s waits would otherwise hold a web request (and a
        staff member's 503) for tens of seconds."""
        with self._lock:
            wait = FAULT_WAIT_MS if self.write_blocked else BUSY_WAIT_MS
            if wait != self._wait_ms:
                self.db.execute(f"PRAGMA busy_timeout={wait}")
                self._wait_ms = wait
            return self.db.execute(sql, args)

    def query(self, sql: str, args=()) -> list[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    def touch(self, sql: str, args=()) -> None:
        """A write nobody depends on (when a session or token was last used): skipped
        while the record cannot write, and its failure only logged, so a locked or full
        database never fails the request that caused it."""
        if self.write_fault:
            return
        try:
            self.execute(sql, args)
        except sqlite3.Error as exc:
            log.warning("Not noted (%s): %s", exc, sql.split(" SET ")[0])

    write_fault: str | None = None  # set by the as-run record while writes fail
    write_blocked = False  # ... because they do fail (locked, full), not only low room

    def day_of(self, *times: dt.datetime | None) -> str:
        t = next(x for x in times if x is not None)
        return t.astimezone(self.tz).date().isoformat()

    _day = day_of

    # -- as-run log ------------------------------------------------------------------
    def airing_started(self, kind, item_id, title, scheduled_at, started_at,
                       voice: str = "") -> int:
        """Insert the row of an airing that began. Until it ends it reads ``interrupted``:
        if the daemon dies mid-item, that is exactly what happened. ``voice``: the
        preset it is read in. (The station writes through ``announcer.record.asrun``;
        this is for tools and tests.)"""
        cur = self.execute(
            "INSERT INTO airlog(ref,kind,id,title,scheduled_at,started_at,status,day,voice)"
            " VALUES (?,?,?,?,?,?, 'interrupted', ?,?)",
            (new_ref(), kind, item_id, title, iso(scheduled_at), iso(started_at),
             self._day(scheduled_at, started_at), voice))
        return cur.lastrowid

    def airing_ended(self, rowid: int, status: str, ended_at, detail: str = "") -> None:
        self.execute("UPDATE airlog SET status=?, ended_at=?, detail=? WHERE rowid=?",
                     (status, iso(ended_at), detail, rowid))

    def airing_record(self, kind, item_id, title, scheduled_at, status, detail="",
                      at: dt.datetime | None = None, voice: str = "") -> int:
        """A row for an item that never started (missed, failed, cancelled); its end is
        when that was decided."""
        cur = self.execute(
            "INSERT INTO airlog(ref,kind,id,title,scheduled_at,ended_at,status,detail,day,voice)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (new_ref(), kind, item_id, title, iso(scheduled_at), iso(at), status, detail,
             self._day(scheduled_at, at), voice))
        return cur.lastrowid

    # -- the as-run record's writes and reads (``announcer.record.asrun``) -----------
    _APPLY = {
        "start": "INSERT OR IGNORE INTO airlog(ref,kind,id,title,scheduled_at,started_at,"
                 "status,day,voice) VALUES (:ref,:kind,:id,:title,:scheduled_at,:at,"
                 "'interrupted',:day,:voice)",
        "row": "INSERT OR IGNORE INTO airlog(ref,kind,id,title,scheduled_at,ended_at,status,"
               "detail,day,voice) VALUES (:ref,:kind,:id,:title,:scheduled_at,:at,:status,"
               ":detail,:day,:voice)",
        "end": "UPDATE airlog SET status=:status, ended_at=:at, detail=:detail WHERE ref=:ref",
        "detail": "UPDATE airlog SET detail=:detail WHERE ref=:ref",
        "bulletin": "UPDATE bulletins SET state=:state, updated_at=:at WHERE id=:id",
    }

    def apply(self, entries: list[dict]) -> None:
        """Apply as-run entries in order, in one transaction; applying them again changes
        nothing. Raises ``sqlite3.Error`` (locked, full …) with nothing applied."""
        with self._writer_lock:
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                for entry in entries:
                    db.execute(self._APPLY[entry["op"]], _params(entry))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def probe(self, now: dt.datetime) -> None:
        """A small durable write: raises ``sqlite3.Error`` while the database cannot be
        written (the record checks whether a fault cleared)."""
        with self._writer_lock:
            self._writer.execute("INSERT INTO state(key,value) VALUES ('record_checked',?)"
                                 " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                                 (iso(now),))

    def read(self, sql: str, args=()) -> list[dict]:
        """A read on the record's own connection (never queued behind a stuck write)."""
        with self._reader_lock:
            return [dict(r) for r in self._reader.execute(sql, args).fetchall()]

    def airlog(self, day: dt.date | None = None, month: str | None = None,
               latest: int | None = None) -> list[dict]:
        """Rows of a day or a month, oldest first; with ``latest``, only the last ones."""
        where, arg = ("day LIKE ?", f"{month}-%") if month else ("day=?", day.isoformat())
        if latest is None:
            rows = self.query(f"SELECT * FROM airlog WHERE {where} ORDER BY rowid", (arg,))
        else:
            rows = self.query(f"SELECT * FROM airlog WHERE {where} ORDER BY rowid DESC LIMIT ?",
                              (arg, latest))[::-1]
        return [dict(r) for r in rows]

    def airlog_count(self, day: dt.date) -> int:
        return self.query("SELECT COUNT(*) FROM airlog WHERE day=?", (day.isoformat(),))[0][0]

    def has_airing(self, kind: str, item_id: str, scheduled_at: dt.datetime) -> bool:
        return bool(self.query(
            "SELECT 1 FROM airlog WHERE kind=? AND id=? AND scheduled_at=? LIMIT 1",
            (kind, item_id, iso(scheduled_at))))

    def unacknowledged(self, since: dt.datetime) -> list[dict]:
        """Partial and failed airings since ``since`` that no one has acknowledged."""
        return [dict(r) for r in self.query(
            "SELECT * FROM airlog WHERE status IN ('partial','failed') AND acked_at IS NULL"
            " AND COALESCE(ended_at, started_at, scheduled_at) >= ? ORDER BY rowid",
            (iso(since),))]

    def acknowledge(self, rowid: int, by: str, now: dt.datetime) -> bool:
        cur = self.execute("UPDATE airlog SET acked_by=?, acked_at=? WHERE rowid=?"
                           " AND acked_at IS NULL AND status IN ('partial','failed')",
                           (by, iso(now), rowid))
        return cur.rowcount > 0

    # -- bulletins -------------------------------------------------------------------
    def add_bulletin(self, bid: str, text: str, options: dict, now: dt.datetime,
                     expires_at: dt.datetime | None, created_by: str = "",
                     request_key: str | None = None, title: str = "", *,
                     fingerprint: str | None = None) -> tuple[str, bool]:
        """Commit a bulletin durably; returns (id, created). A repeated ``request_key``
        returns the first bulletin's id with created=False (double submit)."""
        with self._lock:
            if request_key:
                row = self.query("SELECT id FROM bulletins WHERE request_key=?", (request_key,))
                if row:
                    return row[0]["id"], False
            self.execute(
                "INSERT INTO bulletins(id,text,options,state,created_at,expires_at,created_by,"
                "request_key,updated_at,title,request_body) VALUES (?,?,?,'queued',?,?,?,?,?,?,?)",
                (bid, text, json.dumps(options), iso(now), iso(expires_at), created_by,
                 request_key, iso(now), title, fingerprint))
        return bid, True

    def open_count(self, real_only: bool = False) -> int:
        """Bulletins queued or on air (``real_only``: drills left out)."""
        sql = "SELECT COUNT(*) FROM bulletins WHERE state IN ('queued','on_air')"
        if real_only:
            sql += " AND COALESCE(json_extract(options, '$.test'), 0) = 0"
        return self.query(sql)[0][0]

    def set_bulletin_state(self, bid: str, state: str, now: dt.datetime) -> None:
        self.execute("UPDATE bulletins SET state=?, updated_at=? WHERE id=?",
                     (state, iso(now), bid))

    def bulletin(self, bid: str) -> dict | None:
        rows = self.query("SELECT * FROM bulletins WHERE id=?", (bid,))
        return _bulletin(rows[0]) if rows else None

    def open_bulletins(self) -> list[dict]:
        rows = self.query("SELECT * FROM bulletins WHERE state IN ('queued','on_air')"
                          " ORDER BY created_at")
        return [_bulletin(r) for r in rows]

    # -- heartbeat -------------------------------------------------------------------
    def set_state(self, key: str, value: str, durable: bool = True) -> None:
        """``durable=False`` (the heartbeat) skips the fsync: see the module docstring."""
        sql = ("INSERT INTO state(key,value) VALUES (?,?)"
               " ON CONFLICT(key) DO UPDATE SET value=excluded.value")
        if durable:
            self.execute(sql, (key, value))
            return
        with self._beat_lock:
            self._beat.execute(sql, (key, value))

    def get_state(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM state WHERE key=?", (key,))
        return rows[0]["value"] if rows else None


def _params(entry: dict) -> dict:
    keys = ("ref", "kind", "id", "title", "scheduled_at", "at", "status", "detail", "day",
            "state", "voice")
    return {k: entry.get(k, "" if k in ("title", "detail", "voice") else None) for k in keys}


def _bulletin(row: sqlite3.Row) -> dict:
    d = dict(row)
    d.update(json.loads(d.pop("options")))
    return d
