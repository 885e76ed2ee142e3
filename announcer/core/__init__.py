"""The small shared core every part may use, and that uses no part.

- ``config`` + ``yamlfile``: ``station.yaml`` declared once, validated at load, every
  problem as ``file:line: key: message``.
- ``clock``: the injectable clock (``now()`` in the station's zone, ``monotonic()``).
- ``errors``: the exception tree the edges translate.
- ``events``: the trouble-event bus anything may publish to (never blocks).
- ``fsutil``: durable writes (temp, fsync, rename); ``logs``: one logging set-up.
"""
