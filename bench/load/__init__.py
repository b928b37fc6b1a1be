"""Load benchmark: kb under gunicorn on PostgreSQL, driven over real HTTP (``python -m bench.load``).

:mod:`bench.load.client` and :mod:`bench.load.server` are also what the
multi-worker and multi-server tests use to start gunicorn and talk to it.
"""
