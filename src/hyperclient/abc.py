"""Abstract interfaces users may implement: cookie jars and resolvers."""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from http.cookies import BaseCookie, Morsel
from typing import Any, TypedDict, Union

from yarl import URL

__all__ = ("AbstractCookieJar", "AbstractResolver", "ClearCookiePredicate", "ResolveResult")


class ResolveResult(TypedDict):
    """One resolved address, in the shape ``loop.getaddrinfo`` results are turned into."""

    hostname: str
    host: str
    port: int
    family: int
    proto: int
    flags: int


class AbstractResolver(ABC):
    """Turns a host name into addresses to connect to."""

    @abstractmethod
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Addresses for *host*; raises OSError when the name does not resolve."""

    @abstractmethod
    async def close(self) -> None:
        """Release whatever the resolver holds."""


ClearCookiePredicate = Callable[["Morsel[str]"], bool]
LooseCookies = Union[
    Iterable[tuple[str, Union[str, "BaseCookie[str]", "Morsel[Any]"]]],
    Mapping[str, Union[str, "BaseCookie[str]", "Morsel[Any]"]],
    "BaseCookie[str]",
]


class AbstractCookieJar(Sized, Iterable["Morsel[str]"], ABC):
    """Stores cookies from responses and picks the ones to send with requests."""

    @property
    @abstractmethod
    def quote_cookie(self) -> bool:
        """Whether values are quoted when sent (RFC 2109 style)."""

    @abstractmethod
    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        """Remove every cookie, or those for which *predicate* is true."""

    @abstractmethod
    def clear_domain(self, domain: str) -> None:
        """Remove the cookies of *domain* and its subdomains."""

    @abstractmethod
    def update_cookies(self, cookies: LooseCookies, response_url: URL | None = None) -> None:
        """Store cookies set by a response from *response_url*."""

    @abstractmethod
    def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
        """The cookies to send with a request to *request_url*."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __iter__(self) -> Iterator[Morsel[str]]: ...
