"""The reading dictionary: how names are read on air, in one package.

- ``rows``: the CSV format of ``voices/dict/*.csv``, validation, and the three kinds of
  file (generated area list, hand-made, staff page) with their precedence.
- ``compiler``: Open JTalk rows, the content version, compiling and checking in child
  processes, atomic swap onto the live path.
- ``live.ReadingDictionary``: the one object the studio holds (reload, version, where a
  reading came from).
- ``staff.WebDictionary``: the staff page's changes to ``web.csv``.

Nothing here imports the web or the playout; only the compiler's child processes touch
pyopenjtalk (a speech worker loads the compiled file with ``speech.userdict``).
"""
