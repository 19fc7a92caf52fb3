"""`python -m bench.seed N CALLBACK`: a confidential client and N users with an app, as JSON.

Runs with the same IDP_* environment as gunicorn, so TOTP secrets are sealed with its key.
"""

from __future__ import annotations

import json
import os
import sys

import pyotp
from sqlalchemy import update

from idp import create_app
from idp.authn import totp
from idp.clock import now
from idp.extensions import db
from idp.manage.commands.clients import create_client
from idp.models.totp_credential import TotpCredential
from idp.models.user import User

PASSWORD = "bench-orchard-velvet-93"
GRANTS = ["authorization_code", "refresh_token", "client_credentials"]
ACCESS_TOKEN_FORMAT = os.environ.get("BENCH_ACCESS_TOKEN_FORMAT", "opaque")


def seed(users: int, callback: str) -> dict[str, object]:
    """Create the client and the users; returns what the load generator needs."""
    app = create_app()
    with app.app_context():
        client, secret = create_client(
            name="Bench",
            redirect_uris=[callback],
            first_party=True,
            client_id="bench",
            grant_types=GRANTS,
        )
        # BENCH_ACCESS_TOKEN_FORMAT=jwt: RFC 9068 access tokens (client_credentials, userinfo).
        client.access_token_format = ACCESS_TOKEN_FORMAT
        # One argon2id hash (production parameters) shared by all: verifying costs the same,
        # and hashing hundreds of passwords would take longer than the benchmark.
        hashed = app.extensions["idp.passwords"].hash(PASSWORD)
        profile = {
            "password_hash": hashed,
            "activated_at": now(),
            "email_verified": True,
            "roles": [],
        }
        seeded = []
        for i in range(users):
            user = User(email=f"user{i}@bench.example", **profile)
            db.session.add(user)
            db.session.flush()
            key = totp.new_secret()
            code, sealing = pyotp.TOTP(key).now(), app.config["SECRET_KEY"]
            totp.enroll(user.id, name="app", secret=key, code=code, now=now(), app_secret=sealing)
            seeded.append([user.email, key])
        # enroll() used up the current step; the first sign-in may come within the same 30 s.
        db.session.execute(update(TotpCredential).values(last_step=0))
        db.session.commit()
        db.engine.dispose()
    return {"client_id": "bench", "secret": secret, "password": PASSWORD, "users": seeded}


if __name__ == "__main__":
    print(json.dumps(seed(int(sys.argv[1]), sys.argv[2])))
