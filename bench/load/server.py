"""Start and stop gunicorn serving kb, as ``make serve`` does, on a free loopback port.

Used by the load benchmark and by the multi-worker and multi-server tests.
The server gets a clean environment: the caller's ``KB_*`` variables are
dropped and only the settings given are passed, so a developer's own
configuration never leaks into a run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

from bench.load.client import REQUEST_ERRORS, WebClient

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"Listening at: http://([\d.]+):(\d+)")


class GunicornServer:
    """A gunicorn master running ``kb.gunicorn_conf`` with ``settings`` as ``KB_*`` variables.

    Use as a context manager: the server is started on entry (and ready to
    answer) and stopped on exit. Its output goes to ``log_path`` (replaced).
    """

    def __init__(self, settings: dict[str, str], log_path: Path, workers: int = 3,
                 start_timeout: float = 90.0):
        self.settings = settings
        self.log_path = log_path
        self.workers = workers
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> Self:
        self.start(self.start_timeout)
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """The server's environment: this process's without ``KB_*``, plus the settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
        env.update({f"KB_{key}": str(value) for key, value in self.settings.items()})
        return env

    def start(self, timeout: float = 90.0) -> None:
        """Start the master and wait until every worker is up and the home page answers.

        ``timeout`` covers ``flask kb init`` too, which rebuilds an index
        whose schema is older than the code's. A server that fails to start
        is stopped.
        """
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "python:kb.gunicorn_conf",
                 "--workers", str(self.workers), "--bind", "127.0.0.1:0"],
                cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        try:
            while not self.url:
                self._wait_a_little(deadline, "to listen")
                found = _LISTENING.search(self.log())
                if found:
                    self.url = f"http://{found.group(1)}:{found.group(2)}"
            self.wait_until_ready(deadline)
        except BaseException:
            self.stop()
            raise

    def wait_until_ready(self, deadline: float) -> None:
        """Wait until all ``workers`` workers run and the home page answers 200."""
        client = WebClient(self.url, timeout=60)
        while True:
            if len(self.worker_pids()) == self.workers:
                try:
                    if client.get("/").status == 200:
                        return
                except REQUEST_ERRORS:
                    pass
            self._wait_a_little(deadline, "to answer")

    def _wait_a_little(self, deadline: float, what: str) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {self.process.returncode}:\n"
                               f"{self.log()[-4000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"gunicorn took too long {what}:\n{self.log()[-4000:]}")
        time.sleep(0.1)

    def log(self) -> str:
        """Everything the server has written so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        """The process ids of the master's live worker processes."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # the process ended while we looked
            # Fields after the command name, which is in parentheses and may hold spaces.
            state, parent = stat.rpartition(")")[2].split()[:2]
            if int(parent) == self.process.pid and state != "Z":
                pids.append(int(entry.name))
        return sorted(pids)

    def workers_cpu_seconds(self) -> float:
        """CPU time (user and system) the live workers have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            # utime and stime, fields 14 and 15 of the whole line.
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def stop(self, timeout: float = 30.0) -> None:
        """Stop gracefully (SIGTERM), or kill the whole process group when it does not stop.

        The signal goes to the process group, which also holds a running
        ``flask kb init``: the master installs its signal handlers only after it.
        """
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
