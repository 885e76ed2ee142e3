"""Login throttling that an attacker cannot turn against staff, in bounded memory.

Rules:
- Failures count per (address, name). From the PAIR_FREE-th failure on, that name is
  refused *from that address only* for a growing delay (1 s, 2 s, 4 s … at most
  PAIR_MAX); the page says how long. Another name on the same address (staff behind
  one NAT) and the same name from another PC are not affected.
- Failures also count per address (any name). Past ADDR_FREE failures within WINDOW,
  the address is only *slowed*: its attempts are checked one lane at a time, each
  after SLOW_DELAY, and a correct password still logs in. Only when that narrow lane is
  already taken is an attempt answered "try again in a moment", at once, so that a
  flood never holds the web server's threads that the emergency path needs.
- Every password check (argon2, ~64 MiB each) takes one of VERIFY_SLOTS, so memory
  and CPU stay bounded however many requests arrive together; at most VERIFY_QUEUE
  wait for one, so logins never hold more than a few of the web server's threads.
- At most MAX_KEYS records are kept (least recently used dropped first: a few MB);
  records of a quiet key are forgotten after FORGET.
- ``audit_allowed`` caps how many login failures reach the audit log: AUDIT_PER_ADDR
  per address and AUDIT_TOTAL in all within WINDOW; the rest are counted and written
  as one ``login.flood`` row.

Flask-Limiter was not used: its in-memory storage keeps a key for every name tried
(no bound on their number), it refuses before the view runs (so it could not let a
correct password through a per-address limit), and it has no growing delay.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

PAIR_FREE = 3        # failures of one name from one address before delays begin
PAIR_MAX = 900.0     # seconds: the longest delay for one name from one address
ADDR_FREE = 20       # failures from one address within WINDOW before it is slowed
WINDOW = 300.0
FORGET = 3600.0
SLOW_DELAY = 1.0     # seconds each slowed attempt waits before its password is checked
SLOW_LANES = 1       # slowed attempts checked at the same time (all addresses together)
VERIFY_SLOTS = 2     # password checks at the same time (~0.4 s and 64 MiB each here)
VERIFY_QUEUE = 6     # attempts waiting for a check slot; more get "try again" at once
VERIFY_WAIT = 10.0   # seconds an attempt waits for a check slot before "try again"
MAX_KEYS = 4096
AUDIT_PER_ADDR, AUDIT_TOTAL = 10, 100


@dataclass
class _Record:
    failures: int = 0
    until: float = 0.0       # pair: refused before this; address: window start
    seen: float = 0.0


class Busy(Exception):
    """No lane or slot free right now: ``retry`` seconds is a fair wait."""

    def __init__(self, retry: float):
        super().__init__(retry)
        self.retry = retry


class LoginThrottle:
    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self.clock, self.sleep = clock, sleep
        self._records: OrderedDict[tuple, _Record] = OrderedDict()
        self._lock = threading.Lock()
        self._lanes = threading.BoundedSemaphore(SLOW_LANES)
        self._verify = threading.BoundedSemaphore(VERIFY_SLOTS)
        self._queued = 0
        self._audit_window = (0.0, 0, 0)  # (start, written, suppressed)
        self._audit_addr: dict[str, int] = {}

    # -- records -----------------------------------------------------------------------
    def _get(self, key: tuple, now: float) -> _Record:
        record = self._records.get(key)
        if record is None or now - record.seen > FORGET:
            record = _Record(until=now if key[0] == "addr" else 0.0)
            self._records[key] = record
            while len(self._records) > MAX_KEYS:
                self._records.popitem(last=False)
        self._records.move_to_end(key)
        record.seen = now
        return record

    def __len__(self) -> int:
        return len(self._records)

    def wait(self, addr: str, name: str) -> float:
        """Seconds before ``name`` may be tried again from ``addr`` (0: now)."""
        now = self.clock()
        with self._lock:
            record = self._records.get(("pair", addr, name))
            return max(0.0, record.until - now) if record else 0.0

    def slowed(self, addr: str) -> bool:
        now = self.clock()
        with self._lock:
            record = self._records.get(("addr", addr))
            return bool(record) and now - record.until <= WINDOW and \
                record.failures >= ADDR_FREE

    def failed(self, addr: str, name: str) -> float:
        """Count a failure; returns the delay now imposed on (addr, name)."""
        now = self.clock()
        with self._lock:
            address = self._get(("addr", addr), now)
            if now - address.until > WINDOW:
                address.failures, address.until = 0, now
            address.failures += 1
            pair = self._get(("pair", addr, name), now)
            pair.failures += 1
            delay = 0.0
            if pair.failures >= PAIR_FREE:
                delay = min(2.0 ** (pair.failures - PAIR_FREE), PAIR_MAX)
                pair.until = now + delay
            return delay

    def succeeded(self, addr: str, name: str) -> None:
        with self._lock:
            self._records.pop(("pair", addr, name), None)

    # -- checking a password -------------------------------------------------------------
    def check(self, addr: str, verify):
        """Run ``verify()`` (the password check) within the limits above; raises Busy."""
        slowed = self.slowed(addr)
        if slowed and not self._lanes.acquire(blocking=False):
            raise Busy(SLOW_DELAY * 2)
        try:
            if slowed:
                self.sleep(SLOW_DELAY)
            self._wait_for_slot()
            try:
                return verify()
            finally:
                self._verify.release()
        finally:
            if slowed:
                self._lanes.release()

    def _wait_for_slot(self) -> None:
        with self._lock:
            if self._queued >= VERIFY_QUEUE:
                raise Busy(2.0)
            self._queued += 1
        try:
            if not self._verify.acquire(timeout=VERIFY_WAIT):
                raise Busy(2.0)
        finally:
            with self._lock:
                self._queued -= 1

    # -- what reaches the audit log ------------------------------------------------------
    def audit_allowed(self, addr: str) -> tuple[bool, int, bool]:
        """(write this failure, failures left out in the last window that a summary row
        should report now, whether this is the first one left out in this window)."""
        now = self.clock()
        with self._lock:
            start, written, suppressed = self._audit_window
            report = 0
            if now - start > WINDOW:
                report, start, written, suppressed = suppressed, now, 0, 0
                self._audit_addr = {}
            per_addr = self._audit_addr.get(addr, 0)
            allowed = written < AUDIT_TOTAL and per_addr < AUDIT_PER_ADDR
            first_left_out = not allowed and suppressed == 0
            if allowed:
                written += 1
                if len(self._audit_addr) < MAX_KEYS:
                    self._audit_addr[addr] = per_addr + 1
            else:
                suppressed += 1
            self._audit_window = (start, written, suppressed)
            return allowed, report, first_left_out
