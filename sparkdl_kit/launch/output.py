"""Driver side of worker output: live lines to ``logging``, per-rank tails, and each worker's fate.

Workers send their stdout/stderr and a few status records (started, finished, failed) over one TCP
connection each to a :class:`OutputServer` on the driver. The server listens on the driver's address
only, for the duration of one run, and accepts a connection only with the run's random token. Records
are JSON text, never pickles.

Wire format, one UTF-8 line per message::

    HELLO <token> <rank>          first line of a connection
    O <stream> <text>             an output line (fields separated by one tab)
    M <json>                      a status record: {"event": "start" | "done" | "failed", ...}
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import socketserver
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sparkdl_kit.launch.forward import MARKER

logger = logging.getLogger(__name__)

#: the logger that receives every worker's output lines, prefixed with the rank
WORKER_LOGGER = logging.getLogger("sparkdl_kit.worker")

_MAX_LINE = 1 << 20


@dataclass
class RankState:
    """What the driver knows about one rank."""

    tail: deque
    started_at: float | None = None
    pid: int | None = None
    host: str | None = None
    outcome: str | None = None  # "done", "failed" or "lost" (connection ended without a record)
    ended_at: float | None = None
    failure: dict[str, Any] = field(default_factory=dict)


class WorkerOutput:
    """Collects the output and the outcome of every rank of a run (thread-safe).

    Example:
        >>> out = WorkerOutput(tail_lines=2)
        >>> out.line(1, "stdout", "epoch 1"); out.line(1, "stderr", "warning"); out.line(1, "stdout", "epoch 2")
        >>> out.tail(1)
        'warning\\nepoch 2'
    """

    def __init__(self, tail_lines: int = 40):
        self._tail_lines = tail_lines
        self._lock = threading.Lock()
        self._ranks: dict[int, RankState] = {}
        self._task_rank: dict[int, int] = {}
        #: set as soon as a rank fails or is lost
        self.problem = threading.Event()

    def _state(self, rank: int) -> RankState:
        state = self._ranks.get(rank)
        if state is None:
            state = self._ranks[rank] = RankState(tail=deque(maxlen=self._tail_lines))
        return state

    def line(self, rank: int, stream: str, text: str) -> None:
        """Logs one output line of ``rank`` on ``sparkdl_kit.worker`` and keeps it in the rank's tail."""
        with self._lock:
            self._state(rank).tail.append(text)
        WORKER_LOGGER.info("[rank %d] %s", rank, text, extra={"worker_rank": rank, "worker_stream": stream})

    def record(self, rank: int, payload: dict[str, Any]) -> None:
        """Applies a status record sent by ``rank``."""
        event = payload.get("event")
        with self._lock:
            state = self._state(rank)
            if event == "start" and state.started_at is None:
                state.started_at = time.time()
                state.pid = payload.get("pid")
                state.host = payload.get("host")
            elif event in ("done", "failed") and state.outcome is None:
                state.outcome = event
                state.ended_at = time.time()
                if event == "failed":
                    state.failure = payload
        if event == "failed":
            logger.debug("rank %d reported %s: %s", rank, payload.get("type"), payload.get("message"))
            self.problem.set()

    def connection_closed(self, rank: int) -> None:
        """Marks ``rank`` lost when its connection ends before it reported an outcome."""
        with self._lock:
            state = self._state(rank)
            if state.outcome is not None:
                return
            state.outcome = "lost"
            state.ended_at = time.time()
        logger.debug("rank %d: connection closed without a result", rank)
        self.problem.set()

    def map_task(self, task: int, rank: int) -> None:
        """Records that Spark task ``task`` runs ``rank`` (for output labelled by task)."""
        with self._lock:
            self._task_rank[task] = rank

    def rank_of_task(self, task: int | None) -> int | None:
        with self._lock:
            return self._task_rank.get(task) if task is not None else None

    def tail(self, rank: int) -> str:
        with self._lock:
            state = self._ranks.get(rank)
            return "\n".join(state.tail) if state else ""

    def states(self) -> dict[int, RankState]:
        """A snapshot of every rank heard from, by rank."""
        with self._lock:
            return {rank: RankState(tail=deque(s.tail), started_at=s.started_at, pid=s.pid, host=s.host,
                                    outcome=s.outcome, ended_at=s.ended_at, failure=dict(s.failure))
                    for rank, s in self._ranks.items()}

    def first_problem(self) -> tuple[int, RankState] | None:
        """The rank that failed or was lost first, with its state; None if none did."""
        bad = [(s.ended_at, r, s) for r, s in self.states().items() if s.outcome in ("failed", "lost")]
        if not bad:
            return None
        _, rank, state = min(bad, key=lambda item: (item[0], item[1]))
        return rank, state


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: OutputServer = self.server  # type: ignore[assignment]
        hello = self.rfile.readline(_MAX_LINE).decode("utf-8", "replace").split()
        if len(hello) != 3 or hello[0] != "HELLO" or not hmac.compare_digest(hello[1], server.token):
            logger.warning("ignored a connection from %s without this run's token", self.client_address[0])
            return
        rank = int(hello[2])
        server.connection_opened()
        try:
            for raw in self.rfile:
                kind, _, rest = raw.decode("utf-8", "replace").rstrip("\n").partition("\t")
                if kind == "O":
                    stream, _, text = rest.partition("\t")
                    server.output.line(rank, stream, text)
                elif kind == "M":
                    server.output.record(rank, json.loads(rest))
        except (OSError, ValueError) as e:
            logger.debug("rank %d: output connection error: %s", rank, e)
        finally:
            server.output.connection_closed(rank)
            server.connection_done()


class OutputServer(socketserver.ThreadingTCPServer):
    """A TCP server on the driver that feeds a :class:`WorkerOutput`; a context manager.

    Example:
        >>> with OutputServer(WorkerOutput(), host="127.0.0.1") as server:   # doctest: +SKIP
        ...     address, token = server.address, server.token
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, output: WorkerOutput, host: str = "127.0.0.1", advertised_host: str | None = None):
        super().__init__((host, 0), _Handler)
        self.output = output
        self.token = secrets.token_hex(16)
        self.advertised_host = advertised_host or host
        self._open = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) workers connect to."""
        return self.advertised_host, self.server_address[1]

    def connection_opened(self) -> None:
        with self._cond:
            self._open += 1

    def connection_done(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def wait_connections_closed(self, timeout: float) -> bool:
        """Waits until every worker connection has ended (their last records are in); True if so."""
        with self._cond:
            return self._cond.wait_for(lambda: self._open <= 0, timeout=timeout)

    def __enter__(self) -> OutputServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="sparkdl_kit-output-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


_HOROVOD_PREFIX = re.compile(r"^\[(\d+)\]<(stdout|stderr)>:(.*)$", re.S)


class HorovodStreamSink:
    """A file-like object for ``horovod.spark.run(stdout=..., stderr=...)``.

    Horovod delivers the worker processes' output (``[task]<stdout>:line``) at the end of each process.
    Workers forward their output live through the :class:`OutputServer`, so this only carries what they
    print outside the forwarded window (interpreter start-up and shutdown), or everything when a worker
    could not connect to the driver. Lines are logged with the Spark task index.
    """

    def __init__(self, output: WorkerOutput, stream: str):
        self._output = output
        self._stream = stream
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        key = threading.get_ident()
        with self._lock:
            buffered = self._partial.pop(key, "") + text
            *lines, rest = re.split(r"\r\n|\r|\n", buffered)
            if rest:
                self._partial[key] = rest
        for line in lines:
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        m = _HOROVOD_PREFIX.match(line)
        task, stream, text = (int(m.group(1)), m.group(2), m.group(3)) if m else (None, self._stream, line)
        if text.startswith(MARKER):
            rank_text, _, payload = text[len(MARKER):].partition("\t")
            rank = int(rank_text)
            if task is not None:
                self._output.map_task(task, rank)
            self._output.record(rank, json.loads(payload))
            return
        if not text.strip():
            return
        rank = self._output.rank_of_task(task)
        if rank is not None:
            self._output.line(rank, stream, text)
        else:
            WORKER_LOGGER.info("[task %s] %s", "?" if task is None else task, text,
                               extra={"worker_task": task, "worker_stream": stream})

    def flush(self) -> None:
        with self._lock:
            rest, self._partial = list(self._partial.values()), {}
        for line in rest:
            self._emit(line)

    def close(self) -> None:
        self.flush()
