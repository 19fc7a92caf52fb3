"""What a benchmark client does: a full browser sign-in through the real pages, and RP calls."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pyotp
import requests

CALLBACK = "http://localhost:9/callback"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _csrf(html: str) -> str:
    match = CSRF.search(html)
    if not match:
        raise requests.RequestException("no CSRF token on the page")
    return match.group(1)


def sign_in(
    base: str,
    browser: requests.Session,
    *,
    email: str,
    password: str,
    totp_secret: str,
    client_id: str,
    client_secret: str,
) -> dict:
    """Authorize, type the password, answer the TOTP challenge, redeem the code: the tokens."""
    verifier = secrets.token_urlsafe(48)
    import base64
    import hashlib

    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid profile email offline_access",
            "state": "s",
            "nonce": "n",
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        }
    )
    location = f"{base}/authorize?{query}"
    for _ in range(12):
        if location.startswith(CALLBACK):
            code = parse_qs(urlsplit(location).query)["code"][0]
            response = browser.post(
                f"{base}/token",
                auth=(client_id, client_secret),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": CALLBACK,
                    "code_verifier": verifier,
                },
            )
            response.raise_for_status()
            return response.json()
        path = urlsplit(location).path
        page = browser.get(location, allow_redirects=False)
        if page.status_code in (301, 302, 303):
            location = urljoin(base, page.headers["Location"])
            continue
        if path == "/signin":
            data = {"email": email, "password": password}
        elif path == "/signin/verify":
            data = {"code": pyotp.TOTP(totp_secret).now()}
        else:
            raise requests.RequestException(f"unexpected page {path} ({page.status_code})")
        posted = browser.post(
            location, data={"csrf_token": _csrf(page.text), **data}, allow_redirects=False
        )
        if posted.status_code != 302:
            raise requests.RequestException(f"{path} answered {posted.status_code}")
        location = urljoin(base, posted.headers["Location"])
    raise requests.RequestException("sign-in did not finish")
