"""The vocabularies, the cities and the caller's own account in the API."""

from __future__ import annotations

from kb.api import auth, bp, schemas
from kb.api.schemas import City, CityList, Context, ContextList, Me, Term, TermList
from kb.api.spec import operation
from kb.models import AdaptationContext, ProblemOfPractice
from kb.services import cities, vocabularies

TAG = "Vocabularies and cities"


def _register_vocabulary(model, plural: str, singular: str, nouns: tuple[str, str, str],
                         list_model, term_model, listed: str) -> None:
    """The list and read operations of one vocabulary (both vocabularies get the same pair).

    ``nouns`` names one term with its article, one term, and several terms;
    ``listed`` says what each term of the list carries besides its name.
    """
    with_article, noun, several = nouns

    def list_terms():
        return list_model(items=[schemas.term(model, row, count)
                                 for row, count in vocabularies.all_terms(model)])

    def get_term(slug: str):
        term = vocabularies.get_term(model, slug)
        counts = {row.id: count for row, count in vocabularies.all_terms(model)}
        return schemas.term(model, term, counts[term.id])

    list_terms.__name__, get_term.__name__ = f"list_{plural}", f"get_{singular}"
    list_terms.__doc__ = (f"List the {several}\n\nEvery {noun} by name, retired and merged ones "
                          f"included, with {listed}.")
    get_term.__doc__ = (f"Read {with_article}\n\nIts case studies are listed by "
                        f"`GET /api/v1/cases?{singular}=<slug>`.")
    operation(bp, "GET", f"/{plural}", tag=TAG, response=list_model)(list_terms)
    operation(bp, "GET", f"/{plural}/<slug>", tag=TAG, response=term_model)(get_term)


_register_vocabulary(
    ProblemOfPractice, "problems", "problem",
    ("a problem of practice", "problem of practice", "problems of practice"),
    TermList, Term, "its number of published case studies")
_register_vocabulary(
    AdaptationContext, "contexts", "context",
    ("an adaptation context", "adaptation context", "adaptation contexts"),
    ContextList, Context, "its kind and its number of published case studies")


@operation(bp, "GET", "/cities", tag=TAG, response=CityList)
def list_cities():
    """List the cities

    Every city of the network by name, with its context profile and its
    number of published case studies.
    """
    return CityList(items=[schemas.city(row, count) for row, count in cities.cities_with_counts()])


@operation(bp, "GET", "/cities/<slug>", tag=TAG, response=City)
def get_city(slug: str):
    """Read a city

    Its context profile under the fixed headings. Its case studies are listed
    by `GET /api/v1/cases?city=<slug>`.
    """
    row = cities.get_city(slug)
    counts = {city.id: count for city, count in cities.cities_with_counts()}
    return schemas.city(row, counts[row.id])


@operation(bp, "GET", "/me", tag="Account", response=Me, login=True)
def me():
    """Read the caller's account

    Who the request acts for, and whether an API token or the session
    said so: a quick way to check a token.
    """
    caller = auth.caller()
    user = caller.user
    return Me(name=user.name, email=user.email, role=user.role.value,
              city=schemas.city_ref(user.city) if user.city else None,
              authenticated_by=caller.via)
