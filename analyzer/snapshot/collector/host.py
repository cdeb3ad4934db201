"""Host facts for a Linux snapshot: addresses from rtnetlink, sysctls from /proc/sys."""

from __future__ import annotations

from pathlib import Path

from pyroute2 import IPRoute  # type: ignore[import-untyped]

from analyzer.snapshot.schema import canonical_address

BINDV6ONLY = "net.ipv6.bindv6only"


def interface_addresses() -> dict[str, list[str]]:
    """{interface name: [address, ...]} from RTM_GETADDR (IPv4 then IPv6, kernel order)."""
    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        result: dict[str, list[str]] = {name: [] for name in names.values()}
        for message in ipr.get_addr():
            address = message.get_attr("IFA_ADDRESS") or message.get_attr("IFA_LOCAL")
            name = names.get(message["index"], str(message["index"]))
            if address:
                result.setdefault(name, []).append(canonical_address(address))
    return result


def read_sysctl(name: str, root: Path = Path("/proc/sys")) -> int | None:
    """An integer sysctl of the current namespace, or None if it is absent (no IPv6)."""
    try:
        return int((root / name.replace(".", "/")).read_text().strip())
    except (OSError, ValueError):
        return None
