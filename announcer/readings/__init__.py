"""The reading dictionary: how names are read on air, in one package.

- ``rows``: the CSV format of ``voices/dict/*.csv``, validation, and the three kinds of
  file (generated area list, hand-made, staff page) with their precedence.
- ``compiler``: Open JTalk rows, the content version, compiling and checking in child
  processes, atomic swap onto the live path.
- ``live.ReadingDictionary``: the one object the studio holds (reload, version, where a
  reading came from).
- ``loader.DictionaryLoader``: what a speech worker uses to load the live file.
- ``staff.WebDictionary``: the staff page's changes to ``web.csv``.

Nothing here imports the web or the playout; only the compiler's child processes and the
loader touch pyopenjtalk.
"""
