"""The upload form of the bulk import page.

The form only carries the file and the choices; :mod:`kb.services.bulk`
reads and checks the file and reports its problems by line and field.
"""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, SubmitField

from kb.blueprints.forms import ServiceForm


class ImportForm(ServiceForm):
    """A file of case studies, how to read it, and whether to check it or import it."""

    file = FileField(
        "File of case studies",
        description="JSON Lines (.jsonl) or CSV (.csv), UTF-8, one case study a line or row.",
        validators=[FileRequired("Choose the file to import.")],
        render_kw={"accept": ".jsonl,.ndjson,.json,.csv,application/jsonl,text/csv"},
    )
    file_format = SelectField(
        "Format",
        choices=[SelectChoice("", "From the file name's ending"),
                 SelectChoice("jsonl", "JSON Lines"), SelectChoice("csv", "CSV")],
        default="",
    )
    create_terms = BooleanField(
        "Create the problems of practice and adaptation contexts the file names that do "
        "not exist yet"
    )
    # Checking comes first: it is what pressing Enter in the form does.
    check = SubmitField("Check the file")
    save = SubmitField("Import")

    @property
    def dry_run(self) -> bool:
        """True unless the Import button was pressed: anything else only checks."""
        return not self.save.data
