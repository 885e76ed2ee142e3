"""The JMA subsystem as one service: sources in, items out, the rules applied.

Rules: the inbox and each feed have their own thread; each parses its messages itself
(so one slow file or feed never holds up another), then ``handle`` takes the one lock:
it reads the state, asks ``rules.step`` what the message means, writes the key, the new
state, the items and the status changes in one transaction, and only then acts —
queuing airings (the station's emergency lane, kind ``alert``, idempotent per item) and
cancelling withdrawn ones. So a message is handled whole or not at all, and a crash
between the commit and the queuing is repaired by ``tick`` (every second: queued items
followed to the air, drafts expired or aired unattended, intake health published).
Statuses: ``approved`` = queued to air (by staff, the auto policy or the unattended
rule), ``aired``, ``pending`` (a draft for staff), ``expired``, ``withdrawn`` (取消,
discarded or stopped), ``ignored`` (訓練/試験, older than in force), ``stale`` (too old
to air by itself), ``logged``.
"""

import datetime as dt
import logging
import threading
import time

from announcer.core import events
from announcer.jma import rules
from announcer.jma import state as st
from announcer.jma.feed import FeedPoller
from announcer.jma.inbox import Inbox
from announcer.jma.intake import Intake, oneline
from announcer.jma.parse import Overrun, Rejected, Unhandled, is_incomplete, parse
from announcer.jma.policy import Settings
from announcer.jma.store import JmaStore
from announcer.jma.wording import Templates, compose

log = logging.getLogger(__name__)
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
        self.settings = Settings.from_config(cfg)
        self.intake = Intake()
        extra = {"fetcher": fetcher} if fetcher else {}
        self.feeds = [FeedPoller([url], cfg.poll_seconds, self._from_feed, self.db.fetched,
                                 lambda u: self.db.mark_fetched(u, self.clock.now()),
                                 offices=cfg.offices, overran=self.intake.overran, **extra)
                      for url in cfg.feeds]
        self.inbox = Inbox(cfg.inbox, self._from_inbox, intake=self.intake)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = time.monotonic()
        self._inbox_ok: float | None = None
        self._pruned = 0.0

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.inbox.ensure()
        self._adopt()
        self.tick()
        loops = [("jma-tick", self._tick_loop, 1.0), ("jma-inbox", self._inbox_loop, 0.2)]
        loops += [(f"jma-feed-{i}", self._feed_loop(p), 0.2) for i, p in enumerate(self.feeds)]
        for name, target, every in loops:
            t = threading.Thread(target=self._loop, args=(name, target, every), name=name,
                                 daemon=True)
            t.start()
            self._threads.append(t)
        log.info("JMA information on: %d feeds every %d s, inbox %s, areas %s",
                 len(self.cfg.feeds), self.cfg.poll_seconds, self.cfg.inbox,
                 ",".join(self.cfg.areas))

    def _adopt(self) -> None:
        """Drafts an older version left (unknown to the rules' state) cannot be approved
        or expire by themselves: they expire now, once."""
        known = self.db.state()["items"]
        for item in self.db.open_items():
            if item["status"] == "pending" and item["id"] not in known:
                self.db.set_status(item["id"], "expired", self.clock.now(), expect=("pending",),
                                   reason="以前の版で作られた原稿です（もう承認できません）")

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=TIMEOUT_JOIN)
        self.db.close()

    def _loop(self, name: str, target, every: float) -> None:
        while not self._stop.wait(every):
            try:
                target()
            except Exception:
                log.exception("%s failed; it carries on", name)

    def _feed_loop(self, poller: FeedPoller):
        return poller.poll_due

    def _inbox_loop(self) -> None:
        self.inbox.scan()
        self._inbox_ok = time.monotonic()

    def _tick_loop(self) -> None:
        self.tick()

    def health(self) -> str:
        """``ok`` unless no poll succeeded for 5 × poll_seconds."""
        polls = [p.last_ok for p in self.feeds if p.last_ok is not None]
        last = max(polls) if self.cfg.feeds and polls else (
            None if self.cfg.feeds else self._inbox_ok)
        last = last if last is not None else self._started
        return "ok" if time.monotonic() - last <= 5 * self.cfg.poll_seconds else "stale"

    # -- sources -----------------------------------------------------------------------
    def _from_feed(self, data: bytes, source: str) -> bool:
        ok, outcome = self.handle(data, source)
        if not ok:
            self.intake.rejected(f"フィード {oneline(source, 80)}")
        return not outcome.startswith("processing failed")

    def _from_inbox(self, data: bytes, source: str):
        return self.handle(data, source)

    # -- one message -------------------------------------------------------------------
    def handle(self, data: bytes, source: str) -> tuple[bool, str]:
        """Process one message; (accepted, outcome) for the log and the inbox."""
        where = oneline(source)
        try:
            msg = parse(data)
        except Unhandled as exc:
            log.info("JMA message from %s not relayed: %s", where, exc)
            return True, f"ignored: {exc}"
        except Rejected as exc:
            if isinstance(exc, Overrun):
                self.intake.overran(where[:80])
            quiet = source.startswith("inbox:") and is_incomplete(str(exc))
            log.log(logging.INFO if quiet else logging.WARNING,
                    "JMA message from %s rejected: %s", where, oneline(exc))
            return False, f"rejected: {exc}"
        try:
            with self._lock:
                return self._process(msg, source)
        except Exception as exc:
            log.exception("JMA message from %s: processing failed", where)
            return False, f"processing failed: {exc}"

    def _process(self, msg, source: str) -> tuple[bool, str]:
        title = oneline(msg.title)
        if self.db.processed(msg.key):
            log.info("JMA %s %s from %s: already processed", msg.type, title, oneline(source))
            return True, "duplicate"
        now = self.clock.now()
        out = rules.step(self._synced(self.db.state()), msg, now, self.settings)
        if not out.accepted:
            log.warning("JMA %s %s from %s: %s", msg.type, title, oneline(source), out.result)
            return False, f"rejected: {out.result}"
        items = self._texts([a[1] for a in out.actions if a[0] == "new"])
        statuses = [a[1:] for a in out.actions if a[0] == "status"]
        if not self.db.commit(now, key=msg.key, source=source, outcome=out.result,
                              state=out.state, items=items, statuses=statuses):
            return True, "duplicate"
        for item in items:
            level = logging.WARNING if item["status"] in ("approved", "pending") else logging.INFO
            log.log(level, "JMA %s %s (%s): %s → %s%s", msg.type, title, msg.info_type,
                    item["decision"], item["status"],
                    f" ({oneline(item['reason'])})" if item["reason"] else "")
        if not items:
            log.info("JMA %s %s: %s", msg.type, title, out.result)
        self._apply(out.actions)
        return True, out.result

    def _texts(self, items: list[dict]) -> list[dict]:
        templates = self.templates.get()
        for item in items:
            item["text"] = compose(item["content"], self.tz, templates)
        return items

    def _synced(self, state: dict) -> dict:
        """The state with queued items that went on air since marked aired (so that a
        取消 withdraws them on air rather than only from the queue)."""
        for item_id, it in state["items"].items():
            if it.get("status") == "approved":
                b = self.db.item(item_id)
                if b and self._bulletin_state(b) in ("on_air", "aired"):
                    state = rules.mark(state, item_id, "aired")
        return state

    def _apply(self, actions: list) -> None:
        for action in actions:
            if action[0] == "cancel":
                item = self.db.item(action[1])
                if item and item.get("bulletin"):
                    self.station.cancel_bulletin(item["bulletin"])
            elif action[0] == "air":
                item = self.db.item(action[1])
                if item is not None:
                    self._air(item)

    # -- airing ------------------------------------------------------------------------
    def _air(self, item: dict) -> None:
        from announcer.core.errors import BulletinError

        emergency = self.station.config.emergency
        try:
            bid, _ = self.station.submit_bulletin(
                item["text"], repeat=emergency.repeat, interrupt=bool(item["interrupt"]),
                chime=emergency.chime and bool(item["chime"]),
                expires_at=_time(item["expires_at"]), by="jma",
                request_key=f"jma-{item['id']}", kind="alert", title=item["title"][:60],
                voice=self.cfg.voice)
        except BulletinError as exc:
            log.error("JMA item %s cannot air: %s", item["id"], exc)
            self._set(item["id"], "expired", f"放送できませんでした: {exc}")
            return
        self.db.set_bulletin(item["id"], bid)
        log.warning("JMA item %s queued for air as bulletin %s%s: %s", item["id"], bid,
                    " (cutting in)" if item["interrupt"] else "", oneline(item["title"]))

    def _bulletin_state(self, item: dict) -> str | None:
        if not item.get("bulletin"):
            return None
        b = self.station.bulletin(item["bulletin"])
        return b["state"] if b else None

    def _set(self, item_id: str, status: str, reason: str, by: str = "",
             expect: tuple = ()) -> bool:
        """An item's status, in the store and in the rules' state, in one transaction."""
        with self._lock:
            if expect and (self.db.item(item_id) or {}).get("status") not in expect:
                return False
            state = rules.mark(self.db.state(), item_id, status)
            return self.db.commit(self.clock.now(), state=state,
                                  statuses=[(item_id, status, reason, by)])

    def tick(self) -> None:
        """Follow queued items to the air (and queue what a crash left), expire drafts,
        air unattended ones; publish the feed's and the intake's health."""
        events.publish(events.JMA_STALE, "feed", self.health() == "ok",
                       f"{5 * self.cfg.poll_seconds} 秒以上、気象庁のフィードも受信フォルダも読めていません")
        self.intake.report()
        with self._lock:
            now = self.clock.now()
            if time.monotonic() - self._pruned > 3600:
                self._pruned = time.monotonic()
                self.db.prune(now - dt.timedelta(days=KEEP_DAYS))
            for item in self.db.open_items():
                if item["status"] != "approved":
                    continue
                state = self._bulletin_state(item)
                if state in _BULLETIN_END:
                    self._set(item["id"], *_BULLETIN_END[state])
                elif state is None and (_time(item["expires_at"]) or now) <= now:
                    self._set(item["id"], "expired", "放送前に期限切れ")
                elif state is None:
                    log.warning("JMA item %s was not queued (restart?): queuing it", item["id"])
                    self._air(item)
            before = self.db.state()
            out = rules.tick(before, now, self.settings)
            if out.actions or out.state != before:  # no disk write for a quiet second
                self.db.commit(now, state=out.state, statuses=[a[1:] for a in out.actions
                                                               if a[0] == "status"])
            for action in out.actions:
                if action[0] == "status":
                    log.warning("JMA item %s → %s (%s)", action[1], action[2], action[3])
            self._apply(out.actions)

    # -- staff and the station -----------------------------------------------------------
    def approve(self, item_id: str, by: str) -> dict:
        with self._lock:
            item = self.db.item(item_id)
            if item is None:
                raise AlertError("その情報はありません", 404)
            out = rules.approve(self.db.state(), item_id, self.clock.now())
            if out.result == "expired":
                self.tick()
                item = self.db.item(item_id)
            if not out.accepted or item["status"] != "pending":
                label = STATUS_LABELS.get(item["status"], item["status"])
                raise AlertError(f"この情報は承認できません（状態: {label}）")
            self.db.commit(self.clock.now(), state=out.state,
                           statuses=[(item_id, "approved", f"{by} が承認", by)])
            log.warning("JMA draft %s approved by %s: %s", item_id, oneline(by),
                        oneline(item["title"]))
            self._apply(out.actions)
            return self.db.item(item_id)

    def discard(self, item_id: str, by: str) -> dict:
        with self._lock:
            if self.db.item(item_id) is None:
                raise AlertError("その情報はありません", 404)
            if not self._set(item_id, "withdrawn", f"{by} が破棄", by, expect=("pending",)):
                raise AlertError("承認待ちの情報だけを破棄できます")
            log.warning("JMA draft %s discarded by %s", item_id, oneline(by))
            return self.db.item(item_id)

    def stop_item(self, item_id: str, by: str) -> dict:
        """Stop a JMA item: a draft is discarded, a queued or on-air airing cancelled."""
        with self._lock:
            item = self.db.item(item_id)
            if item is None:
                raise AlertError("その情報はありません", 404)
            if item["status"] == "pending":
                return self.discard(item_id, by)
            if item["status"] != "approved":
                raise AlertError("放送待ち・放送中の情報だけを止められます")
            if item.get("bulletin"):
                self.station.cancel_bulletin(item["bulletin"], by)
            self._set(item_id, "withdrawn", f"{by} が止めました", by, expect=("approved",))
            return self.db.item(item_id)

    def in_force(self, bulletin_id: str) -> bool:
        """Whether the JMA item aired (or queued) as station bulletin ``bulletin_id`` is
        still in force and valid now (not lifted, withdrawn, superseded or past its
        validity)."""
        item = self.db.item_by_bulletin(bulletin_id)
        if item is None or item["status"] not in ("approved", "aired"):
            return False
        return st.in_force(self.db.state(), item["id"], self.clock.now())

    def bulletin_of(self, item_id: str) -> str | None:
        """The station bulletin that airs this item (None: not queued yet, or no such
        item): how the page and ``DELETE /api/alerts/<id>`` stop it through the station."""
        item = self.db.item(item_id)
        return item.get("bulletin") if item else None

    def item_of_bulletin(self, bulletin_id: str) -> dict | None:
        return self.db.item_by_bulletin(bulletin_id)

    def items(self, day: dt.date) -> list[dict]:
        return self.db.items(day)

    def item(self, item_id: str) -> dict | None:
        return self.db.item(item_id)


KEEP_DAYS = 31  # message keys older than this cannot come back through a feed
TIMEOUT_JOIN = 2.0  # a thread stuck in a fetch is abandoned at exit: all are daemons
STATUS_LABELS = {"aired": "放送済み", "pending": "承認待ち", "approved": "放送待ち",
                 "expired": "期限切れ", "withdrawn": "取り消し", "ignored": "放送しない",
                 "logged": "記録のみ", "stale": "古い情報（放送しない）"}


def _time(value) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)
