"""Synthetic traffic made with Scapy: a scenario library with ground truth, and big captures.

- `analyzer.synth.scenarios`: named scenarios (``dualstack synth --list``), each a host's
  snapshots, its traffic and the verdicts the analyzer must reach.
- `analyzer.synth.traffic`: the builder scenarios fill (clients, conversations, snapshots,
  the truth of each flow and listener), deterministic from the seed.
- `analyzer.synth.packets`: the conversations (handshakes, refusals, retransmitted SYNs,
  UDP answers, ICMP port unreachable, FIN teardown) and the link layers around them.
- `analyzer.synth.truth`: ``truth.json``; `analyzer.synth.text`: a snapshot as the text of
  netstat or ss; `analyzer.synth.writer`: a scenario to ``capture.pcap[ng]``,
  ``snapshots.jsonl``, ``truth.json`` (and ``snapshot.txt``).
- `analyzer.synth.bulk`: captures of millions of packets for benchmarks (`write_bulk`).

Scapy is imported only by these modules (the ``synth`` extra), never by the reader.
"""
