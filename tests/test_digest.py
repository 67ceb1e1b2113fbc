"""DigestAuthMiddleware (RFC 7616): the sans-IO core, then the middleware against real servers.

The integration tests run against ``servers.digest_app`` (an independent server-side
implementation under uvicorn) and, when it can be imported, httpbin's /digest-auth endpoints.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest
from multidict import CIMultiDict
from yarl import URL

import hyperclient
from hyperclient.digest import (
    HAVE_SHA512_256,
    DigestAuthMiddleware,
    DigestChallenge,
    choose_qop,
    digest_authorization,
    parse_www_authenticate,
    select_challenge,
)
from servers import LiveServer, TestApp
from servers.digest_app import DigestApp, DigestConfig, parse_authorization, server_hash

needs_sha512_256 = pytest.mark.skipif(
    not HAVE_SHA512_256, reason="this OpenSSL build has no sha512_256 in hashlib"
)

# --- RFC examples ------------------------------------------------------------------------------

RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def rfc7616_challenge(algorithm: str) -> DigestChallenge:
    # RFC 7616 §3.9.1 sends the two challenges on separate lines, SHA-256 first.
    header = (
        'Digest realm="http-auth@example.org", qop="auth, auth-int", '
        f'algorithm={algorithm}, nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"'
    )
    challenge = select_challenge([header])
    assert challenge is not None
    return challenge


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_example_authorization_is_byte_exact(algorithm: str, response: str) -> None:
    value = digest_authorization(
        rfc7616_challenge(algorithm),
        username="Mufasa",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc=1,
        cnonce=RFC7616_CNONCE,
    )
    # The RFC's own field order, one line per field joined with ", ".
    assert value == (
        'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
        f'algorithm={algorithm}, nonce="{RFC7616_NONCE}", nc=00000001, '
        f'cnonce="{RFC7616_CNONCE}", qop=auth, response="{response}", opaque="{RFC7616_OPAQUE}"'
    )


def test_rfc2617_example_response_and_no_algorithm_echo() -> None:
    challenge = select_challenge(
        [
            'Digest realm="testrealm@host.com", qop="auth,auth-int", '
            'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
        ]
    )
    assert challenge is not None and challenge.algorithm is None and challenge.base == "MD5"
    value = digest_authorization(
        challenge,
        username="Mufasa",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc=1,
        cnonce="0a4f113b",
    )
    params = parse_authorization(value)
    assert params == {
        "username": "Mufasa",
        "realm": "testrealm@host.com",
        "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "uri": "/dir/index.html",
        "qop": "auth",
        "nc": "00000001",
        "cnonce": "0a4f113b",
        "response": "6629fae49393a05397450978507c4ef1",
        "opaque": "5ccc069c403ebaf9f0171e9517f40e41",
    }
    assert "algorithm" not in value


def _independent_response(
    algorithm: str, qop: str | None, nc: str, cnonce: str, body: bytes = b""
) -> str:
    """The response computed with the test server's hashing, as a cross-check."""

    def h(text: str) -> str:
        return server_hash(algorithm, text.encode())

    a1 = h("Mufasa:http-auth@example.org:Circle of Life")
    if algorithm.upper().endswith("-SESS"):
        a1 = h(f"{a1}:{RFC7616_NONCE}:{cnonce}")
    a2 = "POST:/upload?x=1"
    if qop == "auth-int":
        a2 += ":" + server_hash(algorithm, body)
    if qop is None:
        return h(f"{a1}:{RFC7616_NONCE}:{h(a2)}")
    return h(f"{a1}:{RFC7616_NONCE}:{nc}:{cnonce}:{qop}:{h(a2)}")


ALGORITHMS = [
    "MD5",
    "MD5-sess",
    "SHA-256",
    "SHA-256-sess",
    pytest.param("SHA-512-256", marks=needs_sha512_256),
    pytest.param("SHA-512-256-sess", marks=needs_sha512_256),
    "SHA-512",
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("qop", ["auth", "auth-int"])
def test_response_matches_independent_computation(algorithm: str, qop: str) -> None:
    body = b'{"some": "entity body"}'
    value = digest_authorization(
        rfc7616_challenge(algorithm),
        username="Mufasa",
        password="Circle of Life",
        method="POST",
        uri="/upload?x=1",
        qop=qop,
        nc=0x1A,
        cnonce="abc",
        body=body,
    )
    params = parse_authorization(value)
    assert params is not None
    assert params["nc"] == "0000001a" and params["qop"] == qop
    assert params["algorithm"] == algorithm
    assert params["response"] == _independent_response(algorithm, qop, "0000001a", "abc", body)


def test_auth_int_hashes_the_body_and_auth_does_not() -> None:
    challenge = rfc7616_challenge("SHA-256")

    def response(qop: str, body: bytes) -> str | None:
        value = digest_authorization(
            challenge, username="u", password="p", method="PUT", uri="/", qop=qop, nc=1,
            cnonce="c", body=body,
        )  # fmt: skip
        return (parse_authorization(value) or {}).get("response")

    assert response("auth-int", b"one") != response("auth-int", b"two")
    assert response("auth", b"one") == response("auth", b"two")


def test_rfc2069_form_without_qop_omits_nc_and_cnonce() -> None:
    challenge = select_challenge(['Digest realm="r", nonce="n"'])
    assert challenge is not None and challenge.qop == ()
    value = digest_authorization(
        challenge, username="Mufasa", password="Circle of Life", method="GET", uri="/a", qop=None
    )
    params = parse_authorization(value)
    assert params is not None and "nc" not in params and "cnonce" not in params
    assert "qop" not in params and "opaque" not in params
    ha1 = server_hash("MD5", b"Mufasa:r:Circle of Life")
    assert params["response"] == server_hash(
        "MD5", f"{ha1}:n:{server_hash('MD5', b'GET:/a')}".encode()
    )


def test_qop_not_offered_is_rejected() -> None:
    challenge = select_challenge(['Digest realm="r", nonce="n", qop="auth"'])
    assert challenge is not None
    with pytest.raises(ValueError, match="qop"):
        digest_authorization(
            challenge, username="u", password="p", method="GET", uri="/", qop="auth-int", cnonce="c"
        )
    with pytest.raises(ValueError, match="qop"):
        digest_authorization(challenge, username="u", password="p", method="GET", uri="/", qop=None)


def test_userhash_sends_hashed_username_and_flag() -> None:
    challenge = select_challenge(
        ['Digest realm="api@example.org", nonce="n", qop=auth, algorithm=SHA-256, userhash=true']
    )
    assert challenge is not None and challenge.userhash
    value = digest_authorization(
        challenge, username="Jäsøn Doe", password="Secret, or not?", method="GET", uri="/doe.json",
        qop="auth", cnonce="c",
    )  # fmt: skip
    params = parse_authorization(value)
    assert params is not None and params["userhash"] == "true"
    # RFC 7616 §3.9.2 gives this hash for the same username and realm.
    assert params["username"] == "5a1a8a47df5c298551b9b42ba9b05835174a5bd7d511ff7fe9191d8e946fc4e7"


def test_non_ascii_username_goes_in_username_star() -> None:
    challenge = select_challenge(['Digest realm="r", nonce="n", qop=auth, charset=UTF-8'])
    assert challenge is not None
    value = digest_authorization(
        challenge, username="Jäsøn Doe", password="p", method="GET", uri="/", qop="auth",
        cnonce="c",
    )  # fmt: skip
    assert "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe" in value
    assert 'username="' not in value


def test_quotes_and_backslashes_in_username_are_escaped() -> None:
    challenge = select_challenge(['Digest realm="r", nonce="n"'])
    assert challenge is not None
    value = digest_authorization(
        challenge, username='a"b\\c', password="p", method="GET", uri="/", qop=None
    )
    assert value.startswith('Digest username="a\\"b\\\\c", ')
    assert (parse_authorization(value) or {})["username"] == 'a"b\\c'


# --- challenge parsing -------------------------------------------------------------------------


def test_parse_several_schemes_with_commas_inside_quotes() -> None:
    parsed = parse_www_authenticate(
        'Newauth realm="apps", type=1, title="Login to \\"apps\\", please", '
        'Basic realm="simple", Negotiate abc==, Bearer, '
        'Digest realm = "x,y" , nonce="n,1",qop="auth,auth-int"'
    )
    assert [(c.scheme, c.params, c.token68) for c in parsed] == [
        ("Newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps", please'}, None),
        ("Basic", {"realm": "simple"}, None),
        ("Negotiate", {}, "abc=="),
        ("Bearer", {}, None),
        ("Digest", {"realm": "x,y", "nonce": "n,1", "qop": "auth,auth-int"}, None),
    ]


def test_parse_param_names_are_case_insensitive_and_first_wins() -> None:
    (challenge,) = parse_www_authenticate('DIGEST Realm="a", NONCE=abc, realm="b"')
    assert challenge.params == {"realm": "a", "nonce": "abc"}


@pytest.mark.parametrize(
    "value",
    ['Digest realm="unterminated', 'Digest realm=, nonce="n"', 'Digest realm="a" junk', "=x"],
)
def test_parse_malformed_value_raises(value: str) -> None:
    with pytest.raises(ValueError):
        parse_www_authenticate(value)


def test_select_prefers_strongest_supported_algorithm_across_lines() -> None:
    challenge = select_challenge(
        [
            'Basic realm="b"',
            'Digest realm="r", nonce="md5", algorithm=MD5, qop=auth, '
            'Digest realm="r", nonce="sha", algorithm=SHA-256, qop=auth',
            'Digest realm="r", nonce="unknown", algorithm=SHA3-999, qop=auth',
            'Digest broken="',
        ]
    )
    assert challenge is not None and challenge.nonce == "sha"


@needs_sha512_256
def test_select_ranks_sha512_256_above_sha256() -> None:
    challenge = select_challenge(
        [
            'Digest realm="r", nonce="a", algorithm=SHA-256, qop=auth',
            'Digest realm="r", nonce="b", algorithm=sha-512-256-SESS, qop=auth',
        ]
    )
    assert challenge is not None and challenge.nonce == "b"
    # The server's spelling is echoed, the hash is looked up case-insensitively.
    assert challenge.algorithm == "sha-512-256-SESS" and challenge.sess


@pytest.mark.parametrize(
    "header",
    [
        'Digest realm="r", algorithm=MD5',  # no nonce
        'Digest realm="r", nonce="n", algorithm=SHA3-256',  # unknown algorithm
        'Digest realm="r", nonce="n", qop="auth-conf"',  # no qop we can do
        'Digest realm="r", nonce="n", algorithm=MD5-sess',  # -sess needs qop and cnonce
        'Basic realm="r"',
    ],
)
def test_select_ignores_challenges_we_cannot_answer(header: str) -> None:
    assert select_challenge([header]) is None


def test_challenge_fields() -> None:
    challenge = select_challenge(
        [
            'Digest realm="r", nonce="n", qop="auth-conf, Auth", stale=TRUE, opaque="o", '
            'domain="/a/ http://other/b", userhash=false, charset=UTF-8'
        ]
    )
    assert challenge is not None
    assert challenge.qop == ("auth",) and challenge.stale and not challenge.userhash
    assert challenge.opaque == "o" and challenge.domain == ("/a/", "http://other/b")
    assert challenge.charset == "UTF-8"


def test_choose_qop() -> None:
    both = select_challenge(['Digest realm="r", nonce="n", qop="auth,auth-int"'])
    only_int = select_challenge(['Digest realm="r", nonce="n", qop="auth-int"'])
    assert both is not None and only_int is not None
    assert choose_qop(both, body_known=True, body_empty=False) == "auth-int"
    assert choose_qop(both, body_known=True, body_empty=True) == "auth"
    assert choose_qop(both, body_known=False, body_empty=True) == "auth"
    assert choose_qop(only_int, body_known=False, body_empty=True) == "auth-int"


def test_login_and_password_none_are_rejected_and_repr_hides_password() -> None:
    with pytest.raises(ValueError, match="login"):
        DigestAuthMiddleware(None, "p")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="password"):
        DigestAuthMiddleware("u", None)  # type: ignore[arg-type]
    assert "secret" not in repr(DigestAuthMiddleware("u", "secret"))


# --- the middleware against a scripted handler (nonce counting, no network) -------------------


class _FakeResponse:
    def __init__(self, status: int, challenge: str | None = None) -> None:
        self.status = status
        self.headers: CIMultiDict[str] = CIMultiDict()
        if challenge is not None:
            self.headers["WWW-Authenticate"] = challenge
        self.released = False

    def release(self) -> None:
        self.released = True


class _FakeRequest:
    def __init__(self, url: str, body: Any = b"") -> None:
        self.method = "GET"
        self.url = URL(url)
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.body = body
        self.compress = None


async def test_nonce_count_increments_per_nonce_and_resets_on_new_nonce() -> None:
    mw = DigestAuthMiddleware("u", "p")
    nonces = iter(["n1", "n2"])
    seen: list[dict[str, str]] = []

    async def handler(request: Any) -> Any:
        auth = request.headers.get("Authorization")
        if auth is None:
            return _FakeResponse(401, f'Digest realm="r", nonce="{next(nonces)}", qop=auth')
        params = parse_authorization(auth)
        assert params is not None
        seen.append(params)
        if len(seen) == 3:
            return _FakeResponse(401, 'Digest realm="r", nonce="n2", qop=auth, stale=true')
        return _FakeResponse(200)

    for _ in range(3):
        response = await mw(cast(Any, _FakeRequest("http://h/x")), handler)
        assert response.status == 200
    assert [(p["nonce"], p["nc"]) for p in seen] == [
        ("n1", "00000001"),
        ("n1", "00000002"),
        ("n1", "00000003"),
        ("n2", "00000001"),
    ]
    assert len({p["cnonce"] for p in seen}) == 4


async def test_sess_algorithms_keep_one_cnonce_per_nonce() -> None:
    mw = DigestAuthMiddleware("u", "p")
    seen: list[dict[str, str]] = []

    async def handler(request: Any) -> Any:
        auth = request.headers.get("Authorization")
        if auth is None:
            return _FakeResponse(401, 'Digest realm="r", nonce="n", qop=auth, algorithm=MD5-sess')
        seen.append(parse_authorization(auth) or {})
        return _FakeResponse(200)

    for _ in range(3):
        await mw(cast(Any, _FakeRequest("http://h/x")), handler)
    assert [p["nc"] for p in seen] == ["00000001", "00000002", "00000003"]
    assert len({p["cnonce"] for p in seen}) == 1


async def test_rejected_credentials_for_a_still_valid_nonce_are_not_retried() -> None:
    mw = DigestAuthMiddleware("u", "p")
    accept = True
    calls: list[str | None] = []

    async def handler(request: Any) -> Any:
        auth = request.headers.get("Authorization")
        calls.append(auth)
        if auth is not None and accept:
            return _FakeResponse(200)
        return _FakeResponse(401, 'Digest realm="r", nonce="same", qop=auth')

    assert (await mw(cast(Any, _FakeRequest("http://h/")), handler)).status == 200
    assert len(calls) == 2
    accept = False  # e.g. the password was changed on the server
    calls.clear()
    assert (await mw(cast(Any, _FakeRequest("http://h/")), handler)).status == 401
    assert len(calls) == 1 and calls[0] is not None
    calls.clear()
    # The rejected challenge is no longer used up front.
    assert (await mw(cast(Any, _FakeRequest("http://h/")), handler)).status == 401
    assert calls[0] is None and len(calls) == 2


async def test_401_without_digest_challenge_is_returned_untouched() -> None:
    mw = DigestAuthMiddleware("u", "p")
    calls = 0

    async def handler(request: Any) -> Any:
        nonlocal calls
        calls += 1
        return _FakeResponse(401, 'Basic realm="r"')

    response: Any = await mw(cast(Any, _FakeRequest("http://h/")), handler)
    assert response.status == 401 and calls == 1 and not response.released


async def test_auth_int_drains_a_one_shot_stream_and_sends_the_bytes_instead() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"streamed "
        yield b"body"

    async with hyperclient.ClientSession() as session:
        request = hyperclient.ClientRequest(
            "POST", URL("http://127.0.0.1:9/p"), data=chunks(), session=session
        )
        sent: list[bytes] = []

        async def handler(req: Any) -> Any:
            auth = req.headers.get("Authorization")
            if auth is None:
                return _FakeResponse(401, 'Digest realm="r", nonce="n", qop="auth-int"')
            sent.append(await req.body.as_bytes())
            params = parse_authorization(auth) or {}
            assert params["qop"] == "auth-int"
            return _FakeResponse(200)

        response = await DigestAuthMiddleware("u", "p")(request, handler)
        assert response.status == 200
        assert sent == [b"streamed body"]
        await request.update_body(None)


# --- against the independent digest server --------------------------------------------------


def _live(app: DigestApp) -> LiveServer:
    # LiveServer only needs an ASGI callable; it is typed for the shared TestApp.
    return LiveServer(cast(TestApp, app)).start()


@pytest.fixture(scope="module")
def digest_server() -> Iterator[LiveServer]:
    server = _live(DigestApp())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def other_server() -> Iterator[LiveServer]:
    server = _live(DigestApp())
    yield server
    server.stop()


def protect(server: LiveServer, **options: Any) -> tuple[DigestConfig, URL]:
    config = DigestConfig(**options)
    prefix = cast(DigestApp, server.app).protect(config)
    return config, server.make_url(prefix)


def requests_seen(server: LiveServer) -> list[tuple[str, str, str | None]]:
    return cast(DigestApp, server.app).requests


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_every_algorithm_authenticates(digest_server: LiveServer, algorithm: str) -> None:
    config, base = protect(digest_server, algorithms=(algorithm,))
    mw = DigestAuthMiddleware("user", "passwd")
    async with (
        hyperclient.ClientSession(middlewares=(mw,)) as session,
        session.get(base / "resource") as resp,
    ):
        assert resp.status == 200
        assert (await resp.json())["qop"] == "auth"
    assert config.statuses() == [401, 200]


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256-sess"])
async def test_auth_int_covers_the_request_body(digest_server: LiveServer, algorithm: str) -> None:
    config, base = protect(digest_server, algorithms=(algorithm,), qop=("auth", "auth-int"))
    mw = DigestAuthMiddleware("user", "passwd")
    async with hyperclient.ClientSession(middlewares=(mw,)) as session:
        async with session.post(base / "upload", data=b"integrity matters") as resp:
            assert resp.status == 200
            body = await resp.json()
            assert body["qop"] == "auth-int" and body["body"] == "integrity matters"
        async with session.post(base / "upload", json={"k": "v"}) as resp:
            assert resp.status == 200 and (await resp.json())["qop"] == "auth-int"
    assert config.statuses() == [401, 200, 200]


async def test_auth_int_only_server_with_a_file_body(digest_server: LiveServer) -> None:
    config, base = protect(digest_server, qop=("auth-int",))
    mw = DigestAuthMiddleware("user", "passwd", preemptive=False)
    async with (
        hyperclient.ClientSession(middlewares=(mw,)) as session,
        session.put(base / "f", data=io.BytesIO(b"file contents")) as resp,
    ):
        assert resp.status == 200
        assert (await resp.json())["body"] == "file contents"
    assert config.statuses() == [401, 200]


async def test_rfc2069_server_without_qop(digest_server: LiveServer) -> None:
    config, base = protect(digest_server, qop=None, send_algorithm=False)
    mw = DigestAuthMiddleware("user", "passwd")
    async with hyperclient.ClientSession(middlewares=(mw,)) as session:
        for _ in range(2):
            async with session.get(base / "legacy") as resp:
                assert resp.status == 200 and (await resp.json())["nc"] is None
    assert config.statuses() == [401, 200, 200]


async def test_uri_is_the_request_target_with_query(digest_server: LiveServer) -> None:
    config, base = protect(digest_server)
    url = (base / "search").with_query({"q": "a b", "page": "2"})
    mw = DigestAuthMiddleware("user", "passwd")
    async with (
        hyperclient.ClientSession(middlewares=(mw,)) as session,
        session.get(url.with_fragment("frag")) as resp,
    ):
        assert resp.status == 200
    params = parse_authorization(config.log[-1].authorization or "")
    assert params is not None and params["uri"] == url.raw_path_qs


async def test_preemptive_reuses_challenge_and_increments_nc(digest_server: LiveServer) -> None:
    config, base = protect(digest_server, algorithms=("SHA-256",))
    mw = DigestAuthMiddleware("user", "passwd")
    async with hyperclient.ClientSession(middlewares=(mw,)) as session:
        for path in ("one", "two", "deeper/three"):
            async with session.get(base / path) as resp:
                assert resp.status == 200
    assert config.statuses() == [401, 200, 200, 200]
    ncs = [(parse_authorization(s.authorization or "") or {}).get("nc") for s in config.log[1:]]
    assert ncs == ["00000001", "00000002", "00000003"]


async def test_not_preemptive_waits_for_a_challenge_every_time(digest_server: LiveServer) -> None:
    config, base = protect(digest_server)
    mw = DigestAuthMiddleware("user", "passwd", preemptive=False)
    async with hyperclient.ClientSession(middlewares=(mw,)) as session:
        for _ in range(2):
            async with session.get(base / "x") as resp:
                assert resp.status == 200
    assert config.statuses() == [401, 200, 401, 200]
    assert config.log[2].authorization is None


async def test_stale_nonce_is_answered_with_the_new_nonce(digest_server: LiveServer) -> None:
    config, base = protect(digest_server, stale_after=1)
    mw = DigestAuthMiddleware("user", "passwd")
    async with hyperclient.ClientSession(middlewares=(mw,)) as session:
        for _ in range(3):
            async with session.get(base / "s") as resp:
                assert resp.status == 200
    # Each nonce serves one request; the stale 401 never counts as a failed login.
    assert config.statuses() == [401, 200, 401, 200, 401, 200]
    nonces = [(parse_authorization(s.authorization or "") or {}).get("nonce") for s in config.log]
    assert nonces[1] == nonces[2] != nonces[3] == nonces[4]


async def test_wrong_password_returns_the_401_without_looping(digest_server: LiveServer) -> None:
    config, base = protect(digest_server)
    mw = DigestAuthMiddleware("user", "wrong")
    async with hyperclient.ClientSession(middlewares=(mw,)) as session:
        for _ in range(2):
            async with session.get(base / "x") as resp:
                assert resp.status == 401
                assert "Digest" in resp.headers["WWW-Authenticate"]
    # A failed challenge is not reused up front.
    assert config.statuses() == [401, 401, 401, 401]
    assert config.log[2].authorization is None


async def test_userhash_hides_the_username(digest_server: LiveServer) -> None:
    config, base = protect(
        digest_server, algorithms=("SHA-256",), userhash=True, users={"Jäsøn Doe": "pw"}
    )
    async with (
        hyperclient.ClientSession(
            middlewares=(DigestAuthMiddleware("Jäsøn Doe", "pw"),)
        ) as session,
        session.get(base / "u") as resp,
    ):
        assert resp.status == 200
    params = parse_authorization(config.log[-1].authorization or "")
    assert params is not None and params["userhash"] == "true" and "Jäsøn" not in params["username"]


async def test_non_ascii_username_via_username_star(digest_server: LiveServer) -> None:
    config, base = protect(digest_server, users={"Jäsøn Doe": "pässwörd"})
    async with (
        hyperclient.ClientSession(
            middlewares=(DigestAuthMiddleware("Jäsøn Doe", "pässwörd"),)
        ) as session,
        session.get(base / "u") as resp,
    ):
        assert resp.status == 200
    assert config.statuses() == [401, 200]


@pytest.mark.parametrize("separate_lines", [False, True])
async def test_strongest_of_several_challenges_is_used(
    digest_server: LiveServer, separate_lines: bool
) -> None:
    config, base = protect(
        digest_server,
        algorithms=("MD5", "SHA-256", "MD5-sess"),
        separate_lines=separate_lines,
        extra_challenges=('Basic realm="fallback", charset="UTF-8"', "Negotiate"),
    )
    async with (
        hyperclient.ClientSession(middlewares=(DigestAuthMiddleware("user", "passwd"),)) as session,
        session.get(base / "m") as resp,
    ):
        assert resp.status == 200
    params = parse_authorization(config.log[-1].authorization or "")
    assert params is not None and params["algorithm"] == "SHA-256"


async def test_domain_limits_preemptive_authorization(digest_server: LiveServer) -> None:
    config, base = protect(digest_server, domain=("private/",), public=("public",))
    async with hyperclient.ClientSession(
        middlewares=(DigestAuthMiddleware("user", "passwd"),)
    ) as session:
        for path in ("private/a", "public", "private/b"):
            async with session.get(base / path) as resp:
                assert resp.status == 200
    assert config.statuses() == [401, 200, 200, 200]
    assert [s.authorization is not None for s in config.log] == [False, True, False, True]


async def test_never_sent_to_another_origin(
    digest_server: LiveServer, other_server: LiveServer
) -> None:
    _, base = protect(digest_server)
    other_seen_before = len(requests_seen(other_server))
    elsewhere = other_server.make_url("/elsewhere")
    async with hyperclient.ClientSession(
        middlewares=(DigestAuthMiddleware("user", "passwd"),)
    ) as session:
        async with session.get(base / "first") as resp:
            assert resp.status == 200
        async with session.get(elsewhere) as resp:
            assert resp.status == 404
        # Same host, other port: another origin, also after a redirect from the protected one.
        redirect = (base / "go").with_query({"redirect": str(elsewhere)})
        async with session.get(redirect) as resp:
            assert resp.status == 404
    seen = requests_seen(other_server)[other_seen_before:]
    assert len(seen) == 2
    assert all(authorization is None for _, _, authorization in seen)


async def test_concurrent_requests_get_distinct_nonce_counts(digest_server: LiveServer) -> None:
    config, base = protect(digest_server)
    async with hyperclient.ClientSession(
        middlewares=(DigestAuthMiddleware("user", "passwd"),)
    ) as session:
        async with session.get(base / "warm") as resp:
            assert resp.status == 200

        async def fetch(i: int) -> int:
            async with session.get(base / f"c{i}") as resp:
                return int(resp.status)

        statuses = await asyncio.gather(*(fetch(i) for i in range(8)))
    assert statuses == [200] * 8
    sent = [parse_authorization(s.authorization or "") or {} for s in config.log[1:]]
    pairs = [(p["nonce"], p["nc"]) for p in sent if p]
    assert len(pairs) == len(set(pairs))


# --- httpbin ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def httpbin_url() -> Iterator[URL]:
    httpbin = pytest.importorskip("httpbin")
    serving = pytest.importorskip("werkzeug.serving")
    server = serving.make_server("127.0.0.1", 0, httpbin.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="httpbin", daemon=True)
    thread.start()
    try:
        yield URL.build(scheme="http", host="127.0.0.1", port=server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize("qop", ["auth", "auth-int"])
@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "SHA-512"])
async def test_httpbin_digest_auth(httpbin_url: URL, qop: str, algorithm: str) -> None:
    url = httpbin_url / "digest-auth" / qop / "user" / "passwd" / algorithm
    mw = DigestAuthMiddleware("user", "passwd")
    async with (
        hyperclient.ClientSession(middlewares=(mw,)) as session,
        session.get(url) as resp,
    ):
        assert resp.status == 200
        assert await resp.json() == {"authenticated": True, "user": "user"}


async def test_httpbin_wrong_password_is_401(httpbin_url: URL) -> None:
    url = httpbin_url / "digest-auth" / "auth" / "user" / "passwd" / "MD5"
    async with (
        hyperclient.ClientSession(middlewares=(DigestAuthMiddleware("user", "nope"),)) as session,
        session.get(url) as resp,
    ):
        assert resp.status == 401
