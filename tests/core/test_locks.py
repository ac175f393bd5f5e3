"""Database locks: one holder at a time, renewal, expiry after a holder dies."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from hub.locks import acquire, held, release


def test_one_holder_renewal_and_expiry(sqlite_engine: Engine) -> None:
    assert acquire(sqlite_engine, "poll:inbox", "w1", ttl=0.5)
    assert not acquire(sqlite_engine, "poll:inbox", "w2", ttl=0.5)
    assert acquire(sqlite_engine, "poll:inbox", "w1", ttl=0.5), "the holder renews"
    time.sleep(0.6)
    assert acquire(sqlite_engine, "poll:inbox", "w2", ttl=5), "an expired lock (dead holder) is taken over"
    release(sqlite_engine, "poll:inbox", "w1")  # not the holder: nothing happens
    assert not acquire(sqlite_engine, "poll:inbox", "w3", ttl=5)
    release(sqlite_engine, "poll:inbox", "w2")
    assert acquire(sqlite_engine, "poll:inbox", "w3", ttl=5)


def test_held_context(sqlite_engine: Engine) -> None:
    with held(sqlite_engine, "deliver:crm", 5) as lease:
        assert lease is not None and lease.renew()
        with held(sqlite_engine, "deliver:crm", 5) as other:
            assert other is None
    with held(sqlite_engine, "deliver:crm", 5) as again:
        assert again is not None
