"""A serving process on its own: open a benchmark instance, run the searches, report memory.

Run by ``python -m bench.search`` as ``python -m bench.search.serve FOLDER QUERIES``; prints
one JSON line with the latencies and the process's peak resident memory.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench.search.instance import make_app
from kb import search
from kb.services.policy import case_visibility


def timed_search(app, text: str) -> float:
    """Milliseconds for the facade to do the search page's job for an anonymous visitor."""
    start = time.perf_counter()
    with app.app_context():
        search.search(case_visibility(None), text, {}, "relevance", 1, 20)
    return (time.perf_counter() - start) * 1000


def main(folder: str, queries_file: str) -> None:
    """Warm up on one query set, time another, print the figures as JSON."""
    queries = json.loads(Path(queries_file).read_text())
    app = make_app(Path(folder))
    for text in queries["warm_up"]:
        timed_search(app, text)
    latencies = [timed_search(app, text) for text in queries["short"] + queries["long"]]
    print(json.dumps({"latencies": latencies, "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program.

    From /proc's VmHWM: ``getrusage``'s maxrss would also count the memory
    of the parent process at the time it forked this one.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main(*sys.argv[1:3])
