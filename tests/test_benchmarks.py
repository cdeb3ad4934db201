"""The benchmark suite on tiny captures: it runs, and every tool finds the same flows.

The flow fingerprint (count, packets, FNV sum over each flow's canonical key and
per-direction packets) of the C reference loop, dpkt, the pure-Python loop, tshark's
conversations and our read_flows must be equal, and equal to the flows the bulk writer
was asked for.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import datasets, machine, ours, peers, run  # noqa: E402
from benchmarks.datagen import CaptureSpec  # noqa: E402

TINY = CaptureSpec(6000, 400, small=False, concurrency=60, seed=11)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny bulk capture and the compiled C loop."""
    data = tmp_path_factory.mktemp("bench")
    path = datasets.ensure(data, {"tiny": TINY}, ["tiny"])["tiny"].path
    return path, machine.compile_c_loop(data)


def c_loop_summary(binary: Path, path: Path) -> dict[str, object]:
    out = subprocess.run([str(binary), str(path)], capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    return {k: found[k] for k in ("flows", "flow_packets", "checksum")}


def test_c_loop_counts_every_packet_and_flow(tiny):
    path, binary = tiny
    out = json.loads(subprocess.run([str(binary), str(path)], capture_output=True, text=True,
                                    check=True).stdout)
    assert out["packets"] == TINY.packets
    assert out["flow_packets"] == TINY.packets
    assert out["flows"] == TINY.flows


@pytest.mark.parametrize("tool", ["dpkt", "pure_python"])
def test_peer_flows_equal_c_loop(tiny, tool):
    path, binary = tiny
    result = getattr(peers, f"{tool}_flows")(path)
    assert result.packets == TINY.packets
    assert result.summary().as_dict() == c_loop_summary(binary, path)


def test_scapy_subset_equals_pure_python_subset(tiny):
    path, _ = tiny
    assert (peers.scapy_flows(path, 700).summary()
            == peers.pure_python_flows(path, 700).summary())


@pytest.mark.skipif(peers.TSHARK is None, reason="tshark not installed")
def test_tshark_conversations_equal_c_loop(tiny):
    path, binary = tiny
    out = subprocess.run(peers.tshark_command(path), capture_output=True, text=True, check=True)
    assert peers.parse_tshark_conv(out.stdout).as_dict() == c_loop_summary(binary, path)


def test_our_flows_equal_c_loop(tiny):
    path, binary = tiny
    summary = ours.summarize_flow_columns(ours.read_flow_columns(path))
    assert summary.as_dict() == c_loop_summary(binary, path)


def test_c_loop_rejects_a_file_that_is_not_a_pcap(tmp_path, tiny):
    _, binary = tiny
    bogus = tmp_path / "x.pcap"
    bogus.write_bytes(b"not a capture at all, just text....")
    proc = subprocess.run([str(binary), str(bogus)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "not a classic pcap" in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_suite_runs_and_all_tools_agree(tmp_path):
    status = run.main(["--scale", "2000", "--data", str(tmp_path / "data"), "--runs", "1",
                       "--slow-runs", "1", "--no-history", "--results", str(tmp_path)])
    report = json.loads((tmp_path / "latest.json").read_text())
    for name, rows in report["results"].items():
        assert [r["error"] for r in rows] == [""] * len(rows), name
        c_loop = rows[0]
        assert c_loop["flows"] == report["datasets"][name]["flows"]
        for row in rows[1:]:
            assert row["median_s"] > 0
            assert len(row["paired_c_loop_s"]) == len(row["runs_s"])   # a C run before each
            if "checksum" in row and "extrapolated" not in row["note"]:
                assert row["checksum"] == c_loop["checksum"], row["tool"]
    assert {"C loop", "ours: reader + flows", "dpkt", "pure Python"} <= {
        r["tool"].split(" (")[0] for r in report["results"]["mixed"]}
    memory = report["memory"]
    assert memory["ten_x"]["runs"]["mem_10x"]["flows_ok"]
    assert memory["concurrent"]["runs"]["flows"]["flows_ok"]
    assert memory["zstd"]["same_flows"]
    assert status == 0


def test_memory_is_watched_in_a_run_of_its_own_that_is_not_timed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sampling /proc takes CPU a two-thread tool would lose: with several runs the watched
    run is one more, untimed; the timed runs (each after a C loop run) are not watched."""
    counter = tmp_path / "count"
    counter.write_text("0")
    script = ("import json, pathlib, sys; p = pathlib.Path(sys.argv[1]); n = int(p.read_text())"
              " + 1; p.write_text(str(n)); print(json.dumps({'seconds': float(n)}))")
    tool = run.Tool("numbered", lambda ds, tmp: [sys.executable, "-c", script, str(counter)],
                    lambda proc, tmp: json.loads(proc.stdout), compare=())
    c_loop = run.Tool("c", lambda ds, tmp: [sys.executable, "-c", "print('{\"seconds\": 0.5}')"],
                      lambda proc, tmp: json.loads(proc.stdout), compare=())
    watched: list[bool] = []
    real = run.run_process

    def recording(argv: list[str], **kw: object) -> object:
        if str(counter) in argv:
            watched.append(bool(kw.get("sample", True)))
        return real(argv, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(run, "run_process", recording)
    (tmp_path / "empty.pcap").write_bytes(b"")
    ds = datasets.Dataset("numbered", tmp_path / "empty.pcap", CaptureSpec(1, 1, small=True))
    res = run.run_tool(tool, ds, 3, None, c_loop)
    assert watched == [True, False, False, False]
    assert res.seconds == [2.0, 3.0, 4.0]          # run 1 (watched) is not among them
    assert len(res.paired_c_seconds) == 3
    once = run.run_tool(tool, ds, 1, None, c_loop)
    assert watched[4:] == [True] and once.seconds == [5.0]
