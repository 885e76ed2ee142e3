"""Which bulletins the station admits: the open-bulletin cap, the default expiry (a
restart never airs yesterday's emergency), bounded expiries, and idempotency keys
scoped to their caller — with real SQLite, a fake studio, output and clock."""

import dataclasses
import datetime as dt
import sqlite3

import pytest

from announcer.core.clock import FakeClock
from announcer.core.errors import BulletinError
from announcer.record.store import Store
from tests.test_station import at, clock, config, make_station, settle, station, store  # noqa: F401


def refused(call, *args, **kwargs) -> BulletinError:
    with pytest.raises(BulletinError) as e:
        call(*args, **kwargs)
    return e.value


def cap(station, n):
    station.config = dataclasses.replace(
        station.config, emergency=dataclasses.replace(station.config.emergency, max_open=n))
    station.out.fail()  # nothing airs: they all stay queued


def test_open_bulletins_are_capped_with_429(station, store):
    cap(station, 3)
    ids = [station.submit_bulletin(f"避難指示{n}です。", by="token:city", request_key=f"k{n}")[0]
           for n in range(3)]
    error = refused(station.submit_bulletin, "四つ目の避難指示です。", by="tanaka")
    assert error.status == 429
    assert str(error).startswith("放送待ちの緊急放送が 3 件あり、これ以上は受け付けられません")
    assert len(store.open_bulletins()) == 3  # nothing stored for the refused one
    assert station.submit_bulletin("避難指示0です。", by="token:city", request_key="k0") == \
        (ids[0], False)  # a double submit is still answered with its first id
    station.cancel_bulletin(ids[0])
    settle(station)
    assert station.submit_bulletin("四つ目の避難指示です。", by="tanaka")[1]


def test_drills_filling_the_queue_never_keep_a_real_bulletin_out(station, store):
    cap(station, 3)
    for n in range(3):
        station.submit_bulletin(f"訓練{n}です。", test=True, by="token:city")
    assert refused(station.submit_bulletin, "訓練3です。", test=True, by="token:city").status == 429
    assert station.submit_bulletin("本物の避難指示です。", by="tanaka")[1]


def test_official_information_is_never_capped(station, store):
    cap(station, 1)
    station.submit_bulletin("避難指示です。", by="tanaka")
    assert station.submit_bulletin("大雨警報が発表されました。", by="jma", kind="alert",
                                   title="大雨警報")[1]


def test_a_bulletin_expires_by_default(station, store):
    bid, _ = station.submit_bulletin("避難してください。")
    b = store.bulletin(bid)
    expires = dt.datetime.fromisoformat(b["expires_at"])
    assert expires - dt.datetime.fromisoformat(b["created_at"]) == dt.timedelta(hours=2)


def test_a_restart_the_next_day_does_not_air_yesterdays_bulletin(config, store):
    first, out = make_station(config, FakeClock(at(7, 0)), store)
    out.fail()
    bid, _ = first.submit_bulletin("昨日の避難指示です。")
    first.engine.close()  # the process dies with the bulletin still queued
    second, out = make_station(config, FakeClock(at(7, 0) + dt.timedelta(days=1)), store)
    try:
        settle(second)
        out.run(3.0)
        settle(second)
        assert store.bulletin(bid)["state"] == "expired"
        assert not any(tag == f"bulletin-{bid}" for _, tag in out.blocks)
    finally:
        second.stop()


@pytest.mark.parametrize("expires,message", [
    (dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone.utc), "有効期限は 24 時間以内にしてください"),
    (at(6, 0), "有効期限が過去になっています"),
])
def test_expiry_far_ahead_or_past_is_refused(station, expires, message):
    error = refused(station.submit_bulletin, "避難してください。", expires_at=expires)
    assert (error.status, str(error)) == (422, message)


def test_idempotency_keys_belong_to_their_caller(station, store):
    a, created_a = station.submit_bulletin("市役所から。", by="token:city", request_key="k1")
    b, created_b = station.submit_bulletin("消防から。", by="token:fire", request_key="k1")
    assert created_a and created_b and a != b  # another caller's key swallows nothing
    again, created = station.submit_bulletin("市役所から。", by="token:city", request_key="k1")
    assert (again, created) == (a, False)
    error = refused(station.submit_bulletin, "別の原稿です。", by="token:city",
                    request_key="k1")
    assert error.status == 409
    error = refused(station.submit_bulletin, "市役所から。", repeat=3, by="token:city",
                    request_key="k1")
    assert error.status == 409  # same script, other options: also another request


def test_a_database_from_before_keeps_working(config, clock):
    """An existing station database (no request_body column) is migrated on open."""
    path = config.paths.data / "announcer.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE bulletins (id TEXT PRIMARY KEY, text TEXT NOT NULL, options TEXT NOT NULL,
            state TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT,
            created_by TEXT NOT NULL DEFAULT '', request_key TEXT UNIQUE,
            updated_at TEXT NOT NULL);
        CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('operator','admin')), created_at TEXT NOT NULL);
        CREATE TABLE tokens (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL);
        INSERT INTO users VALUES ('tanaka', 'x', 'operator', '2026-01-01T00:00:00+09:00');
        INSERT INTO tokens VALUES ('city', 'h', '2026-01-01T00:00:00+09:00');
    """)
    db.close()
    store = Store(path, config.station.timezone)
    from announcer.access.accounts import Accounts

    accounts = Accounts(store, clock)
    assert accounts.users()[0]["disabled"] is False
    assert accounts.tokens()[0]["scope"] == "bulletins"
    station, _ = make_station(config, clock, store)
    try:
        bid, created = station.submit_bulletin("避難してください。", by="tanaka",
                                               request_key="k")
        assert created and store.bulletin(bid)["request_body"]
    finally:
        station.stop()
        store.close()
