"""The only code that reads or writes cookies: a server-side session behind an opaque cookie."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, current_app, g, request, session
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, inspect, select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import CallbackDict
from werkzeug.exceptions import HTTPException

from idp.authn.state import SessionState, VerifiedFactor
from idp.clock import now
from idp.config import Settings
from idp.database import rollback_quietly
from idp.errors import DATABASE_UNAVAILABLE, Unavailable, first_line, unavailable_response
from idp.extensions import db
from idp.models.hashing import sha256_hex
from idp.models.session import SessionRecord

COOKIE_NAME = "idp_session"
# Keys a visitor who has not started a sign-in may hold: kept in a signed cookie, never a row.
ANONYMOUS_COOKIE = "idp_anon"
ANONYMOUS_KEYS = frozenset({"csrf_token"})
# Writing last_seen on every request would turn every page view into a write.
TOUCH_INTERVAL = timedelta(minutes=1)
# Served from memory: they open no session, so they keep answering while the database is away.
SESSIONLESS_ENDPOINTS = frozenset({"provider.discovery", "provider.jwks", "static"})
SESSIONLESS_PATHS = frozenset({"/.well-known/openid-configuration", "/jwks.json"})  # and static

log = logging.getLogger(__name__)


class ServerSession(CallbackDict, SessionMixin):
    """Session data whose only client-side trace is a random cookie value."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        cookie: str | None = None,
        record: SessionRecord | None = None,
    ) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.cookie = cookie
        self.modified = False
        self.rotate_requested = False
        self.record = record

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
        id_hash = inspect(record).identity[0]
        if record in db.session:
            db.session.expunge(record)
        db.session.execute(delete(SessionRecord).where(SessionRecord.id_hash == id_hash))
        db.session.commit()

    def _anonymous_data(self, request: Request) -> dict[str, Any]:
        raw = request.cookies.get(ANONYMOUS_COOKIE)
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
        """At most `per_ip` unfinished sign-ins per address: the oldest give way."""
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
            name,
            value,
            max_age=int(self.absolute.total_seconds()),
            httponly=True,
            secure=self.secure,
            samesite="Lax",
            path="/",
        )

    def open_session(self, app: Flask, request: Request) -> ServerSession | None:
        """Load the record named by the cookie, or the anonymous part from its signed cookie.

        None (Flask's null session) for sessionless endpoints and while the database is away;
        `require_session` then answers 503 wherever a session is needed.
        """
        if _endpoint(app, request) in SESSIONLESS_ENDPOINTS:
            return None
        try:
            return self._open(request)
        except DATABASE_UNAVAILABLE as error:
            rollback_quietly()
            log.warning("session store unavailable: %s", first_line(error))
            return None

    def _open(self, request: Request) -> ServerSession:
        cookie = request.cookies.get(COOKIE_NAME)
        record = None
        if cookie and len(cookie) <= 100:
            record = db.session.get(SessionRecord, sha256_hex(cookie))
        if record is None:
            return ServerSession(self._anonymous_data(request))
        if not self._alive(record, now()):
            self._forget(record)
            return ServerSession()
        return ServerSession(dict(record.data), cookie, record)

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]
        """Persist changes; rotate the id when asked; clear the cookies when emptied.

        The database failing here turns the answer into a 503: the page or redirect the view
        chose would go on from a step that was not saved. The cookies are left as they were.
        """
        if g.get("idp_unavailable"):
            return  # already a 503 for the database: saving would only wait on it again
        try:
            self._save(session, response)
        except DATABASE_UNAVAILABLE as error:
            rollback_quietly()
            log.warning("session not saved, database unavailable: %s", first_line(error))
            _become_unavailable(response)

    def _save(self, session: ServerSession, response: Response) -> None:
        at = now()
        record = session.record
        had_anonymous = ANONYMOUS_COOKIE in request.cookies
        if not session:
            if record is not None:
                self._forget(record)
            if session.cookie:
                response.delete_cookie(COOKIE_NAME, path="/")
            if had_anonymous:
                response.delete_cookie(ANONYMOUS_COOKIE, path="/")
            return
        if record is None and session.keys() <= ANONYMOUS_KEYS:
            if session.modified:
                self._set_cookie(response, ANONYMOUS_COOKIE, self.anonymous.dumps(dict(session)))
            return
        if record is not None and session.rotate_requested:
            self._forget(record)
            record = None
        if record is None:
            uid = session.get("uid")
            # The address is kept only for unfinished sign-ins, to bound them per address.
            ip = None if uid else (request.remote_addr or "")[:45]
            if ip is not None:
                self._make_room(ip)
            session.cookie = secrets.token_urlsafe(32)
            record = SessionRecord(id_hash=sha256_hex(session.cookie), created_at=at, created_ip=ip)
            db.session.add(record)
            session.modified = True
        if session.modified:
            record.data = dict(session)
            record.user_id = session.get("uid")
        if session.modified or at - record.last_seen_at >= TOUCH_INTERVAL:
            record.last_seen_at = at
            try:
                db.session.commit()
            except StaleDataError:
                # Ended elsewhere meanwhile ("sign out everywhere"): stay signed out.
                db.session.rollback()
                response.delete_cookie(COOKIE_NAME, path="/")
                return
            session.rotate_requested = False
        if had_anonymous:
            response.delete_cookie(ANONYMOUS_COOKIE, path="/")  # its content moved into the row
        self._set_cookie(response, COOKIE_NAME, session.cookie or "")


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


def require_session() -> None:
    """before_request: 503 when the session could not be opened (the database is away)."""
    if request.endpoint in SESSIONLESS_ENDPOINTS:
        return
    if current_app.session_interface.is_null_session(session):
        raise Unavailable()


# The browser session's sign-in state ------------------------------------------------
MAX_PENDING = 5
# A carried request rides in URLs; servers refuse long request lines (gunicorn: 4094 bytes).
MAX_CARRIED = 3000


def _iso(at: datetime) -> str:
    return at.isoformat()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def signed_in_user_id() -> int | None:
    """The user whose password this browser session verified, if any."""
    uid = session.get("uid")
    return uid if isinstance(uid, int) else None


def session_state() -> SessionState | None:
    """This browser's session as the sign-in policy sees it."""
    uid = signed_in_user_id()
    if uid is None or "pwd_at" not in session:
        return None
    factors = tuple(
        VerifiedFactor(
            factor=f["factor"],
            at=_parse(f["at"]),
            user_verified=f.get("uv", False),
            backup_eligible=f.get("be", False),
            new=f.get("new", False),
        )
        for f in session.get("factors", [])
    )
    return SessionState(
        user_id=uid,
        password_at=_parse(session["pwd_at"]),
        factors=factors,
        password_verified=session.get("pwd", True),
    )


def session_sid() -> str:
    """The public session id for the `sid` claim (never the cookie value)."""
    return session.get("sid", "")


def begin_sign_in(user_id: int, at: datetime, *, password: bool = True) -> None:
    """The first step passed (password, or a passkey standing for both): new session id.

    DESIGN rule 1: a re-authentication starts the sign-in afresh, so the second factors
    verified before it are forgotten (the `sid` of the same user's session stays).
    """
    if session.get("uid") != user_id:
        session["sid"] = secrets.token_urlsafe(16)
        session["started"] = _iso(at)
        session.pop("mailbox_at", None)
    session["factors"] = []
    session["uid"] = user_id
    session["pwd_at"] = _iso(at)
    session["pwd"] = password
    session.rotate()  # type: ignore[attr-defined]


def add_factor(factor: VerifiedFactor) -> None:
    """Record a second factor verified in this session."""
    kept = [f for f in session.get("factors", []) if f["factor"] != factor.factor]
    kept.append(
        {
            "factor": str(factor.factor),
            "at": _iso(factor.at),
            "uv": factor.user_verified,
            "be": factor.backup_eligible,
            "new": factor.new,
        }
    )
    session["factors"] = kept
    session.rotate()  # type: ignore[attr-defined]  # privilege changed


def session_started_at() -> datetime | None:
    """When this browser session first signed in its user (recovery codes minted after it are
    not "issued before the current session")."""
    started = session.get("started")
    return _parse(started) if isinstance(started, str) else None


def confirm_mailbox(at: datetime) -> None:
    """The user just typed a code from their mailbox in this session."""
    session["mailbox_at"] = _iso(at)


def mailbox_confirmed_at() -> datetime | None:
    """When this session last proved the mailbox, if it did."""
    value = session.get("mailbox_at")
    return _parse(value) if isinstance(value, str) else None


def end_sign_in() -> None:
    """Sign this browser out."""
    session.clear()


def _carrier() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="idp.pending-request")


def is_carried(rid: str | None) -> bool:
    """True for a request carried in the URL (signed), not kept in the server session."""
    return bool(rid) and "." in (rid or "")


def save_pending(params: dict[str, str], started_at: datetime) -> str:
    """Keep an authorization request while the user signs in; returns its id.

    Before anyone signs in, the request travels in the URL, signed (the password page needs no
    row); one too long for a URL, or one kept after sign-in, goes into the server session.
    """
    if signed_in_user_id() is None:
        carried = _carrier().dumps({"p": params, "s": _iso(started_at)})
        if len(carried) <= MAX_CARRIED:
            return carried
    pending = dict(session.get("pending", {}))
    while len(pending) >= MAX_PENDING:
        pending.pop(min(pending, key=lambda k: pending[k]["started"]))
    rid = secrets.token_urlsafe(12)
    pending[rid] = {"params": params, "started": _iso(started_at)}
    session["pending"] = pending
    return rid


def _carried_request(rid: str) -> tuple[dict[str, str], datetime] | None:
    try:
        entry = _carrier().loads(rid)
        params, started_at = entry["p"], _parse(entry["s"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    idle = current_app.extensions["idp.settings"].session_idle_minutes
    if now() - started_at >= timedelta(minutes=idle):
        return None  # as old as an idle session: this sign-in has expired
    return dict(params), started_at


def pending_request(rid: str | None) -> tuple[dict[str, str], datetime] | None:
    """A kept authorization request and when it started."""
    if is_carried(rid):
        return _carried_request(rid or "")
    entry = session.get("pending", {}).get(rid or "")
    if not entry:
        return None
    return dict(entry["params"]), _parse(entry["started"])


def drop_pending(rid: str) -> None:
    """Forget a finished authorization request."""
    pending = dict(session.get("pending", {}))
    if pending.pop(rid, None) is not None:
        session["pending"] = pending


def set_pending_flag(rid: str, name: str, value: Any) -> None:
    """Attach a decision (e.g. consent denied) to a kept request."""
    pending = dict(session.get("pending", {}))
    if rid in pending:
        pending[rid] = {**pending[rid], name: value}
        session["pending"] = pending


def pending_flag(rid: str, name: str) -> Any:
    """Read a decision attached to a kept request."""
    return session.get("pending", {}).get(rid, {}).get(name)


def current_session_hash() -> str | None:
    """The stored id of this browser's session (never the cookie value itself)."""
    record = getattr(session, "record", None)
    return inspect(record).identity[0] if record is not None else None


# The device cookie: which browser this is, for trusted devices ------------------------
DEVICE_COOKIE = "idp_device"
DEVICE_COOKIE_DAYS = 400  # browsers cap cookie lifetimes near this


def device_token() -> str | None:
    """This browser's long-lived device id, if it has one."""
    token = g.get("new_device_token") or request.cookies.get(DEVICE_COOKIE)
    return token if token and len(token) <= 100 else None


def ensure_device_token() -> str:
    """This browser's device id, creating it (and its cookie) when missing."""
    token = device_token()
    if token is None:
        token = secrets.token_urlsafe(32)
        g.new_device_token = token
    return token


def browser_agent() -> str:
    """The raw User-Agent header."""
    return request.headers.get("User-Agent", "")[:400]


def set_device_cookie(response: Response, *, secure: bool) -> Response:
    """after_request: write the device cookie when one was created in this request."""
    token = g.get("new_device_token")
    if token:
        response.set_cookie(
            DEVICE_COOKIE,
            token,
            max_age=DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            secure=secure,
            samesite="Lax",
            path="/",
        )
    return response
