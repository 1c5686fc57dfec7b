"""The exporter's HTTP front: a child process that serves ``/metrics``, ``/healthz`` and ``/readyz``.

``exporter serve`` runs its collectors (botocore's parsing, rendering) in one process and the HTTP server in
this one, so a scrape never waits for the collectors' hold on the GIL. The exporter binds the listening socket
and hands it over (``pass_fds``); over the child's stdin it sends, with every new snapshot, the parts that
changed (their gzip members only), the order of the parts and why the exporter is not ready. The child mirrors
that and serves it with the same HTTP code as the in-process server (:func:`server.serve_socket`); it inflates
a part's plain text only when a scraper asks for it without gzip.

Either process ending ends the other: when the exporter stops (a last, empty frame) or dies (even by SIGKILL:
the end of its stdin) the child exits; when the child exits, the exporter stops (exit 1 unless a signal stopped
the child).

It imports no botocore: run as ``python -m docqet_monitor.exporters.front --fd N ...`` by :class:`Front`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from docqet_monitor.core import logs, secrets
from docqet_monitor.core.errors import DocqetError, RunError
from docqet_monitor.exporters import webconfig
from docqet_monitor.exporters.metrics import Part
from docqet_monitor.exporters.server import Exporter, Snapshot, serve_socket

MODULE = "docqet_monitor.exporters.front"  # also when run as __main__
log = logging.getLogger(MODULE)
START_SECONDS = 30.0  # the front must be serving within this long of its start
STOP_SECONDS = 1.0  # once its stdin is closed, the front has this long to exit before it is killed
READY_LINE = b"serving\n"  # the front's one line on stdout: it serves the socket


# --- the messages on the front's stdin (pure) --------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One update: the parts' names in order (the self-metrics' last), why the exporter is not ready, the gzip
    member of each part that changed (by name) and, when the exporter learned new ones, its secrets."""

    names: tuple[str, ...]
    not_ready: tuple[str, ...]
    parts: dict[str, bytes]
    secrets: tuple[str, ...] = ()


STOP = Frame((), (), {})  # the exporter stops: the last frame (a snapshot always has the self-metrics' part)


def frame_of(names: tuple[str, ...], snapshot: Snapshot, sent: dict[str, object], not_ready: list[str],
             known: tuple[str, ...], known_sent: tuple[str, ...]) -> Frame:
    """The frame that brings a front holding the parts ``sent`` (name -> part) and the secrets ``known_sent`` to
    ``snapshot`` (its parts named ``names``): the parts that are not the very ones it has, the secrets when they
    changed."""
    return Frame(names, tuple(not_ready),
                 {name: part.gzipped for name, part in zip(names, snapshot.parts, strict=True)
                  if sent.get(name) is not part},
                 known if known != known_sent else ())


def encode(frame: Frame) -> list[bytes]:
    """A frame as bytes to write one after the other: a 4-byte length, a JSON header, the parts' bytes."""
    header = {"names": frame.names, "not_ready": frame.not_ready,
              "parts": [[name, len(data)] for name, data in frame.parts.items()], "secrets": frame.secrets}
    head = json.dumps(header).encode()
    return [len(head).to_bytes(4, "big"), head, *frame.parts.values()]


def read_frame(stream: IO[bytes]) -> Frame | None:
    """The next frame of ``stream``; None at its end (also in the middle of a frame: the writer is gone)."""
    size = stream.read(4)
    if len(size) < 4:
        return None
    head = stream.read(int.from_bytes(size, "big"))
    header = json.loads(head)
    parts = {}
    for name, length in header["parts"]:
        parts[name] = stream.read(length)
        if len(parts[name]) < length:
            return None
    return Frame(tuple(header["names"]), tuple(header["not_ready"]), parts, tuple(header["secrets"]))


# --- the child: the mirror it serves --------------------------------------------------------------------


class Mirror:
    """The exporter's snapshot and readiness as the front received them: the :class:`server.Source` it serves."""

    def __init__(self) -> None:
        self._parts: dict[str, Part] = {}
        self._snapshot = Snapshot.of([])
        self._not_ready: list[str] = []

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def not_ready(self) -> list[str]:
        return self._not_ready

    def apply(self, frame: Frame) -> None:
        """Take a frame's changed parts, order and readiness (a part it no longer names is dropped)."""
        missing = [name for name in frame.names if name not in frame.parts and name not in self._parts]
        if missing:
            raise ValueError(f"an update names parts never sent: {', '.join(missing)}")
        parts = {name: Part(frame.parts[name]) if name in frame.parts else self._parts[name]
                 for name in frame.names}
        self._parts = parts
        self._snapshot = Snapshot.of(parts[name] for name in frame.names)
        self._not_ready = list(frame.not_ready)
        secrets.register(*frame.secrets)


class _Stop(Exception):
    """SIGTERM or SIGINT reached the front."""


def _raise_stop(*_: object) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)  # once: the cleanup is not interrupted
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    """The front process: serve the socket ``--fd`` from the frames on stdin until their end or a signal."""
    parser = argparse.ArgumentParser(prog="python -m docqet_monitor.exporters.front")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, inherited")
    parser.add_argument("--verbosity", type=int, default=0)
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument("--web-config", help="--web.config.file (checked by the exporter already)")
    args = parser.parse_args(argv)
    logs.setup(args.verbosity, args.log_format)
    secrets.register_environment(os.environ)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _raise_stop)
    parent, frames, httpd = os.getppid(), sys.stdin.buffer, None
    try:
        web = webconfig.load(args.web_config) if args.web_config else None
        mirror = Mirror()
        first = read_frame(frames)
        if first in (None, STOP):  # the exporter did not get to start it
            return 0
        mirror.apply(first)
        httpd = serve_socket(mirror, socket.socket(fileno=args.fd), web)
        sys.stdout.buffer.write(READY_LINE)
        sys.stdout.flush()
        while (frame := read_frame(frames)) not in (None, STOP):
            mirror.apply(frame)
        if frame is None:
            log.warning("the exporter process (pid %d) ended without stopping its HTTP server process; stopping",
                        parent)
    except _Stop:
        pass
    except DocqetError as exc:
        log.error("%s", secrets.redact(str(exc)))
        return exc.exit_code
    except Exception:
        log.exception("the HTTP server process failed")
        return 1
    finally:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
    return 0


# --- the parent: starting, feeding and stopping the front ---------------------------------------------------


class Front:
    """The front process of ``exporter``, serving the listening ``sock`` (``web``: ``--web.config.file``, which
    the front loads itself). ``on_exit`` is called when the front exits on its own (:attr:`failure` says why
    when that was not a signal's doing)."""

    def __init__(self, exporter: Exporter, sock: socket.socket, web: webconfig.WebConfig | None = None,
                 on_exit: Callable[[], None] = lambda: None) -> None:
        self._exporter, self._sock, self._web, self._on_exit = exporter, sock, web, on_exit
        self._proc: subprocess.Popen[bytes] | None = None
        self._latest: tuple[tuple[str, ...], Snapshot] | None = None
        self._closing = False
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self.failure: str | None = None  # how the front ended when it ended on its own, not by a signal

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def start(self) -> None:
        """Start the front and wait until it serves; RunError (exit 1) when it does not within
        ``START_SECONDS``. The caller may close its copy of the socket then."""
        verbosity, log_format = logs.options()
        command = [sys.executable, "-m", MODULE, "--fd", str(self._sock.fileno()), "--verbosity", str(verbosity),
                   "--log-format", log_format, *(["--web-config", self._web.source] if self._web else [])]
        try:
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          pass_fds=(self._sock.fileno(),))
        except OSError as exc:
            raise RunError(f"cannot start the HTTP server process: {exc.strerror or exc}") from None
        self._exporter.watch(self._snapshot_changed)
        threading.Thread(target=self._send, name="front-send", daemon=True).start()
        assert self._proc.stdout is not None
        with self._proc.stdout:
            ready, _, _ = select.select([self._proc.stdout], [], [], START_SECONDS)
            line = self._proc.stdout.readline() if ready else b""
        if line != READY_LINE:
            self._stopping.set()
            self._end()
            raise RunError(f"the HTTP server process did not start ({_how(self._proc.returncode)}; see the log "
                           "above)")
        threading.Thread(target=self._watch, name="front-watch", daemon=True).start()

    def stop(self) -> None:
        """Close the front's stdin (it stops serving and exits), kill it after ``STOP_SECONDS``."""
        self._stopping.set()
        if self._proc is not None:
            self._end()

    def _end(self) -> None:
        assert self._proc is not None
        with self._changed:
            self._closing = True
            self._changed.notify()
        try:
            self._proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def _snapshot_changed(self, names: tuple[str, ...], snapshot: Snapshot) -> None:
        """The exporter's listener (inside its swap): only hand the snapshot to the sender thread."""
        with self._changed:
            self._latest = (names, snapshot)
            self._changed.notify()

    def _send(self) -> None:
        """Send each new snapshot's changed parts (one frame for the latest snapshot when several came meanwhile);
        closes the front's stdin when stopping."""
        assert self._proc is not None and self._proc.stdin is not None
        pipe, known = self._proc.stdin, ()
        sent: dict[str, object] = {}  # name -> the part the front has
        try:
            while True:
                with self._changed:
                    while self._latest is None and not self._closing:
                        self._changed.wait()
                    if self._closing:
                        pipe.writelines(encode(STOP))
                        return
                    (names, snapshot), self._latest = self._latest, None
                now = secrets.REDACTOR.known()
                pipe.writelines(encode(frame_of(names, snapshot, sent, self._exporter.not_ready(), now, known)))
                pipe.flush()
                sent, known = dict(zip(names, snapshot.parts, strict=True)), now
        except OSError:
            pass  # the front is gone: _watch reports it
        except Exception:
            log.exception("cannot pass the snapshot to the HTTP server process; stopping it")
            self._proc.kill()
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _watch(self) -> None:
        assert self._proc is not None
        code = self._proc.wait()
        if self._stopping.is_set():
            return
        if code == 0:
            log.info("the HTTP server process was stopped (SIGTERM or SIGINT)")
        else:
            self.failure = _how(code)
            log.error("the HTTP server process (pid %d) exited unexpectedly (%s)", self._proc.pid,
                      self.failure)
        self._on_exit()


def _how(code: int | None) -> str:
    """A child's exit status in words."""
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


if __name__ == "__main__":
    sys.exit(main())
