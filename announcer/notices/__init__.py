"""The notices: what the station reads out every day, and when.

- ``files``: notice files (``schedules/**/*.yaml``) validated at load; a broken file
  keeps its last good version.
- ``schedule``: what airs when, as pure functions of (notices, instants); never reads
  the clock.
- ``editing``: notices written from the staff page (validated, atomic, versioned).
"""
