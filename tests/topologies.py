"""Throwaway Redis topologies for the tests: a Sentinel group and a Cluster, on loopback.

Every process is a Debian ``redis-server`` started with a config file of its own (Sentinel and
Cluster nodes rewrite theirs), on a free 127.0.0.1 port, and stopped by its PID.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import Server, _wait_port, free_port

SERVICE = "mymaster"


def _binary(name: str) -> str:
    return shutil.which(name) or f"/usr/bin/{name}"


def start_with_config(kind: str, lines: list[str], *extra: str, tries: int = 5) -> Server:
    """A redis-server reading a config file in its own directory (``lines`` after port/bind/dir)."""
    last: Exception | None = None
    for _ in range(tries):  # a free port can be taken between probing and binding: retry
        port = free_port()
        workdir = tempfile.mkdtemp(prefix=f"cd-{kind}-")
        config = Path(workdir, f"{kind}.conf")
        config.write_text("\n".join([f"port {port}", "bind 127.0.0.1", "protected-mode yes", f"dir {workdir}",
                                     'save ""', "appendonly no", *lines]) + "\n")
        args = [_binary("redis-server"), str(config), *extra]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
        try:
            _wait_port(port, proc)
            return Server(kind, port, proc, workdir, args)
        except RuntimeError as exc:
            last = exc
            Server(kind, port, proc, workdir).stop()
    raise RuntimeError(f"could not start {kind}: {last}")


def _client(port: int):  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)


def _wait(what: str, condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except Exception:  # a node still starting or re-configuring
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


@dataclass
class SentinelGroup:
    """A master, a replica and three sentinels watching ``SERVICE`` with quorum 2."""

    data: list[Server] = field(default_factory=list)
    sentinels: list[Server] = field(default_factory=list)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def master_port(self, via: int = 0) -> int:
        """The master's port as a sentinel sees it now."""
        client = _client(self.sentinels[via].port)
        try:
            return int(client.sentinel_get_master_addr_by_name(SERVICE)[1])
        finally:
            client.close()

    def server(self, port: int) -> Server:
        return next(s for s in self.data if s.port == port)

    def failover(self) -> int:
        """Force a failover (``SENTINEL FAILOVER``) and wait until every sentinel names the new
        master and it accepts writes; its port."""
        old = self.master_port()
        client = _client(self.sentinels[0].port)
        try:
            client.execute_command("SENTINEL", "FAILOVER", SERVICE)
        finally:
            client.close()
        _wait("the failover", lambda: all(self.master_port(i) != old for i in range(len(self.sentinels))))
        new = self.master_port()
        _wait("the new master's role", lambda: _client(new).info("replication")["role"] == "master")
        return new

    def wait_settled(self) -> None:
        """Until each sentinel knows the other two and a replica that is in sync."""
        def settled() -> bool:
            for sentinel in self.sentinels:
                client = _client(sentinel.port)
                try:
                    master = client.sentinel_master(SERVICE)
                    replicas = client.sentinel_slaves(SERVICE)
                finally:
                    client.close()
                if master["num-other-sentinels"] != len(self.sentinels) - 1 or master["num-slaves"] < 1:
                    return False
                if not all(r.get("master-link-status") == "ok" and not r.get("is_sdown") for r in replicas):
                    return False
            return True

        _wait("the sentinel group to settle", settled, timeout=30)

    def stop(self) -> None:
        for server in [*self.sentinels, *self.data]:
            server.stop()


def start_sentinel_group() -> SentinelGroup:
    group = SentinelGroup()
    try:
        master = start_with_config("redis", ["repl-diskless-sync-delay 0"])
        group.data.append(master)
        replica = start_with_config("redis", ["repl-diskless-sync-delay 0",
                                              f"replicaof 127.0.0.1 {master.port}"])
        group.data.append(replica)
        for _ in range(3):
            group.sentinels.append(start_with_config("sentinel", [
                f"sentinel monitor {SERVICE} 127.0.0.1 {master.port} 2",
                f"sentinel down-after-milliseconds {SERVICE} 2000",
                f"sentinel failover-timeout {SERVICE} 10000",
                f"sentinel parallel-syncs {SERVICE} 1",
            ], "--sentinel"))
        group.wait_settled()
    except BaseException:
        group.stop()
        raise
    return group


@dataclass
class Cluster:
    """Three primaries, slots split evenly by ``redis-cli --cluster create``; a killed primary
    leaves the others serving (``cluster-require-full-coverage no``)."""

    nodes: list[Server] = field(default_factory=list)

    @property
    def locations(self) -> list[str]:
        return [f"redis://127.0.0.1:{node.port}" for node in self.nodes]

    def node(self, port: int) -> Server:
        return next(n for n in self.nodes if n.port == port)

    def wait_ok(self, nodes: list[Server] | None = None) -> None:
        def ok() -> bool:
            for node in nodes or self.nodes:
                client = _client(node.port)
                try:
                    if b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                        return False
                finally:
                    client.close()
            return True

        _wait("the cluster to be ok", ok, timeout=30)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(primaries: int = 3) -> Cluster:
    cluster = Cluster()
    try:
        for _ in range(primaries):
            # The bus port is its own free port: the default (port + 10000) is past 65535 for a
            # free port above 55535, and the node then exits at once.
            cluster.nodes.append(start_with_config("cluster", [
                "cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 2000",
                "cluster-require-full-coverage no", f"cluster-port {free_port()}",
            ]))
        subprocess.run([_binary("redis-cli"), "--cluster", "create",
                        *(f"127.0.0.1:{node.port}" for node in cluster.nodes), "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        cluster.wait_ok()
    except BaseException:
        cluster.stop()
        raise
    return cluster
