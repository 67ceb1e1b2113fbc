"""BasicAuth (RFC 7617) and credentials in URLs."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from hyperclient.auth import BasicAuth, strip_auth_from_url


def test_basic_auth_defaults() -> None:
    auth = BasicAuth("user")
    assert (auth.login, auth.password, auth.encoding) == ("user", "", "latin1")


def test_basic_auth_is_an_immutable_tuple_value() -> None:
    auth = BasicAuth("user", "pass", "utf-8")
    assert auth == ("user", "pass", "utf-8")
    assert auth == BasicAuth(login="user", password="pass", encoding="utf-8")
    assert auth != BasicAuth("user", "pass")
    assert hash(auth) == hash(BasicAuth("user", "pass", "utf-8"))
    login, password, encoding = auth
    assert (login, password, encoding) == ("user", "pass", "utf-8")
    with pytest.raises(AttributeError):
        auth.login = "other"  # type: ignore[misc]
    assert not hasattr(auth, "__dict__")


def test_basic_auth_repr_hides_password() -> None:
    text = repr(BasicAuth("user", "s3cret"))
    assert "s3cret" not in text
    assert "user" in text


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((None,), "login"),
        (("user", None), "password"),
        (("us:er", "pass"), ":"),
        ((":", ""), ":"),
    ],
)
def test_basic_auth_rejects_invalid_credentials(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BasicAuth(*args)


def test_basic_auth_allows_colon_in_password() -> None:
    assert BasicAuth("user", "pa:ss").password == "pa:ss"


def test_encode_rfc7617_example() -> None:
    assert BasicAuth("Aladdin", "open sesame").encode() == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


def test_encode_uses_the_given_charset() -> None:
    # RFC 7617 §2.1 example: "test" / "123£" in UTF-8.
    assert BasicAuth("test", "123\u00a3", "utf-8").encode() == "Basic dGVzdDoxMjPCow=="
    assert BasicAuth("test", "123\u00a3").encode() == "Basic dGVzdDoxMjOj"


def test_encode_raises_for_characters_outside_the_charset() -> None:
    with pytest.raises(UnicodeEncodeError):
        BasicAuth("user", "\u20ac").encode()


@pytest.mark.parametrize(
    "header",
    [
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "BASIC   QWxhZGRpbjpvcGVuIHNlc2FtZQ==  ",
    ],
)
def test_decode_accepts_any_scheme_case_and_extra_spaces(header: str) -> None:
    assert BasicAuth.decode(header) == BasicAuth("Aladdin", "open sesame")


def test_decode_splits_at_first_colon() -> None:
    header = "Basic " + base64.b64encode(b"user:pa:ss").decode()
    assert BasicAuth.decode(header) == BasicAuth("user", "pa:ss")


def test_decode_empty_password_and_login() -> None:
    assert BasicAuth.decode("Basic " + base64.b64encode(b"user:").decode()) == BasicAuth("user")
    assert BasicAuth.decode("Basic " + base64.b64encode(b":pw").decode()) == BasicAuth("", "pw")


def test_decode_with_encoding() -> None:
    auth = BasicAuth.decode("Basic dGVzdDoxMjPCow==", encoding="utf-8")
    assert auth == BasicAuth("test", "123\u00a3", "utf-8")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic",
        "Basic ",
        "Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ",  # missing padding
        "Basic QWxh ZGRp",
        "Basic QWxh*ZGRp",
        "Basic \u00e9\u00e9\u00e9\u00e9",
        "Basic " + base64.b64encode(b"no-colon").decode(),
    ],
)
def test_decode_rejects_malformed_headers(header: str) -> None:
    with pytest.raises(ValueError):
        BasicAuth.decode(header)


def test_decode_rejects_bytes_invalid_in_encoding() -> None:
    with pytest.raises(ValueError, match="utf-8"):
        BasicAuth.decode("Basic " + base64.b64encode(b"u:\xff").decode(), encoding="utf-8")


@settings(max_examples=200, deadline=None)
@given(
    login=st.text(st.characters(max_codepoint=0xFF, exclude_characters=":"), max_size=20),
    password=st.text(st.characters(max_codepoint=0xFF), max_size=20),
)
def test_encode_decode_round_trip(login: str, password: str) -> None:
    auth = BasicAuth(login, password)
    assert BasicAuth.decode(auth.encode()) == auth


def test_from_url_percent_decodes_user_and_password() -> None:
    auth = BasicAuth.from_url(URL("http://us%40er:p%3Ass%20w@example.com/"))
    assert auth == BasicAuth("us@er", "p:ss w")


def test_from_url_without_password_or_without_user() -> None:
    assert BasicAuth.from_url(URL("http://user@example.com/")) == BasicAuth("user", "")
    assert BasicAuth.from_url(URL("http://:pw@example.com/")) == BasicAuth("", "pw")


def test_from_url_without_credentials_is_none() -> None:
    assert BasicAuth.from_url(URL("http://example.com/path")) is None


def test_from_url_passes_encoding_through() -> None:
    auth = BasicAuth.from_url(URL("http://u:p@example.com/"), encoding="utf-8")
    assert auth is not None and auth.encoding == "utf-8"


def test_from_url_requires_a_yarl_url() -> None:
    with pytest.raises(TypeError):
        BasicAuth.from_url("http://u:p@example.com/")  # type: ignore[arg-type]


def test_from_url_rejects_encoded_colon_in_user() -> None:
    with pytest.raises(ValueError):
        BasicAuth.from_url(URL("http://a%3Ab:pw@example.com/"))


def test_strip_auth_from_url_removes_user_info() -> None:
    url, auth = strip_auth_from_url(URL("https://user:pw@example.com:8443/p?q=1#f"))
    assert url == URL("https://example.com:8443/p?q=1#f")
    assert url.user is None and url.password is None
    assert auth == BasicAuth("user", "pw")


def test_strip_auth_from_url_without_credentials_returns_same_url() -> None:
    original = URL("https://example.com/p")
    url, auth = strip_auth_from_url(original)
    assert url is original
    assert auth is None
