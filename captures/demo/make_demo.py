#!/usr/bin/env python3
"""Make the bundled demo of `dualstack verify`: Apache httpd on :::80 answering IPv4.

Run as root on Debian with apache2, tcpdump and net-tools installed:

    .venv/bin/python captures/demo/make_demo.py [OUTDIR]

In two fresh network namespaces (tests/netlab.py: server 192.0.2.1/2001:db8::1,
client 192.0.2.2/2001:db8::2) it starts Debian's /usr/sbin/apache2 with a minimal
config (`Listen 80`, everything else in a temporary directory), captures the server's
interface with tcpdump, and records what an administrator would paste:

- ``netstat-tlnp.txt``: `netstat -tlnp` before the clients (only ``tcp6 :::80``);
- ``netstat-antp.txt``: `netstat -antp` while an IPv4 client holds a connection open
  (a ``tcp6`` row with IPv4 addresses: seed 001's question);
- ``demo.pcap``: the capture: 3 IPv4 and 2 IPv6 HTTP requests by curl, the held IPv4
  connection, and one IPv4 SYN to the closed port 8080 (refused).

`start_apache` is reused by the end-to-end tests.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from netlab import Host, Lab  # type: ignore[import-not-found]  # noqa: E402

APACHE = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
APACHE_CONF = """\
ServerRoot "{root}"
ServerName demo.example
Listen {port}
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule dir_module {modules}/mod_dir.so
User www-data
Group www-data
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
DocumentRoot "{root}/www"
DirectoryIndex index.html
<Directory "{root}/www">
    Require all granted
</Directory>
"""


def start_apache(host: Host, root: Path, port: int = 80) -> Any:
    """Start apache2 -X (one process, foreground) in `host` with `Listen PORT`."""
    (root / "www").mkdir(parents=True, exist_ok=True)
    (root / "www" / "index.html").write_text("dual-stack demo\n")
    root.chmod(0o755)
    conf = root / "httpd.conf"
    conf.write_text(APACHE_CONF.format(root=root, port=port, modules=MODULES))
    process = host.popen([APACHE, "-X", "-f", str(conf)])
    wait_listening(host, "tcp", port, process)
    return process


def wait_listening(host: Host, proto: str, port: int, process: Any = None) -> None:
    """Wait until something in `host` listens on PROTO/PORT (ss -l)."""
    flag = "-tlnH" if proto == "tcp" else "-ulnH"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listing = host.run(["ss", flag, f"sport = :{port}"], check=False).stdout
        if listing.strip():
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read()}")
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {proto}/{port} in {host.netns}")


def start_tcpdump(host: Host, path: Path, *extra: str, iface: str | None = None) -> Any:
    """tcpdump -U on the host's veth (or IFACE) writing PATH; returns once it listens.

    --immediate-mode makes libpcap's ring hold buffer/snaplen frames: with the default
    snaplen (262144) that is a handful and the kernel drops packets, so -s 2048 -B 4096.
    """
    process = host.popen(["tcpdump", "-n", "-U", "--immediate-mode", "-s", "2048", "-B", "4096",
                          "-i", iface or host.iface, "-w", str(path), *extra])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > 0:
            time.sleep(0.2)
            return process
        if process.poll() is not None:
            raise RuntimeError(f"tcpdump exited: {process.stderr.read()}")
        time.sleep(0.05)
    raise RuntimeError("tcpdump did not start")


def stop(process: Any) -> None:
    """SIGINT (tcpdump flushes and closes its file), then wait."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def curl(host: Host, url: str, family: str) -> bool:
    done = host.run(["curl", family, "-s", "-o", "/dev/null", "--max-time", "3", url],
                    check=False)
    return done.returncode == 0


HOLD_CONNECTION = """
import socket, sys
s = socket.create_connection(("192.0.2.1", 80), timeout=5)
s.sendall(b"GET / HTTP/1.0\\r\\n")
print("connected", flush=True)
sys.stdin.readline()
s.sendall(b"\\r\\n")
s.recv(4096)
s.close()
"""


def make_demo(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with Lab("demo") as lab, tempfile.TemporaryDirectory(prefix="dualstack-demo-") as tmp:
        start_apache(lab.server, Path(tmp) / "httpd")
        capture = Path(tmp) / "demo.pcap"
        tcpdump = start_tcpdump(lab.server, capture, "tcp")
        tlnp = lab.server.run(["netstat", "-tlnp"]).stdout
        for _ in range(3):
            assert curl(lab.client, "http://192.0.2.1/", "-4")
        for _ in range(2):
            assert curl(lab.client, "http://[2001:db8::1]/", "-6")
        holder = lab.client.python_popen(HOLD_CONNECTION, stdin=subprocess.PIPE)
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "connected"
        antp = lab.server.run(["netstat", "-antp"]).stdout
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
        assert not curl(lab.client, "http://192.0.2.1:8080/", "-4")
        time.sleep(0.3)
        stop(tcpdump)
        (out / "netstat-tlnp.txt").write_text(tlnp)
        (out / "netstat-antp.txt").write_text(antp)
        (out / "demo.pcap").write_bytes(capture.read_bytes())
    print(f"wrote {out}/demo.pcap ({(out / 'demo.pcap').stat().st_size} bytes), "
          "netstat-tlnp.txt, netstat-antp.txt")


if __name__ == "__main__":
    make_demo(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
