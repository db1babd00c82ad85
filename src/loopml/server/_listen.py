"""Where the server may listen: loopback always; any other address only with authentication on."""

from __future__ import annotations

import ipaddress

from loopml.errors import InvalidInput

__all__ = ["check_bind"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, auth_enabled: bool) -> None:
    """Refuse a non-loopback ``host`` unless authentication is enabled.

    Raises:
        InvalidInput: naming the host and what to do.

    Example:
        >>> check_bind("127.0.0.1", auth_enabled=False)
    """
    if not auth_enabled and not is_loopback(host):
        raise InvalidInput(
            f"Refusing to listen on {host!r} without authentication: anyone who can reach it could read "
            "and change every run and model. Enable auth (drop --no-auth; create an admin with "
            "`loopml server init`) or bind to 127.0.0.1."
        )
