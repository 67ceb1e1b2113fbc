"""Sans-IO HTTP/1.1: the response parser (llhttp through httptools) and the request writer."""

from typing import Final, NamedTuple


class HttpVersion(NamedTuple):
    major: int
    minor: int


HttpVersion10: Final = HttpVersion(1, 0)
HttpVersion11: Final = HttpVersion(1, 1)

__all__ = ("HttpVersion", "HttpVersion10", "HttpVersion11")
