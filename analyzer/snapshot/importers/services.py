"""Service names that netstat, ss and lsof print instead of port numbers without -n/-P.

A built-in table of the common IANA names first: the text comes from another host,
so this host's /etc/services (present or not, edited or not) should not decide the
usual ports. Names not in the table fall back to `socket.getservbyname` (this host's
services database); a name neither knows is an error that asks for numeric output.
"""

from __future__ import annotations

import socket

_BOTH: dict[str, int] = {
    "echo": 7, "discard": 9, "daytime": 13, "ftp-data": 20, "ftp": 21, "ssh": 22,
    "telnet": 23, "smtp": 25, "time": 37, "domain": 53, "gopher": 70, "finger": 79,
    "http": 80, "www": 80, "kerberos": 88, "pop3": 110, "sunrpc": 111, "auth": 113,
    "nntp": 119, "ntp": 123, "epmap": 135, "netbios-ns": 137, "netbios-dgm": 138,
    "netbios-ssn": 139, "imap2": 143, "imap": 143, "snmp": 161, "snmp-trap": 162,
    "bgp": 179, "irc": 194, "ldap": 389, "https": 443, "microsoft-ds": 445, "kpasswd": 464,
    "submissions": 465, "urd": 465, "isakmp": 500, "rtsp": 554, "submission": 587,
    "ipp": 631, "ldaps": 636, "rsync": 873, "ftps-data": 989, "ftps": 990, "imaps": 993,
    "pop3s": 995, "socks": 1080, "openvpn": 1194, "ms-sql-s": 1433, "ms-sql-m": 1434,
    "l2tp": 1701, "pptp": 1723, "radius": 1812, "radius-acct": 1813, "nfs": 2049,
    "mysql": 3306, "ms-wbt-server": 3389, "sip": 5060, "sip-tls": 5061,
    "xmpp-client": 5222, "postgresql": 5432, "x11": 6000, "http-alt": 8080,
    "webcache": 8080, "mdns": 5353, "llmnr": 5355, "redis": 6379, "git": 9418,
    "memcache": 11211,
}
_UDP_ONLY: dict[str, int] = {
    "bootps": 67, "bootpc": 68, "tftp": 69, "syslog": 514, "route": 520, "ntalk": 518,
    "ssdp": 1900, "ipsec-nat-t": 4500,
}
_TCP_ONLY: dict[str, int] = {
    "shell": 514, "login": 513, "exec": 512, "printer": 515, "uucp": 540,
    "smtps": 465, "iso-tsap": 102, "ircs-u": 6697,
}


def port_number(name: str, proto: str) -> int | None:
    """The port of a service name for tcp or udp, or None if the table has no such name."""
    specific = _UDP_ONLY if proto == "udp" else _TCP_ONLY
    number = specific.get(name, _BOTH.get(name))
    if number is not None:
        return number
    try:
        return socket.getservbyname(name, proto)
    except OSError:
        return None
