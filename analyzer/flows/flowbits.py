"""Names for the bit fields the Cython flow table reports per flow and per direction."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from analyzer._flowtable import FLAG_BITS, SENT_BITS

# per flow (raw column "flow_flags")
MIDSTREAM: Final[int] = FLAG_BITS["midstream"]
GUESSED: Final[int] = FLAG_BITS["guessed"]
CLOSED: Final[int] = FLAG_BITS["closed"]
ICMP_UNREACH: Final[int] = FLAG_BITS["icmp_unreach"]
FIRST_SYNACK: Final[int] = FLAG_BITS["first_synack"]

# per direction (raw columns "sent_c2s", "sent_s2c")
SYN: Final[int] = SENT_BITS["syn"]
SYNACK: Final[int] = SENT_BITS["synack"]
FIN: Final[int] = SENT_BITS["fin"]
RST: Final[int] = SENT_BITS["rst"]
DATA: Final[int] = SENT_BITS["data"]
PURE_ACK: Final[int] = SENT_BITS["pure_ack"]
FIRST_SYN: Final[int] = SENT_BITS["first_syn"]

TCP: Final[int] = 6
UDP: Final[int] = 17
TH_ACK: Final[int] = 0x10


def has(bits: npt.NDArray[np.uint8], mask: int) -> npt.NDArray[np.bool_]:
    """Where any bit of `mask` is set."""
    return np.asarray((bits & mask) != 0)
