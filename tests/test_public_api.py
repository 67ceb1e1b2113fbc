"""Every name the contract documents is importable from ``hyperclient`` and listed in __all__.

The names are read from the spec itself (not copied into this file), so a name added to the
reference is checked without touching the test.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import hyperclient

SPEC_DIR = (Path(__file__).resolve().parents[1] / ".." / "shared" / "spec").resolve()

# Top-level directives only: methods and attributes are indented under their class.
_DIRECTIVE = re.compile(r"^\.\. (?:py:)?(?:class|exception|function|type):: +([A-Za-z_]\w*)", re.M)
_BACKTICKED = re.compile(r"`([A-Za-z_][\w.]*)`")
_EXC_ROLE = re.compile(r":exc:`~?(?:aiohttp\.)?([A-Za-z_]\w*)`")


def _spec(name: str) -> str:
    path = SPEC_DIR / name
    if not path.is_file():
        pytest.fail(f"the spec file {path} is missing: these tests read the names from it")
    return path.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """The body of a markdown ``## heading`` section."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if match is None:
        pytest.fail(f"SUPPLEMENT.md has no section {heading!r}")
    return match.group(1)


@cache
def reference_names() -> tuple[str, ...]:
    text = _spec("client_reference.rst")
    names = set(_DIRECTIVE.findall(text))
    hierarchy = text.split("Hierarchy of exceptions", 1)[1].split("Client Types", 1)[0]
    names.update(_EXC_ROLE.findall(hierarchy))
    return tuple(sorted(names))


@cache
def supplement_names() -> tuple[str, ...]:
    """Names from "Names that the reference uses without defining them" (``payload.Payload``
    stays dotted: it lives in a submodule)."""
    text = _section(_spec("SUPPLEMENT.md"), "Names that the reference uses without defining them")
    return tuple(sorted(set(_BACKTICKED.findall(text))))


@cache
def tracing_names() -> tuple[str, ...]:
    text = _section(_spec("SUPPLEMENT.md"), "Tracing (`TraceConfig`)")
    rows = re.findall(r"^\| on_\w+ \| (\w+) \|", text, re.M)
    return tuple(sorted({*rows, "TraceConfig"}))


WEBSOCKET_NAMES = ("WSCloseCode", "WSMessage", "WSMsgType")
# Named only in the reference's and supplement's prose (``aiohttp.DefaultResolver`` by default...).
PROSE_NAMES = ("AsyncResolver", "DefaultResolver", "ThreadedResolver")


def _top_level(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if "." not in n]


def test_spec_parsing_finds_the_documented_names() -> None:
    # Guards the parsers themselves: an empty list would make every check below vacuous.
    assert {"ClientSession", "TCPConnector", "request", "ClientMiddlewareType"} <= set(
        reference_names()
    )
    assert "ClientHttpProxyError" in reference_names()
    assert {"HttpVersion", "hdrs", "payload.Payload", "SocketFactoryType"} <= set(
        supplement_names()
    )
    assert {"TraceConfig", "TraceRequestStartParams", "TraceDnsCacheMissParams"} <= set(
        tracing_names()
    )
    assert len(tracing_names()) == 17


@pytest.mark.parametrize("name", reference_names())
def test_reference_name_is_exported(name: str) -> None:
    assert hasattr(hyperclient, name), f"hyperclient.{name} is missing"
    assert name in hyperclient.__all__, f"{name} is not in hyperclient.__all__"


@pytest.mark.parametrize("name", _top_level(supplement_names()))
def test_supplement_name_is_exported(name: str) -> None:
    assert hasattr(hyperclient, name), f"hyperclient.{name} is missing"
    assert name in hyperclient.__all__, f"{name} is not in hyperclient.__all__"


@pytest.mark.parametrize("dotted", [n for n in supplement_names() if "." in n])
def test_supplement_dotted_name_resolves(dotted: str) -> None:
    module, attribute = dotted.rsplit(".", 1)
    assert hasattr(importlib.import_module(f"hyperclient.{module}"), attribute)


@pytest.mark.parametrize("name", tracing_names() + WEBSOCKET_NAMES + PROSE_NAMES)
def test_tracing_websocket_and_resolver_names_are_exported(name: str) -> None:
    assert hasattr(hyperclient, name), f"hyperclient.{name} is missing"
    assert name in hyperclient.__all__, f"{name} is not in hyperclient.__all__"


def test_all_lists_only_names_that_exist() -> None:
    missing = [name for name in hyperclient.__all__ if not hasattr(hyperclient, name)]
    assert missing == []
    assert len(set(hyperclient.__all__)) == len(hyperclient.__all__)


@pytest.mark.parametrize("module", ["abc", "resolver", "payload", "hdrs"])
def test_documented_submodule_imports(module: str) -> None:
    imported = importlib.import_module(f"hyperclient.{module}")
    assert imported.__name__ == f"hyperclient.{module}"


def test_submodules_hold_their_documented_names() -> None:
    from hyperclient import abc, hdrs, payload, resolver

    assert isinstance(abc.AbstractCookieJar, type)
    assert isinstance(abc.AbstractResolver, type)
    assert isinstance(payload.Payload, type)
    assert resolver.ThreadedResolver is hyperclient.ThreadedResolver
    assert resolver.AsyncResolver is hyperclient.AsyncResolver
    assert resolver.DefaultResolver is hyperclient.DefaultResolver
    assert hdrs.CONTENT_TYPE == "Content-Type"
    assert hyperclient.hdrs is hdrs


def test_http_versions_are_named_tuples() -> None:
    assert hyperclient.HttpVersion11 == (1, 1)
    assert hyperclient.HttpVersion10 == hyperclient.HttpVersion(major=1, minor=0)
    assert (hyperclient.HttpVersion11.major, hyperclient.HttpVersion11.minor) == (1, 1)


def test_exception_hierarchy_matches_the_reference() -> None:
    h = hyperclient
    expected_bases: dict[type, tuple[type, ...]] = {
        h.ClientConnectionError: (h.ClientError,),
        h.ClientConnectionResetError: (h.ClientConnectionError, ConnectionResetError),
        h.ClientOSError: (h.ClientConnectionError, OSError),
        h.ClientConnectorError: (h.ClientOSError,),
        h.ClientProxyConnectionError: (h.ClientConnectorError,),
        h.ClientConnectorDNSError: (h.ClientConnectorError,),
        h.ClientSSLError: (h.ClientConnectorError,),
        h.ClientConnectorCertificateError: (h.ClientSSLError,),
        h.ClientConnectorSSLError: (h.ClientSSLError,),
        h.UnixClientConnectorError: (h.ClientConnectorError,),
        h.ServerConnectionError: (h.ClientConnectionError,),
        h.ServerDisconnectedError: (h.ServerConnectionError,),
        h.ServerFingerprintMismatch: (h.ServerConnectionError,),
        h.ServerTimeoutError: (h.ServerConnectionError,),
        h.ConnectionTimeoutError: (h.ServerTimeoutError,),
        h.SocketTimeoutError: (h.ServerTimeoutError,),
        h.ClientPayloadError: (h.ClientError,),
        h.ClientResponseError: (h.ClientError,),
        h.ClientHttpProxyError: (h.ClientResponseError,),
        h.ContentTypeError: (h.ClientResponseError,),
        h.TooManyRedirects: (h.ClientResponseError,),
        h.WSServerHandshakeError: (h.ClientResponseError,),
        h.InvalidURL: (h.ClientError, ValueError),
        h.InvalidUrlClientError: (h.InvalidURL,),
        h.InvalidUrlRedirectClientError: (h.InvalidUrlClientError, h.RedirectClientError),
        h.NonHttpUrlClientError: (h.ClientError,),
        h.NonHttpUrlRedirectClientError: (h.NonHttpUrlClientError, h.RedirectClientError),
        h.RedirectClientError: (h.ClientError,),
        h.WSMessageTypeError: (TypeError,),
    }
    wrong = [
        cls.__name__
        for cls, bases in expected_bases.items()
        if not all(issubclass(cls, base) for base in bases)
    ]
    assert wrong == []
    assert issubclass(h.ServerTimeoutError, asyncio.TimeoutError)


# -- documented signatures -----------------------------------------------------------------------

# The callables of issue 2 whose parameters the reference lists; later issues' classes
# (WebSocket, cookies, auth) are checked by their own tests.
SIGNATURES_CHECKED = (
    "ClientSession",
    "ClientSession.request",
    "ClientSession.get",
    "ClientSession.post",
    "ClientSession.put",
    "ClientSession.patch",
    "ClientSession.delete",
    "ClientSession.head",
    "ClientSession.options",
    "request",
    "BaseConnector",
    "TCPConnector",
    "TCPConnector.clear_dns_cache",
    "UnixConnector",
    "ClientResponse.text",
    "ClientResponse.json",
    "ClientRequest.update_body",
    "ClientTimeout",
    "FormData",
    "FormData.add_field",
    "FormData.add_fields",
    "set_zlib_backend",
)

_SIGNATURE = re.compile(
    r"^( *)\.\. (?:py:)?(class|function|method|classmethod):: +(\w+)\((.*)\)\s*$"
)
_TOP_LEVEL_CLASS = re.compile(r"^\.\. (?:py:)?class:: +(\w+)")


@cache
def documented_signatures() -> dict[str, list[str]]:
    """Qualified name → documented parameter names (``**kwargs`` kept as ``**``)."""
    text = re.sub(r"\\\n\s*", "", _spec("client_reference.rst"))  # join continued lines
    signatures: dict[str, list[str]] = {}
    owner = ""
    for line in text.splitlines():
        if line.startswith(".. "):
            top = _TOP_LEVEL_CLASS.match(line)
            owner = top.group(1) if top else ""
        match = _SIGNATURE.match(line)
        if match is None:
            continue
        indent, _kind, name, params = match.groups()
        qualified = f"{owner}.{name}" if indent else name
        names = []
        for param in params.split(","):
            param = param.strip().split("=")[0].strip()
            if param.startswith("**"):
                names.append("**")
            elif param.isidentifier() and param != "self":
                names.append(param)
        signatures[qualified] = names
    return signatures


def _resolve(qualified: str) -> Any:
    target: Any = hyperclient
    for part in qualified.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize("qualified", SIGNATURES_CHECKED)
def test_documented_parameters_are_accepted(qualified: str) -> None:
    documented = documented_signatures().get(qualified)
    assert documented is not None, f"the reference has no signature for {qualified}"
    parameters = inspect.signature(_resolve(qualified)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        # Forwarded keyword arguments cannot be checked here; the integration tests use them.
        documented = [name for name in documented if name == "**"]
    missing = [name for name in documented if name != "**" and name not in parameters]
    assert missing == [], f"{qualified} lacks documented parameters {missing}"
