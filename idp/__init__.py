"""An OpenID Connect identity provider with mandatory multi-factor sign-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.clock import Clock
from idp.config import load_settings
from idp.database import engine_options
from idp.extensions import csrf, db, limiter, migrate
from idp.geoip import init_geoip
from idp.logging_setup import configure_logging
from idp.metrics import init_metrics
from idp.rate_limiter import ratelimit_storage_options
from idp.untrusted_json import UntrustedJSONProvider

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, extensions, the OIDC server, blueprints, errors, CLI."""
    settings = load_settings(overrides)
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=settings.instance_dir,
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings),
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        RATELIMIT_STORAGE_OPTIONS=ratelimit_storage_options(settings),
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,  # Redis away: count in-process, never 500
        RATELIMIT_ENABLED=settings.ratelimit_enabled,
        RATELIMIT_HEADERS_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as its session (row or signed cookie)
        MAX_CONTENT_LENGTH=1024 * 1024,  # admin uploads; the rest: idp.web.limits.MAX_BODY
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.json = UntrustedJSONProvider(app)  # request.get_json: too deep is malformed, not a 500
    app.extensions["idp.settings"] = settings
    app.extensions["idp.clock"] = Clock()
    init_geoip(app, settings)
    configure_logging(settings)

    from idp.web.limits import cap_request_body
    from idp.web.session import require_session

    # First, so no one (CSRF, the limiter, the views) reads a body before it is capped.
    app.before_request(cap_request_body)
    # Next, so a session lost to a database outage is a 503, not a CSRF error or a sign-in page.
    app.before_request(require_session)
    db.init_app(app)
    init_metrics(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)

    from idp.oidc.keys import KeyStore
    from idp.oidc.server import init_oidc
    from idp.web import register_web
    from idp.web.i18n import init_i18n

    # The app's clock, so key creation and activation times move with it in tests.
    keys = KeyStore(Path(settings.keys_dir), now=app.extensions["idp.clock"].now)
    init_oidc(app, settings, keys)
    init_i18n(app)
    register_web(app, settings)
    from idp.web import protocol_shortcut, published

    protocol_shortcut.install(app)  # client credentials and userinfo, answered before Flask
    if settings.trusted_proxies:
        # Client IPs (audit, rate limits) and https come from the proxies we run, no one else.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    published.install(app)  # discovery and JWKS, answered before Flask (they need no IP)

    from idp.cli import register_cli

    register_cli(app)
    return app
