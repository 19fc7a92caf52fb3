"""Settings: defaults, then IDP_* environment variables, then overrides; validated once."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many

from idp.authn.policy import Backoff

ENV_PREFIX = "IDP_"


class ConfigError(ValueError):
    """A setting has a value the provider cannot start with."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob the provider has; one frozen instance per app."""

    issuer: str = "http://localhost:5000"
    instance_dir: str = "instance"
    database_url: str = ""  # default: sqlite under instance_dir
    # A database that is down or hung answers 503 within these, instead of stalling workers.
    db_connect_timeout_seconds: int = 3
    db_statement_timeout_ms: int = 5000
    secret_key: str = ""  # default: generated once, persisted under instance_dir
    keys_dir: str = "keys"
    cookie_secure: bool | None = None  # default: True when the issuer is https
    env: str = "production"  # "development" enables the outbox page and insecure cookies
    # argon2id, OWASP: t=2, m=19 MiB, p=1
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    code_ttl_seconds: int = 60
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_days: int = 30
    # A rotated refresh token still works this long for its own client (a retry after a lost
    # response, as Okta's grace period and Auth0's reuse interval); 0 = off.
    refresh_reuse_grace_seconds: int = 10
    id_token_ttl_seconds: int = 3600
    # RFC 9068 access tokens of clients with access_token_format "jwt": verified without the
    # database, so revocation reaches them through a jti list; keep them short-lived.
    jwt_access_token_ttl_seconds: int = 300
    jwt_access_token_alg: str = "ES256"
    session_idle_minutes: int = 120
    session_max_hours: int = 12
    session_mfa_max_age_hours: int = 12
    trust_ceiling_days: int = 30
    reverify_days: int = 0  # 0 = off
    # Wrong passwords per (account, source) before delays start; each further one doubles the
    # wait (from 1 s) up to lockout_minutes. At account_failure_cap in a row from anywhere,
    # passwords stop being checked but for browsers trusted for the account (NIST 800-63B).
    login_max_failures: int = 5
    lockout_minutes: int = 15
    account_failure_cap: int = 100
    # Reverse proxies in front of the app whose X-Forwarded-* headers are believed (0 = none).
    trusted_proxies: int = 0
    ratelimit_storage_url: str = "memory://"
    ratelimit_enabled: bool = True
    # Flask-Limiter strings. /authorize is counted per client address; /token per registered
    # client and address, so relying parties sharing one egress address never share a bucket.
    authorize_rate_limit: str = "60/minute"
    token_rate_limit: str = "300/minute"
    # Sign-ins in progress (server rows without a signed-in user) one address may keep.
    pending_signins_per_ip: int = 20
    # Expired sessions and one-time rows are deleted by the app itself at most this often.
    sweep_seconds: int = 60
    smtp_url: str = ""
    mail_from: str = "no-reply@localhost"
    outbox_dir: str = ""  # default: instance_dir/outbox
    # `idp worker` delivers queued mail: a failed attempt is retried after mail_retry_seconds,
    # doubling each time, and the message is given up on after mail_max_attempts tries.
    mail_max_attempts: int = 8
    mail_retry_seconds: int = 30
    # Back-channel logout tokens, delivered by the same worker: retried after
    # logout_retry_seconds, doubling, given up after logout_max_attempts; each POST waits at
    # most logout_timeout_seconds for the relying party.
    logout_max_attempts: int = 8
    logout_retry_seconds: int = 10
    logout_timeout_seconds: int = 5
    # The "This wasn't me" link in a new-browser email works this many hours, once.
    new_browser_link_hours: int = 72
    # Global branding (README, "Branding"): pages and mail show these unless the client being
    # signed in to has its own. No support contact set: they say "your help desk", no address.
    product_name: str = "Secure Sign-in"
    primary_color: str = "#0b57d0"
    logo_file: str = ""  # a PNG, JPEG or WebP file on this host, at most 256 KiB
    support_email: str = ""
    support_phone: str = ""
    support_url: str = ""
    # Client logos given as a URL are fetched once, over https, never from a private or
    # loopback address. True lifts both rules: for tests only, refused in production.
    logo_fetch_unsafe: bool = False
    logo_fetch_timeout_seconds: int = 5
    passkey_signin: bool = True
    # After a sign-in with a code, offer once to create a passkey (clients can turn it off too);
    # "Not now" hides the offer for passkey_offer_snooze_days.
    passkey_offer: bool = True
    passkey_offer_snooze_days: int = 14
    # Audit events older than this many days are deleted by `idp audit prune` (run it daily
    # from cron or a systemd timer); 0 keeps them forever. Check your legal retention duty.
    audit_retention_days: int = 365
    # How long an admin's invitation (activation link) works.
    invitation_days: int = 7
    # A user whose only second factor is email codes resets after this wait, announced by mail
    # with a cancel link: the reset link alone proves only the mailbox (DESIGN.md "Recovery").
    reset_cooling_off_hours: int = 24
    # Origins allowed in WebAuthn ceremonies, comma-separated; default: the issuer's origin.
    webauthn_origins: str = ""
    # "json": one JSON object per line (for a log shipper); "text" reads better in a terminal.
    log_format: str = "text"
    # When set, GET /metrics needs `Authorization: Bearer <token>`; empty: /metrics is open
    # (keep it off the public internet at the proxy then).
    metrics_token: str = ""
    # A MaxMind-format database (.mmdb, e.g. GeoLite2-City) on this host: the account and admin
    # pages then show where each session's IP address roughly is. Empty: they show the address.
    geoip_database: str = ""

    @property
    def webauthn_rp_id(self) -> str:
        """The WebAuthn RP ID: the issuer's host."""
        return urlsplit(self.issuer).hostname or "localhost"

    @property
    def webauthn_allowed_origins(self) -> list[str]:
        """Origins a WebAuthn response may come from."""
        if self.webauthn_origins:
            return [o.strip().rstrip("/") for o in self.webauthn_origins.split(",") if o.strip()]
        parts = urlsplit(self.issuer)
        return [f"{parts.scheme}://{parts.netloc}"]

    @property
    def is_development(self) -> bool:
        """True under `make run`: outbox page, cookies without Secure."""
        return self.env == "development"

    @property
    def password_backoff(self) -> Backoff:
        """Delays after wrong passwords from one source, and the account-wide cap."""
        return Backoff(
            free=self.login_max_failures,
            first=timedelta(seconds=1),
            ceiling=timedelta(minutes=self.lockout_minutes),
            cap=self.account_failure_cap,
        )

    @property
    def secure_cookies(self) -> bool:
        """Secure cookies everywhere except plain-http local development."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.issuer.startswith("https://")


def _coerce(name: str, raw: str, kind: Any) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if "bool" in kind_name:
            lowered = raw.strip().lower()
            if lowered in ("", "auto") and "None" in kind_name:
                return None
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if "int" in kind_name:
            return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r}: {exc}") from exc
    return raw


# Settings with a fixed set of values: (name, the values, what the error says).
CHOICES = (
    ("jwt_access_token_alg", ("RS256", "ES256"), "one of RS256, ES256"),
    ("env", ("production", "development", "test"), "one of production, development, test"),
    ("log_format", ("text", "json"), "text or json"),
)
# Numbers with bounds of their own: (name, lowest, highest or None, what the error says).
BOUNDS = (
    ("audit_retention_days", 0, None, "must be 0 (keep forever) or more"),
    ("invitation_days", 1, 30, "must be between 1 and 30"),
    ("account_failure_cap", 1, 100, "at most 100 (NIST SP 800-63B 5.2.2)"),
    ("trusted_proxies", 0, None, "must be 0 or more"),
    ("refresh_reuse_grace_seconds", 0, 60, "must be between 0 (off) and 60"),
    ("reverify_days", 0, None, "must be 0 (off) or more"),
)


def _validate_issuer(issuer: str) -> None:
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"IDP_ISSUER={issuer!r}: must be an http(s) URL without query or fragment"
        )
    if issuer.endswith("/"):
        raise ConfigError(f"IDP_ISSUER={issuer!r}: must not end with '/'")
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "http" and not local:
        raise ConfigError(f"IDP_ISSUER={issuer!r}: https is required except for localhost")


def _validate(s: Settings) -> None:
    _validate_issuer(s.issuer)
    for name, allowed, words in CHOICES:
        if getattr(s, name) not in allowed:
            raise ConfigError(f"IDP_{name.upper()}={getattr(s, name)!r}: {words}")
    positive = (
        "argon2_time_cost",
        "argon2_memory_kib",
        "argon2_parallelism",
        "code_ttl_seconds",
        "access_token_ttl_seconds",
        "refresh_token_ttl_days",
        "id_token_ttl_seconds",
        "jwt_access_token_ttl_seconds",
        "session_idle_minutes",
        "session_max_hours",
        "session_mfa_max_age_hours",
        "trust_ceiling_days",
        "login_max_failures",
        "lockout_minutes",
        "account_failure_cap",
        "reset_cooling_off_hours",
        "pending_signins_per_ip",
        "sweep_seconds",
        "mail_max_attempts",
        "mail_retry_seconds",
        "logout_max_attempts",
        "logout_retry_seconds",
        "logout_timeout_seconds",
        "new_browser_link_hours",
        "db_connect_timeout_seconds",
        "db_statement_timeout_ms",
    )
    for name in positive:
        if getattr(s, name) < 1:
            raise ConfigError(f"IDP_{name.upper()}={getattr(s, name)}: must be at least 1")
    for name, low, high, words in BOUNDS:
        value = getattr(s, name)
        if value < low or (high is not None and value > high):
            raise ConfigError(f"IDP_{name.upper()}: {words}")
    if s.metrics_token and len(s.metrics_token) < 16:
        # A short bearer token on an unauthenticated, unthrottled endpoint is guessable.
        raise ConfigError("IDP_METRICS_TOKEN: at least 16 characters (or empty for none)")
    if s.argon2_memory_kib < 8 * s.argon2_parallelism:
        raise ConfigError("IDP_ARGON2_MEMORY_KIB: must be at least 8 KiB per lane")
    for name in ("authorize_rate_limit", "token_rate_limit"):
        if not _is_rate(getattr(s, name)):
            raise ConfigError(f"IDP_{name.upper()}={getattr(s, name)!r}: like 60/minute")
    if s.smtp_url and urlsplit(s.smtp_url).scheme not in ("smtp", "smtps", "smtp+starttls"):
        raise ConfigError("IDP_SMTP_URL: scheme must be smtp, smtp+starttls or smtps")
    if s.geoip_database and not Path(s.geoip_database).is_file():
        raise ConfigError(f"IDP_GEOIP_DATABASE={s.geoip_database!r}: no such file")
    _validate_branding(s)
    if not s.database_url.startswith(("sqlite:", "postgresql")):
        raise ConfigError("IDP_DATABASE_URL: sqlite:/// or postgresql+psycopg:// URL expected")


def _validate_branding(s: Settings) -> None:
    from idp.branding import MAX_LOGO_BYTES, check_color, image_type

    if check_color(s.primary_color) or s.primary_color != s.primary_color.lower():
        raise ConfigError(f"IDP_PRIMARY_COLOR={s.primary_color!r}: like #0b57d0 (lower case)")
    if s.logo_file:
        path = Path(s.logo_file)
        if not path.is_file() or path.stat().st_size > MAX_LOGO_BYTES:
            raise ConfigError(f"IDP_LOGO_FILE={s.logo_file!r}: no such file, or over 256 KiB")
        if image_type(path.read_bytes()) is None:
            raise ConfigError(f"IDP_LOGO_FILE={s.logo_file!r}: must be a PNG, JPEG or WebP image")
    email = s.support_email
    if email and ("@" not in email or any(c.isspace() for c in email)):
        raise ConfigError(f"IDP_SUPPORT_EMAIL={s.support_email!r}: an email address, or empty")
    if s.support_url and not s.support_url.startswith("https://"):
        raise ConfigError(f"IDP_SUPPORT_URL={s.support_url!r}: an https URL, or empty")
    if s.logo_fetch_unsafe and s.env == "production":
        raise ConfigError("IDP_LOGO_FETCH_UNSAFE: only outside production (tests)")
    if not 1 <= s.logo_fetch_timeout_seconds <= 30:
        raise ConfigError("IDP_LOGO_FETCH_TIMEOUT_SECONDS: between 1 and 30")


def _is_rate(text: str) -> bool:
    try:
        return bool(parse_many(text))
    except ValueError:
        return False


def _persisted_secret(instance: Path) -> str:
    """A random secret key kept under instance/ so restarts keep sessions valid."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_settings(
    overrides: dict[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build Settings from defaults, IDP_* variables and overrides; raise ConfigError if invalid."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            values[f.name] = _coerce(f.name, raw, f.type)
    values.update(overrides or {})
    unknown = set(values) - {f.name for f in fields(Settings)}
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    defaults = {f.name: f.default for f in fields(Settings)}
    instance = Path(values.get("instance_dir", defaults["instance_dir"])).resolve()
    values["instance_dir"] = str(instance)
    if not values.get("database_url"):
        values["database_url"] = f"sqlite:///{instance / 'idp.db'}"
    if values["database_url"].startswith("postgresql://"):
        values["database_url"] = values["database_url"].replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    if not values.get("outbox_dir"):
        values["outbox_dir"] = str(instance / "outbox")
    values["issuer"] = values.get("issuer", defaults["issuer"]).rstrip("/")
    settings = Settings(**values)
    _validate(settings)
    if not settings.secret_key:
        settings = replace(settings, secret_key=_persisted_secret(instance))
    return settings
