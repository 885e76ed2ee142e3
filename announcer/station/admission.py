"""Which bulletins the station accepts: the rules ``Station.submit_bulletin`` applies
before and after committing one.

Rules:
- Every bulletin expires: without ``expires_at`` it gets ``emergency.default_expiry``
  (2 h), so a restart tomorrow never airs today's emergency. An expiry in the past or
  more than MAX_EXPIRY ahead is refused.
- At most ``emergency.max_open`` bulletins are open (queued or on air) at once; one more
  is refused with 429 before anything is synthesized or stored. Drills count against
  every open bulletin, real ones only against the real ones: drills filling the queue
  never keep a real bulletin out. Official information (``alert``) is never capped.
- Idempotency keys belong to their caller (a user or a token): the key is stored
  prefixed with who sent it. The same caller, key and script again is a double submit
  (the first bulletin's id); the same key with another script or options is 409.
"""

import datetime as dt
import hashlib
import json
import logging

from announcer.core.errors import BulletinError

log = logging.getLogger(__name__)

MAX_EXPIRY = dt.timedelta(hours=24)
MAX_KEY = 128


def expiry(expires_at: dt.datetime | None, now: dt.datetime,
           default: dt.timedelta) -> dt.datetime:
    if expires_at is None:
        return now + default
    if expires_at <= now:
        raise BulletinError("有効期限が過去になっています", 422)
    if expires_at - now > MAX_EXPIRY:
        raise BulletinError("有効期限は 24 時間以内にしてください", 422)
    return expires_at


def scoped_key(caller: str, key: str | None) -> str | None:
    if not key:
        return None
    if not isinstance(key, str) or len(key) > MAX_KEY or not key.isprintable():
        raise BulletinError(f"Idempotency-Key は {MAX_KEY} 文字以内の印字可能な文字にしてください",
                            400)
    return f"{caller}\x1f{key}"


def fingerprint(text: str, options: dict) -> str:
    body = json.dumps({"text": text, **options}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def expire(store, bulletin: dict, now: dt.datetime) -> None:
    """A bulletin whose expiry passed before it could air: logged as missed, never aired."""
    log.warning("Bulletin %s expired (%s) before it could air: not airing it",
                bulletin["id"], bulletin["expires_at"])
    store.set_bulletin_state(bulletin["id"], "expired", now)
    title = ("【訓練】" if bulletin.get("test") else "") + (
        bulletin.get("title") or bulletin["text"].strip().splitlines()[0][:30])
    store.airing_record(bulletin.get("kind", "bulletin"), bulletin["id"], title, None, "missed",
                        "expired before it could air", at=now)


def check_room(store, drill: bool, max_open: int, key: str | None) -> None:
    """429 when ``max_open`` bulletins (real ones, for a real one) are already open; a
    double submit (its key is known) is never refused for room."""
    if key and store.query("SELECT 1 FROM bulletins WHERE request_key=?", (key,)):
        return
    if store.open_count(real_only=not drill) >= max_open:
        raise BulletinError(f"放送待ちの緊急放送が {max_open} 件あり、これ以上は受け付けられません。"
                            "放送が終わるのを待つか、不要なものを停止してから送ってください", 429)


def check_stored(stored: dict, created: bool, text: str, options: dict) -> None:
    """409 when ``Store.add_bulletin`` found the key already used for another request."""
    if created:
        return
    same = stored.get("request_body") == fingerprint(text, options) if \
        stored.get("request_body") else (stored["text"], *(stored.get(k) for k in options)) == \
        (text, *options.values())
    if not same:
        raise BulletinError("この送信キー（Idempotency-Key）は別の原稿ですでに使われています。"
                            "新しい原稿には新しいキーを使ってください", 409)
