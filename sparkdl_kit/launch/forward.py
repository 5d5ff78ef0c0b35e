"""Worker side of worker output: this process's stdout/stderr, live, to the driver's OutputServer.

File descriptors 1 and 2 are redirected into pipes for the time of the run, so output from Python,
C++ (TensorFlow, Horovod) and child processes is forwarded alike, line by line, as it is written.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from typing import Any

_STREAMS = (("stdout", 1), ("stderr", 2))

#: starts a status-record line written to stdout (rank, tab, JSON) when the driver is unreachable
MARKER = "@@sparkdl_kit@@ "


class OutputForwarder:
    """Forwards fds 1 and 2 of this process to the driver while active; a context manager.

    If the driver cannot be reached, nothing is redirected and output stays where it was.

    Example:
        >>> with OutputForwarder(("127.0.0.1", port), token, rank=0) as fwd:   # doctest: +SKIP
        ...     fwd.record({"event": "start"})
        ...     print("forwarded to the driver's logger")
    """

    def __init__(self, address: tuple[str, int], token: str, rank: int, connect_timeout: float = 10.0):
        self._address = address
        self._token = token
        self._rank = rank
        self._connect_timeout = connect_timeout
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._saved: dict[int, int] = {}
        self._readers: list[threading.Thread] = []
        self.connected = False

    def _send(self, message: str) -> None:
        if self._sock is None:
            return
        with self._send_lock:
            try:
                self._sock.sendall(message.encode("utf-8", "replace"))
            except OSError:
                self._sock = None  # the driver went away: keep running, stop forwarding

    def record(self, payload: dict[str, Any]) -> None:
        """Sends a status record (a JSON object) to the driver.

        Without a connection, the record goes to stdout as a marker line, which reaches the driver
        through Horovod's end-of-process output instead.
        """
        text = json.dumps(payload, default=str)
        if self._sock is not None:
            self._send("M\t" + text + "\n")
        elif not self._saved:
            os.write(1, f"{MARKER}{self._rank}\t{text}\n".encode("utf-8", "replace"))

    def _pump(self, name: str, read_fd: int) -> None:
        partial = b""
        while True:
            try:
                chunk = os.read(read_fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            *lines, partial = (partial + chunk).replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            for line in lines:
                self._send_line(name, line)
        if partial:
            self._send_line(name, partial)
        os.close(read_fd)

    def _send_line(self, name: str, line: bytes) -> None:
        text = line.decode("utf-8", "replace").replace("\t", "    ")
        self._send(f"O\t{name}\t{text}\n")

    def __enter__(self) -> OutputForwarder:
        try:
            sock = socket.create_connection(self._address, timeout=self._connect_timeout)
            sock.settimeout(None)
        except OSError as e:
            os.write(2, f"sparkdl_kit: rank {self._rank} cannot reach the driver at {self._address} ({e}); "
                        "its output is not forwarded live\n".encode())
            return self
        os.write(1, f"{MARKER}{self._rank}\t{{\"event\": \"forwarding\"}}\n".encode())
        self._sock = sock
        self._send(f"HELLO {self._token} {self._rank}\n")
        self.connected = True
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        for name, fd in _STREAMS:
            read_fd, write_fd = os.pipe()
            self._saved[fd] = os.dup(fd)
            os.dup2(write_fd, fd)
            os.close(write_fd)
            reader = threading.Thread(target=self._pump, args=(name, read_fd), daemon=True,
                                      name=f"sparkdl_kit-forward-{name}")
            reader.start()
            self._readers.append(reader)
        return self

    def restore(self) -> None:
        """Puts fds 1 and 2 back and waits for the last forwarded lines to be sent."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)  # closes the pipe's write end held by fd: the reader sees EOF
            os.close(saved)
        self._saved = {}
        for reader in self._readers:
            reader.join(timeout=5)  # a child process still holding the pipe would block it forever
        self._readers = []

    def __exit__(self, *exc_info) -> None:
        self.restore()
        if self._sock is not None:
            with self._send_lock:
                try:
                    self._sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                self._sock.close()
                self._sock = None
