"""A time series of collector snapshots while listeners come and go (real kernel in a
namespace): each flow is judged against the snapshot valid when it started; a flow
before every snapshot is unmatched, not guessed."""

from __future__ import annotations

import json
import sys
import time

import pytest
from test_verify_e2e import make_demo

from analyzer.commands.verify import read_capture_flows
from analyzer.snapshot.collector import collect
from analyzer.verdict import verify

PORT = 7100
SERVER = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(sys.argv[1]))
s.bind(("::", PORT))
s.listen(8)
print("up", flush=True)
while True:
    conn, _ = s.accept()
    conn.close()
""".replace("PORT", str(PORT))
CLIENT = r"""
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(2)
try:
    s.connect((sys.argv[1], PORT)); print("connected", s.getsockname()[1])
except ConnectionRefusedError:
    print("refused", s.getsockname()[1])
""".replace("PORT", str(PORT))


def start_server(lab, v6only: int):
    server = lab.server.popen([sys.executable, "-u", "-c", SERVER, str(v6only)])
    assert server.stdout.readline().strip() == "up"
    return server


def connect(lab, address: str) -> tuple[str, int]:
    seen, port = lab.client.run([sys.executable, "-c", CLIENT, address]).stdout.split()
    time.sleep(0.05)
    return seen, int(port)


@pytest.mark.netns
def test_listeners_that_come_and_go(lab, tmp_path):
    dump = make_demo.start_tcpdump(lab.server, tmp_path / "series.pcap")
    first = start_server(lab, 0)
    snapshots = [collect(netns=lab.server.netns)]
    seen = {"dual": connect(lab, "192.0.2.1")}
    first.terminate()
    first.wait(timeout=5)
    snapshots.append(collect(netns=lab.server.netns))
    seen["gone"] = connect(lab, "192.0.2.1")
    start_server(lab, 1)
    snapshots.append(collect(netns=lab.server.netns))
    seen["v6only-v4"] = connect(lab, "192.0.2.1")
    seen["v6only-v6"] = connect(lab, "2001:db8::1")
    make_demo.stop(dump)
    assert [value[0] for value in seen.values()] == ["connected", "refused", "refused",
                                                    "connected"]
    flows, error = read_capture_flows([str(tmp_path / "series.pcap")])
    assert error is None
    by_port = {int(flows.columns["client_port"][i]): i for i in range(len(flows))}

    verdicts = verify(flows, snapshots, tolerance_s=0.0)
    record = {name: verdicts.flow_record(by_port[port]) for name, (_, port) in seen.items()}
    assert {name: item["class"] for name, item in record.items()} == {
        "dual": "v4-via-v6", "gone": "refused", "v6only-v4": "refused",
        "v6only-v6": "v6-native"}
    assert [item["snapshot"] for item in record.values()] == [0, 1, 2, 2]
    dual = verdicts.listeners[record["dual"]["listener"]]
    later = verdicts.listeners[record["v6only-v6"]["listener"]]
    assert dual.pid != later.pid and dual.snapshots == [0] and later.snapshots == [2]
    assert (dual.knowledge.accepts_ipv4, later.knowledge.accepts_ipv4) == (True, False)
    assert later.ipv4_refused == [by_port[seen["v6only-v4"][1]]]
    assert "no socket listens" in record["gone"]["reason"]

    only_last = verify(flows, snapshots[2:], tolerance_s=0.0)
    early = only_last.flow_record(by_port[seen["dual"][1]])
    assert (early["class"], early["snapshot"]) == ("unmatched", None)
    assert "no snapshot" in early["reason"]
    generous = verify(flows, snapshots[2:], tolerance_s=3600.0)
    assert generous.flow_record(by_port[seen["dual"][1]])["snapshot"] == 0
    json.dumps(verdicts.to_dict())  # JSON-able all the way down
