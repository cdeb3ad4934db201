"""A tiny lab of network namespaces for tests that need real kernels.

``with Lab("name") as lab:`` makes two namespaces, ``lab.server`` and ``lab.client``,
joined by a veth pair, with documentation addresses:

    server  192.0.2.1/24  2001:db8::1/64
    client  192.0.2.2/24  2001:db8::2/64

Every process started through a host is killed and both namespaces are deleted on
exit, whatever happened inside the ``with`` block.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import TracebackType

_counter = itertools.count()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Host:
    """One network namespace with one veth end."""

    netns: str
    iface: str
    addr4: str
    addr6: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def argv(self, command: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *command]

    def run(
        self, command: list[str], *, check: bool = True, timeout: float = 60, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            self.argv(command), check=check, timeout=timeout, capture_output=True,
            text=True, **kwargs,
        )

    def popen(self, command: list[str], **kwargs: object) -> subprocess.Popen[str]:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        process: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            self.argv(command), text=True, start_new_session=True, **kwargs
        )
        self.processes.append(process)
        return process

    def python(self, code: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a Python snippet inside the namespace and wait for it."""
        return self.run([sys.executable, "-c", code], timeout=timeout)

    def python_popen(self, code: str, **kwargs: object) -> subprocess.Popen[str]:
        """Start a Python snippet inside the namespace (a server, say)."""
        return self.popen([sys.executable, "-u", "-c", code], **kwargs)

    def sysctl(self, key: str, value: str) -> None:
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, 15)
                    process.wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(process.pid, 9)
                    process.wait(timeout=5)
            for stream in (process.stdout, process.stderr, process.stdin):
                if stream is not None:
                    stream.close()
        self.processes.clear()


class Lab:
    """Two namespaces joined by veth; deleted on exit."""

    def __init__(self, name: str = "lab") -> None:
        tag = f"{name[:6]}{os.getpid() % 10000}{next(_counter)}"
        self.server = Host(f"ds-{tag}-s", f"vs{tag}"[:15], "192.0.2.1", "2001:db8::1")
        self.client = Host(f"ds-{tag}-c", f"vc{tag}"[:15], "192.0.2.2", "2001:db8::2")
        self.hosts = (self.server, self.client)

    def __enter__(self) -> Lab:
        try:
            self._create()
        except BaseException:
            self._destroy()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._destroy()

    def _create(self) -> None:
        for host in self.hosts:
            _ip("netns", "add", host.netns)
            host.run(["ip", "link", "set", "lo", "up"])
        _ip("link", "add", self.server.iface, "type", "veth", "peer", "name", self.client.iface)
        for host in self.hosts:
            _ip("link", "set", host.iface, "netns", host.netns)
            # No duplicate address detection: addresses are usable at once.
            host.sysctl(f"net.ipv6.conf.{host.iface}.accept_dad", "0")
            host.sysctl(f"net.ipv6.conf.{host.iface}.dad_transmits", "0")
            host.run(["ip", "addr", "add", f"{host.addr4}/24", "dev", host.iface])
            host.run(["ip", "addr", "add", f"{host.addr6}/64", "dev", host.iface, "nodad"])
            host.run(["ip", "link", "set", host.iface, "up"])
        self._wait_reachable()

    def _wait_reachable(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ok = self.client.run(
                ["ping", "-6", "-c", "1", "-W", "1", self.server.addr6], check=False
            )
            if ok.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"lab {self.server.netns}: IPv6 not reachable over veth")

    def _destroy(self) -> None:
        for host in self.hosts:
            host.stop_all()
            # Kill anything left inside (servers daemonised by their own code).
            pids = subprocess.run(
                ["ip", "netns", "pids", host.netns], capture_output=True, text=True
            ).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), 9)
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True)
