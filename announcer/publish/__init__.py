"""What aired, for everyone: a static public site and podcast feed of what the station
put on air, with furigana from the station's own readings (issue 19).

- ``service.Publisher``: the one object the daemon starts; listens to the station's
  airings (after their as-run row is final) and the engine's tap, writes the site.
- ``capture``: what the engine played for an item, encoded to MP3 by ffmpeg as it airs.
- ``furigana``: ruby from the speech workers' analysis with the station's dictionaries.
- ``store``: the ``public_items`` table (what the site holds).
- ``site``: the HTML pages (Jinja2, ``web/templates/public/``), the RSS feed (feedgen),
  atomic writes, pruning.
- ``sync``: ``publish.command`` (e.g. rsync) in the background, with backoff.

Nothing here runs on the air's threads or imports pyopenjtalk; the station and the web
use this package, never the other way round.
"""
