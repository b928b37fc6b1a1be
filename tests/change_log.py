"""Readers of the change log, for tests of what a write records in it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from kb.extensions import db
from kb.models import ChangeLog, ChangeOperation, latest_change_seq


def logged_since(app: Flask, seq: int) -> set[tuple[int, ChangeOperation]]:
    """Change-log entries written after sequence number ``seq``."""
    with app.app_context():
        rows = db.session.scalars(select(ChangeLog).where(ChangeLog.seq > seq)).all()
        return {(row.entity_id, row.operation) for row in rows}


def last_seq(app: Flask) -> int:
    """The sequence number of the newest change-log entry."""
    with app.app_context():
        return latest_change_seq(db.session)
