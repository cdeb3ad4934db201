"""The lab itself: namespaces are made, reachable over both families, and removed."""

import subprocess

import pytest
from netlab import Lab


@pytest.mark.netns
def test_lab_hosts_reach_each_other_and_are_removed():
    with Lab("selftest") as lab:
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert lab.server.netns in names and lab.client.netns in names
        for addr in (lab.server.addr4, lab.server.addr6):
            lab.client.run(["ping", "-c", "1", "-W", "2", addr])
        sleeper = lab.server.popen(["sleep", "60"])
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert lab.server.netns not in names and lab.client.netns not in names
    assert sleeper.poll() is not None
