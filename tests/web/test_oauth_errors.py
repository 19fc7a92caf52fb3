"""A refused redirect_uri: logged always; named on the page in development, never in production."""

from __future__ import annotations

import logging

import pytest

from tests.support import REDIRECT_URI, RelyingParty, make_client

REFUSED = "http://localhost:3001/callback?code=leak-me&state=s1"


@pytest.fixture(params=["development", "production"])
def overrides(request: pytest.FixtureRequest) -> dict[str, str]:
    return {"env": request.param}


@pytest.fixture
def rp(app, client) -> RelyingParty:
    _, secret = make_client(app)
    return RelyingParty(client, secret=secret)


def refused(response) -> str:
    assert response.status_code == 400 and "Location" not in response.headers
    assert "return address" in response.text
    return response.text


def test_an_unknown_redirect_uri_is_named_in_development_only(app, client, rp, caplog):
    caplog.set_level(logging.WARNING, logger="idp.web.oauth_errors")
    page = refused(client.get(rp.authorize_url(redirect_uri=REFUSED)))
    development = app.extensions["idp.settings"].is_development
    named = REFUSED.replace("&", "&amp;") in page
    assert named is development
    assert (REDIRECT_URI in page) is development  # what is registered for this client
    assert ("Development only" in page) is development
    [record] = [r for r in caplog.records if r.name == "idp.web.oauth_errors"]
    assert record.levelno == logging.WARNING
    line = record.getMessage()
    assert "'rp'" in line and "http://localhost:3001/callback?code=***&state=***" in line
    assert "leak-me" not in line


def test_a_missing_redirect_uri_is_explained_in_development_only(app, client, rp, caplog):
    caplog.set_level(logging.WARNING, logger="idp.web.oauth_errors")
    page = refused(client.get(rp.authorize_url(redirect_uri=None)))
    development = app.extensions["idp.settings"].is_development
    assert ("has no redirect_uri" in page) is development
    assert (REDIRECT_URI in page) is development
    assert any("refused for client_id 'rp'" in r.getMessage() for r in caplog.records)


def test_an_unknown_client_is_not_logged_as_a_refused_redirect(client, rp, caplog):
    caplog.set_level(logging.WARNING, logger="idp.web.oauth_errors")
    response = client.get(rp.authorize_url(client_id="ghost", redirect_uri=REFUSED))
    assert response.status_code == 400 and "not registered" in response.text
    assert REFUSED.replace("&", "&amp;") not in response.text
    assert not [r for r in caplog.records if r.name == "idp.web.oauth_errors"]
