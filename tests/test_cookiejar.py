"""CookieJar storage and matching (RFC 6265), persistence, and DummyCookieJar."""

from __future__ import annotations

import json
import os
import stat
import sys
from http.cookies import BaseCookie, Morsel, SimpleCookie
from pathlib import Path

import pytest
from yarl import URL

from hyperclient.abc import AbstractCookieJar
from hyperclient.cookiejar import CookieJar, DummyCookieJar, parse_cookie_date

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def set_cookies(jar: CookieJar, url: str, *set_cookie_headers: str) -> None:
    """Feed the jar as a session does: each Set-Cookie header parsed by SimpleCookie."""
    for header in set_cookie_headers:
        parsed = SimpleCookie()
        parsed.load(header)
        jar.update_cookies(parsed, URL(url))


def sent(jar: CookieJar, url: str) -> str:
    """The Cookie header value the jar's choice for *url* turns into."""
    return "; ".join(f"{m.key}={m.coded_value}" for m in jar.filter_cookies(URL(url)).values())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jar(clock: Clock) -> CookieJar:
    return CookieJar(clock=clock)


# --------------------------------------------------------------------------- domains


def test_cookie_without_domain_is_host_only(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1")
    assert sent(jar, "http://example.com/") == "a=1"
    assert sent(jar, "http://sub.example.com/") == ""
    assert sent(jar, "http://other.com/") == ""


def test_domain_cookie_goes_to_the_domain_and_its_subdomains(jar: CookieJar) -> None:
    set_cookies(jar, "http://www.example.com/", "a=1; Domain=example.com")
    assert sent(jar, "http://example.com/") == "a=1"
    assert sent(jar, "http://www.example.com/") == "a=1"
    assert sent(jar, "http://deep.sub.example.com/") == "a=1"
    assert sent(jar, "http://notexample.com/") == ""
    assert sent(jar, "http://example.com.evil.org/") == ""


def test_leading_dot_and_case_in_domain_are_ignored(jar: CookieJar) -> None:
    set_cookies(jar, "http://www.Example.com/", "a=1; Domain=.EXAMPLE.com")
    assert sent(jar, "http://sub.example.com/") == "a=1"
    assert next(iter(jar))["domain"] == "example.com"


def test_domain_that_does_not_match_response_host_is_rejected(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Domain=other.com")
    set_cookies(jar, "http://example.com/", "b=1; Domain=sub.example.com")
    assert len(jar) == 0


def test_single_label_domain_is_rejected_unless_it_is_the_host(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Domain=com")
    assert len(jar) == 0
    set_cookies(jar, "http://localhost/", "b=1; Domain=localhost")
    assert sent(jar, "http://localhost/") == "b=1"
    assert sent(jar, "http://sub.localhost/") == ""  # stored host-only (§5.3 step 5)


def test_domain_with_trailing_dot_is_treated_as_host_only(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Domain=example.com.")
    assert sent(jar, "http://example.com/") == "a=1"
    assert sent(jar, "http://sub.example.com/") == ""


def test_host_only_and_domain_cookie_of_same_name_are_distinct(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=host")
    set_cookies(jar, "http://example.com/", "a=domain; Domain=example.com")
    # Same (name, domain, path): the domain cookie replaces the host-only one (§5.3 step 11).
    assert len(jar) == 1
    assert sent(jar, "http://sub.example.com/") == "a=domain"


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("response_path", "stored_path"),
    [("/", "/"), ("", "/"), ("/a", "/"), ("/a/", "/a"), ("/a/b/c", "/a/b"), ("/a/b/", "/a/b")],
)
def test_default_path_is_the_directory_of_the_response_path(
    jar: CookieJar, response_path: str, stored_path: str
) -> None:
    set_cookies(jar, "http://example.com" + response_path, "a=1")
    assert next(iter(jar))["path"] == stored_path


def test_path_attribute_not_starting_with_slash_means_default_path(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/docs/page", "a=1; Path=relative")
    assert next(iter(jar))["path"] == "/docs"


@pytest.mark.parametrize(
    ("cookie_path", "request_path", "matches"),
    [
        ("/foo", "/foo", True),
        ("/foo", "/foo/", True),
        ("/foo", "/foo/bar", True),
        ("/foo", "/foobar", False),
        ("/foo", "/", False),
        ("/foo/", "/foo/bar", True),
        ("/foo/", "/foo", False),
        ("/", "/anything", True),
        ("/Foo", "/foo", False),
    ],
)
def test_path_match(jar: CookieJar, cookie_path: str, request_path: str, matches: bool) -> None:
    set_cookies(jar, "http://example.com/", f"a=1; Path={cookie_path}")
    assert sent(jar, "http://example.com" + request_path) == ("a=1" if matches else "")


def test_longer_paths_come_first_and_the_most_specific_wins_a_name(jar: CookieJar) -> None:
    set_cookies(
        jar,
        "http://example.com/",
        "root=1; Path=/",
        "same=outer; Path=/a",
        "deep=1; Path=/a/b",
        "same=inner; Path=/a/b",
    )
    assert sent(jar, "http://example.com/a/b/c") == "deep=1; same=inner; root=1"
    assert sent(jar, "http://example.com/a/x") == "same=outer; root=1"


def test_equal_paths_keep_creation_order_even_after_replacement(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "first=1", "second=1")
    set_cookies(jar, "http://example.com/", "first=2")
    assert sent(jar, "http://example.com/") == "first=2; second=1"


# --------------------------------------------------------------------------- Secure & others


def test_secure_cookie_only_goes_to_secure_schemes(jar: CookieJar) -> None:
    set_cookies(jar, "https://example.com/", "s=1; Secure", "p=1")
    assert sent(jar, "http://example.com/") == "p=1"
    assert sent(jar, "ws://example.com/") == "p=1"
    assert sent(jar, "https://example.com/") == "s=1; p=1"
    assert sent(jar, "wss://example.com/") == "s=1; p=1"


@pytest.mark.parametrize(
    "origins",
    ["http://example.com:8080", URL("http://example.com:8080/some/path"), ["http://x.org", "http://example.com:8080"]],
)  # fmt: skip
def test_treat_as_secure_origin_sends_secure_cookies_to_those_origins(
    clock: Clock, origins: str | URL | list[str]
) -> None:
    jar = CookieJar(treat_as_secure_origin=origins, clock=clock)
    set_cookies(jar, "http://example.com:8080/", "s=1; Secure")
    assert sent(jar, "http://example.com:8080/page") == "s=1"
    assert sent(jar, "http://example.com:8081/page") == ""
    assert sent(jar, "http://example.com/page") == ""


def test_treat_as_secure_origin_rejects_relative_urls() -> None:
    with pytest.raises(ValueError):
        CookieJar(treat_as_secure_origin="/relative")


def test_httponly_and_samesite_are_kept(jar: CookieJar) -> None:
    set_cookies(jar, "https://example.com/", "a=1; HttpOnly; SameSite=Strict; Secure")
    morsel = next(iter(jar))
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["secure"] is True
    assert sent(jar, "https://example.com/") == "a=1"


def test_sent_morsels_carry_no_attributes(jar: CookieJar) -> None:
    set_cookies(jar, "https://example.com/", "a=1; HttpOnly; Path=/; Max-Age=100; Secure")
    morsel = jar.filter_cookies(URL("https://example.com/"))["a"]
    assert morsel.OutputString() == "a=1"


# --------------------------------------------------------------------------- expiry


def test_max_age_expires_with_the_clock(jar: CookieJar, clock: Clock) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Max-Age=10")
    clock.now += 9
    assert sent(jar, "http://example.com/") == "a=1"
    clock.now += 1
    assert sent(jar, "http://example.com/") == ""
    assert len(jar) == 0


def test_max_age_wins_over_expires(jar: CookieJar, clock: Clock) -> None:
    set_cookies(
        jar, "http://example.com/", "a=1; Expires=Wed, 01 Jan 2020 00:00:00 GMT; Max-Age=60"
    )
    assert len(jar) == 1
    clock.now += 60
    assert len(jar) == 0


@pytest.mark.parametrize("max_age", ["0", "-1", "-99999999999999999999999"])
def test_non_positive_max_age_deletes_the_cookie(jar: CookieJar, max_age: str) -> None:
    set_cookies(jar, "http://example.com/", "a=1", "b=1")
    set_cookies(jar, "http://example.com/", f"a=gone; Max-Age={max_age}")
    assert sent(jar, "http://example.com/") == "b=1"


def test_invalid_max_age_is_ignored_and_expires_applies(jar: CookieJar, clock: Clock) -> None:
    set_cookies(
        jar, "http://example.com/", "a=1; Max-Age=+5; Expires=Tue, 14 Nov 2023 22:13:30 GMT"
    )
    clock.now += 9
    assert len(jar) == 1
    clock.now += 1
    assert len(jar) == 0


def test_huge_max_age_is_accepted(jar: CookieJar, clock: Clock) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Max-Age=" + "9" * 5000)
    clock.now += 10**12
    assert len(jar) == 1


def test_expires_in_the_past_deletes_the_cookie(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1")
    set_cookies(jar, "http://example.com/", "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert len(jar) == 0


def test_unparsable_expires_makes_a_session_cookie(jar: CookieJar, clock: Clock) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Expires=whenever")
    clock.now += 10**9
    assert len(jar) == 1


def test_expiry_of_one_cookie_leaves_the_others(jar: CookieJar, clock: Clock) -> None:
    set_cookies(jar, "http://example.com/", "short=1; Max-Age=5", "long=1; Max-Age=50", "sess=1")
    clock.now += 5
    assert sorted(m.key for m in jar) == ["long", "sess"]


def test_refreshing_a_cookie_keeps_its_new_expiry(jar: CookieJar, clock: Clock) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Max-Age=5")
    clock.now += 4
    set_cookies(jar, "http://example.com/", "a=2; Max-Age=5")
    clock.now += 4
    assert sent(jar, "http://example.com/") == "a=2"


def test_refreshing_a_cookie_many_times_does_not_grow_the_expiry_heap(
    jar: CookieJar, clock: Clock
) -> None:
    for _ in range(10_000):
        set_cookies(jar, "http://example.com/", "a=1; Max-Age=3600")
    assert len(jar._heap) <= 128


def test_empty_jar_filter_does_not_consult_the_clock() -> None:
    def clock() -> float:
        raise AssertionError("clock read for an empty jar")

    jar = CookieJar(clock=clock)
    assert len(jar.filter_cookies(URL("http://example.com/"))) == 0
    assert jar.is_empty()


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784111777.0),
        ("Sun Nov  6 08:49:37 1994", 784111777.0),
        ("06 nov 1994 8:49:37", 784111777.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Wed, 01-Jan-70 00:00:00 GMT", 0.0),
        ("Sat, 01-Jan-2000 00:00:00 GMT", 946684800.0),
        ("Sat, 01 Jan 00 00:00:00 GMT", 946684800.0),
        ("Fri, 31 Dec 69 23:59:59 GMT", 3155759999.0),  # wrong weekday: ignored
        ("31 Dec 2069 23:59:59", 3155759999.0),
        ("Thu, 29 Feb 2024 12:00:00 GMT", 1709208000.0),
        ("Mon, 01 January 2024 00:00:00 GMT", 1704067200.0),
    ],
)
def test_parse_cookie_date_accepts_the_formats_servers_send(text: str, expected: float) -> None:
    assert parse_cookie_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "Sun, 06 Nov 1994 GMT",  # no time
        "Sun, Nov 1994 08:49:37 GMT",  # no day
        "Sun, 06 1994 08:49:37 GMT",  # no month
        "Sun, 06 Nov 08:49:37 GMT",  # no year
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:60 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sat, 30 Feb 2000 00:00:00 GMT",
        "Mon, 01 Jan 1600 00:00:00 GMT",
        "Mon, 01 Jan 19999 00:00:00 GMT",
    ],
)
def test_parse_cookie_date_rejects_incomplete_or_impossible_dates(text: str) -> None:
    assert parse_cookie_date(text) is None


# --------------------------------------------------------------------------- IP hosts


def test_cookies_from_ip_hosts_are_refused_by_default(jar: CookieJar) -> None:
    set_cookies(jar, "http://127.0.0.1:8080/", "a=1")
    set_cookies(jar, "http://[::1]/", "b=1")
    assert len(jar) == 0


def test_unsafe_jar_accepts_ip_hosts_and_sends_back_only_to_that_ip(clock: Clock) -> None:
    jar = CookieJar(unsafe=True, clock=clock)
    set_cookies(jar, "http://127.0.0.1:8080/", "a=1")
    set_cookies(jar, "http://[::1]/", "b=1")
    assert sent(jar, "http://127.0.0.1:9000/") == "a=1"
    assert sent(jar, "http://[::1]/") == "b=1"
    assert sent(jar, "http://127.0.0.2/") == ""
    assert sent(jar, "http://localhost/") == ""


def test_unsafe_jar_rejects_a_partial_ip_as_domain(clock: Clock) -> None:
    jar = CookieJar(unsafe=True, clock=clock)
    set_cookies(jar, "http://10.0.0.1/", "a=1; Domain=0.0.1")
    assert len(jar) == 0


# --------------------------------------------------------------------------- update forms


def test_shared_cookies_go_to_every_host(jar: CookieJar) -> None:
    jar.update_cookies({"shared": "1"})
    jar.update_cookies({"also": "1"}, URL())
    for url in ("http://example.com/x", "https://other.org/", "http://127.0.0.1/"):
        assert sent(jar, url) == "shared=1; also=1"


def test_update_accepts_mapping_simplecookie_pairs_and_morsels(jar: CookieJar) -> None:
    url = URL("http://example.com/")
    morsel: Morsel[str] = Morsel()
    morsel.set("m", "4", "4")
    jar.update_cookies({"d": "1"}, url)
    jar.update_cookies(SimpleCookie("s=2"), url)
    jar.update_cookies([("p", "3"), ("m", morsel)], url)
    assert sent(jar, "http://example.com/") == "d=1; s=2; p=3; m=4"
    assert all(isinstance(m, Morsel) for m in jar)


def test_quote_cookie_quotes_str_values(jar: CookieJar) -> None:
    jar.update_cookies({"a": "x y", "b": "plain"}, URL("http://example.com/"))
    assert sent(jar, "http://example.com/") == 'a="x y"; b=plain'
    assert type(jar.filter_cookies(URL("http://example.com/"))) is SimpleCookie


def test_quote_cookie_false_sends_values_as_is(clock: Clock) -> None:
    jar = CookieJar(quote_cookie=False, clock=clock)
    assert jar.quote_cookie is False
    jar.update_cookies({"a": "x,y", "b": "p q"}, URL("http://example.com/"))
    assert sent(jar, "http://example.com/") == "a=x,y; b=p q"
    assert type(jar.filter_cookies(URL("http://example.com/"))) is BaseCookie


def test_server_encoded_value_is_sent_back_as_received(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", 'a="quoted value"')
    assert sent(jar, "http://example.com/") == 'a="quoted value"'
    assert next(iter(jar)).value == "quoted value"


def test_value_with_control_character_is_rejected(clock: Clock) -> None:
    jar = CookieJar(quote_cookie=False, clock=clock)
    with pytest.raises(ValueError):
        jar.update_cookies({"a": "x\r\nSet-Cookie: evil"}, URL("http://example.com/"))
    assert len(jar) == 0


# --------------------------------------------------------------------------- clearing


def test_clear_removes_everything_or_what_the_predicate_selects(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1", "b=2", "c=3")
    jar.clear(lambda m: m.key == "b")
    assert sorted(m.key for m in jar) == ["a", "c"]
    jar.clear()
    assert len(jar) == 0


def test_clear_domain_removes_the_domain_and_its_subdomains(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1")
    set_cookies(jar, "http://www.example.com/", "b=1")
    set_cookies(jar, "http://www.example.com/", "c=1; Domain=example.com")
    set_cookies(jar, "http://notexample.com/", "d=1")
    set_cookies(jar, "http://other.org/", "e=1")
    jar.clear_domain("example.com")
    assert sorted(m.key for m in jar) == ["d", "e"]


def test_len_and_iteration_expose_stored_morsels(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1")
    set_cookies(jar, "http://sub.example.com/p/q", "b=2; Domain=example.com")
    assert len(jar) == 2
    by_key = {m.key: m for m in jar}
    assert (by_key["a"]["domain"], by_key["a"]["path"]) == ("example.com", "/")
    assert (by_key["b"]["domain"], by_key["b"]["path"]) == ("example.com", "/p")


def test_jars_implement_the_abstract_interface() -> None:
    assert isinstance(CookieJar(), AbstractCookieJar)
    assert isinstance(DummyCookieJar(), AbstractCookieJar)


# --------------------------------------------------------------------------- persistence


def fill(jar: CookieJar) -> None:
    set_cookies(jar, "https://example.com/", "host=1; HttpOnly; SameSite=Lax")
    set_cookies(jar, "https://www.example.com/a/b", "dom=2; Domain=example.com; Secure")
    set_cookies(jar, "https://example.com/", "timed=3; Max-Age=100")
    set_cookies(jar, "https://example.com/", 'quoted="x y"')
    jar.update_cookies({"shared": "4"})


def test_save_and_load_round_trip(tmp_path: Path, jar: CookieJar, clock: Clock) -> None:
    fill(jar)
    path = tmp_path / "cookies.json"
    jar.save(path)
    restored = CookieJar(clock=clock)
    restored.load(str(path))
    for url in ("https://example.com/", "https://sub.example.com/a/x", "http://example.com/"):
        assert sent(restored, url) == sent(jar, url)
    assert {m.key: dict(m) for m in restored} == {m.key: dict(m) for m in jar}
    clock.now += 100
    assert "timed" not in sent(restored, "https://example.com/")
    assert len(restored) == 4


def test_load_drops_cookies_expired_since_saving(
    tmp_path: Path, jar: CookieJar, clock: Clock
) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Max-Age=10", "b=1")
    jar.save(tmp_path / "c.json")
    clock.now += 10
    restored = CookieJar(clock=clock)
    restored.load(tmp_path / "c.json")
    assert [m.key for m in restored] == ["b"]


def test_load_replaces_the_jar_contents(tmp_path: Path, jar: CookieJar, clock: Clock) -> None:
    set_cookies(jar, "http://example.com/", "saved=1")
    jar.save(tmp_path / "c.json")
    other = CookieJar(clock=clock)
    set_cookies(other, "http://example.com/", "old=1")
    other.load(tmp_path / "c.json")
    assert [m.key for m in other] == ["saved"]


def test_saved_file_is_json_not_pickle(tmp_path: Path, jar: CookieJar) -> None:
    fill(jar)
    jar.save(tmp_path / "c.json")
    document = json.loads((tmp_path / "c.json").read_text("utf-8"))
    assert {c["name"] for c in document["cookies"]} == {"host", "dom", "timed", "quoted", "shared"}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_saved_file_is_readable_by_the_owner_only(tmp_path: Path, jar: CookieJar) -> None:
    fill(jar)
    path = tmp_path / "cookies.json"
    path.write_text("old")
    path.chmod(0o644)
    old_umask = os.umask(0)
    try:
        jar.save(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cookies.json"]


@pytest.mark.parametrize(
    "content",
    [
        b"\x80\x04\x95 not json",  # a pickle header
        b"",
        b"[]",
        b'{"format": "other", "version": 1, "cookies": []}',
        b'{"format": "hyperclient-cookiejar", "version": 99, "cookies": []}',
        b'{"format": "hyperclient-cookiejar", "version": 1, "cookies": {}}',
        b'{"format": "hyperclient-cookiejar", "version": 1, "cookies": [1]}',
        b'{"format": "hyperclient-cookiejar", "version": 1, "cookies": [{"name": "a"}]}',
    ],
)
def test_invalid_file_is_a_value_error_and_leaves_the_jar_unchanged(
    tmp_path: Path, jar: CookieJar, content: bytes
) -> None:
    set_cookies(jar, "http://example.com/", "keep=1")
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a valid cookie file"):
        jar.load(path)
    assert sent(jar, "http://example.com/") == "keep=1"


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("name", "bad name"),
        ("name", 5),
        ("value", None),
        ("path", "no-slash"),
        ("host_only", "yes"),
        ("expires", "tomorrow"),
        ("expires", True),
        ("attributes", {"unknown-attr": "x"}),
        ("attributes", {"comment": ["list"]}),
        ("coded_value", "a\r\nb"),
    ],
)
def test_invalid_cookie_record_is_a_value_error(
    tmp_path: Path, jar: CookieJar, field: str, bad: object
) -> None:
    set_cookies(jar, "http://example.com/", "a=1")
    jar.save(tmp_path / "c.json")
    document = json.loads((tmp_path / "c.json").read_text("utf-8"))
    document["cookies"][0][field] = bad
    (tmp_path / "c.json").write_text(json.dumps(document), "utf-8")
    fresh = CookieJar()
    set_cookies(fresh, "http://example.com/", "keep=1")
    with pytest.raises(ValueError):
        fresh.load(tmp_path / "c.json")
    assert [m.key for m in fresh] == ["keep"]


def test_missing_file_is_an_os_error(tmp_path: Path, jar: CookieJar) -> None:
    with pytest.raises(FileNotFoundError):
        jar.load(tmp_path / "absent.json")


# --------------------------------------------------------------------------- DummyCookieJar


def test_dummy_jar_stores_and_sends_nothing() -> None:
    jar = DummyCookieJar()
    jar.update_cookies({"a": "1"}, URL("http://example.com/"))
    jar.update_cookies({"shared": "1"})
    assert len(jar) == 0
    assert list(jar) == []
    assert len(jar.filter_cookies(URL("http://example.com/"))) == 0
    assert jar.quote_cookie is True
    jar.clear()
    jar.clear_domain("example.com")
