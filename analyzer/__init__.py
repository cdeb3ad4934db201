"""dualstack-analyzer: which connections really reached an IPv6 listener over IPv4?

Data flows through the subpackages in this order:

    capture/   file bytes -> packet batches   (Cython core: analyzer._reader)
    flows/     packet batches -> flows        (Cython core: analyzer._flowtable)
    snapshot/  hosts' listening sockets (collector and text importers)
    verdict/   flows + snapshots -> per-flow classes and per-listener verdicts
    archive/   the same over directories of captures, locally or on Dask
    synth/     synthetic traffic with ground truth (Scapy)
"""

__version__ = "0.1.0"
