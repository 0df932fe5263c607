"""Server-side request forgery guard: resolve an outgoing URL's host and refuse addresses inside the network.

Used for webhook subscriptions and per-request callbacks, when the URL is given (so the client hears about it
at once) and again just before every delivery, against the addresses the delivery will connect to (a DNS
answer may change in between: see shared/webhook_sender.py, which connects to the checked address).

Written here rather than taken from a library: the maintained Python packages for this either wrap one HTTP
client we do not use or stop at the `ipaddress` flags, which on Python 3.11 do not see through IPv4-mapped
IPv6 forms (`::ffff:127.0.0.1` is not `is_loopback` before 3.13) nor the IPv6 transition prefixes.
"""
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

# Cloud metadata services. Refused even when private addresses are allowed: no receiver lives there and they
# hand out credentials. (Most are link-local or unique-local anyway; 100.100.100.200 is shared address space.)
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",   # AWS, GCP, Azure, OpenStack, DigitalOcean...
    "169.254.170.2",     # AWS ECS task metadata
    "169.254.169.253",   # AWS DNS resolver
    "100.100.100.200",   # Alibaba Cloud
    "192.0.0.192",       # Oracle Cloud (classic)
    "fd00:ec2::254",     # AWS IMDS over IPv6
    "fd00:ec2::253",
))
METADATA_HOSTNAMES = frozenset({"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"})

# IPv6 prefixes that carry an IPv4 address in their last 32 bits.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class UnsafeURL(Exception):
    """The URL may not be called: its scheme, its form or the address its host resolves to."""

    def __init__(self, message, *, code="unsafe_url"):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the guard, with the addresses its host resolved to (connect to one of these)."""

    url: str
    scheme: str
    host: str          # as written in the URL, without brackets
    port: int
    path: str          # path and query, as sent in the request line
    addresses: tuple   # ipaddress objects, in resolver order

    @property
    def host_header(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def embedded_ipv4(address):
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, Teredo, NAT64), or None."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address (obfuscated form decoded by ipaddress)
    if any(address in network for network in _NAT64) or (
        address in _IPV4_COMPATIBLE and int(address) > 1  # not :: nor ::1, which have their own meaning
    ):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address, *, allow_private=False):
    """Why connecting to this address is refused, or None when it is allowed."""
    address = ipaddress.ip_address(address)
    if address.version == 6 and address.scope_id:
        address = ipaddress.ip_address(str(address).split("%")[0])
    inner = embedded_ipv4(address)
    if inner is not None:
        problem = address_problem(inner, allow_private=allow_private)
        return f"{problem} (as {address})" if problem else None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if allow_private:
        return None
    for flag, words in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    ):
        if getattr(address, flag):
            if flag == "is_private" and address.version == 6 and address in ipaddress.ip_network("fc00::/7"):
                words = "a unique-local address"
            return f"{address} is {words}"
    if address.version == 6 and address.is_site_local:
        return f"{address} is a site-local address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def resolve(host, port):
    """Every address the host resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"The host {host!r} does not resolve ({exc}).", code="unresolvable_host") from None
    seen = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if address not in seen:
            seen.append(address)
    if not seen:
        raise UnsafeURL(f"The host {host!r} has no address.", code="unresolvable_host")
    return tuple(seen)


def check_url(url, *, allow_private=False, allow_http=False, resolver=resolve):
    """Parse, resolve and check an outgoing URL; raises UnsafeURL with a sentence a client can act on.

    Every address the name resolves to must pass (a name answering with one public and one internal address
    is refused: the connection could go to either).
    """
    if not isinstance(url, str) or not url:
        raise UnsafeURL("The URL is empty.", code="invalid_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"The URL is not valid ({exc}).", code="invalid_url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL("The URL must use https.", code="scheme_not_allowed")
    if scheme == "http" and not allow_http:
        raise UnsafeURL("The URL must use https (plain http is not allowed on this server).",
                        code="scheme_not_allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL("The URL has no host.", code="invalid_url")
    if host.lower() in METADATA_HOSTNAMES:
        raise UnsafeURL(f"{host} is a cloud metadata host.", code="address_not_allowed")
    port = port or (443 if scheme == "https" else 80)
    addresses = resolver(host, port)
    for address in addresses:
        problem = address_problem(address, allow_private=allow_private)
        if problem:
            named = "" if str(address) == host else f"{host} resolves to "
            raise UnsafeURL(f"The URL's host is not allowed: {named}{problem}.", code="address_not_allowed")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return CheckedURL(url=url, scheme=scheme, host=host, port=port, path=path, addresses=addresses)


def check_url_from_settings(url):
    from django.conf import settings

    return check_url(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE, allow_http=settings.WEBHOOK_ALLOW_HTTP)
