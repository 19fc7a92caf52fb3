"""The shipped gunicorn settings (gunicorn.conf.py, read from the working directory)."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def test_workers_keep_connections_alive_on_threads():
    conf = runpy.run_path(str(CONF))
    assert (conf["worker_class"], conf["threads"], conf["keepalive"]) == ("gthread", 4, 5)


def test_a_worker_with_its_app_loaded_freezes_it_out_of_the_collectors_reach():
    conf = runpy.run_path(str(CONF))
    gc.unfreeze()
    try:
        conf["post_worker_init"](None)
        assert gc.get_freeze_count() > 0  # what was loaded is no longer scanned
    finally:
        gc.unfreeze()
