"""Commands that set up an instance: ``init`` and ``demo``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from kb.errors import Conflict
from kb.extensions import db
from kb.migrate import upgrade_database
from kb.services import demo

# Where `make run` serves the app; printed so a newcomer knows where to log in.
DEMO_URL = "http://127.0.0.1:5000/"


def register(group: AppGroup) -> None:
    """Attach the set-up commands to ``group``."""

    @group.command("init")
    def init_command() -> None:
        """Create or upgrade the database schema and the search index."""
        from kb import search

        upgrade_database()
        search.ensure_index()
        click.echo("Database and search index are ready.")

    @group.command("demo")
    @click.option("--if-empty", is_flag=True,
                  help="On an instance that already has data, load nothing and say so.")
    def demo_command(if_empty: bool) -> None:
        """Load the demo network: 11 cities, vocabularies, case studies and a login per role."""
        if if_empty and not demo.instance_is_empty():
            click.echo("This instance already has data; the demo data was not loaded.")
        else:
            try:
                summary = demo.load_demo()
            except Conflict as error:
                raise click.ClickException(
                    f"{error.message} Use --if-empty to skip loading when data exists."
                ) from error
            db.session.commit()
            click.echo(
                f"Loaded the demo network: {summary.cities} cities, {summary.problems} problems "
                f"of practice, {summary.contexts} adaptation contexts, {summary.case_studies} "
                f"case studies ({summary.published} published, {summary.drafts} drafts, "
                f"{summary.in_review} in review), {summary.adaptations} adaptations between them, "
                f"{summary.collections} collections."
            )
        _echo_demo_logins(demo.usable_demo_accounts())


def _echo_demo_logins(accounts: list[demo.DemoAccount]) -> None:
    if accounts:
        click.echo("Demo logins (demo-only passwords; never use them on a real instance):")
        width = max(len(account.email) for account in accounts)
        for account in accounts:
            click.echo(f"  {account.role.value:<12} {account.email:<{width}}  {account.password}")
    else:
        click.echo("No demo login works on this instance; log in with your own account.")
    click.echo(f"Open {DEMO_URL}")
