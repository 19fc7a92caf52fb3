"""The headers every response carries, in one place: Flask's hooks and the layers before it."""

from __future__ import annotations

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self' http: https:"
)
# Never to other sites (URLs carry authorization requests), but to ourselves: over https
# Flask-WTF refuses a form POST without a same-origin Referer (WTF_CSRF_SSL_STRICT).
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
)
# RFC 6797: browsers that saw this over https never try plain http here for two years.
STRICT_TRANSPORT = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
