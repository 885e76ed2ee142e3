"""One place that sets up logging for the CLI and the daemon."""

import logging
import os
import sys


def setup_logging(verbose: bool = False) -> None:
    """Under systemd (journald adds timestamps) log bare lines with the thread name."""
    under_systemd = bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))
    fmt = "%(levelname)s [%(threadName)s] %(name)s: %(message)s"
    if not under_systemd:
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt,
                        stream=sys.stderr, force=True)
    for noisy in ("apscheduler", "waitress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
