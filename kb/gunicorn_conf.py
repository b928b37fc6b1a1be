"""gunicorn settings for kb: ``gunicorn --config python:kb.gunicorn_conf`` (``make serve``).

The master process runs ``flask kb init`` (migrate the schema, create or
catch up the search index) once, in the ``on_starting`` hook, before it
opens the listening socket and forks any worker. The workers then start on
a ready database and index; a worker that gunicorn respawns after a crash
does not run it again, and a failed init stops the server before it serves
anything. Upgrading kb is therefore a restart, not a SIGHUP: a reload
starts new workers without running the migrations of the new code.

The app is not preloaded: each worker builds its own app after the fork, so
no database connection or open index file is shared between processes
(connections inherited through ``fork`` are a classic source of corrupted
protocol streams). ``init`` runs as its own process for the same reason:
the master keeps nothing open that the workers would inherit.

Command-line options override these defaults (``make serve`` passes
``--workers`` and ``--bind``); ``WEB_CONCURRENCY`` sets the number of
workers when neither does.
"""

from __future__ import annotations

import os
import subprocess
import sys

wsgi_app = "kb:create_app()"
bind = ["127.0.0.1:8000"]
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Synchronous workers, one request each at a time: behind a buffering
# reverse proxy (README, Production) slow clients never hold a worker.
worker_class = "sync"
preload_app = False
# gunicorn 25+ opens a control socket at one path per user
# (~/.gunicorn/gunicorn.ctl): a second server on the machine would take it
# over from the first. kb is managed with signals instead.
control_socket_disable = True
# The search index is updated right after the commit, inside the request;
# a worker waits at most SEARCH_WRITER_TIMEOUT (10 s) for another's lock.
timeout = 60


def init_instance(server) -> None:
    """Run ``flask kb init`` with the server's environment; stop the server if it fails."""
    server.log.info("kb: running `flask kb init` before starting the workers")
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "kb", "kb", "init"], check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"`flask kb init` failed with status {done.returncode}; the workers were not started"
        )


def on_starting(server) -> None:
    """gunicorn hook: before the master forks its first worker."""
    init_instance(server)
