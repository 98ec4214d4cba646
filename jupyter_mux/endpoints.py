"""Provider endpoints: what makes one usable, and what makes two the same origin.

An endpoint is checked with the parsers a request to it goes through (httpx builds the
request, aiohttp's yarl re-parses its URL, the resolver IDNA-encodes its host), so a value
that passes here can be routed; one that only passed `urlsplit` used to be stored and then
break every routing-table rebuild.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx
import yarl

DEFAULT_PORTS = {"http": 80, "https": 443}


def check_endpoint(value: str) -> str:
    """The endpoint as stored (trimmed, no trailing slash); ValueError says what is wrong."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; use api_key instead")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ValueError("has a malformed port") from exc
    value = value.rstrip("/")
    try:
        url = httpx.URL(value)
        yarl.URL(str(url))
        _check_host(url.raw_host.decode("ascii"))
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValueError(f"is not a URL the mux can send requests to ({exc})") from None
    return value


def _check_host(host: str) -> None:
    """Resolving a name IDNA-encodes it, which refuses empty or over-long labels."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return
    except ValueError:
        pass
    try:
        host.encode("idna")
    except UnicodeError:
        raise ValueError(f"host {host!r} is not a valid name") from None


def origin(endpoint: str) -> tuple[str, str, int | None]:
    """Scheme, host and port: where a key sent to this endpoint ends up."""
    try:
        url = httpx.URL(endpoint)
    except httpx.InvalidURL:
        return ("", endpoint, None)
    return (url.scheme, url.host.lower(), url.port or DEFAULT_PORTS.get(url.scheme))
