"""Watching the station when nobody is at the desk.

- ``watchdog``: ``WATCHDOG=1`` to systemd only while playout makes progress.
- ``oversight``: the daemon's start/stop pair for the alerts and the silence monitor.
- ``monitor/``: the off-air silence monitor (capture process, detector, level history).
- ``notify/``: alerts by mail and webhook, grouped into episodes.
- ``backup``: backups of what cannot be rebuilt, their restore, the daemon's lock.

Nothing here may stop the station from airing.
"""
