"""Real-browser tests: Debian's Chromium driven by Playwright against a live kb server.

A package, so that its ``conftest`` does not take the place of ``tests/conftest.py``
as the ``conftest`` module the other tests import ``PASSWORD`` from.
"""
