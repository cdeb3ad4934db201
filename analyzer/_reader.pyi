"""Type stub of the Cython capture parser (ext/reader.pyx)."""

from typing import Any, Final

import numpy as np

FORMAT_PCAP: Final[int]
FORMAT_PCAPNG: Final[int]
RESULT_BATCH_FULL: Final[int]
RESULT_END: Final[int]
RESULT_NEED_MORE: Final[int]
RESULT_ERROR: Final[int]
MAX_RECORD_BYTES: Final[int]
PACKET_RECORD_SIZE: Final[int]
SUPPORTED_LINKTYPES: Final[tuple[int, ...]]
STATUS_NAMES: Final[tuple[str, ...]]

class Parser:
    def __init__(self, fmt: int) -> None: ...
    def bind(self, columns: dict[str, np.ndarray], rows: int) -> None: ...
    def bind_records(self, records: np.ndarray) -> None: ...
    def take_tally(self) -> dict[str, Any]: ...
    def run(self, window: memoryview | np.ndarray | bytes, pos: int, base: int,
            row: int) -> tuple[int, int, int]: ...
    def resync(self, window: memoryview | np.ndarray | bytes, pos: int) -> int: ...
    def error(self) -> tuple[int, int, int, int]: ...
    def interfaces(self) -> list[tuple[int, int]]: ...
