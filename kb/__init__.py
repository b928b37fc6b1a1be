"""kb: a knowledge base of education practices shared across a network of cities."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from kb.config import load_config
from kb.extensions import csrf, db, login_manager


def create_app(test_config: dict | None = None) -> Flask:
    """Build the kb application.

    ``test_config`` replaces ``instance/config.py`` and the ``KB_*``
    environment variables, so each test gets an isolated instance.
    """
    app = Flask(__name__, instance_relative_config=True, instance_path=_instance_path(test_config))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    load_config(app, test_config)

    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)

    # Imported here so that importing kb (for its models, say) stays cheap.
    from kb import api, blueprints, cli, search, sessions

    sessions.init_app(app)
    search.init_app(app)
    blueprints.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    return app


def _instance_path(test_config: dict | None) -> str | None:
    """The instance folder: the test mapping's ``INSTANCE_PATH``, else ``KB_INSTANCE_PATH``.

    ``None`` lets Flask use ``instance/`` beside the package. The variable
    lets one checkout serve several instances, and lets tests exercise the
    real configuration layers without touching the developer's instance.
    """
    if test_config is not None:
        return test_config.get("INSTANCE_PATH")
    configured = os.environ.get("KB_INSTANCE_PATH")
    # Flask insists on an absolute instance path.
    return os.path.abspath(configured) if configured else None
