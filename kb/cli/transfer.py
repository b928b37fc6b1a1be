"""``flask kb import`` and ``flask kb export``: case studies in bulk, and full dumps.

``import FILE --as EMAIL`` creates case studies from a JSON Lines or CSV
file (:mod:`kb.services.bulk`) as that facilitator or admin would through
the upload page; ``import --dump FILE`` restores a full dump into an empty
instance (:mod:`kb.services.dump`). ``export`` writes a full dump, or with
``--cases`` the case studies alone in the import format.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from kb import search
from kb.errors import ImportRejected, KbError
from kb.extensions import db
from kb.services import accounts, bulk, dump


@contextmanager
def _reporting() -> Iterator[None]:
    """Turn a refused import into its problems, one a line, and exit status 1."""
    try:
        yield
    except ImportRejected as error:
        db.session.rollback()
        for problem in error.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("Nothing was imported.") from None
    except KbError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None


def _save(what: str) -> None:
    """Commit, and bring the search index up to date before saying it is done."""
    db.session.commit()
    search.catch_up()
    click.echo(f"{what} The search index is up to date.")


def _write(target: Path | None, chunks: Iterable[str | bytes]) -> None:
    """Write ``chunks`` to standard output, or whole to ``target`` (readable by its owner only).

    A file is written beside ``target`` and renamed into place, so a
    failed export never leaves a half-written file under the name asked for.
    """
    if target is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                out.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def register(group: AppGroup) -> None:
    """Attach ``import`` and ``export`` to ``group``."""

    @group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--format", "file_format", type=click.Choice(bulk.FORMATS),
                  help="jsonl or csv (default: from the file name's ending).")
    @click.option("--dry-run", is_flag=True, help="Check every row and say what would be "
                  "created; write nothing.")
    @click.option("--create-terms", is_flag=True, help="Create the problems of practice and "
                  "adaptation contexts the file names that do not exist yet.")
    @click.option("--as", "email", metavar="EMAIL", help="The facilitator or admin who "
                  "becomes the author of the imported case studies.")
    @click.option("--dump", "is_dump", is_flag=True, help="FILE is a full dump from "
                  "`flask kb export`: restore it into this empty instance.")
    def import_command(file: Path, file_format: str | None, dry_run: bool, create_terms: bool,
                       email: str | None, is_dump: bool) -> None:
        """Create case studies from FILE (JSON Lines or CSV), all or none; or restore a dump."""
        if is_dump:
            if file_format or create_terms or email:
                raise click.UsageError("--dump restores a whole instance: it takes no --format, "
                                       "--create-terms or --as.")
            _restore(file, dry_run)
            return
        if not email:
            raise click.UsageError("Say who imports the case studies (and becomes their "
                                   "author) with --as EMAIL.")
        max_bytes = current_app.config["IMPORT_MAX_BYTES"]
        with _reporting():
            bulk.check_size(file.stat().st_size, max_bytes)
            rows = bulk.read_rows(file.read_bytes(), bulk.format_for(file.name, file_format),
                                  max_bytes=max_bytes)
            user = accounts.get_user_by_email(email)
            label = "Checking case studies" if dry_run else "Importing case studies"
            with click.progressbar(length=len(rows), label=label, show_pos=True) as bar:
                report = bulk.import_cases(
                    user, rows, create_terms=create_terms, dry_run=dry_run, source_name=file.name,
                    as_operator=True, progress=bar.update,
                )
        for term in report.new_terms:
            click.echo(f"New {term.vocabulary}: {term.slug} ({term.name})")
        for case in report.cases:
            click.echo(f"line {case.line}: {case.status} {case.slug} ({case.city})")
        count = bulk.counted(len(report.cases), "case study", "case studies")
        if dry_run:
            click.echo(f"Every row is valid: {count} would be imported. "
                       "Nothing was written (--dry-run).")
        else:
            _save(f"Imported {count} as {user.email}.")

    def _restore(file: Path, dry_run: bool) -> None:
        with _reporting(), open(file, "rb") as handle:
            if dry_run:
                summary = dump.restore_dump(handle, dry_run=True)
            else:
                with click.progressbar(length=file.stat().st_size, label="Restoring") as bar:
                    summary = dump.restore_dump(handle, progress=bar.update)
        listed = ", ".join(f"{table}: {count}" for table, count in summary.counts.items())
        if dry_run:
            click.echo(f"The dump can be restored ({listed}). Nothing was written (--dry-run).")
        else:
            _save(f"Restored the dump ({listed}).")

    @group.command("export")
    @click.argument("file", required=False,
                    type=click.Path(dir_okay=False, writable=True, path_type=Path))
    @click.option("--with-password-hashes", is_flag=True, help="Include users' password "
                  "hashes and API tokens, so that restored accounts keep them.")
    @click.option("--cases", "cases_format", type=click.Choice(bulk.FORMATS),
                  help="Only the case studies, in the import format (jsonl or csv).")
    def export_command(file: Path | None, with_password_hashes: bool,
                       cases_format: str | None) -> None:
        """Write a full dump of this instance as JSON Lines to FILE (default: standard output)."""
        if cases_format:
            if with_password_hashes:
                raise click.UsageError("--cases exports case studies only: it has no "
                                       "password hashes to include.")
            _write(file, [bulk.export_cases(cases_format)])
        else:
            _write(file, dump.dump_lines(with_password_hashes=with_password_hashes))
        if file is not None:
            click.echo(f"Wrote {file}.", err=True)
