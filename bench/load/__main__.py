"""Load benchmark: kb under gunicorn on PostgreSQL, 10,000 case studies, over real HTTP.

    .venv/bin/python -m bench.load [--cases 10000] [--workers 3] [--clients 4] [--seconds 20]

Creates its own database (``kb_bench`` by default, dropped and created
again), fills it with the search benchmark's generated case studies, builds
the index, starts gunicorn as ``make serve`` does on a free loopback port,
and runs one scenario after another, each for the same time after a
warm-up: case pages, citations (the lightest page reading the database:
what any request costs here), search pages, API reads (when ``/api/v1``
exists), and a mix of the case pages, searches and API reads with 10%
writes (the case-study form, logged in, with CSRF). Then it checks the server's index against the database without
catching it up first. Prints requests/s, p50/p95/p99 and the workers' and
the clients' CPU time per request per scenario, and the ratio to the
targets (issue 5): case pages >= 300 req/s with p95 <= 100 ms, search >=
100 req/s with p95 <= 200 ms, the write mix with zero errors and zero
index drift.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.load.client import WebClient
from bench.load.server import GunicornServer
from bench.load.traffic import FLOOR, READS, WRITE, Plan, Sample, run_client

# Requests/s at least, p95 milliseconds at most.
TARGETS = {"case pages": (300, 100), "search": (100, 200)}
# Seconds the client processes get to start (and log in) before the warm-up.
CLIENT_START_SECONDS = 8.0
WRITE_SHARE = 0.10
# `flask kb init` at start rebuilds an index whose schema the code has changed.
START_TIMEOUT = 900.0


@dataclass
class Figures:
    """One scenario's (or one kind of request's) measurements."""

    name: str
    requests: int
    errors: int
    per_second: float
    p50: float
    p95: float
    p99: float
    # The workers' and the clients' CPU milliseconds per request (whole scenarios only).
    cpu_ms: float | None = None
    client_cpu_ms: float | None = None


def figures(name: str, samples: list[Sample], seconds: float) -> Figures:
    """Throughput and latency percentiles of ``samples`` recorded over ``seconds``."""
    latencies = [sample[1] for sample in samples]
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 \
        else latencies * 99
    return Figures(name, len(samples), sum(1 for sample in samples if not sample[2]),
                   len(samples) / seconds, cuts[49], cuts[94], cuts[98])


def run_scenario(server: GunicornServer, kinds: tuple[str, ...], write_share: float, options,
                 data) -> tuple[list[Sample], float, float]:
    """Every client process's recorded samples of one scenario, the workers' and clients' CPU seconds.

    The CPU time is the workers' own over the measured period: unlike the
    latencies, it does not grow with what else the machine is running.
    The clients' shows how much of the shared cores the load itself took.
    """
    start_at = time.time() + CLIENT_START_SECONDS
    plan = Plan(
        url=server.url, kinds=kinds, write_share=write_share, start_at=start_at,
        measure_from=start_at + options.warm_up, stop_at=start_at + options.warm_up
        + options.seconds, seed=options.seed, case_slugs=data.case_slugs,
        short_queries=data.short_queries, long_queries=data.long_queries,
        writers=data.writers, writer_password=data.writer_password,
        city_ids=data.city_ids, problem_ids=data.problem_ids,
    )
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(options.clients, mp_context=spawn) as pool:
        futures = [pool.submit(run_client, plan, n) for n in range(options.clients)]
        time.sleep(max(0.0, plan.measure_from - time.time()))
        cpu = server.workers_cpu_seconds()
        time.sleep(max(0.0, plan.stop_at - time.time()))
        cpu = server.workers_cpu_seconds() - cpu
        results = [future.result() for future in futures]
        return ([sample for samples, _ in results for sample in samples], cpu,
                sum(client_cpu for _, client_cpu in results))


def memory_mb(pids: list[int]) -> dict[str, float]:
    """The largest of each memory figure among processes ``pids``, in MB.

    ``peak``: resident at most (VmHWM), counting pages shared with the other
    workers (the index's memory maps, the code) in full; ``pss``: resident
    now with shared pages divided among their users; ``anonymous``: the
    process's own heap now, which no other process shares.
    """
    largest = {"peak": 0.0, "pss": 0.0, "anonymous": 0.0}
    sources = {"peak": ("status", "VmHWM:"), "pss": ("smaps_rollup", "Pss:"),
               "anonymous": ("smaps_rollup", "Anonymous:")}
    for pid in pids:
        for name, (file, label) in sources.items():
            for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
                if line.startswith(label):
                    largest[name] = max(largest[name], int(line.split()[1]) / 1024)
    return largest


def progress(message: str) -> None:
    """Say what the benchmark is doing (on stderr, apart from the table)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def target_words(name: str, result: Figures) -> str:
    """The target of scenario ``name`` and the ratios to it, or "" when it has none."""
    if name not in TARGETS:
        return ""
    rate, p95 = TARGETS[name]
    met = result.per_second >= rate and result.p95 <= p95 and not result.errors
    return (f">= {rate} req/s, p95 <= {p95} ms: {result.per_second / rate:.2f}x rate, "
            f"{result.p95 / p95:.2f}x p95, {'met' if met else 'not met'}")


def report(results: list[tuple[Figures, list[Figures]]], drift, context: dict) -> None:
    """Print the table, the drift check and what the machine was doing."""
    print(f"\nLoad benchmark: {context['cases']:,} case studies, gunicorn with "
          f"{context['workers']} sync workers on 127.0.0.1, PostgreSQL {context['postgres']}, "
          f"{os.cpu_count()} cores; {context['clients']} client processes on the same cores, "
          f"{context['seconds']:.0f} s per scenario after a {context['warm_up']:.0f} s warm-up")
    print(f"load average (1 min) {context['load_before']:.2f} before, "
          f"{context['load_after']:.2f} after; workers' peak memory "
          f"{context['worker_mb']['peak']:.0f} MB each at most (now: "
          f"{context['worker_mb']['pss']:.0f} MB proportional, "
          f"{context['worker_mb']['anonymous']:.0f} MB private heap)")
    print(f"\n{'scenario':<22} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50':>8} "
          f"{'p95':>8} {'p99':>8} {'CPU/req':>8} {'bound':>7} {'client':>8}  target")
    for total, parts in results:
        for row in [total, *parts]:
            name = row.name if row is total else f"  {row.name}"
            cpu = (f"{row.cpu_ms:>6.1f}ms {os.cpu_count() * 1000 / row.cpu_ms:>7.0f} "
                   f"{row.client_cpu_ms:>6.1f}ms"
                   if row.cpu_ms else f"{'':>8} {'':>7} {'':>8}")
            print(f"{name:<22} {row.requests:>8} {row.errors:>6} {row.per_second:>7.1f} "
                  f"{row.p50:>6.1f}ms {row.p95:>6.1f}ms {row.p99:>6.1f}ms {cpu}  "
                  f"{target_words(row.name, row) if row is total else ''}")
    print("(CPU/req: the gunicorn workers' CPU time per request; bound: the req/s all cores "
          "would serve at that cost with nothing else running, PostgreSQL and clients not "
          "counted; client: the client processes' CPU time per request)")
    if not context["api"]:
        print("(no API reads: this kb has no /api/v1)")
    mix = results[-1][0]
    state = "zero drift" if drift.ok and not drift.behind_by else (
        f"DRIFT: {len(drift.missing)} missing, {len(drift.stale)} stale, {len(drift.extra)} "
        f"extra, {len(drift.duplicated)} duplicated, {drift.behind_by} entries behind")
    print(f"\nwrite mix: {mix.errors} errors; index after the run, before any catch-up: {state}; "
          f"target (zero errors, zero drift): "
          f"{'met' if not mix.errors and drift.ok and not drift.behind_by else 'not met'}")


def main(argv: list[str] | None = None) -> None:
    """Build the instance, serve it, run the scenarios, print the table."""
    # Imported here: the client processes import this module too and need none of it.
    from bench.load import instance

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured, per scenario")
    parser.add_argument("--warm-up", type=float, default=10.0,
                        help="seconds per scenario, not measured (each worker's first "
                        "searches build its caches)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432",
                        help="the PostgreSQL server (without a database name)")
    parser.add_argument("--database", default="kb_bench", help="dropped and created again")
    parser.add_argument("--keep", type=Path, help="build the instance here and keep it "
                        "(and the database)")
    options = parser.parse_args(argv)
    load_before = os.getloadavg()[0]

    folder = options.keep or Path(tempfile.mkdtemp(prefix="kb-load-"))
    folder.mkdir(parents=True, exist_ok=True)
    progress(f"creating database {options.database}")
    database_url = instance.recreate_database(options.postgres, options.database)
    try:
        data = instance.build(database_url, folder, options.cases, options.seed, progress)
        progress(f"starting gunicorn with {options.workers} workers")
        with GunicornServer(data.settings, folder / "gunicorn.log", options.workers,
                            start_timeout=START_TIMEOUT) as server:
            api = WebClient(server.url).get("/api/v1/openapi.json").status == 200
            reads = READS if api else tuple(kind for kind in READS if kind != "api read")
            scenarios = [("case pages", ("case page",), 0.0),
                         ("citations (floor)", (FLOOR,), 0.0), ("search", ("search",), 0.0)]
            if api:
                scenarios.append(("API reads", ("api read",), 0.0))
            scenarios.append((f"mix, {WRITE_SHARE:.0%} writes", reads, WRITE_SHARE))
            results = []
            for name, kinds, write_share in scenarios:
                progress(f"scenario: {name}")
                samples, cpu, client_cpu = run_scenario(server, kinds, write_share, options,
                                                        data)
                total = figures(name, samples, options.seconds)
                total.cpu_ms = cpu * 1000 / max(1, total.requests)
                total.client_cpu_ms = client_cpu * 1000 / max(1, total.requests)
                kinds_seen = [*kinds, WRITE] if write_share else []
                results.append((total, [
                    figures(kind, [s for s in samples if s[0] == kind], options.seconds)
                    for kind in kinds_seen
                ]))
            worker_mb = memory_mb(server.worker_pids())
            progress("checking the index against the database")
            drift = instance.index_drift(data.settings)
        report(results, drift, {
            "cases": options.cases, "workers": options.workers, "clients": options.clients,
            "seconds": options.seconds, "warm_up": options.warm_up, "api": api,
            "postgres": instance.postgres_version(options.postgres),
            "load_before": load_before, "load_after": os.getloadavg()[0],
            "worker_mb": worker_mb,
        })
    finally:
        if options.keep is None:
            instance.drop_database(options.postgres, options.database)
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
