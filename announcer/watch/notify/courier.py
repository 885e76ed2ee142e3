"""One courier per channel: a thread, a bounded outbox, retries.

Rules:
- ``post(message)`` never blocks: the message joins the outbox; when the outbox is full
  the oldest waiting message is dropped (and logged), so a channel that is down for days
  costs a fixed amount of memory.
- Messages go out in order. A failed attempt is retried after ``RETRY`` seconds (growing),
  the same message again, until it is ``GIVE_UP`` seconds old; newer ones wait behind it
  so an alarm never arrives after its own recovery.
- A permanent refusal (``PermanentError``: an SMTP 5xx, a webhook 4xx) is not retried:
  the message is dropped, logged once, and handed to ``on_refused`` (the alerts report it
  on the other channels). ``on_sent`` hears every delivery.
- Each channel has its own courier: a dead mail server delays only the mail.
"""

import collections
import logging
import threading
import time

from announcer.watch.notify.channels import PermanentError

log = logging.getLogger(__name__)
OUTBOX = 100
RETRY = (5.0, 15.0, 60.0, 300.0, 900.0)
GIVE_UP = 24 * 3600.0


class Courier:
    def __init__(self, channel, retry=RETRY, give_up: float = GIVE_UP, limit: int = OUTBOX,
                 on_sent=None, on_refused=None):
        self.channel, self.retry, self.give_up, self.limit = channel, retry, give_up, limit
        self.on_sent = on_sent or (lambda channel, message: None)
        self.on_refused = on_refused or (lambda channel, message, error: None)
        self._outbox: collections.deque = collections.deque()
        self._wake = threading.Condition()
        self._stopping = False
        self.sent = self.dropped = self.failures = self.refused = 0
        self._thread: threading.Thread | None = None

    def start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop soon; an attempt in flight (a hung server) is abandoned, not awaited long."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._outbox:
            log.warning("%s: %d alert(s) not sent at shutdown", self.channel.name,
                        len(self._outbox))

    def post(self, message) -> None:
        with self._wake:
            if len(self._outbox) >= self.limit:
                self._outbox.popleft()
                self.dropped += 1
                log.error("%s: outbox full, oldest alert dropped", self.channel.name)
            self._outbox.append((time.monotonic(), message))
            self._wake.notify()

    def pending(self) -> int:
        return len(self._outbox)

    def _next(self):
        with self._wake:
            while not self._outbox and not self._stopping:
                self._wake.wait()
            return None if self._stopping else self._outbox[0]

    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopping; True when it is time to stop."""
        with self._wake:
            if not self._stopping:
                self._wake.wait_for(lambda: self._stopping, seconds)
            return self._stopping

    def _run(self) -> None:
        attempt = 0
        while (head := self._next()) is not None:
            queued, message = head
            try:
                self.channel.send(message)
            except PermanentError as exc:
                self.failures += 1
                self.refused += 1
                attempt = 0
                log.error("%s: refused %r for good, not retried: %s", self.channel.name,
                          message.subject, exc)
                self._done(head, sent=False)
                self._tell(self.on_refused, self.channel, message, exc)
                continue
            except Exception as exc:
                self.failures += 1
                delay = self.retry[min(attempt, len(self.retry) - 1)]
                attempt += 1
                if time.monotonic() - queued > self.give_up:
                    log.error("%s: gave up on %r: %s", self.channel.name, message.subject, exc)
                    self._done(head, sent=False)
                    attempt = 0
                    continue
                log.warning("%s: not sent (%s); retrying in %.0f s", self.channel.name,
                            exc, delay)
                if self._wait(delay):
                    return
                continue
            attempt = 0
            self._done(head, sent=True)
            log.info("Alert sent via %s: %s", self.channel.name, message.subject)
            self._tell(self.on_sent, self.channel, message)

    def _tell(self, listener, *args) -> None:
        try:
            listener(*args)
        except Exception:  # a listener's bug must not end the courier
            log.exception("%s: courier listener failed", self.channel.name)

    def _done(self, head, sent: bool) -> None:
        with self._wake:
            if self._outbox and self._outbox[0] is head:
                self._outbox.popleft()
            if sent:
                self.sent += 1
