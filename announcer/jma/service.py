"""The JMA subsystem as one service: sources in, items out, one processor thread.

Rules: the feed poller and the inbox hand raw bytes to ``submit``; one processor thread
parses, decides, records and acts, so messages are handled one at a time in arrival
order, and staff actions (``approve``/``discard``) take the same lock. A message key is
recorded before anything airs; an ``auto`` item goes to the station's emergency lane as
a bulletin of kind ``alert`` (idempotent per item), so a crash between the two never
airs it twice. Statuses: ``approved`` = queued to air (by staff or by the auto policy),
``aired``, ``pending`` (a draft for staff), ``expired``, ``withdrawn`` (取消 or discarded),
``ignored`` (訓練/試験, older than in force), ``logged``.
"""

import datetime as dt
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import Future

from announcer.core import events
from announcer.jma.feed import FeedPoller
from announcer.jma.inbox import Inbox
from announcer.jma.parse import Rejected, parse
from announcer.jma.policy import Settings, decide
from announcer.jma.store import JmaStore
from announcer.jma.wording import Templates, compose, withdrawal

log = logging.getLogger(__name__)
_RANK = {"log": 0, "approve": 1, "auto": 2}
_BULLETIN_END = {"aired": ("aired", "放送しました"), "cancelled": ("withdrawn", "放送を取り消しました"),
                 "expired": ("expired", "期限までに放送できませんでした"),
                 "failed": ("expired", "放送に失敗しました")}


class AlertError(Exception):
    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


class JmaService:
    def __init__(self, cfg, station, store, clock, templates_path, fetcher=None):
        self.cfg, self.station, self.clock = cfg, station, clock
        self.tz = station.tz
        self.db = JmaStore(store)
        self.templates = Templates(templates_path)
        self.settings = Settings(frozenset(cfg.areas), frozenset(cfg.quake_areas),
                                 frozenset(cfg.wide_areas), tuple(cfg.rivers), dict(cfg.policy))
        extra = {"fetcher": fetcher} if fetcher else {}
        self.feed = FeedPoller(cfg.feeds, cfg.poll_seconds, self._from_feed, self.db.fetched,
                               lambda url: self.db.mark_fetched(url, self.clock.now()), **extra)
        self.inbox = Inbox(cfg.inbox, self._from_inbox)
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = time.monotonic()
        self._inbox_ok: float | None = None
        self._pruned = 0.0

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.inbox.ensure()
        self.tick()
        for name, target in (("jma-process", self._process_loop), ("jma-feed", self._feed_loop),
                             ("jma-inbox", self._inbox_loop)):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        log.info("JMA information on: %d feeds every %d s, inbox %s, areas %s",
                 len(self.cfg.feeds), self.cfg.poll_seconds, self.cfg.inbox,
                 ",".join(self.cfg.areas))

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        for t in self._threads:
            t.join(timeout=TIMEOUT_JOIN)
        self.db.close()

    def health(self) -> str:
        """``ok`` unless no poll succeeded for 5 × poll_seconds."""
        last = self.feed.last_ok if self.cfg.feeds else self._inbox_ok
        last = last if last is not None else self._started
        return "ok" if time.monotonic() - last <= 5 * self.cfg.poll_seconds else "stale"

    # -- sources -----------------------------------------------------------------------
    def submit(self, data: bytes, source: str) -> Future:
        done: Future = Future()
        self._queue.put((data, source, done))
        return done

    def _from_feed(self, data: bytes, source: str) -> None:
        self.submit(data, source).result()

    def _from_inbox(self, data: bytes, source: str):
        return self.submit(data, source).result()

    def _feed_loop(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.feed.poll_due()
            except Exception:
                log.exception("JMA feed poller failed; it carries on")

    def _inbox_loop(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.inbox.scan()
                self._inbox_ok = time.monotonic()
            except Exception:
                log.exception("JMA inbox scan failed; it carries on")

    def _process_loop(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            try:
                job = self._queue.get(timeout=0.5)
            except queue.Empty:
                job = False
            if job is None:
                break
            if job:
                data, source, done = job
                try:
                    done.set_result(self.handle(data, source))
                except Exception as exc:
                    log.exception("JMA message from %s: processing failed", source)
                    done.set_result((False, f"processing failed: {exc}"))
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + 1.0
                try:
                    self.tick()
                except Exception:
                    log.exception("JMA housekeeping failed")
        # drain: callers waiting on a result must not hang at shutdown
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job:
                job[2].set_result((False, "shutting down"))

    # -- one message -------------------------------------------------------------------
    def handle(self, data: bytes, source: str) -> tuple[bool, str]:
        """Process one message; (accepted, outcome) for the log and the inbox."""
        try:
            msg = parse(data)
        except Rejected as exc:
            log.warning("JMA message from %s rejected: %s", source, exc)
            return False, f"rejected: {exc}"
        with self._lock:
            if self.db.processed(msg.key):
                log.info("JMA %s %s from %s: already processed", msg.type, msg.title, source)
                return True, "duplicate"
            now = self.clock.now()
            if msg.info_type == "取消":
                return True, self._withdraw(msg, source, now)
            verdict = decide(msg, self.settings)
            if not verdict.relevant:
                self.db.record(msg.key, source, f"ignored: {verdict.reason}", now)
                log.info("JMA %s %s: not for us (%s)", msg.type, msg.title, verdict.reason)
                return True, f"ignored: {verdict.reason}"
            return True, self._relevant(msg, verdict, source, now)

    def _relevant(self, msg, verdict, source: str, now: dt.datetime) -> str:
        item = self._item(msg, verdict.decision, compose(msg, verdict, self.tz,
                                                         self.templates.get()), now)
        item["areas"] = verdict.areas
        in_force = self.db.in_force(msg.series)
        series = (msg.series, msg.date_time)
        if in_force is not None and msg.date_time < in_force:
            item.update(status="ignored", reason="発表中の情報より古い電文です")
            series = None
        elif msg.status != "通常":
            item.update(status="ignored", reason=f"{msg.status}の電文です（放送しません）",
                        title=f"【{msg.status}】{msg.title}")
        else:
            item["status"] = {"auto": "approved", "approve": "pending",
                              "log": "logged"}[verdict.decision]
            item["reason"] = verdict.reason
            self._supersede(msg.series, now)
        self.db.record(msg.key, source, item["status"], now, series=series, item=item)
        log.warning("JMA %s %s (%s): %s → %s%s", msg.type, msg.title, msg.info_type,
                    verdict.decision, item["status"], f" ({item['reason']})" if item["reason"] else "")
        if item["status"] == "approved":
            self._air(item, interrupt=True)
        return item["status"]

    def _item(self, msg, decision: str, text: str, now: dt.datetime) -> dict:
        return {"id": now.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6], "key": msg.key,
                "series": msg.series, "type": msg.type, "title": msg.title, "areas": (),
                "decision": decision, "text": text, "info_type": msg.info_type,
                "msg_status": msg.status, "received_at": now,
                "expires_at": now + dt.timedelta(minutes=self.cfg.approve_minutes),
                "status": "logged", "reason": ""}

    def _supersede(self, series: str, now: dt.datetime) -> None:
        for old in self.db.series_items(series):
            if old["status"] == "pending":
                self.db.set_status(old["id"], "expired", now, reason="新しい発表に置き換わりました",
                                   expect=("pending",))

    def _withdraw(self, msg, source: str, now: dt.datetime) -> str:
        """取消: drafts and queued airings are withdrawn; what aired is withdrawn on air."""
        aired, withdrawn = [], 0
        for old in self.db.series_items(msg.series):
            state = self._bulletin_state(old)
            if old["status"] == "aired" or state in ("on_air", "aired"):
                if state == "on_air":
                    self.station.cancel_bulletin(old["bulletin"])
                aired.append(old)
            elif old["status"] in ("pending", "approved"):
                if old.get("bulletin"):
                    self.station.cancel_bulletin(old["bulletin"])
                self.db.set_status(old["id"], "withdrawn", now, reason="気象庁が取り消しました")
                withdrawn += 1
        series = (msg.series, msg.date_time)
        if not aired and not withdrawn:
            self.db.record(msg.key, source, "取消: nothing of ours", now, series=series)
            log.info("JMA %s %s 取消: nothing of ours to withdraw", msg.type, msg.title)
            return "ignored: nothing to withdraw"
        title = (aired or self.db.series_items(msg.series))[-1]["title"]
        text = withdrawal(title, self.templates.get())
        decision = max((a["decision"] for a in aired), key=_RANK.get, default="log")
        item = self._item(msg, decision, text, now)
        item["title"] = f"【取消】{title}"
        item["areas"] = tuple(dict.fromkeys(c for a in aired for c in a["areas"]))
        if aired:
            item["status"] = {"auto": "approved", "approve": "pending", "log": "logged"}[decision]
        else:
            item.update(status="logged", reason="放送前に取り消されました")
        self.db.record(msg.key, source, f"取消 → {item['status']}", now, series=series, item=item)
        log.warning("JMA %s %s 取消: %d withdrawn before air, %d aired → %s", msg.type,
                    msg.title, withdrawn, len(aired), item["status"])
        if item["status"] == "approved":
            self._air(item, interrupt=True)
        return item["status"]

    # -- airing ------------------------------------------------------------------------
    def _air(self, item: dict, *, interrupt: bool) -> None:
        from announcer.core.errors import BulletinError

        emergency = self.station.config.emergency
        try:
            bid, _ = self.station.submit_bulletin(
                item["text"], repeat=emergency.repeat, interrupt=interrupt,
                chime=emergency.chime, expires_at=_time(item["expires_at"]), by="jma",
                request_key=f"jma-{item['id']}", kind="alert", title=item["title"][:60],
                voice=self.cfg.voice)
        except BulletinError as exc:
            log.error("JMA item %s cannot air: %s", item["id"], exc)
            self.db.set_status(item["id"], "expired", self.clock.now(),
                               reason=f"放送できませんでした: {exc}")
            return
        self.db.set_bulletin(item["id"], bid)
        log.warning("JMA item %s queued for air as bulletin %s: %s", item["id"], bid,
                    item["title"])

    def _bulletin_state(self, item: dict) -> str | None:
        if not item.get("bulletin"):
            return None
        b = self.station.bulletin(item["bulletin"])
        return b["state"] if b else None

    def tick(self) -> None:
        """Expire drafts, follow queued items to the air; queue what a crash left."""
        events.publish(events.JMA_STALE, "feed", self.health() == "ok",
                       f"{5 * self.cfg.poll_seconds} 秒以上、気象庁のフィードも受信フォルダも読めていません")
        with self._lock:
            now = self.clock.now()
            if time.monotonic() - self._pruned > 3600:
                self._pruned = time.monotonic()
                self.db.prune(now - dt.timedelta(days=KEEP_DAYS))
            for item in self.db.open_items():
                state = self._bulletin_state(item)
                if item["status"] == "pending" and _time(item["expires_at"]) <= now:
                    self.db.set_status(item["id"], "expired", now, expect=("pending",),
                                       reason=f"{self.cfg.approve_minutes} 分以内に承認されませんでした")
                    log.warning("JMA draft %s expired unapproved: %s", item["id"], item["title"])
                elif item["status"] == "approved" and state in _BULLETIN_END:
                    status, reason = _BULLETIN_END[state]
                    self.db.set_status(item["id"], status, now, reason=reason or None)
                elif item["status"] == "approved" and state is None:
                    if _time(item["expires_at"]) <= now:
                        self.db.set_status(item["id"], "expired", now, reason="放送前に期限切れ")
                    else:
                        log.warning("JMA item %s was not queued (restart?): queuing it", item["id"])
                        self._air(item, interrupt=item["decision"] == "auto")

    # -- staff -------------------------------------------------------------------------
    def approve(self, item_id: str, by: str) -> dict:
        with self._lock:
            item = self.db.item(item_id)
            if item is None:
                raise AlertError("その情報はありません", 404)
            now = self.clock.now()
            if item["status"] == "pending" and _time(item["expires_at"]) <= now:
                self.tick()
                item = self.db.item(item_id)
            if item["status"] != "pending":
                raise AlertError(f"この情報は承認できません（状態: {STATUS_LABELS.get(item['status'], item['status'])}）")
            self.db.set_status(item_id, "approved", now, by=by, reason=f"{by} が承認",
                               expect=("pending",))
            log.warning("JMA draft %s approved by %s: %s", item_id, by, item["title"])
            self._air(self.db.item(item_id), interrupt=False)
            return self.db.item(item_id)

    def discard(self, item_id: str, by: str) -> dict:
        with self._lock:
            item = self.db.item(item_id)
            if item is None:
                raise AlertError("その情報はありません", 404)
            if not self.db.set_status(item_id, "withdrawn", self.clock.now(), by=by,
                                      reason=f"{by} が破棄", expect=("pending",)):
                raise AlertError("承認待ちの情報だけを破棄できます")
            log.warning("JMA draft %s discarded by %s", item_id, by)
            return self.db.item(item_id)

    def items(self, day: dt.date) -> list[dict]:
        return self.db.items(day)

    def item(self, item_id: str) -> dict | None:
        return self.db.item(item_id)


KEEP_DAYS = 31  # message keys older than this cannot come back through a feed
TIMEOUT_JOIN = 2.0  # a thread stuck in a fetch (10 s timeout) is abandoned: all are daemons
STATUS_LABELS = {"aired": "放送済み", "pending": "承認待ち", "approved": "放送待ち",
                 "expired": "期限切れ", "withdrawn": "取り消し", "ignored": "放送しない",
                 "logged": "記録のみ"}


def _time(value) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)
