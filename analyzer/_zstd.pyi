"""Type stub of the libzstd decoder (ext/zstd.pyx)."""

from typing import Final

import numpy as np

AVAILABLE: Final[bool]

class Decoder:
    def __init__(self, source: memoryview | np.ndarray | bytes) -> None: ...
    @property
    def consumed(self) -> int: ...
    def readinto1(self, target: memoryview | np.ndarray | bytearray) -> int: ...
