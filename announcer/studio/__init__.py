"""The studio: from a script to the audio that goes on air.

- ``service.Studio``: the one object the station, the web page and the CLI share
  (text preparation, readings, voices, synthesis, cache), so a notice sounds the same
  whichever of them produced it.
- ``render``: assembly of speech, chimes and silences; ``cache``: rendered programs on
  disk (int16, memory-mapped); ``chimes``: the default chimes; ``voices``: voice presets
  (and their DSP keys, the rotation); ``phrases``: bulletins' first pieces, ready to air;
  ``speechwatch``: the ``speech`` health condition (crashing workers).
"""
