"""gunicorn reads this from the working directory: worker class, Prometheus bookkeeping.

With PROMETHEUS_MULTIPROC_DIR set, each worker writes its metrics to files there (see
idp/metrics.py); values of a previous run must go, and an exited worker's gauges must stop
counting.
"""

import gc
import os
from pathlib import Path

from prometheus_client import multiprocess


def on_starting(server):
    """Empty the metrics directory: counters restart with the server, as Prometheus expects."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for path in Path(directory).glob("*.db"):
            path.unlink()


def child_exit(server, worker):
    """A worker is gone: drop its live gauges (the database connections it held)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """The app is loaded: its long-lived objects (routes, templates, mappers, keys) leave the
    cyclic collector's reach, so the full collections a request's garbage triggers scan only what
    requests make. Measured in process: a sign-in's collections went from ~4.7 ms to ~0.9 ms."""
    gc.collect()
    gc.freeze()


# Threads in each worker, with keep-alive: a relying party's connection serves many token and
# userinfo calls, and a worker waiting on PostgreSQL serves another request meanwhile
# (the sync class closes every connection and waits idle). `--workers` stays on the command line.
worker_class = "gthread"
threads = 4
keepalive = 5
