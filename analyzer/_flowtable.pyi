"""Type stubs for the compiled flow table (ext/flowtable.pyx)."""

from typing import Any, Final

import numpy as np

PACKET_INPUTS: Final[tuple[str, ...]]
RAW_FLOW_COLUMNS: Final[dict[str, tuple[type, tuple[int, ...]]]]
FLAG_BITS: Final[dict[str, int]]
SENT_BITS: Final[dict[str, int]]

class FlowTable:
    tcp_timeout_ns: int
    udp_timeout_ns: int
    linger_ns: int
    packets_in_flows: int
    packets_ignored: int
    icmp_errors_matched: int
    icmp_errors_unmatched: int
    flows_started: int
    peak_live_flows: int
    def __init__(
        self, tcp_timeout_ns: int, udp_timeout_ns: int, linger_ns: int,
        initial_capacity: int = ...,
    ) -> None: ...
    @property
    def live_flows(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def pending_finished(self) -> int: ...
    def update(self, columns: dict[str, np.ndarray[Any, Any]]) -> None: ...
    def update_records(self, records: np.ndarray[Any, Any]) -> None: ...
    def expire(self, now_ns: int) -> None: ...
    def finish_all(self, limit: int = ...) -> int: ...
    def take_finished(self, limit: int = ...) -> dict[str, np.ndarray[Any, Any]]: ...

def format_addresses(
    addrs: np.ndarray[Any, Any], family: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]: ...

def community_id_text(
    proto: np.ndarray[Any, Any], src: np.ndarray[Any, Any], dst: np.ndarray[Any, Any],
    sport: np.ndarray[Any, Any], dport: np.ndarray[Any, Any],
    family: np.ndarray[Any, Any], seed: int = ...,
) -> np.ndarray[Any, Any]: ...

def sha1_hardware(on: bool | None = None) -> bool: ...

def narrow_ascii(
    texts: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None: ...

def stitch_join(
    raw: dict[str, np.ndarray[Any, Any]], keys: np.ndarray[Any, Any],
    file_of: np.ndarray[Any, Any], tcp_ns: int, udp_ns: int, linger_ns: int,
) -> tuple[np.ndarray[Any, Any], int, int]: ...

def flow_key_codes(raw: dict[str, np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]: ...
def distinct_rows(
    rows: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]: ...
