"""Adaptation lineage in the API: which practices a case study adapts, and recording one."""

from __future__ import annotations

from flask import url_for

from kb.acting import acting_user
from kb.api import auth, bp, schemas
from kb.api.schemas import Adaptation, AdaptationInput, CaseAdaptations
from kb.api.spec import operation
from kb.errors import NotFound, ValidationError
from kb.extensions import db
from kb.services import case_studies, lineage

TAG = "Adaptations"


@operation(bp, "GET", "/cases/<slug>/adaptations", tag=TAG, response=CaseAdaptations)
def list_adaptations(slug: str):
    """List a case study's adaptation links

    Which practices it adapts and which case studies adapt it, as far as the
    caller may see both ends of each link.
    """
    user = acting_user()
    links = lineage.case_links(user, case_studies.get_case(user, slug))
    return CaseAdaptations(adapted_from=[schemas.adaptation(a) for a in links.adapted_from],
                           adapted_by=[schemas.adaptation(a) for a in links.adapted_by])


@operation(bp, "POST", "/cases/<slug>/adaptations", tag=TAG, response=Adaptation, status=201,
           body=AdaptationInput, login=True, errors=(403, 409), location=True)
def record_adaptation(slug: str, read_body):
    """Record which practice a case study adapts

    Its author and the curators say which case study's practice it took up,
    how, and what was kept, changed and why. A link already recorded, or one
    that would make a case study descend from itself, answers 409.
    """
    user = auth.required_user()
    adapting = lineage.get_adapting_case(user, slug)
    data = read_body()
    try:
        source = case_studies.get_case(user, data.source)
    except NotFound:
        raise ValidationError({"source": [f"No case study has the slug “{data.source}”."]}) \
            from None
    link = lineage.record_adaptation(
        user, adapting, source.id,
        lineage.AdaptationInput(kind=data.kind, kept=data.kept, changed=data.changed,
                                reasons=data.reasons, results=data.results),
    )
    db.session.commit()
    return (schemas.adaptation(link), 201,
            {"Location": url_for("api.get_adaptation", adaptation_id=link.id)})


@operation(bp, "GET", "/adaptations/<id:adaptation_id>", tag=TAG, response=Adaptation)
def get_adaptation(adaptation_id: int):
    """Read an adaptation link

    Found only by those who may see both of its case studies.
    """
    return schemas.adaptation(lineage.get_adaptation(acting_user(), adaptation_id))
