"""``flask kb search ...``: rebuild, check and catch up the search index."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from whoosh.index import LockError

from kb import search

# Documents listed per kind of drift before "and N more".
LISTED = 20


def register(group: AppGroup) -> None:
    """Attach the ``search`` subgroup to ``group``."""

    @group.group("search")
    def search_group() -> None:
        """Rebuild, check and catch up the search index."""

    @search_group.command("rebuild")
    @click.option("--procs", type=click.IntRange(1, 16), default=None,
                  help="Processes that analyse documents (default: SEARCH_REBUILD_PROCS).")
    def rebuild_command(procs: int | None) -> None:
        """Index every case study again from the database."""
        search.ensure_index(catch_up=False)
        with click.progressbar(length=search.case_count(), label="Indexing case studies",
                               show_pos=True) as bar:
            try:
                count = search.rebuild(progress=bar.update, procs=procs)
            except LockError:
                raise click.ClickException(
                    "Another process is writing to the search index; try again when it is done."
                ) from None
        click.echo(f"Indexed {count} case studies; the index is at change "
                   f"{search.index_state().seq}.")

    @search_group.command("check")
    def check_command() -> None:
        """Compare the index with the database; exit with status 1 on any difference."""
        search.ensure_index(catch_up=False)
        drift = search.check()
        _list("Missing from the index (case study ids)", drift.missing)
        _list("Stale in the index (case study ids)", drift.stale)
        _list("In the index but not in the database (document ids)", drift.extra)
        _list("In the index more than once (document ids)", drift.duplicated)
        if drift.behind_by:
            click.echo(f"The index has not applied the last {drift.behind_by} change-log entries.")
        if not drift.ok:
            click.echo("The index differs from the database: run `flask kb search catch-up`, "
                       "or `flask kb search rebuild`.", err=True)
            raise SystemExit(1)
        click.echo("The index matches the database.")

    @search_group.command("catch-up")
    def catch_up_command() -> None:
        """Apply the change-log entries the index has not applied yet."""
        search.ensure_index(catch_up=False)
        applied = search.catch_up()
        if applied is None:
            click.echo("Another process is writing to the search index and will apply the "
                       "entries; run this again to check.")
            return
        click.echo(f"Applied {applied} change-log entries; the index is at change "
                   f"{search.index_state().seq}.")


def _list(heading: str, items: list) -> None:
    if not items:
        return
    shown = ", ".join(str(item) for item in items[:LISTED])
    more = f" and {len(items) - LISTED} more" if len(items) > LISTED else ""
    click.echo(f"{heading}: {shown}{more}")
