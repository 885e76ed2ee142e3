"""One place that sets up logging for the CLI and the daemon."""

import logging
import os
import sys


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Under systemd (journald adds timestamps) log bare lines with the thread name.

    ``quiet`` (one-shot commands) shows only warnings, so staff see one clear line."""
    under_systemd = bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))
    fmt = "%(levelname)s [%(threadName)s] %(name)s: %(message)s"
    if not under_systemd:
        fmt = "%(asctime)s " + fmt
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format=fmt,
                        stream=sys.stderr, force=True)
    for noisy in ("apscheduler", "waitress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
