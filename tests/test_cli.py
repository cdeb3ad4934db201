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


# ------------------------------------------------- outputs that cannot be written

FULL = Path("/dev/full")   # every write fails with ENOSPC
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")


def run_to_full_stdout(*args: str) -> subprocess.CompletedProcess[str]:
    with FULL.open("w") as full:
        return subprocess.run([sys.executable, "-m", "analyzer", *args], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)


@needs_dev_full
@pytest.mark.parametrize("output_format", ["csv", "parquet"])
def test_flows_to_a_full_disk_is_one_line_naming_the_file(output_format, capsys):
    code = cli.main(["flows", str(DEMO / "demo.pcap"), "--format", output_format,
                     "-o", str(FULL)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"dualstack flows: cannot write {FULL}: No space left on device; "
                   "the output is incomplete\n")


@needs_dev_full
@pytest.mark.parametrize("args", [
    ["packets", str(DEMO / "demo.pcap")],
    ["stats", str(DEMO / "demo.pcap")],
    ["flows", str(DEMO / "demo.pcap"), "--format", "jsonl"],
    ["verify", str(DEMO / "demo.pcap"), "--snapshot", str(DEMO / "netstat-antp.txt")],
    ["snapshot", "import", str(DEMO / "netstat-antp.txt")],
])
def test_standard_output_on_a_full_disk_is_one_line(args):
    """No traceback, for any command, also none when the interpreter flushes at exit."""
    result = run_to_full_stdout(*args)
    assert result.returncode == 2, result.stderr
    assert "No space left on device" in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 300 KiB tmpfs (needs root); unmounted at the end."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_batch_on_a_full_file_system_stops_with_one_line(tiny_filesystem, tmp_path):
    from analyzer.synth.bulk import write_bulk

    capture = tmp_path / "big.pcap"
    write_bulk(capture, 40_000, 20_000, small=True, seed=2, concurrency=200)  # ~3 MB of flows
    result = subprocess.run(
        [sys.executable, "-m", "analyzer", "batch", str(capture), "--snapshots",
         str(DEMO / "netstat-antp.txt"), "-o", str(tiny_filesystem / "out"), "--workers", "1"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]
    assert last == "dualstack batch: No space left on device", result.stderr
    assert "Traceback" not in result.stderr
