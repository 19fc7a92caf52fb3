"""Random requests at every protocol endpoint: never a 500, back-channel answers always JSON.

CI runs a few fixed seeds (reproducible); `make fuzz` runs random ones for FUZZ_SECONDS and
prints each seed, so a failure is replayed with IDP_FUZZ_SEEDS=<seed>.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from tests.support import REDIRECT_URI, make_client

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "idp-hypothesis")

SEEDS = [int(s) for s in os.environ.get("IDP_FUZZ_SEEDS", "1,2,3").split(",")]
EXAMPLES = int(os.environ.get("IDP_FUZZ_EXAMPLES", "40"))

BACK_CHANNEL = ("/token", "/revoke", "/introspect")
ENDPOINTS = (
    "GET /authorize",
    "POST /authorize",
    *(f"POST {path}" for path in BACK_CHANNEL),
    "GET /userinfo",
)
# Every parameter some endpoint reads, with a value it would accept.
GOOD = {
    "response_type": "code",
    "client_id": "rp",
    "redirect_uri": REDIRECT_URI,
    "scope": "openid offline_access",
    "state": "s",
    "nonce": "n",
    "prompt": "none",
    "max_age": "60",
    "claims": '{"id_token": {"acr": {"essential": true}}}',
    "acr_values": "urn:idp:acr:mfa",
    "login_hint": "ada@example.com",
    "id_token_hint": "e30.e30.",
    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "code_challenge_method": "S256",
    "response_mode": "query",
    "grant_type": "client_credentials",
    "code": "abc",
    "code_verifier": "v" * 43,
    "refresh_token": "abc",
    "client_secret": "wrong",
    "token": "abc",
    "token_type_hint": "refresh_token",
    "access_token": "abc",
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
).map(json.dumps)
values = st.one_of(
    st.sampled_from(sorted(set(GOOD.values()))),
    st.text(max_size=40),
    json_values,
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
)
names = st.sampled_from(sorted(GOOD)) | st.text(min_size=1, max_size=12)
basic = st.one_of(
    st.none(),
    st.just(b"rp:wrong"),
    st.binary(max_size=24),
    st.text(max_size=12).map(str.encode),
)


@st.composite
def protocol_requests(draw: Any) -> tuple[str, str, list[tuple[str, str]], bytes | None]:
    """An endpoint, mostly-good parameters with random changes, and maybe a Basic header."""
    method, path = draw(st.sampled_from(ENDPOINTS)).split()
    params = [(k, v) for k, v in GOOD.items() if draw(st.booleans())]
    params += draw(st.lists(st.tuples(names, values), max_size=6))
    return method, path, params, draw(basic)


def send(browser: Any, request: tuple[str, str, list[tuple[str, str]], bytes | None]) -> Any:
    """Send one generated request through the test client."""
    method, path, params, credentials = request
    headers = {}
    if credentials is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    body = urlencode(params).encode()
    if method == "GET":
        return browser.get(f"{path}?{body.decode()}", headers=headers)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return browser.post(path, data=body, headers=headers)


@pytest.mark.parametrize("fuzz_seed", SEEDS)
def test_protocol_endpoints_never_fail(app, client, fuzz_seed):
    make_client(app, "rp")  # so some requests get past client authentication

    @seed(fuzz_seed)
    @settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(protocol_requests())
    def check(request: tuple[str, str, list[tuple[str, str]], bytes | None]) -> None:
        response = send(client, request)
        assert response.status_code < 500, (request, response.text[:300])
        if request[1] in BACK_CHANNEL:
            assert response.mimetype == "application/json", (request, response.text[:300])

    check()
