"""Importing users with hashes from another system: all or nothing, verified, then rehashed."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json

import bcrypt
import pytest
from argon2 import PasswordHasher, Type

from idp.extensions import db
from idp.manage import importer
from idp.manage.actor import CLI
from idp.manage.errors import Invalid
from idp.models.user import User
from tests.support import csrf_of, make_user
from tests.web.test_admin_helpers import events, post_form, signed_in_admin, user_row

PASSWORD = "orbit-meadow-copper-58"


def bcrypt_hash(password: str = PASSWORD) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def django_pbkdf2(password: str = PASSWORD, salt: str = "s4ltS4lt", iterations: int = 1000) -> str:
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(key).decode()}"


def passlib_pbkdf2(
    password: str = PASSWORD, salt: bytes = b"\x00\x01salty", iterations: int = 1000
) -> str:
    def ab64(raw: bytes) -> str:
        return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")

    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"$pbkdf2-sha256${iterations}${ab64(salt)}${ab64(key)}"


def argon2i(password: str = PASSWORD) -> str:
    return PasswordHasher(type=Type.I, time_cost=1, memory_cost=1024).hash(password)


def csv_text(*rows: str) -> str:
    return "email,name,roles,password_hash\n" + "\n".join(rows) + "\n"


def csv_row(*fields: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def count_users(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(User))


def run_import(app, name: str, text: str):
    with app.test_request_context():
        return importer.import_users(importer.parse(name, text), actor=CLI)


def sign_in_with_password(app, email: str, password: str = PASSWORD) -> int:
    browser = app.test_client()
    page = browser.get("/signin")
    response = browser.post(
        "/signin", data={"csrf_token": csrf_of(page), "email": email, "password": password}
    )
    return response.status_code


@pytest.mark.parametrize(
    "make_hash", [bcrypt_hash, django_pbkdf2, passlib_pbkdf2, argon2i], ids=lambda f: f.__name__
)
def test_an_imported_user_signs_in_with_the_old_password_and_is_rehashed_to_argon2id(
    app, make_hash
):
    old = make_hash()
    run_import(app, "users.csv", csv_text(csv_row("amy@example.com", "Amy Pond", "customer", old)))
    before = user_row(app, "amy@example.com")
    assert before.password_hash == old and before.activated_at is None
    assert before.roles == ["customer"] and not before.email_verified
    assert sign_in_with_password(app, "amy@example.com", "wrong-password-123") == 401
    assert user_row(app, "amy@example.com").password_hash == old
    assert sign_in_with_password(app, "amy@example.com") == 302
    after = user_row(app, "amy@example.com")
    assert after.password_hash.startswith("$argon2id$")
    assert app.extensions["idp.passwords"].check(after.password_hash, PASSWORD)
    # Not activated: the first sign-in proves the email before anything is enrolled.
    assert after.activated_at is None


def test_a_bcrypt_user_reaches_email_proof_after_the_password(app):
    run_import(
        app, "u.json", json.dumps([{"email": "bo@example.com", "password_hash": bcrypt_hash()}])
    )
    browser = app.test_client()
    page = browser.get("/signin")
    browser.post(
        "/signin",
        data={"csrf_token": csrf_of(page), "email": "bo@example.com", "password": PASSWORD},
    )
    assert browser.get("/account/security").location.startswith("/signin/prove-email")


def test_a_bad_row_is_reported_by_line_and_nothing_is_imported(app):
    make_user(app, "taken@example.com")
    text = csv_text(
        f"ok1@example.com,One,,{bcrypt_hash()}",
        "not-an-email,Two,,",
        f"ok2@example.com,Three,agent,{django_pbkdf2()}",
        "ok3@example.com,Four,,md5$abc$def",
        "TAKEN@example.com,Five,,",
        '"multi@example.com","Six\nLines",,',
        "ok1@example.com,Dup,,",
        "bad-role@example.com,Seven,Admin!,",
    )
    with pytest.raises(Invalid) as caught:
        run_import(app, "users.csv", text)
    lines = {(e.line, e.field) for e in caught.value.errors}
    assert lines == {
        (3, "email"),
        (5, "password_hash"),
        (6, "email"),
        (7, "name"),  # a record over two lines; the ones after it keep their numbers
        (9, "email"),
        (10, "roles"),
    }
    assert count_users(app) == 1
    assert not events(app, "users.imported")


def test_json_lines_and_arrays_report_the_line_each_object_starts_on(app):
    text = (
        "[\n"
        '  {"email": "a@example.com"},\n'
        '  {"email": "b@example.com",\n'
        '   "roles": "agent"},\n'
        '  {"email": "c@example.com", "extra": 1}\n'
        "]\n"
    )
    with pytest.raises(Invalid) as caught:
        run_import(app, "users.json", text)
    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "roles"), (5, "extra")]
    lines = '{"email": "a@example.com"}\n{"email": "b@example.com"}\n'
    assert run_import(app, "users.jsonl", lines).created == 2
    with pytest.raises(Invalid) as caught:
        run_import(app, "broken.json", '[{"email": "x@example.com"},\n {"email": ]')
    assert caught.value.errors[0].line == 2


def test_a_wrong_header_or_an_empty_file_is_refused(app):
    with pytest.raises(Invalid, match="header"):
        run_import(app, "u.csv", "mail,name\nx@example.com,X\n")
    with pytest.raises(Invalid, match="no users"):
        run_import(app, "u.csv", "email,name\n")
    with pytest.raises(Invalid):
        run_import(app, "u.csv", "email,name\nx@example.com,X,surplus\n")
    assert count_users(app) == 0


def test_import_through_the_console(app, client):
    signed_in_admin(app, client)
    token = csrf_of(client.get("/admin/users/import"))
    good = csv_text(f"cy@example.com,Cy,agent,{bcrypt_hash()}", "di@example.com,Di,,")
    response = client.post(
        "/admin/users/import",
        data={"csrf_token": token, "file": (io.BytesIO(good.encode()), "users.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "Imported 2 users (1 bcrypt, 1 without a password)" in response.text
    bad = csv_text("ed@example.com,Ed,,", "nope,No,,")
    response = client.post(
        "/admin/users/import",
        data={"csrf_token": token, "file": (io.BytesIO(bad.encode()), "more.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "Line 3" in response.text
    assert user_row(app, "ed@example.com") is None
    imported = events(app, "users.imported")
    assert len(imported) == 1 and imported[0].detail["created"] == 2
    refused = post_form(client, "/admin/users/import")
    assert refused.status_code == 422 and "Choose a file" in refused.text


def with_cost(stored: str, old: str, new: str) -> str:
    """The same hash with its cost parameter rewritten: costly to check, cheap to make."""
    assert old in stored
    return stored.replace(old, new, 1)


def over_cost_hashes() -> dict[str, str]:
    """One hash per scheme whose single check would tie up a worker; and the message expected."""
    return {
        "bcrypt cost 14 is above the limit of 13": with_cost(bcrypt_hash(), "$04$", "$14$"),
        "PBKDF2 1,200,001 iterations are above the limit of 1,200,000": django_pbkdf2().replace(
            "$1000$", "$1200001$"
        ),
        "PBKDF2 5,000,000 iterations": passlib_pbkdf2().replace("$1000$", "$5000000$"),
        "argon2 memory 524288 KiB is above": with_cost(argon2i(), "m=1024", "m=524288"),
        "argon2 time cost 11 is above": with_cost(argon2i(), "t=1", "t=11"),
        "argon2 memory x time cost (131072 KiB x 3)": with_cost(
            with_cost(argon2i(), "m=1024", "m=131072"), "t=1", "t=3"
        ),
    }


def test_hashes_too_costly_to_check_are_refused_row_by_row(app):
    refused = over_cost_hashes()
    at_limits = [
        with_cost(bcrypt_hash(), "$04$", "$13$"),
        django_pbkdf2().replace("$1000$", "$1200000$"),
        with_cost(with_cost(argon2i(), "m=1024", "m=65536"), "t=1", "t=4"),
    ]
    rows = [csv_row(f"u{n}@example.com", "U", "", h) for n, h in enumerate(refused.values())]
    rows += [csv_row(f"ok{n}@example.com", "Ok", "", h) for n, h in enumerate(at_limits)]
    with pytest.raises(Invalid) as caught:
        run_import(app, "users.csv", csv_text(*rows))
    errors = caught.value.errors
    assert [(e.line, e.field) for e in errors] == [(n + 2, "password_hash") for n in range(6)]
    for error, expected in zip(errors, refused, strict=True):
        assert expected in error.message and "import the row without it" in error.message
    assert count_users(app) == 0
    ok = csv_text(*[csv_row(f"ok{n}@example.com", "Ok", "", h) for n, h in enumerate(at_limits)])
    assert run_import(app, "users.csv", ok).by_scheme == {
        "bcrypt": 1,
        "pbkdf2_sha256": 1,
        "argon2": 1,
    }


def test_the_console_reports_a_too_costly_hash_on_its_line(app, client):
    signed_in_admin(app, client)
    token = csrf_of(client.get("/admin/users/import"))
    text = csv_text("fe@example.com,Fe,,", f"gus@example.com,Gus,,{passlib_pbkdf2(iterations=1)}")
    text = text.replace("$1$", "$5000000$")
    response = client.post(
        "/admin/users/import",
        data={"csrf_token": token, "file": (io.BytesIO(text.encode()), "users.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Line 3" in response.text and "above the limit of 1,200,000" in response.text
    assert user_row(app, "fe@example.com") is None


def test_a_stored_hash_above_the_limits_is_never_computed(app, monkeypatch):
    """Defence in depth: a hash that got into the database another way fails at dummy cost."""
    hashes = list(over_cost_hashes().values())
    computed: list[str] = []
    real_verify = PasswordHasher.verify

    def verify(self, stored, password):
        computed.append(stored)
        return real_verify(self, stored, password)

    def never(*_args):
        raise AssertionError("an over-cost hash was computed")

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    monkeypatch.setattr(bcrypt, "checkpw", never)
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", never)
    passwords = app.extensions["idp.passwords"]
    for stored in hashes:
        computed.clear()
        assert passwords.check(stored, PASSWORD) is False
        assert computed and stored not in computed, "only the dummy hash was verified"


def test_our_own_argon2_parameters_are_never_refused(app):
    """An operator may configure a dearer argon2 than imports may bring."""
    from idp.authn.password import MAX_ARGON2_TIME_COST, Passwords

    own = Passwords(time_cost=MAX_ARGON2_TIME_COST + 1, memory_kib=1024, parallelism=1)
    assert own.check(own.hash(PASSWORD), PASSWORD)
