"""Emergency bulletins (and official information, kind ``alert``): validated, committed
to disk, streamed to air, stopped.

Rules:
- a bulletin is committed before it is acknowledged; synthesis of its first phrase
  overlaps the commit, but nothing reaches the engine before the commit returned;
- accepted bulletins are kept in the database until they end, and re-air after a
  restart (unless expired), or from the start when a lost device comes back;
- a sentence that cannot be synthesized is skipped and named: the airing ends
  ``partial``, or ``failed`` when no sentence of speech went out (only the chimes);
- a real emergency cutting into a drill ends the drill (it does not air again);
- a person outranks a machine: official information (kind ``alert``) is a relay that a
  staff bulletin sent "interrupt" cuts on air (``announcer.playout.engine``). The cut
  relay airs again from the start, after the person's bulletin, only while it is still
  in force (``relay_in_force(bulletin id)``, the JMA service's word) and unexpired;
  its as-run row says which, and the re-airing's row says it was a re-air;
- a re-air from the red card is a new bulletin with the same script, linked to the
  first (``reair_of``);
- a bulletin is read in the voice it was accepted with (``voice``, else the station's
  default, stored resolved so that a restart airs it the same); an unknown voice is 422.
"""

import datetime as dt
import logging
import uuid

from announcer.core.errors import AnnouncerError, BulletinError
from announcer.playout.engine import EMERGENCY, Item
from announcer.playout.sources import StreamSource
from announcer.station import admission
from announcer.text.title import TitleError, check_title, derive_title, shorten

log = logging.getLogger(__name__)
MAX_BULLETIN = 5000
BULLETIN_KINDS = ("bulletin", "alert")  # "alert": official information (announcer.jma)


class BulletinDesk:
    """The bulletins part of the station. ``stopped_by`` ((kind, id) -> staff name) is
    shared with the station, which names who stopped an item in its as-run row."""

    def __init__(self, config, clock, studio, store, engine, stopped_by: dict):
        self.config, self.clock, self.studio = config, clock, studio
        self.store, self.engine = store, engine
        self._stopped_by = stopped_by
        store.ensure_column("bulletins", "reair_of", "TEXT")  # the bulletin it re-airs
        # bulletin id -> bool: whether the JMA item is still in force (the daemon wires
        # ``JmaService.in_force``); None: only the bulletin's own expiry counts.
        self.relay_in_force = None
        self._cut: dict[str, bool] = {}  # relay cut by a person -> airs again
        self._reaired: set[str] = set()  # relays queued again after a cut

    def voice_id(self, voice: str | None) -> str:
        """The preset a bulletin is read in: ``voice``, or the station's default."""
        if voice in (None, ""):
            return self.config.speech.voice
        if not isinstance(voice, str) or voice not in self.studio.voices:
            known = "、".join(f"{v.name}（{v.id}）" for v in self.studio.voices.values())
            raise BulletinError(f"声「{voice}」はありません。使える声: {known}", 422)
        return voice

    def validate(self, text, repeat=2, test=False, voice=None):
        self.voice_id(voice)
        if not isinstance(text, str) or not text.strip():
            raise BulletinError("原稿が空です。放送する文章を入力してください", 422)
        if len(text) > MAX_BULLETIN:
            raise BulletinError(f"原稿が {len(text) - MAX_BULLETIN} 文字多すぎます（いま {len(text)} 文字、"
                                f"上限 {MAX_BULLETIN} 文字）。短くしてください", 413)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 5:
            raise BulletinError("繰り返し回数は 1 から 5 までにしてください", 422)
        try:
            return self.studio.sentences(text, repeat=repeat, drill=bool(test))
        except ValueError as exc:  # a malformed {漢字|ヨミ}
            raise BulletinError(str(exc), 422) from None
        except AnnouncerError as exc:  # nothing speakable
            raise BulletinError(str(exc), 422) from None

    def submit(self, text: str, *, repeat: int = 2, interrupt: bool = True,
               chime: bool = True, test: bool = False,
               expires_at: dt.datetime | None = None, by: str = "",
               request_key: str | None = None, kind: str = "bulletin",
               title: str | None = None, reair_of: str | None = None,
               voice: str | None = None) -> tuple[str, bool]:
        """Validate, commit to disk, then queue. Returns (id, created). ``kind`` names it
        in the as-run log (official information airs as ``alert``); without a ``title``
        the subject is derived from the script (``announcer.text.title``). What is
        admitted (open cap, expiry, ``request_key`` scoped to ``by``; the same key with
        another script is 409) is ``announcer.station.admission``."""
        sentences = self.validate(text, repeat, test, voice)
        try:
            # official information brings its own (JMA's) title: shortened, never refused
            title = (shorten(title.strip()) if kind != "bulletin" and title
                     else check_title(title or "")) or derive_title(text)
        except TitleError as exc:
            raise BulletinError(str(exc), 422) from None
        now = self.clock.now()
        expires_at = admission.expiry(expires_at, now, self.config.emergency.default_expiry)
        bid = now.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        options = {"repeat": repeat, "interrupt": interrupt, "chime": chime, "test": test,
                   "voice": self.voice_id(voice)}
        if kind != "bulletin":
            options["kind"] = kind
        key = admission.scoped_key(by, request_key)
        if kind == "bulletin":  # official information is never held back by the cap
            admission.check_room(self.store, test, self.config.emergency.max_open, key)
        # Synthesis of the first phrase overlaps the durable commit; nothing reaches the
        # engine (or the air) before the commit has returned.
        source = self._source({"id": bid, "text": text, **options}, sentences)
        try:
            bid, created = self.store.add_bulletin(
                bid, text, options, now, expires_at, by, key, title,
                fingerprint=admission.fingerprint(text, dict(options, title=title)))
            admission.check_stored(self.store.bulletin(bid), created, text,
                                   dict(options, title=title))
        except BaseException:
            source.close()
            raise
        if not created:
            source.close()
        else:
            if reair_of:
                self.store.execute("UPDATE bulletins SET reair_of=? WHERE id=?", (reair_of, bid))
            self.enqueue(self.store.bulletin(bid), source)
            log.info("Bulletin %s accepted from %s (%d chars, interrupt=%s)", bid, by or "-",
                     len(text), interrupt)
        return bid, created

    def recover(self) -> None:
        """After a (re)start: every accepted bulletin not finished airs from the start."""
        for b in self.store.open_bulletins():
            log.warning("Bulletin %s was accepted but not finished: airing it from the start",
                        b["id"])
            self.enqueue(b)

    def enqueue(self, b: dict, source: StreamSource | None = None) -> None:
        expires = dt.datetime.fromisoformat(b["expires_at"]) if b.get("expires_at") else None
        if expires is not None and expires <= self.clock.now():  # e.g. found at a restart
            admission.expire(self.store, b, self.clock.now())
            if source is not None:
                source.close()
            return
        mono = self.clock.monotonic()
        deadline = None
        if expires is not None:
            deadline = mono + (expires - self.clock.now()).total_seconds()
        title = ("【訓練】" if b["test"] else "") + (b.get("title") or derive_title(b["text"]))
        source = source or self._source(b)
        kind = b.get("kind", "bulletin")
        self.engine.enqueue(Item(kind, b["id"], source, EMERGENCY, title,
                                 interrupt=b["interrupt"], not_before=0.0, deadline=deadline,
                                 drill=bool(b["test"]), relay=kind == "alert",
                                 voice=self._voice_of(b)))

    def _voice_of(self, b: dict) -> str:
        """The stored voice (bulletins of older versions have none: the default)."""
        voice = b.get("voice")
        return voice if voice in self.studio.voices else self.config.speech.voice

    def _source(self, b: dict, sentences=None) -> StreamSource:
        """Synthesis starts now (the producer thread runs ahead of the engine); a
        sentence that cannot be synthesized is skipped and named, the item ends
        ``partial``. ``sentences``: the script's, as ``validate`` made them."""
        missing: list = []
        tally = {"spoken": 0}
        program = self.studio.bulletin_program(
            b["text"], repeat=b["repeat"], chime=b["chime"], drill=b["test"],
            voice=self._voice_of(b), sentences=sentences,
            on_missing=lambda exc: missing.append(f"「{exc.sentence[:40]}」"),
            on_spoken=lambda: tally.update(spoken=tally["spoken"] + 1))
        return StreamSource(program, name=b["id"], missing=missing, tally=tally)

    def cancel(self, bid: str, by: str = "") -> bool:
        b = self.store.bulletin(bid)
        if b is None:
            return False
        kind = b.get("kind", "bulletin")
        if by:
            self._stopped_by[(kind, bid)] = by
        if self.engine.cancel(kind, bid):
            return True
        self._stopped_by.pop((kind, bid), None)
        if b["state"] in ("queued", "on_air"):  # not in the engine (e.g. device down)
            self.store.set_bulletin_state(bid, "cancelled", self.clock.now())
        return True

    def reair(self, bid: str, by: str, request_key: str | None = None) -> str:
        """Air the same script again as a new bulletin linked to the first (the red
        card's 「もう一度放送する」); returns the new id."""
        b = self.store.bulletin(bid)
        if b is None:
            raise BulletinError("その放送はありません", 404)
        title = shorten("再放送：" + (b.get("title") or derive_title(b["text"])))
        new, _ = self.submit(b["text"], repeat=b["repeat"], interrupt=b["interrupt"],
                             chime=b["chime"], test=bool(b["test"]), by=by,
                             request_key=request_key, kind=b.get("kind", "bulletin"),
                             title=title, reair_of=bid, voice=self._voice_of(b))
        log.warning("Bulletin %s re-airs %s (asked by %s)", new, bid, by)
        return new

    # -- the end of an airing ----------------------------------------------------------
    def detail_for(self, item: Item, status: str, detail: str, stopping: bool) -> str:
        """The as-run detail of an airing that ended. For a relay a person cut it
        decides whether it airs again (``ended`` carries that out)."""
        if item.relay and status == "interrupted" and not stopping \
                and detail.startswith("cut in by bulletin"):
            again = self._still_valid(item.id)
            self._cut[item.id] = again
            return f"{detail}; " + ("airs again (still in force)" if again
                                    else "not aired again (no longer in force)")
        notes = []
        if item.id in self._reaired and status != "interrupted":
            self._reaired.discard(item.id)
            notes.append("aired again after a staff bulletin cut it")
        b = self.store.bulletin(item.id)
        if b and b.get("reair_of") and status != "interrupted":
            notes.append(f"re-air of {b['reair_of']}")
        return "; ".join(notes + ([detail] if detail else []))

    def _still_valid(self, bid: str) -> bool:
        """A cut relay's bulletin is unexpired and (by the JMA service) still in force."""
        b = self.store.bulletin(bid)
        now = self.clock.now()
        if b is None or (b.get("expires_at") and
                         dt.datetime.fromisoformat(b["expires_at"]) <= now):
            return False
        if self.relay_in_force is None:
            return True
        try:
            return bool(self.relay_in_force(bid))
        except Exception:  # an official warning that may be in force is not dropped
            log.exception("Cannot tell whether relay %s is in force: airing it again", bid)
            return True

    def ended(self, item: Item, status: str, detail: str, stopping: bool) -> None:
        """The bulletin's state after its airing ended (``stopping``: the daemon is)."""
        now = self.clock.now()
        if status in ("aired", "partial"):
            self.store.set_bulletin_state(item.id, status, now)
        elif status == "cancelled":
            self.store.set_bulletin_state(item.id, "cancelled", now)
        elif status == "missed":
            self.store.set_bulletin_state(item.id, "expired", now)
        elif status == "failed" and detail.startswith("output lost") \
                and "playout error" not in detail:
            # Accepted bulletins are never lost: air it again, from the start, when the
            # device is back.
            self.store.set_bulletin_state(item.id, "queued", now)
            self.enqueue(self.store.bulletin(item.id))
        elif status == "failed":
            self.store.set_bulletin_state(item.id, "failed", now)
        elif status == "interrupted" and item.id in self._cut and not stopping:
            if self._cut.pop(item.id):  # a person cut a relay still in force: again, after
                log.warning("Relay %s was cut by a staff bulletin: it airs again after it",
                            item.id)
                self.store.set_bulletin_state(item.id, "queued", now)
                self._reaired.add(item.id)
                self.enqueue(self.store.bulletin(item.id))
            else:
                log.warning("Relay %s was cut by a staff bulletin and is no longer in force",
                            item.id)
                self.store.set_bulletin_state(item.id, "expired", now)
        elif status == "interrupted" and item.drill and not stopping:
            # A real emergency cut into a drill: the drill is not aired again after it.
            self.store.set_bulletin_state(item.id, "cancelled", now)
        # Otherwise "interrupted" is a shutdown: the row stays on_air and re-airs after
        # restart.
