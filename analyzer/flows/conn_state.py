"""Zeek's conn_state, computed the way Zeek's base/protocols/conn/main.zeek documents it.

Zeek derives conn_state from each endpoint's TCP state at the end of the connection
(INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET). We rebuild those
states from what each side sent (SYN, SYN-ACK, FIN, RST, bare ACK, data): RST wins over
FIN, FIN over the handshake states; a side that sent packets without a SYN is PARTIAL.

    S0 attempt, no reply        S1 established, not closed   SF normal close
    REJ attempt rejected        S2/S3 close by orig/resp only, no reply
    RSTO/RSTR orig/resp reset   RSTOS0 orig SYN then RST, no SYN-ACK
    RSTRH resp SYN-ACK then RST, no SYN seen   SH orig SYN then FIN, no SYN-ACK
    SHR resp SYN-ACK then FIN, no SYN seen     OTH midstream, none of the above
UDP: SF both sides sent, S0 only the originator, SHR only the responder.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from analyzer.flows import flowbits as fb


class Endpoint(IntEnum):
    INACTIVE = 0
    SYN_SENT = 1
    SYN_ACK_SENT = 2
    PARTIAL = 3
    ESTABLISHED = 4
    CLOSED = 5
    RESET = 6


STATES = ("S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR",
          "OTH")
STATE_TEXT = np.array(STATES, dtype="<U6")


def conn_states(raw: Mapping[str, np.ndarray]) -> npt.NDArray[np.str_]:
    """Zeek's conn_state per flow. The rules pick codes (indices into STATES), looked up
    as text once: np.select over text would copy a text array per rule."""
    tcp = raw["proto"] == fb.TCP
    return STATE_TEXT[np.where(tcp, _tcp_states(raw), _udp_states(raw))]


def _codes(*labels: str) -> list[int]:
    return [STATES.index(label) for label in labels]


def _endpoint_states(raw: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each side's final TCP endpoint state, following Zeek's TCP analyzer: a SYN-ACK
    establishes both sides; an originator whose SYN was missed is established by its ACK
    of a seen SYN-ACK; a responder that only acked the SYN without data stays inactive."""
    so, sr = raw["sent_c2s"], raw["sent_s2c"]
    synack_seen = fb.has(sr, fb.SYNACK)
    orig_acked = fb.has(raw["tcp_flags_c2s"], fb.TH_ACK)
    handshake_o = np.select(
        [fb.has(so, fb.SYN) & synack_seen, fb.has(so, fb.SYN), fb.has(so, fb.SYNACK),
         synack_seen & orig_acked],
        [Endpoint.ESTABLISHED, Endpoint.SYN_SENT, Endpoint.SYN_ACK_SENT, Endpoint.ESTABLISHED],
        default=Endpoint.PARTIAL,
    )
    only_acked_syn = fb.has(so, fb.SYN) & ~fb.has(sr, fb.DATA)
    handshake_r = np.select(
        [synack_seen, fb.has(sr, fb.SYN), only_acked_syn],
        [Endpoint.ESTABLISHED, Endpoint.SYN_SENT, Endpoint.INACTIVE],
        default=Endpoint.PARTIAL,
    )
    os_ = _closing(so, raw["packets_c2s"], handshake_o)
    rs = _closing(sr, raw["packets_s2c"], handshake_r)
    return os_, rs


def _closing(sent: np.ndarray, packets: np.ndarray, handshake: np.ndarray) -> np.ndarray:
    return np.select(
        [fb.has(sent, fb.RST), fb.has(sent, fb.FIN), packets == 0],
        [Endpoint.RESET, Endpoint.CLOSED, Endpoint.INACTIVE],
        default=handshake,
    )


def _tcp_states(raw: Mapping[str, np.ndarray]) -> npt.NDArray[np.intp]:
    os_, rs = _endpoint_states(raw)
    so = raw["sent_c2s"]
    o_inactive = (os_ == Endpoint.INACTIVE) | (os_ == Endpoint.PARTIAL)
    r_inactive = (rs == Endpoint.INACTIVE) | (rs == Endpoint.PARTIAL)
    no_payload = (raw["payload_bytes_c2s"] == 0) & (raw["payload_bytes_s2c"] == 0)
    r_reset, o_reset = rs == Endpoint.RESET, os_ == Endpoint.RESET
    o_closed, r_closed = os_ == Endpoint.CLOSED, rs == Endpoint.CLOSED
    # Zeek's history test /^?S[^HAFGIQ]*R/: the originator's first packet a SYN, then
    # no SYN-ACK, bare ACK or FIN from it before its RST
    syn_then_rst = fb.has(so, fb.FIRST_SYN) & ~fb.has(so, fb.SYNACK | fb.PURE_ACK | fb.FIN)
    rej = (os_ == Endpoint.SYN_SENT) | (os_ == Endpoint.SYN_ACK_SENT) | (o_reset & no_payload)
    conditions = [
        r_reset & rej,
        r_reset & o_inactive,
        r_reset,
        o_reset & r_inactive & syn_then_rst,
        o_reset & r_inactive,
        o_reset,
        o_closed & r_closed,
        o_closed & r_inactive,
        o_closed,
        r_closed & o_inactive,
        r_closed,
        (os_ == Endpoint.SYN_SENT) & (rs == Endpoint.INACTIVE),
        (os_ == Endpoint.ESTABLISHED) & (rs == Endpoint.ESTABLISHED),
    ]
    labels = _codes("REJ", "RSTRH", "RSTR", "RSTOS0", "OTH", "RSTO", "SF", "SH", "S2", "SHR",
                    "S3", "S0", "S1")
    return np.select(conditions, labels, default=STATES.index("OTH"))


def _udp_states(raw: Mapping[str, np.ndarray]) -> npt.NDArray[np.intp]:
    orig, resp = raw["packets_c2s"] > 0, raw["packets_s2c"] > 0
    return np.select([orig & resp, orig, resp], _codes("SF", "S0", "SHR"),
                     default=STATES.index("OTH"))
