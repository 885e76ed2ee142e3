"""The playout engine: the one thing that decides what the output plays.

The output's audio thread calls ``pull(frames)``; everything else (the scheduler, the
web page, the CLI) only enqueues or cancels items. Decisions in ``pull`` are quick and
never block, events (started, ended) are handed to a listener thread that may do I/O.

Rules: one item at a time; lower ``priority`` first (emergency 0 < manual 1 < notice 2);
within a priority a real item before a drill, then an ``interrupt`` item before one
without, then a person's item before an automatic ``relay`` (official information), then
earlier ``not_before``, then ``order`` (items due at the same instant, a schedule's
twins, keep it whatever order they were enqueued in), then arrival. An item with
``interrupt`` cuts into a lower-priority item on air with a short fade, and a real one
also cuts into a drill of its own priority. A person outranks a machine: a real
``interrupt`` item that is not a relay also cuts into a ``relay`` of its own priority.
Otherwise an emergency never cuts another real emergency (the one on air finishes, the
interrupting one goes next). A cut item is never resumed (its owner may queue it again
from the start); its end detail names what cut it (``cut in by <kind> <id>``).

An item that knows where its last sound is (``spoken_at``, a notice's rendered audio;
a stream's source learns where its words end, before the closing chime) gets one
"spoken" event once every such sound went out unfaded: the record counts it aired even
if something (a cut, a crash) takes its tail.

Every item ends with exactly one "end" event: ``aired`` (every sample went out),
``partial`` (its source reports sentences it could not synthesize), ``failed``,
``cancelled``, ``interrupted`` or ``missed``. At shutdown the item on air ends
``interrupted`` and every queued one ``missed``, both with detail ``stopped``, so the
station can replay them after the restart.
"""

import itertools
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

EMERGENCY, MANUAL, NOTICE = 0, 1, 2
FADE_CUT = 0.05  # seconds: cutting into a notice for an emergency
FADE_STOP = 0.06  # seconds: staff pressed stop
FADE_SHUTDOWN = 0.5
STOPPED = "stopped"  # detail of items ended by a shutdown (see announcer.record.store)


def _outcome(source) -> tuple[str, str]:
    """How an item whose source ran to its end went out."""
    if getattr(source, "error", None):
        return "failed", f"audio could not be produced: {source.error}"
    missing = getattr(source, "missing", None)
    if missing:
        what = "missing: " + " / ".join(str(m) for m in missing)
        tally = getattr(source, "tally", None)
        if tally is not None and tally.get("spoken", 0) == 0:
            return "failed", "no speech; " + what  # listeners heard only the chimes
        return "partial", what
    return "aired", ""


@dataclass(eq=False)
class Item:
    kind: str  # "notice" | "bulletin" | "alert"
    id: str
    source: object  # ArraySource | StreamSource
    priority: int = NOTICE
    title: str = ""
    interrupt: bool = False
    drill: bool = False  # a test/drill: never ahead of a real item of its priority
    relay: bool = False  # an automatic relay (JMA): a person's interrupt of its priority cuts it
    not_before: float = 0.0  # clock.monotonic() at which it may start
    deadline: float | None = None  # monotonic; unstarted after this → "failed"/"missed"
    scheduled_at: object = None  # aware datetime, for the as-run log
    order: int = 0  # position among items due at the same instant (a schedule's twins)
    voice: str = ""  # the voice preset it is read in, for the as-run log
    seq: int = 0
    started_at: object = None
    spoken_at: int | None = None  # samples: after its last sound (the rest is silence)
    spoken: bool = False  # every sound went out ("spoken" was emitted)

    @property
    def tag(self) -> str:
        return f"{self.kind}-{self.id}"

    def sort_key(self):
        return (self.priority, self.drill, not self.interrupt, self.relay, self.not_before,
                self.order, self.seq)


Listener = Callable[[str, Item, dict], None]  # (event, item, info)


class Engine:
    def __init__(self, clock, rate: int = 48000, listener: Listener | None = None):
        self.clock, self.rate = clock, rate
        self.listener = listener or (lambda event, item, info: None)
        self._lock = threading.Lock()
        self._queue: list[Item] = []
        self._current: Item | None = None
        self._fade_left = 0
        self._fade_len = 0
        self._fade_from = 0  # the source position where the fade began
        self._end_status = "aired"
        self._end_detail = ""
        self.last_pull = self.last_tick = clock.monotonic()  # progress, for the watchdog
        self._seq = itertools.count()
        self._events: queue.Queue = queue.Queue()
        self._output_ok = True
        # tap(item, block): every block that goes out, in order, on the audio thread; it
        # must return at once and the block is not written to afterwards (the public
        # site's capture, ``announcer.publish.capture``).
        self.tap: Callable[[Item, np.ndarray], None] | None = None
        self._thread = threading.Thread(target=self._deliver, name="playout-events", daemon=True)
        self._thread.start()

    # -- called by producers --------------------------------------------------------
    def enqueue(self, item: Item) -> None:
        with self._lock:
            item.seq = next(self._seq)
            self._queue.append(item)
            self._queue.sort(key=Item.sort_key)

    def cancel(self, kind: str, item_id: str, status: str = "cancelled") -> bool:
        """Take an item off air (short fade) or out of the queue. True if found."""
        with self._lock:
            if self._current and (self._current.kind, self._current.id) == (kind, item_id):
                self._begin_fade(FADE_STOP, status)
                return True
            for item in self._queue:
                if (item.kind, item.id) == (kind, item_id):
                    self._drop(item, status)
                    return True
        return False

    def fade_out_all(self, status: str = "interrupted") -> None:
        """For shutdown: fade the item on air (it ends ``status``, detail ``stopped``);
        every queued item ends ``missed``, detail ``stopped``."""
        with self._lock:
            for item in list(self._queue):
                self._drop(item, "missed", STOPPED)
            if self._current:
                self._begin_fade(FADE_SHUTDOWN, status, STOPPED)

    def end_now(self, status: str = "interrupted", detail: str = STOPPED) -> None:
        """For shutdown, after the fade had its time: end the item on air even if the
        output stopped pulling (so its row is written)."""
        with self._lock:
            if self._current is not None:
                self._finish(status, detail)

    def on_air(self) -> Item | None:
        return self._current

    def queued(self) -> list[Item]:
        with self._lock:
            return list(self._queue)

    def idle(self) -> bool:
        with self._lock:
            return self._current is None and not self._queue

    # -- called by the output -------------------------------------------------------
    def output_health(self, ok: bool, detail: str) -> None:
        with self._lock:
            self._output_ok = ok
            if not ok and self._current is not None:
                self._finish("failed", detail=f"output lost: {detail}")

    def pull(self, frames: int) -> tuple[np.ndarray, str | None]:
        out = np.zeros(frames, np.float32)
        with self._lock:
            filled = 0
            while filled < frames:
                if self._current is None and not self._start_next():
                    break
                self._check_preemption()
                chunk = self._current.source.read(frames - filled)
                if self._fade_len:
                    chunk = self._apply_fade(chunk)
                if len(chunk) and self.tap is not None:
                    self._tap(chunk)
                self._note_spoken(self._current)
                if len(chunk) == 0:
                    if self._fade_len and (not self._fade_left or self._current.source.done):
                        self._finish(self._end_status, self._end_detail)
                    elif self._fade_len:
                        break
                    elif self._current.source.done:
                        self._finish(*_outcome(self._current.source))
                    else:
                        break  # a stream not ready yet: silence for the rest of the block
                    continue
                out[filled:filled + len(chunk)] = chunk
                filled += len(chunk)
            tag = self._current.tag if self._current else None
            self.last_pull = self.clock.monotonic()  # a pull that completed
        return out, tag

    def tick(self) -> None:
        """Housekeeping (every ~100 ms): drop queued items whose deadline passed."""
        now = self.clock.monotonic()
        with self._lock:
            self.last_tick = now
            for item in [i for i in self._queue if i.deadline is not None and now > i.deadline]:
                if self._output_ok:
                    ahead = self._current  # what it waited behind, if anything
                    self._drop(item, "missed", "too late" if ahead is None or ahead is item
                               else f"too late: waited behind {ahead.kind}")
                else:
                    self._drop(item, "failed", "device unavailable")

    # -- internals (lock held) ------------------------------------------------------
    def _ready(self) -> Item | None:
        now = self.clock.monotonic()
        for item in self._queue:
            # past its deadline it never starts: ``tick`` logs it missed
            if item.not_before <= now and (item.deadline is None or now <= item.deadline):
                return item
        return None

    def _start_next(self) -> bool:
        item = self._ready()
        if item is None:
            return False
        self._queue.remove(item)
        self._current, self._fade_left, self._fade_len = item, 0, 0
        item.started_at = self.clock.now()
        self._emit("start", item, at=item.started_at)
        return True

    def _check_preemption(self) -> None:
        if self._fade_left or self._fade_len:
            return
        first = self._ready()
        current = self._current
        if first and first.interrupt and (first.priority < current.priority or (
                first.priority == current.priority and not first.drill and (
                    current.drill or (current.relay and not first.relay)))):
            self._begin_fade(FADE_CUT, "interrupted", f"cut in by {first.kind} {first.id}")

    def _note_spoken(self, item: Item) -> None:
        if item.spoken:
            return
        # rendered: the item knows; streamed: the source learns it once the words are made
        spoken_at = item.spoken_at if item.spoken_at is not None else \
            getattr(item.source, "spoken_at", None)
        if spoken_at is None:
            return
        pos = getattr(item.source, "pos", 0)
        if pos >= spoken_at and (not self._fade_len or self._fade_from >= spoken_at):
            item.spoken = True
            self._emit("spoken", item, at=self.clock.now())

    def _begin_fade(self, seconds: float, status: str, detail: str = "") -> None:
        self._end_status, self._end_detail = status, detail
        if self._fade_len:  # already fading: never restart the ramp, just retarget
            return
        self._fade_from = getattr(self._current.source, "pos", 0)
        self._fade_len = self._fade_left = max(1, int(seconds * self.rate))

    def _apply_fade(self, chunk: np.ndarray) -> np.ndarray:
        chunk = chunk[: self._fade_left]
        done = self._fade_len - self._fade_left
        gains = 1.0 - (np.arange(done, done + len(chunk)) / self._fade_len)
        self._fade_left -= len(chunk)
        return (chunk * gains).astype(np.float32)

    def _drop(self, item: Item, status: str, detail: str = "") -> None:
        """Remove a queued item that never started (its producer stops too)."""
        self._queue.remove(item)
        item.source.close()
        self._emit("end", item, status=status, never_started=True, at=self.clock.now(),
                   detail=detail)

    def _finish(self, status: str, detail: str = "") -> None:
        item, self._current = self._current, None
        self._fade_left = self._fade_len = 0
        item.source.close()
        self._emit("end", item, status=status, at=self.clock.now(), detail=detail)

    def _tap(self, chunk: np.ndarray) -> None:
        try:
            self.tap(self._current, chunk)
        except Exception:  # a listener's fault must never reach the audio thread's loop
            pass

    def _emit(self, event: str, item: Item, **info) -> None:
        self._events.put((event, item, info))

    def _deliver(self) -> None:
        while True:
            event, item, info = self._events.get()
            if event == "stop":
                return
            if event == "call":
                info["done"].set()
                continue
            try:
                self.listener(event, item, info)
            except Exception:
                log.exception("playout listener failed on %s %s", event, item.tag)

    def close(self) -> None:
        self._events.put(("stop", None, {}))
        self._thread.join(timeout=2)

    def drain_events(self, timeout: float = 2.0) -> None:
        """Wait until every event emitted so far has been delivered (tests, shutdown)."""
        done = threading.Event()
        self._events.put(("call", None, {"done": done}))
        done.wait(timeout)
