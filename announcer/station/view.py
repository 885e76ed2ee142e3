"""What the staff pages may read about the station, in one read-only object.

Rules: every method only reads (no reload, no write, no cueing); pages change things
through the ``Station`` service's methods. Notices are what the station last loaded
(the daemon polls ``schedules/`` every few seconds, and every page save reloads at
once), so a GET never reloads. As-run rows come back as dicts with their status as a
page should show it: a row still open for the item on air reads ``on_air`` (the store
writes ``interrupted`` until an airing ends, which is what a crash would leave).
"""

import datetime as dt
import json


class StationView:
    def __init__(self, station, store):
        self._station, self._store = station, store

    # -- on air, queue, health ---------------------------------------------------------
    def status(self) -> dict:
        return self._station.status()

    def health(self) -> dict:
        return self._station.health()

    def on_air(self) -> tuple[str, str] | None:
        """(kind, id) of what is on air, or None."""
        item = self._station.engine.on_air()
        return (item.kind, item.id) if item is not None else None

    def bulletin(self, bid: str) -> dict | None:
        return self._store.bulletin(bid)

    # -- notices -----------------------------------------------------------------------
    def notice_set(self):
        """The ``NoticeSet`` in effect (files, notices, broken files' problems)."""
        return self._station.notices

    def notices(self) -> list:
        return list(self._station.notices.notices.values())

    def notice(self, notice_id: str):
        return self._station.notices.notices.get(notice_id)

    def upcoming(self, hours: float, start: dt.datetime):
        """[(at, notice)] due within ``hours`` from ``start``."""
        return self._station.upcoming(hours, start)

    # -- the as-run log ----------------------------------------------------------------
    def airlog(self, day: dt.date | None = None, month: str | None = None,
               latest: int | None = None) -> list[dict]:
        """Rows of a day or a month (``YYYY-MM``), oldest first (only the ``latest``)."""
        rows = self._store.airlog(day, month, latest)
        on_air = self.on_air()
        for r in rows:
            if r["ended_at"] is None and on_air == (r["kind"], r["id"]):
                r["status"] = "on_air"
        return rows

    def airlog_count(self, day: dt.date) -> int:
        return self._store.airlog_count(day)

    def last_airings(self) -> dict[str, dict]:
        """Notice id → its latest as-run row."""
        rows = self._store.query(
            "SELECT a.* FROM airlog a JOIN (SELECT MAX(rowid) AS last FROM airlog"
            " WHERE kind='notice' GROUP BY id) m ON a.rowid = m.last")
        return {r["id"]: dict(r) for r in rows}

    # -- the audit log -----------------------------------------------------------------
    def audit_page(self, *, day: dt.date | None = None, who: str = "", action: str = "",
                   page: int = 1, per_page: int = 50) -> tuple[list[dict], int]:
        """One page of audit rows (newest first) and the number of matching rows."""
        where, args = [], []
        if day is not None:
            where.append("at LIKE ?")
            args.append(f"{day.isoformat()}%")
        if who:
            where.append("who = ?")
            args.append(who)
        if action:
            where.append("(action = ? OR action LIKE ?)")
            args += [action, f"{action}.%"]
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        total = self._store.query(f"SELECT COUNT(*) AS n FROM audit{sql_where}", args)[0]["n"]
        rows = self._store.query(f"SELECT * FROM audit{sql_where} ORDER BY rowid DESC"
                                 " LIMIT ? OFFSET ?", [*args, per_page,
                                                       (max(page, 1) - 1) * per_page])
        return [dict(r, detail=_json(r["detail"])) for r in rows], total

    def audit_people(self) -> list[str]:
        return [r["who"] for r in self._store.query(
            "SELECT DISTINCT who FROM audit ORDER BY who LIMIT 200")]


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return {"": text}
