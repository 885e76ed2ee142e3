"""announcer: the AI announcer of a community FM station."""

__version__ = "0.1.0"
