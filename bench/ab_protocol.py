"""`python -m bench.ab_protocol VARIANT.py`: two versions of a code path, A/B in one process.

Separate runs of bench.profile_protocol moved by up to 50 % here on a shared machine, more than
most levers; and a loop timing one function (timeit) understates its cost in a request several
times over (the request log line: ~16 us in a loop, ~60-75 us in a request, its code and data
cold after the rest of the request ran). This runs the relying parties' calls as
profile_protocol does, but alternates, batch by batch in the same process, between A (the
checkout as it is) and B (VARIANT.py's `on()`; `off()` undoes it), and prints both's best and
median batch means.

VARIANT.py is a scratch file, not kept: it patches the module attribute under test, e.g. the
old implementation of a function as B, or a measure that is no change at all ("what if this
cost nothing?"). It may read the module global `app` (the Flask app) from `on()`.

Environment: as profile_protocol (BENCH_ACCESS_TOKEN_FORMAT, PROFILE_CALLS (300) calls a batch,
PROFILE_ONLY: comma-separated scenarios, PROFILE_PG=1 adds PostgreSQL's CPU), AB_ROUNDS (8)
pairs of batches, in the order AB, BA, AB, ...
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import statistics
import sys
from typing import Any

from bench import cpu
from bench.profile_protocol import Capture, _backends
from bench.profile_signin import seeded_database, sign_in

CALLS = int(os.environ.get("PROFILE_CALLS", "300"))
ROUNDS = int(os.environ.get("AB_ROUNDS", "8"))


def main() -> None:
    """Load the variant, sign in once, then alternate A and B per scenario."""
    with seeded_database(2) as seeded:
        _measure(seeded, sys.argv[1])


def _measure(seeded: dict[str, Any], path: str) -> None:
    from idp import create_app

    spec = importlib.util.spec_from_file_location("variant", path)
    assert spec is not None and spec.loader is not None
    variant = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(variant)
    app = variant.app = create_app()
    meter = Capture(app.wsgi_app)
    app.wsgi_app = meter  # type: ignore[method-assign]
    client_id, secret = seeded["client_id"], seeded["secret"]
    sign_in(app, meter, client_id=client_id, secret=secret, user=seeded["users"][0])
    tokens = json.loads(meter.last)
    basic = {
        "Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    }
    http = app.test_client()
    refresh = [tokens["refresh_token"]]

    def client_credentials() -> None:
        reply = http.post("/token", data={"grant_type": "client_credentials"}, headers=basic)
        assert reply.status_code == 200, reply.data

    def rotate() -> None:
        form = {"grant_type": "refresh_token", "refresh_token": refresh[0]}
        reply = http.post("/token", data=form, headers=basic)
        assert reply.status_code == 200, reply.data
        refresh[0] = reply.get_json()["refresh_token"]

    def userinfo() -> None:
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        reply = http.get("/userinfo", headers=bearer)
        assert reply.status_code == 200, reply.data

    only = [name for name in os.environ.get("PROFILE_ONLY", "").split(",") if name]
    backends = _backends() if os.environ.get("PROFILE_PG") == "1" else None
    scenarios = {"client_credentials": client_credentials, "refresh": rotate, "userinfo": userinfo}
    print(f"app CPU per call, ms: A (as checked out) and B ({path}), {ROUNDS} x 2 x {CALLS}")
    for label, call in scenarios.items():
        if only and label not in only:
            continue
        meter.label = label
        for switch in (variant.on, variant.off):  # warm both
            switch()
            for _ in range(50):
                call()
        app_ms: dict[str, list[float]] = {"A": [], "B": []}
        pg_ms: dict[str, list[float]] = {"A": [], "B": []}
        for round_ in range(ROUNDS):
            for name in "AB" if round_ % 2 == 0 else "BA":
                (variant.on if name == "B" else variant.off)()
                meter.spent.clear()
                pg_before = cpu.cpu_seconds(backends()) if backends else {}
                for _ in range(CALLS):
                    call()
                if backends:
                    spent = cpu.spent_since(pg_before, cpu.cpu_seconds(backends()))
                    pg_ms[name].append(spent / CALLS * 1000)
                app_ms[name].append(sum(meter.spent[label]) / CALLS * 1000)
        variant.off()
        _show(label, app_ms)
        if backends:
            _show("  PostgreSQL", pg_ms)


def _show(label: str, ms: dict[str, list[float]]) -> None:
    (a_best, a_median), (b_best, b_median) = ((min(ms[n]), statistics.median(ms[n])) for n in "AB")
    line = f"  {label:20s} A {a_best:.3f} (median {a_median:.3f})"
    line += f"  B {b_best:.3f} (median {b_median:.3f})"
    if a_best and a_median:
        line += f"  B/A {b_best / a_best - 1:+.1%} best, {b_median / a_median - 1:+.1%} median"
    print(line)


if __name__ == "__main__":
    main()
