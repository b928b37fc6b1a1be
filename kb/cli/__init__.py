"""The ``flask --app kb kb ...`` command group."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

kb_cli = AppGroup("kb", help="Manage the kb instance: database, users, demo data, search index.")


def init_app(app: Flask) -> None:
    """Register the ``kb`` command group and its subcommands."""
    from kb.cli import data, search, transfer, users

    data.register(kb_cli)
    users.register(kb_cli)
    search.register(kb_cli)
    transfer.register(kb_cli)
    app.cli.add_command(kb_cli)
