"""The off-air silence monitor (see ``service``): capture process, detector, history.

Kept free of imports: the capture process starts as ``python -m announcer.watch.monitor.capture``.
"""
