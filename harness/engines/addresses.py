"""Addresses of existing clusters (--dask-address, --spark-master): their form is checked always,
and whether anything listens there just before a run that uses them, with a short TCP probe.

Forms accepted are those the libraries themselves accept, minus what cannot reach a server in
another process: distributed's `[tcp|tls|ws|wss://]HOST:PORT` (parsed by distributed's own
`parse_address`), and Spark's `local`, `local[N]`, `local[*]`, `local[N,F]`, `local-cluster[N,C,M]`
and standalone `spark://HOST:PORT[,HOST:PORT...]` (Spark's SparkMasterRegex).
"""

from __future__ import annotations

import re
import socket
import threading

from harness.errors import UsageError

PROBE_TIMEOUT_S = 2.0
DASK_SCHEMES = ("tcp", "tls", "ws", "wss")
DASK_FORMS = "tcp://HOST:PORT (or HOST:PORT, tls://, ws://, wss://)"
SPARK_FORMS = "local[N], local[*] or spark://HOST:PORT"
_SPARK_LOCAL = re.compile(r"local(\[(\d+|\*)(\s*,\s*\d+)?\])?|local-cluster\[\s*\d+\s*,\s*\d+\s*,"
                          r"\s*\d+\s*\]")
_HOST_PORT = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d+)")

Endpoint = tuple[str, int]


def dask_endpoint(address: str) -> Endpoint:
    """The scheduler's host and port; a form distributed's Client cannot use is a UsageError."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address, strict=False)
        host, port = parse_host_port(location)
    except ValueError as exc:
        raise UsageError(f"--dask-address {address!r} is not a scheduler address ({exc}); "
                         f"give {DASK_FORMS}") from None
    if scheme not in DASK_SCHEMES:
        raise UsageError(f"--dask-address {address!r}: unknown scheme {scheme}://; give "
                         f"{DASK_FORMS}")
    return _checked(str(host), int(port), "--dask-address", address, DASK_FORMS)


def spark_endpoints(master: str) -> list[Endpoint]:
    """The standalone masters of a `spark://` URL, [] for a local master; else a UsageError."""
    local = _SPARK_LOCAL.fullmatch(master)  # as typed: Spark gets the value unstripped
    if local:
        if local.group(2) and local.group(2) != "*" and int(local.group(2)) < 1:
            raise UsageError(f"--spark-master {master!r} asks for no threads; give local[N] "
                             "with N >= 1, or local[*]")
        return []
    if not master.startswith("spark://") or not master.removeprefix("spark://"):
        raise UsageError(f"--spark-master {master!r} is not a master URL this harness can "
                         f"use; give {SPARK_FORMS}")
    return [_spark_endpoint(one, master) for one in master.removeprefix("spark://").split(",")]


def _spark_endpoint(one: str, master: str) -> Endpoint:
    match = _HOST_PORT.fullmatch(one)
    if not match:
        raise UsageError(f"--spark-master {master!r}: {one!r} is not HOST:PORT; give "
                         f"{SPARK_FORMS}")
    return _checked(match.group(1).strip("[]"), int(match.group(2)), "--spark-master", master,
                    SPARK_FORMS)


def _checked(host: str, port: int, flag: str, address: str, forms: str) -> Endpoint:
    if not host:
        raise UsageError(f"{flag} {address!r} names no host; give {forms}")
    if not 1 <= port <= 65535:
        raise UsageError(f"{flag} {address!r}: port {port} is not between 1 and 65535")
    return host, port


def probe(endpoints: list[Endpoint], flag: str, address: str, what: str) -> None:
    """At least one endpoint accepts a TCP connection within PROBE_TIMEOUT_S; else a UsageError."""
    problems = [_connect(host, port) for host, port in endpoints]
    if endpoints and all(problems):
        raise UsageError(f"{flag} {address}: no {what} answers there ({'; '.join(problems)}); "
                         f"start it, or check the host and port")


def _connect(host: str, port: int) -> str:
    """'' when HOST:PORT accepts a connection, else why not. Name lookup and connect run in a
    daemon thread, so a resolver that hangs cannot hold the command past the timeout."""
    outcome: list[str] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
            outcome.append("")
        except OSError as exc:
            outcome.append(f"{host}:{port}: {exc.strerror or exc}")

    thread = threading.Thread(target=attempt, name="address-probe", daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT_S + 0.5)
    return outcome[0] if outcome else f"{host}:{port}: no answer in {PROBE_TIMEOUT_S:.0f} s"
