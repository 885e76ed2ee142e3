"""The record: what the station accepted and what it aired (the as-run log is the truth).

- ``store``: SQLite (WAL, ``synchronous=FULL``): the as-run log, accepted bulletins,
  the heartbeat and small state.
- ``airlog_csv``: the as-run log in staff words (Japanese labels, formula-safe CSV).
"""
