"""Type stub of the libzstd decoder (ext/zstd.pyx)."""

from typing import Final

import numpy as np

AVAILABLE: Final[bool]

Buffer = memoryview | np.ndarray | bytes | bytearray

class Decoder:
    frame_open: bool
    consumed: int
    def __init__(self) -> None: ...
    def decode(self, source: Buffer, pos: int, target: Buffer) -> tuple[int, int]: ...
