"""What relying parties call: discovery, JWKS, authorize, token, userinfo, revoke, logout."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response  # what redirect() returns

from idp import audit
from idp.clock import now
from idp.errors import error_page
from idp.extensions import csrf, limiter
from idp.oidc import frontchannel
from idp.oidc.protocol import OAuth2Error
from idp.web import authorization, browser, current, published
from idp.web.consent import handle_consent
from idp.web.limits import token_rate_key
from idp.web.published import CACHE_PUBLIC

bp = Blueprint("provider", __name__)


def _cached_json(path: str) -> Response:
    """The document as idp.web.published serves it, for what that layer hands on (HEAD
    through a test client, an app called without it)."""
    document = current_app.extensions["idp.published"][path]
    body, etag = document.current(current.server())
    headers = {"Cache-Control": CACHE_PUBLIC, "Access-Control-Allow-Origin": "*", "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    return Response(body, mimetype="application/json", headers=headers)


@bp.get(published.DISCOVERY_PATH)
def discovery() -> Response:
    """OIDC Discovery 1.0; recomputed only when the keys change."""
    return _cached_json(published.DISCOVERY_PATH)


@bp.get(published.JWKS_PATH)
def jwks() -> Response:
    """The public signing keys (RFC 7517)."""
    return _cached_json(published.JWKS_PATH)


@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(lambda: current.settings().authorize_rate_limit)
def authorize() -> Response:
    """OIDC Core 3.1.2: GET and POST accepted."""
    return authorization.proceed(None, started_at=now(), rid=None)


@bp.get("/authorize/resume/<rid>")
def resume(rid: str) -> Response:
    """Continue a kept request after a sign-in step or consent (links and scripts come here)."""
    return authorization.resume(rid)


@bp.route("/consent/<rid>", methods=["GET", "POST"])
def consent(rid: str) -> ResponseReturnValue:
    """Ask the user to share what the client asked for; remembered per user and client."""
    return handle_consent(rid)


@bp.post("/token")
@csrf.exempt
@limiter.limit(lambda: current.settings().token_rate_limit, key_func=lambda: token_rate_key())
def token() -> Response:
    """RFC 6749 3.2; responses carry Cache-Control: no-store."""
    response = current.server().create_token_response()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo() -> Response:
    """OIDC Core 5.3: bearer token in header (GET/POST) or form body (POST)."""
    response = current.server().create_endpoint_response("userinfo")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.post("/revoke")
@csrf.exempt
def revoke() -> Response:
    """RFC 7009."""
    return current.server().create_endpoint_response("revocation")


@bp.post("/introspect")
@csrf.exempt
def introspect() -> Response:
    """RFC 7662."""
    response = current.server().create_endpoint_response("introspection")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt
def logout() -> Response | tuple[str, int] | str:
    """OIDC RP-Initiated Logout 1.0; asks first unless the hint is the signed-in user's."""
    srv = current.server()
    try:
        req = srv.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return error_page("We can't sign you out from here", error.description or "", 400)
    someone_else = _hint_names_someone_else(req.id_token_claims)
    if req.needs_confirmation or someone_else:
        if not (request.method == "POST" and request.form.get("confirm") == "yes"):
            return render_template(
                "provider/logout_confirm.html",
                client=req.client,
                params=request.values,
                user=current.user() if someone_else else None,
            )
        # The user's answer is what allows this sign-out, so it must come from our page.
        csrf.protect()
    uid = browser.signed_in_user_id()
    # Every client this session served is told (back-channel, queued), not only the asker.
    ended = browser.end_sign_in()
    if uid:
        audit.record(
            "session.signed_out",
            user_id=uid,
            client_id=getattr(req.client, "client_id", None),
            clients_told=len(ended),
        )
    response = srv.create_endpoint_response("end_session", req)
    iframes = frontchannel.frames(ended, issuer=current.settings().issuer)
    if response is not None and not iframes:
        return response
    return _signed_out_page(req.client, iframes, then=response.location if response else None)


def _signed_out_page(
    client: object, iframes: list[frontchannel.Frame], *, then: str | None
) -> Response:
    """The signed-out page; with front-channel clients, their logout iframes (Front-Channel
    Logout 1.0 section 4), then on to the post_logout_redirect_uri if one was asked for."""
    response = Response(
        render_template("provider/signed_out.html", client=client, iframes=iframes, then=then)
    )
    if iframes:
        origins = " ".join(sorted({frame.origin for frame in iframes}))
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            f"script-src 'self'; frame-src {origins}; frame-ancestors 'none'; "
            "form-action 'self' http: https:"
        )
    return response


def _hint_names_someone_else(hint: dict | None) -> bool:
    """A valid id_token_hint whose subject is not this browser's signed-in user.

    RP-Initiated Logout 1.0 section 2: the OP MUST ask the End-User when the ID Token does
    not belong to the currently logged in End-User; otherwise any RP holding anyone's ID
    token could sign this browser out unasked.
    """
    if hint is None or browser.signed_in_user_id() is None:
        return False
    user = current.user()
    return user is None or hint.get("sub") != user.subject
