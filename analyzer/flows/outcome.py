"""Handshake outcome per flow, from the per-direction bits of the flow table.

TCP: `accepted` (the client's SYN answered by SYN-ACK, or data from the server; a flow
whose first packet is the server's SYN-ACK counts too), `refused` (SYN answered by RST),
`unanswered` (only SYNs, retransmissions included), `midstream` (the client's SYN is not
in the capture). UDP: `answered` (any datagram back), `refused` (an ICMP/ICMPv6 port
unreachable quoted a client datagram), `unanswered`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from analyzer.flows import flowbits as fb

OUTCOMES = ("accepted", "refused", "midstream", "unanswered", "answered")
OUTCOME_TEXT = np.array(OUTCOMES, dtype="<U10")


def outcomes(raw: Mapping[str, np.ndarray]) -> npt.NDArray[np.str_]:
    """The outcome per flow: the rules pick codes (indices into OUTCOMES), looked up as
    text once (np.select over text would copy a text array per rule)."""
    proto, flags, s2c = raw["proto"], raw["flow_flags"], raw["sent_s2c"]
    tcp = proto == fb.TCP
    no_handshake = fb.has(flags, fb.MIDSTREAM) & ~fb.has(flags, fb.FIRST_SYNACK)
    tcp_accepted = ~no_handshake & fb.has(s2c, fb.SYNACK | fb.DATA)
    tcp_refused = ~no_handshake & ~tcp_accepted & fb.has(s2c, fb.RST)
    udp_answered = raw["packets_s2c"] > 0
    udp_refused = ~udp_answered & fb.has(flags, fb.ICMP_UNREACH)
    choices = [
        tcp & tcp_accepted,
        tcp & tcp_refused,
        tcp & no_handshake,
        tcp,
        udp_answered,
        udp_refused,
    ]
    labels = ["accepted", "refused", "midstream", "unanswered", "answered", "refused"]
    codes = np.select(choices, [OUTCOMES.index(label) for label in labels],
                      default=OUTCOMES.index("unanswered"))
    return OUTCOME_TEXT[codes]
