"""Clients cached per worker: a change is seen at once here and within a second elsewhere."""

from __future__ import annotations

from sqlalchemy import select, update

from idp.extensions import db
from idp.models.cache_version import CLIENTS, CacheVersion
from idp.models.client import Client
from tests.support import make_client


def _cache(app):
    return app.extensions["idp.oidc"].clients


def _version() -> int:
    return db.session.scalar(select(CacheVersion.version).where(CacheVersion.name == CLIENTS))


def test_a_client_change_moves_the_counter_and_is_seen_at_once(app):
    make_client(app, "rp")
    with app.app_context():
        db.session.merge(CacheVersion(name=CLIENTS, version=0))  # emptied with the tables
        db.session.commit()
        assert _cache(app).get("rp").name == "RP Portal"
        before = _version()
        db.session.scalar(select(Client).where(Client.client_id == "rp")).name = "After"
        db.session.commit()
        assert _version() == before + 1
        assert _cache(app).get("rp").name == "After"
        db.session.scalar(select(Client).where(Client.client_id == "rp")).disabled = True
        db.session.commit()
        assert _cache(app).get("rp") is None


def test_another_workers_change_is_seen_once_the_counter_is_read(app):
    make_client(app, "rp")
    with app.app_context():
        db.session.merge(CacheVersion(name=CLIENTS, version=0))
        db.session.commit()
        cache = _cache(app)
        cache._checked_at = 0.0  # an app shared with earlier tests may have read it just now
        assert cache.get("rp").name == "RP Portal"
        # Another worker: the row and the counter change, this process's generation does not.
        table = Client.__table__
        db.session.execute(update(table).values(name="After"))
        db.session.execute(update(CacheVersion).values(version=CacheVersion.version + 1))
        db.session.commit()
        assert cache.get("rp").name == "RP Portal"  # until the next check, at most a second
        cache._checked_at = 0.0
        assert cache.get("rp").name == "After"


def test_the_cached_copy_is_outside_any_session(app):
    make_client(app, "rp")
    with app.app_context():
        copy = _cache(app).get("rp")
        assert copy not in db.session
        assert copy.check_redirect_uri(copy.redirect_uris[0])
