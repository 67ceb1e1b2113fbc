"""DigestAuthMiddleware (RFC 7616) — placeholder until the digest implementation lands."""

from __future__ import annotations

__all__ = ("DigestAuthMiddleware",)


class DigestAuthMiddleware:
    """HTTP Digest authentication as a client middleware (not implemented yet)."""

    def __init__(self, login: str, password: str, *, preemptive: bool = True) -> None:
        raise NotImplementedError("DigestAuthMiddleware is not implemented yet")
