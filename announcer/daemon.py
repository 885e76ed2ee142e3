"""``announcer run``: the composition root of the resident daemon.

Builds every part in order (config, store, studio, output, station, scheduler jobs,
web server, watchdog), tells systemd it is ready, and on SIGTERM stops them in reverse
inside a ``finally``. SIGHUP reloads notices and the reading dictionary.

Ready (``READY=1``) means the as-run log, the schedule and the staff page are up, and a
bulletin can be accepted. Speech (dictionary, warm workers) and the audio device come
up in the background: what is due meanwhile waits in the engine's queue, and
``/healthz`` says ``starting`` until both are there.

Time: APScheduler runs the station's jobs, but they must not hang on the wall clock. A
step back would leave every job waiting for a next run time now in the "future" (the
size of the step), a step forward makes them misfire; so ``StepWatch`` (monotonic)
watches for steps and re-times every job to run now and wakes the scheduler, jobs never
count as misfired (``misfire_grace_time=None``, coalesced), and each job reports to
``Station.job_ran``: jobs that stop anyway make ``/healthz`` ``degraded``. What is due is
still decided by the wall clock, in the station (``announcer.station.cueing``).
"""

import datetime as dt
import faulthandler
import functools
import logging
import signal
import threading
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from announcer.core import heap
from announcer.core.clock import FileShift, StepWatch, SystemClock, process_started_at
from announcer.core.config import load_config

log = logging.getLogger(__name__)


class Notifier:
    """sd_notify when run by systemd (Type=notify); silent otherwise."""

    def __init__(self):
        try:
            import sdnotify

            self._n = sdnotify.SystemdNotifier()
        except ImportError:  # pragma: no cover - sdnotify is a dependency
            self._n = None

    def __call__(self, message: str) -> None:
        if self._n is not None:
            self._n.notify(message)


def add_jobs(scheduler: BackgroundScheduler, station) -> None:
    """APScheduler stays a thin adapter: each job calls one method of the station.
    (The systemd watchdog is not one of them: see ``announcer.watch.watchdog``.)"""
    # a late run still runs (once): lateness is the station's to judge, not the adapter's
    opts = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    jobs = (("plan", station.plan, {"seconds": 0.25}),
            ("tick", station.engine.tick, {"seconds": 0.1}),
            ("watch", station.reload_notices, {"seconds": 1}),
            ("prerender", station.prerender, {"minutes": 1}),
            ("heartbeat", station.heartbeat, {"seconds": 1}))
    for name, call, every in jobs:
        scheduler.add_job(_reporting(station, name, call), "interval", id=name, name=name,
                          **every, **opts)


def _reporting(station, name: str, call):
    @functools.wraps(call)
    def job():
        try:
            call()
        finally:
            station.job_ran(name)
    return job


def retime_jobs(scheduler: BackgroundScheduler, now: dt.datetime) -> None:
    """After a wall-clock step: every job runs now and keeps its interval from there,
    and the scheduler's wait (computed before the step) is cut short."""
    for job in scheduler.get_jobs():
        job.modify(next_run_time=now)
    scheduler.wakeup()


def _on_step(station, scheduler, clock, seconds: float) -> None:
    retime_jobs(scheduler, clock.now())
    station.clock_stepped(seconds)


def _shift_scheduler_time(shift) -> None:
    """Test hook (``ANNOUNCER_CLOCK_SHIFT_FILE`` only): APScheduler reads the shifted
    wall clock too, so a test steps the whole daemon as NTP would."""
    import apscheduler.schedulers.base as base
    import apscheduler.triggers.interval as interval

    class Shifted(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime.now(tz) + dt.timedelta(seconds=shift())

    base.datetime = interval.datetime = Shifted


def run_daemon(config_path: Path, fallback_to_file: bool = False) -> int:
    heap.tune()  # before any thread allocates
    from announcer.watch.backup import take_lock
    from announcer.watch.oversight import Oversight
    from announcer.station.output import make_output
    from announcer.station.service import Station
    from announcer.record.store import Store
    from announcer.studio.service import Studio
    from announcer.watch.watchdog import Watchdog
    from announcer.web.server import WebServer

    notify = Notifier()
    stop = threading.Event()
    config = load_config(config_path)
    shift = FileShift.from_env()  # tests only: see ``announcer.core.clock``
    clock = SystemClock(config.station.timezone, shift)
    if shift is not None:
        log.warning("The wall clock is shifted by %s (a test hook)", shift.path)
        _shift_scheduler_time(shift)
    spawned = process_started_at(config.station.timezone)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` dumps every thread to the journal
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    started = []  # what to stop, in reverse
    try:
        started.append(take_lock(config.paths.data))  # `announcer restore` checks it
        store = Store(config.paths.data / "announcer.db", config.station.timezone)
        started.append(store.close)
        studio = Studio(config)
        studio.start_background()
        started.append(studio.stop)
        station = Station(config, clock, studio, store, make_output(config, fallback_to_file))
        publisher = _start_publisher(config, clock, store, studio, station, started)
        before = clock.now()
        station.start(started_at=spawned)
        started.append(station.stop)
        if publisher is not None:  # what aired before a crash and had no page yet
            publisher.catch_up(before)
        jma = _start_jma(config, station, store, clock, started)
        if publisher is not None and jma is not None:
            publisher.jma = jma.db  # alerts' series, and 取消
        scheduler = BackgroundScheduler(timezone=config.station.timezone,
                                        executors={"default": JobExecutor(8)})
        add_jobs(scheduler, station)
        scheduler.start()
        started.append(lambda: scheduler.shutdown(wait=False))
        steps = StepWatch(clock, functools.partial(_on_step, station, scheduler, clock))
        steps.start()
        started.append(steps.stop)
        oversight = Oversight(config, station, store)  # alerts and the silence monitor
        oversight.start()
        started.append(oversight.stop)
        try:  # the station airs even if its staff page cannot start (port taken …)
            web = WebServer(config, station, store, studio, monitor=oversight.monitor)
            web.app.extensions["announcer.jma"] = jma  # the 気象庁の情報 page (web.alerts)
            web.start()
            started.append(web.stop)
        except Exception:
            log.exception("THE STAFF PAGE IS NOT AVAILABLE: http://%s:%d/ could not start",
                          config.web.host, config.web.port)
        signal.signal(signal.SIGHUP, lambda *_: scheduler.add_job(_reload, args=(station, studio)))
        watchdog = Watchdog(clock, station.engine, station.output, notify)
        watchdog.start()
        started.append(watchdog.stop)
        notify("READY=1")
        log.info("%s is ready %.2f s after spawn (web: http://%s:%d/; speech and audio are "
                 "starting)", config.station.name, (clock.now() - spawned).total_seconds(),
                 config.web.host, config.web.port)
        # Wake up often: a signal delivered to another thread (PortAudio's, a worker's)
        # does not interrupt a plain wait(), so the handler could wait forever.
        while not stop.wait(0.5):
            pass
        log.info("Stopping")
        notify("STOPPING=1")
    finally:
        for step in reversed(started):
            try:
                step()
            except Exception:
                log.exception("while stopping")
    return 0


def _reload(station, studio) -> None:
    log.info("SIGHUP: reloading notices and the reading dictionary")
    try:
        studio.reload_dictionary()
    except Exception as exc:
        log.error("Dictionary not reloaded: %s", exc)
    station.reload_notices(force=True)


def _start_publisher(config, clock, store, studio, station, started: list):
    """The public site (``announcer.publish``) when ``publish.enabled``, else None.

    Started before the station so that it hears every airing and stops after it (what
    ended at the stop is still published). It can never stop the station from airing."""
    if not config.publish.enabled:
        return None
    from announcer.publish.service import Publisher

    try:
        publisher = Publisher(config, clock, store, studio, notices=lambda: station.notices)
        publisher.start()
    except Exception:
        log.exception("THE PUBLIC SITE IS NOT AVAILABLE: %s is not updated", config.publish.dir)
        return None
    started.append(publisher.stop)
    station.engine.tap = publisher.tap
    publisher.quiet = lambda: not station.engine.queued()
    station.airing_listeners.append(publisher.airing_ended)
    return publisher


def _start_jma(config, station, store, clock, started: list):
    """Official JMA information (``announcer.jma``) when ``jma.enabled``, else None."""
    if not config.jma.enabled:
        station.health_extras["jma"] = lambda: "off"
        return None
    from announcer.jma.service import JmaService

    jma = JmaService(config.jma, station, store, clock, config.jma.templates)
    jma.start()
    started.append(jma.stop)
    station.health_extras["jma"] = jma.health
    # A person outranks a machine: a relay cut by a staff bulletin airs again only while
    # JMA still has it in force (without that method: while unexpired).
    station.relay_in_force = getattr(jma, "in_force", None)
    return jma
