"""Domain errors raised by services and turned into responses by the blueprints."""

from __future__ import annotations

from dataclasses import dataclass


class KbError(Exception):
    """Base of every error a service raises on purpose; the message is for people."""

    status_code = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(KbError):
    """The thing does not exist, or the acting user may not know it exists."""

    status_code = 404


class NotAuthenticated(KbError):
    """The request names no one the action could be done for: no session, or a bad API token."""

    status_code = 401


class PermissionDenied(KbError):
    """The acting user may see the thing but not do this to it."""

    status_code = 403


class Conflict(KbError):
    """The change collides with the current state (a duplicate, a stale edit)."""

    status_code = 409


class ValidationError(KbError):
    """Input that cannot be stored; ``errors`` maps each field to its messages."""

    status_code = 400

    def __init__(self, errors: dict[str, list[str]] | str, message: str = "") -> None:
        if isinstance(errors, str):
            errors = {"": [errors]}
        self.errors = errors
        summary = message or "; ".join(
            f"{field}: {msg}" if field else msg for field, msgs in errors.items() for msg in msgs
        )
        super().__init__(summary)


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an import file: where (line and field) and what."""

    line: int | None  # 1-based line of the file; None: the file as a whole
    field: str  # the column or key; "" for the whole line
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ImportRejected(KbError):
    """An import file that cannot be imported as a whole; nothing of it was written.

    ``problems`` lists every problem found, each with its line and field.
    """

    status_code = 400

    def __init__(self, problems: list[ImportProblem], message: str = "") -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(message or (
            f"The file was not imported: {count} problem{'s' if count != 1 else ''} found. "
            + "; ".join(str(problem) for problem in problems[:3])
            + ("; …" if count > 3 else "")
        ))
