"""Synthetic traffic made with Scapy: a scenario library with ground truth, and big captures.

- `analyzer.synth.scenarios`: named scenarios (``dualstack synth --list``), each a host's
  snapshots, its traffic and the verdicts the analyzer must reach (`truth`).
- `analyzer.synth.packets`: the conversations (handshakes, refusals, retransmitted SYNs,
  UDP answers, ICMP port unreachable, FIN teardown) and the link layers around them.
- `analyzer.synth.writer`: a scenario to ``capture.pcap[ng]``, ``snapshots.jsonl`` and
  ``truth.json``.
- `analyzer.synth.bulk`: captures of millions of packets for benchmarks (`write_bulk`).

Scapy is imported only by these modules (the ``synth`` extra), never by the reader.
"""
