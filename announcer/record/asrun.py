"""The as-run record: what the air did reaches the database, in order, whatever the
database or the disk does meanwhile.

Rules:
- Every write of the station's record (an airing's start and end, a row for what never
  started, a detail settled at a restart, a bulletin's state) is an *entry* keyed so that
  applying it twice changes nothing (``Store.apply``). It goes to the journal first
  (``announcer.record.journal``: on disk when the call returns), then to the database.
- Entries written in one ``together()`` block (a bulletin's end and its new state) are
  one journal line: a crash keeps both or neither, so a bulletin whose airing ended is
  never found still "on air".
- When the database refuses (another process holds its lock, the disk is full, an I/O
  error), entries wait in memory (at most ``MAX_PENDING``) and in the journal; the
  ``record`` thread retries every second and applies them in the order they were
  written, then clears the journal. Writing never raises and blocks a caller for at most
  one quick try (``WRITE_WAIT_MS``), and none once the record is behind: the engine's
  events thread must keep going. Only the record thread declares a fault (a second
  failure, a second later), so a moment of contention is no alarm.
- Reads that decide what airs (``has_airing``, ``airings``, ``open_bulletins``,
  ``bulletin``) see waiting entries as written: an airing whose end is still waiting is
  never aired again, a bulletin that ended is never re-aired.
- On start, ``open`` applies what a previous run left in the journal, before recovery
  reads anything.
- A fault is health: ``fault`` says it for staff (Japanese), and it is published on the
  events bus as ``record`` (ok=False while writes fail or wait, ok=True once all are in).
  The data disk counts as full below ``RESERVE`` bytes free: bulletins are refused then,
  while there is still room for their rows.

Everything else (``query``, ``add_bulletin`` …) is the ``Store``'s, reached through this
object, so the station's parts take the record where they took the store.
"""

import collections
import contextlib
import datetime as dt
import logging
import os
import shutil
import sqlite3
import threading

from announcer.core import events
from announcer.record.journal import Journal
from announcer.record.store import iso, new_ref

log = logging.getLogger(__name__)
MAX_PENDING = 20000  # entries held in memory: months of airings
RESERVE = 4 * 1024 * 1024  # bytes the data disk keeps free for the record
RETRY = 1.0  # seconds between tries while a fault lasts
KEY = "asrun"  # the bus key of the record's condition


def reason(exc: BaseException) -> str:
    """A database or disk error, in staff words."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "ほかのプログラムがデータベースを使用中です（ロック）"
    if "full" in text or getattr(exc, "errno", None) == 28:
        return "データ用ディスクの空きがありません"
    return f"データベースに書き込めません（{exc}）"


class Record:
    def __init__(self, store, journal_path=None, bus=None):
        self.store = store
        path = journal_path or store.path.with_name("asrun.journal")
        self.journal = Journal(path)
        self.bus = bus or events.BUS
        self._lock = threading.Lock()  # pending, journal
        self._flushing = threading.Lock()
        self._pending: collections.deque = collections.deque()
        self._fault: str | None = None
        self._behind = False  # a quick try failed: only the record thread tries now
        self._group = threading.local()  # entries of a ``together()`` block
        self._journal_problem: str | None = None
        self._dropped = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __getattr__(self, name):  # the store's other reads and writes
        return getattr(self.store, name)

    # -- lifecycle -------------------------------------------------------------------
    def open(self) -> int:
        """Open the journal, take back what a previous run left in it and write it to the
        database now if it can. Returns how many entries were found."""
        try:
            left = self.journal.open()
        except OSError as exc:
            left = []
            self._journal_problem = f"一時保存ファイル（ジャーナル）を用意できません: {exc}"
            log.error("As-run journal %s unavailable (%s): entries wait in memory only",
                      self.journal.path, exc)
        if left:
            log.warning("As-run journal: %d entries of a previous run not in the database yet;"
                        " writing them before recovery", len(left))
        with self._lock:
            self._pending.extend(left)
        self.flush()
        self._thread = threading.Thread(target=self._run, name="record", daemon=True)
        self._thread.start()
        return len(left)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self.flush()
        if self.pending:
            log.error("As-run: %d entries still wait in the journal %s; the next start "
                      "writes them", self.pending, self.journal.path)

    # -- writes ----------------------------------------------------------------------
    def airing_started(self, kind, item_id, title, scheduled_at, started_at,
                       voice: str = "") -> str:
        ref = new_ref()
        self._write({"op": "start", "ref": ref, "kind": kind, "id": item_id, "title": title,
                     "scheduled_at": iso(scheduled_at), "at": iso(started_at),
                     "day": self.store.day_of(scheduled_at, started_at), "voice": voice})
        return ref

    def airing_ended(self, ref: str, status: str, ended_at, detail: str = "") -> None:
        self._write({"op": "end", "ref": ref, "status": status, "at": iso(ended_at),
                     "detail": detail})

    def airing_record(self, kind, item_id, title, scheduled_at, status, detail="",
                      at: dt.datetime | None = None, voice: str = "") -> str:
        ref = new_ref()
        self._write({"op": "row", "ref": ref, "kind": kind, "id": item_id, "title": title,
                     "scheduled_at": iso(scheduled_at), "at": iso(at), "status": status,
                     "detail": detail, "day": self.store.day_of(scheduled_at, at),
                     "voice": voice})
        return ref

    def mark_resolved(self, ref: str, detail: str) -> None:
        self._write({"op": "detail", "ref": ref, "detail": detail})

    def set_bulletin_state(self, bid: str, state: str, now: dt.datetime) -> None:
        self._write({"op": "bulletin", "id": bid, "state": state, "at": iso(now)})

    @contextlib.contextmanager
    def together(self):
        """Entries this thread writes in the block are journalled as one line."""
        if getattr(self._group, "entries", None) is not None:
            yield  # already inside a block
            return
        self._group.entries = []
        try:
            yield
        finally:
            entries, self._group.entries = self._group.entries, None
            if entries:
                self._write_all(entries)

    def _write(self, entry: dict) -> None:
        group = getattr(self._group, "entries", None)
        if group is not None:
            group.append(entry)
        else:
            self._write_all([entry])

    def _write_all(self, entries: list[dict]) -> None:
        with self._lock:
            self._journal(entries)
            self._pending.extend(entries)
            while len(self._pending) > MAX_PENDING:
                lost = self._pending.popleft()
                self._dropped += 1
                log.critical("As-run: more than %d entries wait; the oldest is dropped: %s",
                             MAX_PENDING, lost)
            quick = self._fault is None and not self._behind
        if quick and self._flush(declare=False):
            return
        self._wake.set()

    def _journal(self, entries: list[dict]) -> None:
        try:
            if not self.journal.is_open:  # could not be made at the start (disk full)
                self._pending.extendleft(reversed(self.journal.open()))
            self.journal.append(entries)
            self._journal_problem = None
        except OSError as exc:
            if self._journal_problem is None:
                log.error("As-run journal not written (%s): entries wait in memory", exc)
            self._journal_problem = f"一時保存ファイル（ジャーナル）に書けません: {exc}"

    def flush(self) -> bool:
        """Try to write every waiting entry now. True when none waits any more."""
        return self._flush(declare=True)

    def _flush(self, declare: bool) -> bool:
        """``declare``: a failure is a fault (the record thread, ``flush``); otherwise the
        record only falls behind and leaves the retry to its thread."""
        with self._flushing:
            with self._lock:
                batch = list(self._pending)
            try:
                if batch:
                    self.store.apply(batch)
                elif self._fault is not None or self._behind:
                    self.store.probe(dt.datetime.now(self.store.tz))
            except (sqlite3.Error, OSError) as exc:
                self._behind = True
                if declare:
                    self._failed(exc, len(batch))
                return False
            self._behind = False
            if batch:
                with self._lock:
                    done = {id(e) for e in batch}
                    while self._pending and id(self._pending[0]) in done:
                        self._pending.popleft()
                    if not self._pending:
                        self._clear_journal()
                log.debug("As-run: %d entries written", len(batch))
            self._check_room(len(batch))
            return not self.pending

    def _clear_journal(self) -> None:
        try:
            self.journal.clear()
        except OSError as exc:  # the entries are in the database: harmless duplicates
            log.warning("As-run journal not cleared: %s", exc)

    # -- faults ----------------------------------------------------------------------
    def _failed(self, exc: BaseException, waiting: int) -> None:
        why = reason(exc)
        if self._fault is None:
            log.error("As-run record cannot be written (%s): %d entries wait in the journal "
                      "and are written when it can", exc, waiting)
        self._set_fault(why, blocked=True)

    def _check_room(self, written: int) -> None:
        free = self.free_bytes()
        if free is not None and free < RESERVE:
            self._set_fault(f"データ用ディスクの空きがほとんどありません（残り {free // 1024} KB）")
        elif self._fault is not None:
            log.warning("As-run record writable again (%d waiting entries written)", written)
            self._fault = None
            self.store.write_fault = None
            self.store.write_blocked = False
            self.bus.publish(events.RECORD, KEY, True, f"放送記録を書き込めるようになりました"
                             f"（待っていた {written} 件を書き込みました）")

    def _set_fault(self, why: str, blocked: bool = False) -> None:
        """``blocked``: writes fail (locked, full), not only room running out."""
        changed = why != self._fault
        self._fault = why
        self.store.write_fault = why
        self.store.write_blocked = blocked
        if changed:
            self.bus.publish(events.RECORD, KEY, False, self.fault)

    def free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(os.path.dirname(self.store.path)).free
        except OSError:
            return None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def cause(self) -> str | None:
        """Why the database cannot take the record now (e.g. it is locked), or None: while
        there is one, nothing new (a bulletin) can be accepted."""
        return self._fault

    @property
    def fault(self) -> str | None:
        """Why the record cannot be written now, or kept safe from a crash (the journal),
        in staff words; or None."""
        why = self._fault or self._journal_problem
        if why is None:
            return None
        waiting = self.pending
        more = f"。{waiting} 件を一時保存中で、書けるようになりしだい書き込みます" if waiting else ""
        return f"放送記録を書き込めません: {why}{more}"

    def health(self) -> dict:
        return {"ok": self.fault is None, "pending": self.pending, "detail": self.fault or "",
                "journal_bytes": self.journal.used, "dropped": self._dropped}

    def note(self, exc: BaseException) -> None:
        """Another writer of the database failed after its long wait (a bulletin's
        commit): that is a fault now."""
        self._behind = True
        self._failed(exc, self.pending)
        self._wake.set()

    def suspect(self) -> None:
        """A quick writer failed (the heartbeat): the record thread checks."""
        self._behind = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(RETRY)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self.pending or self._fault is not None or self._behind:
                    self.flush()
                else:  # a disk filling up is found before a write fails on it
                    self._check_room(0)
            except Exception:  # the writer thread must outlive any surprise
                log.exception("As-run writer failed; retrying")

    # -- reads that see waiting entries ------------------------------------------------
    def _waiting(self) -> list[dict]:
        with self._lock:
            return list(self._pending)

    def has_airing(self, kind: str, item_id: str, scheduled_at: dt.datetime) -> bool:
        at = iso(scheduled_at)
        if any(e["op"] in ("start", "row") and (e["kind"], e["id"], e["scheduled_at"]) ==
               (kind, item_id, at) for e in self._waiting()):
            return True
        return bool(self.store.read("SELECT 1 FROM airlog WHERE kind=? AND id=? AND "
                                    "scheduled_at=? LIMIT 1", (kind, item_id, at)))

    def airings(self, where: str, args=(), keep=lambda row: True) -> list[dict]:
        """As-run rows matching ``where`` (SQL) with waiting entries applied, oldest
        first; rows only waiting are matched by ``keep`` (a Python test of a row)."""
        waiting = self._waiting()
        rows = self.store.read(f"SELECT * FROM airlog WHERE {where} ORDER BY rowid", args)
        refs = {e["ref"] for e in waiting if e["op"] in ("end", "detail")}
        if refs:  # a waiting end may concern a row the query no longer matches
            marks = ",".join("?" * len(refs))
            rows += [r for r in self.store.read(f"SELECT * FROM airlog WHERE ref IN ({marks})",
                                                tuple(refs)) if r not in rows]
        return [r for r in overlay(rows, waiting) if keep(r)]

    def bulletin(self, bid: str) -> dict | None:
        b = self.store.bulletin(bid)
        state = self._bulletin_states().get(bid)
        if b is not None and state is not None:
            b["state"] = state
        return b

    def open_bulletins(self) -> list[dict]:
        states = self._bulletin_states()
        out = [b for b in self.store.open_bulletins() if states.get(b["id"], b["state"])
               in ("queued", "on_air")]
        ids = {b["id"] for b in out}
        for bid, state in states.items():  # reopened while writes waited (device lost)
            if state in ("queued", "on_air") and bid not in ids:
                b = self.bulletin(bid)
                if b is not None:
                    out.append(b)
        return sorted(out, key=lambda b: b["created_at"])

    def _bulletin_states(self) -> dict[str, str]:
        return {e["id"]: e["state"] for e in self._waiting() if e["op"] == "bulletin"}


def overlay(rows: list[dict], waiting: list[dict]) -> list[dict]:
    """Database rows (by rowid) with waiting entries applied in order; rows that exist
    only as waiting entries follow, with ``rowid`` None."""
    rows = sorted({r["ref"]: dict(r) for r in rows}.values(), key=lambda r: r["rowid"])
    by_ref = {r["ref"]: r for r in rows}
    for e in waiting:
        op, row = e["op"], by_ref.get(e.get("ref"))
        if op in ("start", "row") and row is None:
            row = {"rowid": None, "ref": e["ref"], "kind": e["kind"], "id": e["id"],
                   "title": e["title"], "scheduled_at": e["scheduled_at"],
                   "started_at": e["at"] if op == "start" else None,
                   "ended_at": e["at"] if op == "row" else None,
                   "status": e.get("status", "interrupted"), "detail": e.get("detail", ""),
                   "day": e["day"], "voice": e.get("voice", "")}
            by_ref[e["ref"]] = row
            rows.append(row)
        elif op == "end" and row is not None:
            row.update(status=e["status"], ended_at=e["at"], detail=e["detail"])
        elif op == "detail" and row is not None:
            row["detail"] = e["detail"]
    return rows
