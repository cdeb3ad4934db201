"""The `dualstack` dispatcher: help lists every command; a run imports only its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analyzer import cli

DEMO = Path(__file__).resolve().parents[1] / "captures" / "demo"


def test_help_lists_every_command(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)


def test_a_run_imports_only_its_own_command():
    """`snapshot show` must not pay for pyarrow, Dask or Scapy at start-up."""
    code = (
        "import sys\n"
        "from analyzer import cli\n"
        f"assert cli.main(['snapshot', 'show', {str(DEMO / 'netstat-tlnp.txt')!r}]) == 0\n"
        "heavy = {'pyarrow', 'dask', 'scapy', 'analyzer.commands.batch'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_python_dash_m_is_the_same_command():
    done = subprocess.run([sys.executable, "-m", "analyzer", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "dualstack" in done.stdout


def test_unknown_command_is_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "analyzer", "nonsense"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "invalid choice" in done.stderr


@pytest.mark.parametrize("command", ["verify", "batch"])
def test_negative_tolerance_is_a_usage_error(command, tmp_path, capsys):
    argv = {"verify": ["verify", str(DEMO / "demo.pcap"), "--snapshot",
                       str(DEMO / "netstat-tlnp.txt"), "--tolerance", "-1"],
            "batch": ["batch", str(DEMO / "demo.pcap"), "--snapshots",
                      str(DEMO / "netstat-tlnp.txt"), "-o", str(tmp_path / "out"),
                      "--tolerance", "-1"]}[command]
    assert cli.main(argv) == 2
    assert "--tolerance must not be negative" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
