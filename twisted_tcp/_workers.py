"""
C{--workers N} (docs/operating.md, "Workers"): N processes serve the same listening
sockets, supervised by the process that was started.

The parent listens on every endpoint itself (any endpoint type: C{tcp:}, C{ssl:},
C{unix:}, C{systemd:}), never accepts on them, and hands each socket to every worker
it starts; a worker adopts them (L{twisted_tcp._listen.server_endpoint} reads them
from L{SOCKETS_VARIABLE}) and serves as a single process does. All workers wait on
one accept queue per socket, so a worker that dies loses no connection waiting to be
accepted, and a new one serves at once.

The parent restarts a worker that ends while it runs, and on SIGTERM stops them all
and waits for them. It asks each worker for its metrics over a pipe when scraped:
C{--metrics} is served by the parent, each worker's metrics labelled C{worker}.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

from twisted.application.service import Service
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.error import CannotListenError, ProcessDone
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, ProcessProtocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver
from twisted.python.failure import Failure

from twisted_tcp._listen import SOCKETS_VARIABLE, cannot_listen, server_endpoint

#: The environment variable that makes a process worker number N (from 1).
WORKER_VARIABLE: Final = "TWISTED_TCP_WORKER"
#: Seconds before a worker that ended is started again.
RESTART_DELAY: Final = 1.0
#: Seconds the workers have to stop on SIGTERM before they are killed.
STOP_TIMEOUT: Final = 30.0
#: The worker's file descriptors of its pipes to the parent: requests, answers.
REQUESTS_FD: Final = 3
ANSWERS_FD: Final = 4

#: What a worker answers its parent's request with (C{metrics}, C{health}).
Answers = dict[bytes, Callable[[], bytes]]


def worker_number() -> int:
    """This process's worker number, or 0 when it is not a worker."""
    return int(os.environ.get(WORKER_VARIABLE, "0"))


class _Answerer(Int32StringReceiver):
    """
    A worker's end of its pipes: each question read is answered in turn. The pipes
    close when the parent ends, however it ends: the worker then stops too.
    """

    MAX_LENGTH = 1 << 24

    def __init__(self, answers: Answers, reactor: Any) -> None:
        self._answers = answers
        self._reactor = reactor

    def stringReceived(self, string: bytes) -> None:
        answer = self._answers.get(string)
        self.sendString(b"" if answer is None else answer())

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._reactor.running:
            WorkerChannel.log.warn("the parent process is gone: stopping")
            self._reactor.stop()


class _Answers(Int32StringReceiver):
    """The parent's end of a worker's answer pipe: each answer fires its question's."""

    MAX_LENGTH = 1 << 24

    def __init__(self) -> None:
        self.waiting: list[Deferred[bytes]] = []

    def stringReceived(self, string: bytes) -> None:
        if self.waiting:
            self.waiting.pop(0).callback(string)

    def end(self) -> None:
        """The worker is gone: what it was asked is answered with nothing."""
        waiting, self.waiting = self.waiting, []
        for answer in waiting:
            answer.callback(b"")


class WorkerChannel(Service):
    """
    In a worker: answers the parent's questions on the pipes it was given, and
    stops the worker when the parent is gone.
    """

    log = Logger()

    def __init__(self, reactor: Any, answers: Answers) -> None:
        self._reactor = reactor
        self._answers = answers

    def startService(self) -> None:
        super().startService()
        from twisted.internet._posixstdio import StandardIO

        answerer = _Answerer(self._answers, self._reactor)
        StandardIO(answerer, stdin=REQUESTS_FD, stdout=ANSWERS_FD)


class _Worker(ProcessProtocol):
    """The parent's side of one worker process."""

    def __init__(self, supervisor: WorkerSupervisor, number: int) -> None:
        self.supervisor = supervisor
        self.number = number
        self.answers = _Answers()
        self.ended: Deferred[None] = Deferred()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD == ANSWERS_FD:
            self.answers.dataReceived(data)

    def ask(self, question: bytes) -> Deferred[bytes]:
        """Send a question down the worker's request pipe; fires with its answer."""
        answer: Deferred[bytes] = Deferred()
        if self.transport is None:
            return succeed(b"")
        self.answers.waiting.append(answer)
        self.transport.writeToChild(
            REQUESTS_FD, struct.pack("!I", len(question)) + question
        )
        return answer

    def processEnded(self, reason: Failure) -> None:
        self.answers.end()
        self.supervisor.worker_ended(self, reason)
        self.ended.callback(None)


class WorkerSupervisor(Service):
    """
    Listens on C{descriptions}, then runs C{count} workers on those sockets, each
    this process's own command line again; restarts each that ends.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        count: int,
        descriptions: Sequence[str],
        argv: Sequence[str] | None = None,
    ) -> None:
        self.reactor = reactor
        self.count = count
        self.descriptions = list(descriptions)
        self.argv = [sys.executable, "-m", "twisted", *(argv or sys.argv[1:])]
        self.ports: list[IListeningPort] = []
        self.workers: dict[int, _Worker] = {}

    def startService(self) -> None:
        """
        Listen, then start the workers. An endpoint that cannot be listened on ends
        C{twist} with one line, as a single process does.
        """
        super().startService()
        for description in self.descriptions:
            listening = server_endpoint(self.reactor, description).listen(_Held())
            try:
                # Every endpoint type the servers take listens at once (execute).
                port = _result(listening)
            except (CannotListenError, OSError) as error:
                raise SystemExit(f"twist: {cannot_listen(error)}") from None
            # The parent only holds the socket: the workers accept.
            port.stopReading()  # type: ignore[attr-defined]
            self.ports.append(port)
        for number in range(1, self.count + 1):
            self._start(number)

    def _start(self, number: int) -> None:
        sockets = {
            description: port.fileno()  # type: ignore[attr-defined]
            for description, port in zip(self.descriptions, self.ports, strict=True)
        }
        child_fds: dict[int, int | str] = {0: 0, 1: 1, 2: 2}
        child_fds |= {REQUESTS_FD: "w", ANSWERS_FD: "r"}
        child_fds |= {fd: fd for fd in sockets.values()}
        environment = dict(os.environ)
        environment[WORKER_VARIABLE] = str(number)
        environment[SOCKETS_VARIABLE] = json.dumps(sockets)
        worker = _Worker(self, number)
        process = self.reactor.spawnProcess(
            worker, self.argv[0], self.argv, env=environment, childFDs=child_fds
        )
        self.workers[number] = worker
        self.log.info("worker {number} started: pid {pid}", number=number,
                      pid=process.pid)  # fmt: skip

    def worker_ended(self, worker: _Worker, reason: Failure) -> None:
        """Restart a worker that ended while the supervisor runs."""
        if self.workers.get(worker.number) is worker:
            del self.workers[worker.number]
        if not self.running:
            return
        how = "exited" if reason.check(ProcessDone) else reason.getErrorMessage()
        self.log.error(
            "worker {number} ended ({how}); starting another in {delay:g} s",
            number=worker.number,
            how=how,
            delay=RESTART_DELAY,
        )
        self.reactor.callLater(RESTART_DELAY, self._restart, worker.number)

    def _restart(self, number: int) -> None:
        if self.running and number not in self.workers:
            self._start(number)

    def signal_all(self, number: int) -> None:
        """Send signal C{number} to every worker."""
        for worker in self.workers.values():
            _signal(worker, number)

    def ask_all(self, question: bytes) -> Deferred[list[tuple[int, bytes]]]:
        """Ask every running worker; fires with each one's number and answer."""
        numbers = sorted(self.workers)
        answers = [self.workers[number].ask(question) for number in numbers]
        return gatherResults(answers).addCallback(
            lambda replies: list(zip(numbers, replies, strict=True))
        )

    def stopService(self) -> Deferred[None]:
        """SIGTERM every worker and wait for them all; then stop listening."""
        super().stopService()
        ended = [worker.ended for worker in self.workers.values()]
        self.signal_all(signal.SIGTERM)
        late = self.reactor.callLater(STOP_TIMEOUT, self._kill_all)
        all_ended = gatherResults(ended)

        def stopped(_: object) -> Deferred[Any]:
            if late.active():
                late.cancel()
            ports, self.ports = self.ports, []
            return gatherResults(
                [succeed(port.stopListening()) for port in ports]
            )  # fmt: skip

        return all_ended.addCallback(stopped).addCallback(lambda _: None)

    def _kill_all(self) -> None:
        self.log.warn("{count} workers did not stop: killing them",
                      count=len(self.workers))  # fmt: skip
        self.signal_all(signal.SIGKILL)


class _Held(Factory):
    """The factory of the parent's sockets, which only the workers accept on."""

    noisy = False

    def logPrefix(self) -> str:
        return "workers"


def _signal(worker: _Worker, number: int) -> None:
    if worker.transport is not None and worker.transport.pid is not None:
        worker.transport.signalProcess(number)


def _result(deferred: Deferred[IListeningPort]) -> IListeningPort:
    """The result of a Deferred that has fired; its failure raised."""
    results: list[IListeningPort | Failure] = []
    deferred.addBoth(results.append)
    (result,) = results
    if isinstance(result, Failure):
        result.raiseException()
    assert not isinstance(result, Failure)
    return result
