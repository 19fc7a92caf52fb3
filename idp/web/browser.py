"""The browser's sign-in state: the only module that reads or writes what the session holds.

The session row itself (cookie, storage, lifetimes) is idp/web/session.py; the device cookie,
which outlives sessions, is here too.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Response, current_app, g, request, session
from itsdangerous import BadSignature, URLSafeSerializer

from idp.authn import session_end
from idp.authn.state import SessionState, VerifiedFactor
from idp.clock import now
from idp.web.session import cookie_name, read_cookie

# The sign-in -----------------------------------------------------------------------
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
    # For "Where you're signed in": which browser, from where (the account page lists them).
    session["agent"] = browser_agent()[:200]
    session["ip"] = (request.remote_addr or "")[:45]
    session["pwd_at"] = _iso(at)
    session["pwd"] = password
    session.rotate()  # type: ignore[attr-defined]


def keep_return_to(path: str) -> None:
    """Where a sign-in started from a guarded page (e.g. /admin) goes back to once done."""
    if path:
        session["return_to"] = path[:1000]
    else:
        drop_return_to()


def return_to() -> str | None:
    """The page this sign-in returns to, if it started from one."""
    path = session.get("return_to")
    return path if isinstance(path, str) else None


def drop_return_to() -> None:
    """The page was reached: later sign-ins start from the account page again."""
    if "return_to" in session:
        session.pop("return_to")


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


def end_sign_in(reason: str = "signed_out") -> list[session_end.EndedFor]:
    """Sign this browser out; the clients its session served are owed a logout.

    Returns them (for front-channel logout iframes).
    """
    uid, sid = signed_in_user_id(), session_sid()
    ended = []
    if uid is not None and sid:
        ended = session_end.announce(uid, reason=reason, at=now(), sids=[sid])
    session.clear()
    return ended


def _carrier() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="idp.pending-request")


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
    # Asked up to three times a request (the view, the language, the page): its signature is
    # checked and its JSON read once. Each caller gets its own copy of the parameters.
    # Kept with the request, not on g: an app context can outlive one request (tests).
    read: dict[str, tuple[dict[str, str], datetime] | None] = request.environ.setdefault(
        "idp.carried_requests", {}
    )
    if rid not in read:
        read[rid] = _read_carried(rid)
    found = read[rid]
    return None if found is None else (dict(found[0]), found[1])


def _read_carried(rid: str) -> tuple[dict[str, str], datetime] | None:
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
    id_hash = getattr(session, "id_hash", None)
    return id_hash if isinstance(id_hash, str) else None


# The device cookie: which browser this is, for trusted devices ------------------------
DEVICE_COOKIE = "idp_device"
DEVICE_COOKIE_DAYS = 400  # browsers cap cookie lifetimes near this


def device_token() -> str | None:
    """This browser's long-lived device id, if it has one."""
    secure = current_app.extensions["idp.settings"].secure_cookies
    token = g.get("new_device_token") or read_cookie(request, DEVICE_COOKIE, secure=secure)
    if not token or len(token) > 100:
        return None
    if secure and cookie_name(DEVICE_COOKIE, secure=True) not in request.cookies:
        g.new_device_token = token  # rewritten under the prefixed name by set_device_cookie
    return token


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
            cookie_name(DEVICE_COOKIE, secure=secure),
            token,
            max_age=DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            secure=secure,
            samesite="Lax",
            path="/",
        )
        if secure and DEVICE_COOKIE in request.cookies:
            response.delete_cookie(DEVICE_COOKIE, path="/")
    return response


# Short-lived values of one sign-in step ------------------------------------------------
def keep_recovery_codes(sealed: str) -> None:
    """New recovery codes, sealed, until the user has seen them once."""
    session["recovery_codes"] = sealed


def recovery_codes() -> str | None:
    """The sealed new recovery codes waiting to be shown, if any."""
    value = session.get("recovery_codes")
    return value if isinstance(value, str) else None


def forget_recovery_codes() -> None:
    """The user has seen (and saved) them."""
    session.pop("recovery_codes", None)


def open_passkey_offer(rid: str | None) -> None:
    """This sign-in (request `rid`, or the account's) shows the passkey offer next."""
    session["passkey_offer"] = rid or ""


def passkey_offer_open(rid: str | None) -> bool:
    """True while this sign-in's passkey offer waits for an answer (or a key being made)."""
    return session.get("passkey_offer") == (rid or "")


def close_passkey_offer() -> None:
    """Answered, or the key was made: the offer is not shown again in this sign-in."""
    session.pop("passkey_offer", None)


def keep_totp_secret(sealed: str) -> None:
    """The authenticator secret being set up, sealed, until a code confirms it."""
    session["totp_pending"] = sealed


def totp_secret() -> str | None:
    """The sealed authenticator secret being set up, if any."""
    value = session.get("totp_pending")
    return value if isinstance(value, str) else None


def forget_totp_secret() -> None:
    """The authenticator is set up (or abandoned)."""
    session.pop("totp_pending", None)


def prove_reset(link_id: int) -> None:
    """A factor outside the mailbox proved the password reset `link_id`."""
    session["reset_proven"] = link_id


def reset_proven(link_id: int) -> bool:
    """True if this browser proved the reset `link_id`."""
    return session.get("reset_proven") == link_id


def forget_reset_proof() -> None:
    """The reset is done."""
    session.pop("reset_proven", None)


def keep_webauthn_challenge(purpose: str, challenge: str, expires: datetime) -> None:
    """The one WebAuthn challenge this browser may answer, for `purpose`, until `expires`."""
    session["webauthn"] = {"purpose": purpose, "challenge": challenge, "expires": _iso(expires)}


def take_webauthn_challenge(purpose: str) -> str | None:
    """The kept challenge, once, if it is for `purpose` and not expired."""
    kept = session.pop("webauthn", None)
    if not isinstance(kept, dict) or kept.get("purpose") != purpose:
        return None
    if now() >= _parse(kept["expires"]):
        return None
    return str(kept["challenge"])


# The passkey sign-in's challenge: a signed cookie, not the session ---------------------
# Anyone may load the sign-in page, and its passkey autofill asks for a challenge at once:
# kept in the session, that would be a row per page view. The cookie carries the challenge and
# when it was issued; single use comes from the key it is answered with (webauthn.authenticate
# with `issued_at`: a key used since the challenge was issued refuses it).
PASSKEY_COOKIE = "idp_passkey"
MAX_PASSKEY_COOKIE = 300


def _passkey_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt="idp.passkey-challenge")


def keep_passkey_challenge(challenge: str, issued_at: datetime, expires: datetime) -> None:
    """The passkey challenge this browser may answer until `expires` (sent as a cookie)."""
    g.passkey_cookie = _passkey_signer().dumps(
        {"c": challenge, "t": _iso(issued_at), "e": _iso(expires)}
    )
    g.passkey_cookie_seconds = max(1, int((expires - issued_at).total_seconds()))


def take_passkey_challenge() -> tuple[str, datetime] | None:
    """The passkey challenge and when it was issued, if signed by us and not expired.

    The cookie is cleared by this answer either way: a refused try needs new options.
    """
    secure = current_app.extensions["idp.settings"].secure_cookies
    raw = read_cookie(request, PASSKEY_COOKIE, secure=secure)
    if raw is None:
        return None
    g.passkey_cookie = ""
    if len(raw) > MAX_PASSKEY_COOKIE:
        return None
    try:
        kept = _passkey_signer().loads(raw)
        challenge, issued_at, expires = str(kept["c"]), _parse(kept["t"]), _parse(kept["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if now() >= expires:
        return None
    return challenge, issued_at


def set_passkey_cookie(response: Response, *, secure: bool) -> Response:
    """after_request: write the passkey challenge cookie kept in this request, or clear it."""
    value = g.get("passkey_cookie")
    if value is None:
        return response
    name = cookie_name(PASSKEY_COOKIE, secure=secure)
    if value:
        response.set_cookie(
            name,
            value,
            max_age=g.get("passkey_cookie_seconds", 300),
            httponly=True,
            secure=secure,
            # Only our own pages' script posts it back (fetch from the sign-in page).
            samesite="Strict",
            path="/",
        )
    else:
        response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="Strict")
    return response


def count_code_failure() -> int:
    """One more wrong code in this browser session; how many so far."""
    failures = int(session.get("mfa_failures", 0)) + 1
    session["mfa_failures"] = failures
    return failures


def forget_code_failures() -> None:
    """A code was right: the browser's count starts over."""
    session.pop("mfa_failures", None)


def browser_noted() -> bool:
    """True once this session's sign-in was checked against the user's known browsers."""
    sid = session_sid()
    return bool(sid) and session.get("browser_noted") == sid


def note_browser() -> None:
    """Mark this session's sign-in as checked (the new-browser notice goes once per sign-in)."""
    session["browser_noted"] = session_sid()
