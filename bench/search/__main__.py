"""Search speed: kb's facade doing the search page's whole job, beside SQLite FTS5.

    .venv/bin/python -m bench.search [--cases 1000 10000] [--seed 7]

For each size: generates that many case studies, inserts them, times a
full rebuild of the index, then times 200 queries of 1-4 words and 50
natural-language questions through ``kb.search.search`` (top 20, counts
for every facet, highlights for the page, for an anonymous visitor) and
through FTS5 doing the same work on the same documents, query by query in
turn so both see the same machine load. Both first run a separate warm-up
set of queries from the same generator. Also measured: how soon an edited
case study is found after the commit publishing the edit, and the peak
memory of a separate serving process running the same searches.

Each timing is also taken as the process's CPU time (the rebuild's
includes its child processes): on a machine shared with other work the
wall-clock figures move with the load, the CPU figures much less.

Targets at 10,000 case studies (issue 3): p95 <= 50 ms and p95 <= 3x FTS5;
rebuild <= 60 s; edit found <= 1 s; serving process <= 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench.fts5 import sqlite_version
from bench.search.corpus import CorpusGenerator
from bench.search.instance import fill, generate, make_app
from bench.search.reference import Fts5Search
from bench.search.serve import timed_search
from kb import search
from kb.extensions import db
from kb.models import CaseStatus, CaseStudy, Role, User
from kb.search.indexer import load_cases
from kb.search.schema import case_document
from kb.services import case_studies, review
from kb.services.policy import case_visibility

WARM_UP_QUERIES = 100
EDITS = 5


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(function, *args) -> tuple[float, float]:
    """Milliseconds of wall-clock and of CPU time that ``function(*args)`` took."""
    wall, cpu = time.perf_counter(), time.process_time()
    function(*args)
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def folder_size_mb(path: Path) -> float:
    """Size of the files in ``path`` in megabytes."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def build_reference(app) -> tuple[Fts5Search, float]:
    """FTS5 over the same documents kb indexed; returns it and its build time."""
    reference = Fts5Search()
    start = time.perf_counter()
    with app.app_context():
        ids = db.session.scalars(select(CaseStudy.id).order_by(CaseStudy.id)).all()
        for offset in range(0, len(ids), 500):
            cases = load_cases(db.session, ids[offset:offset + 500])
            reference.add([case_document(case).fields for case in cases])
            db.session.expunge_all()
    return reference, time.perf_counter() - start


def edit_latencies(app) -> list[float]:
    """Milliseconds from the commit publishing an edit starting to a search finding the new word.

    The edit of a published case study waits for review, so its author
    proposes it and a facilitator publishes it; the publishing commit is
    the one that changes what search finds.
    """
    latencies = []
    with app.app_context():
        reviewer = User(name="Reviewer", email="reviewer@example.org", role=Role.FACILITATOR,
                        password_hash="!")
        db.session.add(reviewer)
        db.session.commit()
        cases = db.session.scalars(
            select(CaseStudy).where(CaseStudy.status == CaseStatus.PUBLISHED).limit(EDITS)
        ).all()
        for number, case in enumerate(cases):
            word = f"zqxedit{number}"
            data = case_studies.case_to_input(case)
            data.title = f"{case.title} {word}"
            case_studies.update_case(case.author, case, data)
            db.session.commit()
            start = time.perf_counter()
            review.publish_edit(reviewer, case)
            db.session.commit()
            while case.id not in search.search(case_visibility(None), word).ids:
                if time.perf_counter() - start > 30:
                    break
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def serving_process(folder: Path, queries: dict) -> dict:
    """Run the searches in a fresh process; its latencies and peak memory."""
    queries_file = folder / "queries.json"
    queries_file.write_text(json.dumps(queries, ensure_ascii=False))
    completed = subprocess.run(
        [sys.executable, "-m", "bench.search.serve", str(folder), str(queries_file)],
        capture_output=True, text=True, check=True, timeout=3600,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run(cases_count: int, seed: int, keep: Path | None) -> dict:
    """Every figure for one corpus size."""
    folder = Path(keep) / str(cases_count) if keep else Path(tempfile.mkdtemp(prefix="kb-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    cases, short, long = generate(cases_count, seed)
    warm_up = CorpusGenerator(seed + 1).short_queries(WARM_UP_QUERIES)
    app = make_app(folder)
    fill(app, cases)
    with app.app_context():
        start, cpu = time.perf_counter(), cpu_seconds()
        search.rebuild()
        rebuild_seconds, rebuild_cpu = time.perf_counter() - start, cpu_seconds() - cpu
    reference, reference_seconds = build_reference(app)

    for text in warm_up:
        timed_search(app, text)
        reference.search(text)
    figures: dict = {"cases": cases_count, "rebuild_s": rebuild_seconds,
                     "rebuild_cpu_s": rebuild_cpu, "fts5_build_s": reference_seconds,
                     "index_mb": folder_size_mb(folder / "index"),
                     "load": os.getloadavg()[0]}
    for name, queries in (("short", short), ("long", long)):
        kb_ms, fts_ms = [], []
        for text in queries:
            kb_ms.append(timed(timed_search, app, text))
            fts_ms.append(timed(reference.search, text))
        figures[name] = (kb_ms, fts_ms)
    figures["all"] = tuple(figures["short"][i] + figures["long"][i] for i in (0, 1))
    figures["edit_ms"] = edit_latencies(app)
    served = serving_process(folder, {"warm_up": warm_up, "short": short, "long": long})
    figures["serve_p95"] = percentile(served["latencies"], 0.95)
    figures["serve_rss_mb"] = served["peak_rss_mb"]
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def report(results: list[dict], loads: tuple) -> None:
    """Print the tables."""
    print(f"\nSearch benchmark: kb facade vs SQLite {sqlite_version()} FTS5, "
          f"{os.cpu_count()} cores, load average {loads[0]:.1f} before, {loads[1]:.1f} after")
    print(f"{'cases':>7} {'queries':>8} {'load':>5} {'kb p50':>8} {'kb p95':>8} {'fts5 p50':>9} "
          f"{'fts5 p95':>9} {'p95 ratio':>10} {'kb cpu p95':>11} {'fts5 cpu p95':>13} "
          f"{'cpu ratio':>10}")
    for figures in results:
        for name in ("short", "long", "all"):
            kb_wall, kb_cpu = zip(*figures[name][0])
            fts_wall, fts_cpu = zip(*figures[name][1])
            print(f"{figures['cases']:>7} {name:>8} {figures['load']:>5.1f} "
                  f"{statistics.median(kb_wall):>7.1f}ms {percentile(kb_wall, 0.95):>7.1f}ms "
                  f"{statistics.median(fts_wall):>8.1f}ms {percentile(fts_wall, 0.95):>8.1f}ms "
                  f"{percentile(kb_wall, 0.95) / percentile(fts_wall, 0.95):>9.2f}x "
                  f"{percentile(kb_cpu, 0.95):>9.1f}ms {percentile(fts_cpu, 0.95):>11.1f}ms "
                  f"{percentile(kb_cpu, 0.95) / percentile(fts_cpu, 0.95):>9.2f}x")
    print(f"\n{'cases':>7} {'rebuild':>9} {'rebuild cpu':>12} {'fts5 build':>11} {'index':>8} "
          f"{'edit found':>11} {'serving p95':>12} {'serving peak':>13}")
    for figures in results:
        print(f"{figures['cases']:>7} {figures['rebuild_s']:>8.1f}s "
              f"{figures['rebuild_cpu_s']:>11.1f}s "
              f"{figures['fts5_build_s']:>10.1f}s {figures['index_mb']:>6.0f}MB "
              f"{max(figures['edit_ms']):>9.0f}ms {figures['serve_p95']:>10.1f}ms "
              f"{figures['serve_rss_mb']:>11.0f}MB")
    print("(load: load average when the queries started; rebuild cpu: all its processes; "
          "edit found: slowest of 5 edits, publishing commit start to a search finding the "
          "new word; serving: a separate process after the same warm-up)")


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[1_000, 10_000],
                        help="corpus sizes (100000 works too, slowly)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build the instances here and keep them")
    options = parser.parse_args(argv)
    before = os.getloadavg()[0]
    results = [run(n, options.seed, options.keep) for n in options.cases]
    report(results, (before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
