"""The load: client processes sending requests in a closed loop, each timing its own.

Each client process waits for a common start, runs a warm-up that is not
recorded, then records every request it starts until the common stop. It
needs no more than the standard library and :mod:`bench.load.client`, so
the clients take as little of the machine as they can.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from bench.load.client import REQUEST_ERRORS, WebClient, case_form
from bench.search.corpus import CorpusGenerator

# Of the search requests, the share of natural-language questions (the rest
# are 1-4 word queries), as in the search benchmark's 200 + 50 queries.
QUESTION_SHARE = 0.2
READS = ("case page", "search", "api read")
WRITE = "write"
# A case study's BibTeX citation: the lightest page that reads the database
# (the case study and its terms, no index, no template), run alone to show
# what any request costs on the machine.
FLOOR = "citation"


@dataclass
class Plan:
    """What every client of one scenario does, and when (``time.time()`` seconds)."""

    url: str
    kinds: tuple[str, ...]  # the reads drawn from, each equally likely
    write_share: float
    start_at: float
    measure_from: float
    stop_at: float
    seed: int
    case_slugs: list[str]
    short_queries: list[str]
    long_queries: list[str]
    writers: list[str] = field(default_factory=list)
    writer_password: str = ""
    city_ids: list[int] = field(default_factory=list)
    problem_ids: list[int] = field(default_factory=list)


# One recorded request: kind, milliseconds, answered as expected, status (0: no answer).
Sample = tuple[str, float, bool, int]


class _Client:
    """One client process's requests."""

    def __init__(self, plan: Plan, number: int):
        self.plan = plan
        self.rng = random.Random(plan.seed * 1000 + number)
        self.web = WebClient(plan.url)
        self.token = ""
        self.corpus: CorpusGenerator | None = None
        if plan.write_share:
            self.token = self.web.log_in(plan.writers[number % len(plan.writers)],
                                         plan.writer_password)
            self.corpus = CorpusGenerator(plan.seed * 1000 + number)

    def query(self) -> str:
        plan, rng = self.plan, self.rng
        if rng.random() < QUESTION_SHARE:
            return rng.choice(plan.long_queries)
        return rng.choice(plan.short_queries)

    def one(self) -> Sample:
        """Send one request of the plan's mix; returns its sample."""
        plan, rng = self.plan, self.rng
        if plan.write_share and rng.random() < plan.write_share:
            kind, method, path, expected = WRITE, "POST", "/cases/new", 302
            case = self.corpus.case()
            form = case_form(self.token, case.title, city_id=rng.choice(plan.city_ids),
                             problem_id=rng.choice(plan.problem_ids), summary=case.summary,
                             body=case.body)
        else:
            kind, method, expected, form = rng.choice(plan.kinds), "GET", 200, None
            if kind == "case page":
                path = f"/cases/{rng.choice(plan.case_slugs)}"
            elif kind == FLOOR:
                path = f"/cases/{rng.choice(plan.case_slugs)}/cite.bib"
            elif kind == "search":
                path = "/search?" + urlencode({"q": self.query()})
            elif rng.random() < 0.5:
                path = f"/api/v1/cases/{rng.choice(plan.case_slugs)}"
            else:
                path = "/api/v1/search?" + urlencode({"q": self.query()})
        started = time.perf_counter()
        try:
            status = self.web.request(method, path, form).status
        except REQUEST_ERRORS:
            status = 0
        return kind, (time.perf_counter() - started) * 1000, status == expected, status


def run_client(plan: Plan, number: int) -> tuple[list[Sample], float]:
    """Client process ``number``: the recorded samples of one scenario, and its CPU seconds.

    The CPU time is the process's own while it recorded: what the load
    took from the cores the server shares.
    """
    client = _Client(plan, number)
    time.sleep(max(0.0, plan.start_at - time.time()))
    samples: list[Sample] = []
    cpu_from: float | None = None
    while True:
        began = time.time()
        if began >= plan.stop_at:
            return samples, 0.0 if cpu_from is None else time.process_time() - cpu_from
        recorded = began >= plan.measure_from
        if recorded and cpu_from is None:
            cpu_from = time.process_time()
        sample = client.one()
        if recorded:
            samples.append(sample)
