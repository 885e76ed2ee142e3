"""The station: the one service the daemon and the web talk to.

- ``service.Station``: lifecycle and the facade over its parts, which share the engine,
  the store and the clock:
  - ``cueing``: notices rendered ahead, cued on time, recovered after a restart;
  - ``bulletins``: emergency bulletins validated, committed, streamed, stopped;
  - ``health``: status, health and the airings staff must look at;
  - ``verdict``: the one health verdict (the station's fields and every condition bad
    now on the trouble bus, in staff words, with the colour).
- ``admission``: which bulletins are accepted (open cap, expiry, idempotency).
- ``output``: the configured audio output (device or WAV files).
- ``check``: ``announcer check`` (config, notice files, the next 24 h).
- ``view``: what the staff pages may read, in one read-only object.
"""
