"""The browser session store: a server-side row behind an opaque cookie (Flask SessionInterface).

What the session holds is read and written by idp/web/browser.py only.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Flask, Request, Response, current_app, g, request, session
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Table, bindparam, delete, insert, inspect, select, update
from werkzeug.datastructures import CallbackDict
from werkzeug.exceptions import HTTPException

from idp.authn import session_end
from idp.client_address import client_bucket
from idp.clock import now
from idp.config import Settings
from idp.database import rollback_quietly
from idp.driver_statements import OneRowWrite
from idp.errors import DATABASE_UNAVAILABLE, Unavailable, first_line, unavailable_response
from idp.extensions import db
from idp.models.hashing import sha256_hex
from idp.models.second_factor import remember_stored_factors, stored_factor_columns
from idp.models.session import SessionRecord
from idp.models.user import User

COOKIE_NAME = "idp_session"
# Keys a visitor who has not started a sign-in may hold: kept in a signed cookie, never a row.
ANONYMOUS_COOKIE = "idp_anon"
# RFC 6265bis 4.1.3.2: a "__Host-" cookie is Secure, Path=/ and has no Domain, so neither a
# sibling subdomain nor a plain-http page can set or shadow it. Only possible over https.
HOST_PREFIX = "__Host-"
ANONYMOUS_KEYS = frozenset({"csrf_token"})
# Writing last_seen on every request would turn every page view into a write.
TOUCH_INTERVAL = timedelta(minutes=1)
# Served from memory: they open no session, so they keep answering while the database is away.
SESSIONLESS_ENDPOINTS = frozenset({"provider.discovery", "provider.jwks", "static"})
SESSIONLESS_PATHS = frozenset({"/.well-known/openid-configuration", "/jwks.json"})  # and static
# What relying parties call from their servers: no browser session is read, kept or renewed
# there (a cookie sent along changes nothing), and a database outage is the view's own 503.
PROTOCOL_PATHS = frozenset({"/token", "/userinfo", "/introspect", "/revoke"})

log = logging.getLogger(__name__)

# The browser's session row, its signed-in user and the kinds of factor that user has, in one
# statement built once (every page opens a session: building it per request cost more than
# the rest of opening one).
_OPEN = (
    select(SessionRecord, User, *stored_factor_columns(SessionRecord.user_id))
    .outerjoin(User, User.id == SessionRecord.user_id)
    .where(SessionRecord.id_hash == bindparam("id_hash"))
)
# Its UPDATE by key, also built once: the columns set are the parameters given with it. Both
# writes run by the driver (OneRowWrite): SQLAlchemy's execution cost more than psycopg's own
# work, and every step of a sign-in writes the row.
_sessions = cast("Table", SessionRecord.__table__)
_SAVE = update(_sessions).where(_sessions.c.id_hash == bindparam("saved_id_hash"))
# One per set of columns written (the touch; the data; the data under a new id).
_SAVES: dict[frozenset[str], OneRowWrite] = {}
# Its INSERT too: the row is written once, at the end of the request, and never read back in it.
_CREATE = OneRowWrite(
    insert(_sessions),
    keys=("id_hash", "created_at", "created_ip", "data", "user_id", "last_seen_at"),
)


class ServerSession(CallbackDict, SessionMixin):
    """Session data whose only client-side trace is a random cookie value."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        cookie: str | None = None,
        record: SessionRecord | None = None,
        user: User | None = None,
    ) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.cookie = cookie
        self.modified = False
        self.rotate_requested = False
        self.record = record
        # Held so the identity map keeps it: `db.session.get(User, uid)` then costs no query.
        self.user = user
        # Kept apart from the row: another commit in the request expires the row's attributes,
        # and saving must not read them back (one UPDATE by key, no SELECT first).
        self.id_hash = sha256_hex(cookie) if record is not None and cookie else None
        self.last_seen_at = record.last_seen_at if record is not None else None

    def rotate(self) -> None:
        """Issue a new session id at the next save (at sign-in: no session fixation)."""
        self.rotate_requested = True
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    """Flask session stored in the `sessions` table; idle and absolute lifetimes enforced.

    Until a sign-in starts, the session holds only ANONYMOUS_KEYS (the CSRF token), which live
    in a signed cookie: a page view or a first /authorize stores nothing on the server.
    """

    def __init__(self, settings: Settings) -> None:
        self.idle = timedelta(minutes=settings.session_idle_minutes)
        self.absolute = timedelta(hours=settings.session_max_hours)
        self.secure = settings.secure_cookies
        self.per_ip = settings.pending_signins_per_ip
        self.anonymous = URLSafeSerializer(settings.secret_key, salt="idp.anonymous-session")

    def _alive(self, record: SessionRecord, at: datetime) -> bool:
        return at - record.last_seen_at < self.idle and at - record.created_at < self.absolute

    @staticmethod
    def _forget(record: SessionRecord) -> None:
        # A bulk delete tolerates a row already removed by "sign out everywhere".
        # The identity map knows the key without a reload (the row may be gone already).
        identity = inspect(record).identity
        assert identity is not None  # a record loaded or flushed has its key
        id_hash = identity[0]
        if record in db.session:
            db.session.expunge(record)
        db.session.execute(delete(SessionRecord).where(SessionRecord.id_hash == id_hash))

    def _anonymous_data(self, request: Request) -> dict[str, Any]:
        raw = read_cookie(request, ANONYMOUS_COOKIE, secure=self.secure)
        if not raw or len(raw) > 400:
            return {}
        try:
            data = self.anonymous.loads(raw)
        except BadSignature:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if k in ANONYMOUS_KEYS and isinstance(v, str)}

    def _make_room(self, ip: str) -> None:
        """At most `per_ip` unfinished sign-ins per client address bucket: the oldest give way."""
        stale = db.session.scalars(
            select(SessionRecord.id_hash)
            .where(SessionRecord.created_ip == ip, SessionRecord.user_id.is_(None))
            .order_by(SessionRecord.created_at.desc())
            .offset(self.per_ip - 1)
            .limit(1000)
        ).all()
        if stale:
            db.session.execute(delete(SessionRecord).where(SessionRecord.id_hash.in_(stale)))

    def _set_cookie(self, response: Response, name: str, value: str) -> None:
        response.set_cookie(
            cookie_name(name, secure=self.secure),
            value,
            max_age=int(self.absolute.total_seconds()),
            httponly=True,
            secure=self.secure,
            samesite="Lax",
            path="/",
        )
        if self.secure and name in request.cookies:
            response.delete_cookie(name, path="/")  # the pre-prefix name: upgraded in place

    def _delete_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(cookie_name(name, secure=self.secure), path="/", secure=self.secure)
        if self.secure and name in request.cookies:
            response.delete_cookie(name, path="/")

    def open_session(self, app: Flask, request: Request) -> ServerSession | None:
        """Load the record named by the cookie, or the anonymous part from its signed cookie.

        None (Flask's null session) for sessionless endpoints and while the database is away;
        `require_session` then answers 503 wherever a session is needed.
        """
        if request.path in PROTOCOL_PATHS or _endpoint(app, request) in SESSIONLESS_ENDPOINTS:
            return None
        try:
            return self._open(request)
        except DATABASE_UNAVAILABLE as error:
            rollback_quietly()
            log.warning("session store unavailable: %s", first_line(error))
            return None

    def _open(self, request: Request) -> ServerSession:
        cookie = read_cookie(request, COOKIE_NAME, secure=self.secure)
        record = user = None
        if cookie and len(cookie) <= 100:
            # The signed-in user comes with the row, in one statement: every page reads both.
            # So do the kinds of factor the user has, which the sign-in policy asks on every page.
            row = db.session.execute(_OPEN, {"id_hash": sha256_hex(cookie)}).first()
            record, user = (row[0], row[1]) if row is not None else (None, None)
            if row is not None and user is not None:
                remember_stored_factors(user.id, (row[2], row[3], row[4]))
        if record is None:
            return ServerSession(self._anonymous_data(request))
        if not self._alive(record, now()):
            if record.user_id is not None:
                # Found expired: the clients it served hear of it (Back-Channel Logout 1.0).
                session_end.announce(
                    record.user_id, reason="expired", at=now(), sids=[session_end.sid_of(record)]
                )
            self._forget(record)
            return ServerSession()
        return ServerSession(dict(record.data), cookie, record, user)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]
        """Persist changes; rotate the id when asked; clear the cookies when emptied.

        The database failing here turns the answer into a 503: the page or redirect the view
        chose would go on from a step that was not saved. The cookies are left as they were.
        """
        if g.get("idp_unavailable"):
            return  # already a 503 for the database: saving would only wait on it again
        try:
            if response.status_code >= 500:
                db.session.rollback()  # the request failed: none of its own work is kept
            self._save(session, response)
            # The request's one commit: its work, its audit events and the session row together
            # (services leave it to the request: idp.database.commit_unless_in_request). A
            # request that touched no table has no transaction: committing would begin an empty
            # one only to end it.
            if db.session().in_transaction():
                db.session.commit()
        except DATABASE_UNAVAILABLE as error:
            rollback_quietly()
            log.warning("session not saved, database unavailable: %s", first_line(error))
            _become_unavailable(response)

    def _save(self, session: ServerSession, response: Response) -> None:
        at = now()
        record = session.record
        had_anonymous = read_cookie(request, ANONYMOUS_COOKIE, secure=self.secure) is not None
        if not session:
            if record is not None:
                self._forget(record)
            if session.cookie:
                self._delete_cookie(response, COOKIE_NAME)
            if had_anonymous:
                self._delete_cookie(response, ANONYMOUS_COOKIE)
            return
        if record is None and session.keys() <= ANONYMOUS_KEYS:
            if session.modified:
                self._set_cookie(response, ANONYMOUS_COOKIE, self.anonymous.dumps(dict(session)))
            return
        if session.id_hash is None:  # no row yet (a record opened from a cookie has its hash)
            uid = session.get("uid")
            # The address is kept only for unfinished sign-ins, to bound them per client
            # (IPv6 per /64: one host may use any address of its /64).
            ip = None if uid else client_bucket()[:45]
            if ip is not None:
                self._make_room(ip)
            session.cookie = secrets.token_urlsafe(32)
            id_hash = sha256_hex(session.cookie)
            _CREATE.run(
                db.session.connection(),
                {
                    "id_hash": id_hash,
                    "created_at": at,
                    "created_ip": ip,
                    "data": dict(session),
                    "user_id": session.get("uid"),
                    "last_seen_at": at,
                },
            )
            session.id_hash = id_hash
        elif session.modified or at - (session.last_seen_at or at) >= TOUCH_INTERVAL:
            values: dict[str, Any] = {"last_seen_at": at}
            if session.modified:
                values.update(data=dict(session), user_id=session.get("uid"))
            if session.rotate_requested:
                # A new id for the same row (at sign-in: no session fixation), in the same UPDATE.
                session.cookie = secrets.token_urlsafe(32)
                values["id_hash"] = sha256_hex(session.cookie)
            if record in db.session:
                db.session.expunge(record)  # written here by key; the ORM copy would be stale
            updated = _saving(frozenset(values)).run(
                db.session.connection(), {**values, "saved_id_hash": session.id_hash}
            )
            if updated != 1:
                # Ended elsewhere meanwhile ("sign out everywhere"): stay signed out.
                self._delete_cookie(response, COOKIE_NAME)
                return
            session.id_hash = values.get("id_hash", session.id_hash)
        session.rotate_requested = False
        if had_anonymous:
            self._delete_cookie(response, ANONYMOUS_COOKIE)  # its content moved into the row
        self._set_cookie(response, COOKIE_NAME, session.cookie or "")


def _saving(columns: frozenset[str]) -> OneRowWrite:
    """The session row's UPDATE by key of these columns, compiled once."""
    found = _SAVES.get(columns)
    if found is None:
        found = _SAVES[columns] = OneRowWrite(_SAVE, keys=(*sorted(columns), "saved_id_hash"))
    return found


def cookie_name(name: str, *, secure: bool) -> str:
    """The name a cookie goes by: `__Host-` prefixed wherever cookies are Secure."""
    return HOST_PREFIX + name if secure else name


def read_cookie(request: Request, name: str, *, secure: bool) -> str | None:
    """A cookie's value; also under its name from before the prefix, so upgrading to https
    cookie names keeps sessions and trusted browsers (the next response renames them)."""
    value = request.cookies.get(cookie_name(name, secure=secure))
    return value if value is not None or not secure else request.cookies.get(name)


def _endpoint(app: Flask, request: Request) -> str | None:
    """The endpoint a request will reach (Flask routes only after opening the session).

    None for paths that cannot be sessionless: matching costs more than the rest of a JWKS
    request, and every request opens a session.
    """
    path = request.path
    if path not in SESSIONLESS_PATHS and not path.startswith(f"{app.static_url_path}/"):
        return None
    try:
        endpoint, _ = app.create_url_adapter(request).match()  # type: ignore[union-attr]
    except HTTPException:
        return None
    return endpoint


def _become_unavailable(response: Response) -> None:
    """Rewrite the response in place into the 503 answer, dropping any cookies it set."""
    replacement = unavailable_response()
    response.status_code = replacement.status_code
    response.set_data(replacement.get_data())
    for name in ("Location", "Set-Cookie"):
        response.headers.pop(name, None)
    for name, value in replacement.headers.items():
        if name.lower() != "content-length":
            response.headers[name] = value


def commit_without_session(response: Response) -> Response:
    """after_request: the one commit of a request that has no session to save (sessionless
    endpoints; every other request commits in `save_session`). A 5xx commits nothing:
    Flask-SQLAlchemy rolls the session back at teardown."""
    if (
        current_app.session_interface.is_null_session(session)
        and response.status_code < 500
        and db.session().in_transaction()
    ):
        db.session.commit()
    return response


def require_session() -> None:
    """before_request: 503 when the session could not be opened (the database is away)."""
    if request.endpoint in SESSIONLESS_ENDPOINTS or request.path in PROTOCOL_PATHS:
        return
    if current_app.session_interface.is_null_session(session):
        raise Unavailable()
