"""The station's trouble events: one tiny in-process bus that anything may publish to.

Rules:
- An event is ``(kind, key, ok, detail)``: ``kind`` names what is watched (one of
  ``KINDS``), ``key`` which instance (the output, a notice file, a feed), ``ok`` whether
  it is fine now, ``detail`` one line for a person. Conditions (audio, silence, a broken
  file, a stale feed, the disk) publish ``ok=False`` while bad and ``ok=True`` once fine
  again; one-shot kinds (a failed airing) only ever publish ``ok=False``.
- ``publish`` never blocks and never raises: it runs each listener inline, so listeners
  only hand the event on (the alerts thread's queue). It may be called from any thread
  except the audio callback.
- Publishers do not filter repeats: publishing the same state again is cheap, grouping
  into episodes is the listener's job (``announcer.watch.notify.episodes``).
- The bus remembers the last state of every condition: a listener that subscribes late
  (the alerts start after the station) first hears every condition that is bad now.

Who publishes: the station (``audio``, ``airing``, ``notice_file``, ``render``,
``clock``), the as-run record (``record``: the database is locked or full and entries
wait in the journal), the render cache (``cache``), the
studio (``speech``: a worker crashed, until the workers answer again), the
silence monitor (``silence``, ``on_air_silence``), the alerts themselves (``disk``), the
JMA feed (``publish(JMA_STALE, "feed", ok, detail)``: ``ok=False`` while stale), the
JMA intake (``publish(JMA_INTAKE, "intake", ok, detail)``: ``ok=False`` while the inbox
has a backlog or a file was rejected or overran its time budget recently), the
alerts' couriers (``notify``, key: the channel, when it refuses a message for good), the
public site (``PUBLISH``: key ``site`` for writing the folder, ``command`` for
``publish.command``, ``audio`` for encoding).

Like ``logging``, publishers anywhere share the module's bus (``publish``); the
composition root attaches the listener and tests make a ``Bus()`` of their own.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)

AUDIO = "audio"                     # the output device: degraded / recovered
SILENCE = "silence"                 # the off-air monitor hears nothing
ON_AIR_SILENCE = "on_air_silence"   # our own item is on air and the monitor hears nothing
AIRING = "airing"                   # an airing failed or aired only in part (one-shot)
NOTICE_FILE = "notice_file"         # a file under schedules/ is broken / fixed
RENDER = "render"                   # a notice could not be rendered (one-shot)
JMA_STALE = "jma_stale"             # the JMA feed has not updated in time / is fresh again
JMA_INTAKE = "jma_intake"           # JMA intake: inbox backlog, rejected files, overruns
DISK = "disk"                       # the data disk is under the free-space limit
SPEECH = "speech"                   # speech workers crash / restart; fine once they answer
NOTIFY = "notify"                   # an alert channel refuses our messages for good
RECORD = "record"                   # the as-run record cannot be written (entries wait)
CLOCK = "clock"                     # the wall clock stepped (one-shot)
CACHE = "cache"                     # the render cache cannot be written
PUBLISH = "publish"                 # the public site cannot be written / sent (publish.command)
TEST = "test"                       # ``announcer notify-test``
KINDS = (AUDIO, SILENCE, ON_AIR_SILENCE, AIRING, NOTICE_FILE, RENDER, JMA_STALE, JMA_INTAKE,
         DISK, SPEECH, NOTIFY, RECORD, CLOCK, CACHE, PUBLISH, TEST)
ONE_SHOT = (AIRING, RENDER, CLOCK, TEST)


@dataclass(frozen=True)
class Event:
    kind: str
    key: str
    ok: bool
    detail: str = ""
    at: float = field(default_factory=time.time)  # epoch seconds, when it was published


Listener = Callable[[Event], None]


class Bus:
    def __init__(self):
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._failing: dict[str, dict[str, str]] = {}  # publish_state: kind -> key -> detail
        self._bad: dict[tuple[str, str], Event] = {}  # conditions bad now

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add ``listener`` (it first hears every condition bad now); returns the
        function that removes it again."""
        with self._lock:
            self._listeners.append(listener)
            bad = list(self._bad.values())
        for event in bad:
            self._call(listener, event)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe

    def publish(self, kind: str, key: str, ok: bool, detail: str = "") -> None:
        event = Event(kind, str(key), bool(ok), str(detail))
        with self._lock:
            listeners = list(self._listeners)
            if kind not in ONE_SHOT:
                if ok:
                    self._bad.pop((kind, event.key), None)
                else:
                    self._bad[(kind, event.key)] = event
        for listener in listeners:
            self._call(listener, event)

    def bad_now(self) -> list[Event]:
        """Every condition that is bad now (its last publish was ``ok=False``), oldest
        first: what the station's health verdict reads."""
        with self._lock:
            return sorted(self._bad.values(), key=lambda e: e.at)

    @staticmethod
    def _call(listener: Listener, event: Event) -> None:
        try:
            listener(event)
        except Exception:  # a listener's bug must not reach the publisher
            log.exception("event listener failed on %s", event)

    def publish_state(self, kind: str, failing: dict) -> None:
        """Publish the difference to the last call for ``kind``: ``failing`` maps every
        key that is bad now to its detail (a string, or a list of lines); keys no longer
        in it are published fine."""
        now = {str(k): "; ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
               for k, v in failing.items()}
        with self._lock:
            before = self._failing.get(kind, {})
            self._failing[kind] = now
        for key, detail in now.items():
            if before.get(key) != detail:
                self.publish(kind, key, False, detail)
        for key in before.keys() - now.keys():
            self.publish(kind, key, True, "")


BUS = Bus()


def publish(kind: str, key: str, ok: bool, detail: str = "") -> None:
    """Publish on the station's bus (see the module docstring)."""
    BUS.publish(kind, key, ok, detail)


def publish_state(kind: str, failing: dict) -> None:
    BUS.publish_state(kind, failing)


def bad_now() -> list[Event]:
    """Every condition bad now on the station's bus (see ``Bus.bad_now``)."""
    return BUS.bad_now()


def airing_ended(kind: str, item_id: str, title: str, status: str, detail: str) -> None:
    """The engine's end of an item: a failed or partial airing is an alert."""
    if status in ("failed", "partial"):
        what = {"failed": "放送できませんでした", "partial": "途中までしか放送できませんでした"}[status]
        label = {"notice": "お知らせ", "bulletin": "緊急放送", "alert": "防災情報"}.get(kind, kind)
        BUS.publish(AIRING, f"{kind}:{item_id}", False,
                    f"{label}「{title or item_id}」を{what}（{detail or status}）")
