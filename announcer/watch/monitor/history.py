"""The monitor's level history: one row per second, kept ``KEEP_DAYS`` days, in SQLite.

Rows are written in batches (one statement every ``FLUSH`` seconds, not one commit per
second) and pruned hourly. Times are epoch seconds (integers: 600,000 rows a week stay
small); a NULL level means the input was down that second.
"""

import threading

SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_levels (
    t INTEGER PRIMARY KEY,         -- epoch second
    rms REAL,                      -- dBFS, NULL: no input
    peak REAL                      -- dBFS
);
"""
KEEP_DAYS = 7
FLUSH = 10.0
PRUNE = 3600.0


class LevelHistory:
    def __init__(self, store):
        self.store = store
        store.ensure_schema(SCHEMA)
        self._rows: list[tuple[int, float | None, float | None]] = []
        self._lock = threading.Lock()
        self._flushed = self._pruned = 0.0

    def add(self, second: int, rms: float | None, peak: float | None, now: float) -> None:
        """Keep one second's level; written at the next flush, pruned when due."""
        with self._lock:
            self._rows.append((int(second), _round(rms), _round(peak)))
        if now - self._flushed >= FLUSH:
            self.flush(now)
        if now - self._pruned >= PRUNE:
            self._pruned = now
            self.store.execute("DELETE FROM monitor_levels WHERE t < ?",
                               (int(now - KEEP_DAYS * 86400),))

    def flush(self, now: float) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        self._flushed = now
        if rows:
            marks = ",".join("(?,?,?)" for _ in rows)
            self.store.execute(f"INSERT OR REPLACE INTO monitor_levels(t,rms,peak) VALUES {marks}",
                               [v for row in rows for v in row])

    def series(self, now: float, minutes: int, points: int = 360) -> dict:
        """The last ``minutes`` as at most ``points`` buckets ``[t, min, max]`` of the RMS
        level (min and max over the bucket; None for a bucket with no input)."""
        step = max(1, minutes * 60 // points)
        start = int(now) - minutes * 60
        rows = self.store.query(
            "SELECT (t / ?) * ? AS b, MIN(rms), MAX(rms), COUNT(rms) FROM monitor_levels"
            " WHERE t >= ? GROUP BY b ORDER BY b", (step, step, start))
        with self._lock:
            pending = list(self._rows)
        buckets = {r[0]: [r[0], r[1], r[2]] for r in rows}
        for t, rms, _peak in pending:  # not flushed yet
            if t >= start and rms is not None:
                b = buckets.setdefault(t // step * step, [t // step * step, rms, rms])
                b[1] = rms if b[1] is None else min(b[1], rms)
                b[2] = rms if b[2] is None else max(b[2], rms)
        return {"step": step, "start": start, "end": int(now),
                "points": [buckets[k] for k in sorted(buckets)]}


def label(t: float, tz, minutes: int) -> str:
    """The chart's axis label in the station's zone."""
    import datetime as dt

    d = dt.datetime.fromtimestamp(t, tz)
    return f"{d.month}/{d.day} {d:%H:%M}" if minutes > 24 * 60 else f"{d:%H:%M}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
