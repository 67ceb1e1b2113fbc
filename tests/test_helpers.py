"""Header-value parsers and small helpers, tested string-in / value-out."""

from __future__ import annotations

import dataclasses
import enum
import io
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import MultiDictProxy
from yarl import URL

from hyperclient.helpers import (
    ETAG_ANY,
    ContentDisposition,
    ETag,
    content_type_is_json,
    decode_ext_value,
    guess_filename,
    is_ip_address,
    parse_content_disposition,
    parse_content_type,
    parse_etag,
    parse_etag_list,
    parse_links,
    sentinel,
)

# --------------------------------------------------------------------------- ETag


def test_etag_takes_value_positionally_and_defaults_to_strong() -> None:
    tag = ETag("xyzzy")
    assert tag.value == "xyzzy"
    assert tag.is_weak is False
    assert ETag("xyzzy", is_weak=True).is_weak is True


def test_etag_is_a_frozen_hashable_value() -> None:
    assert ETag("a") == ETag("a", False)
    assert ETag("a") != ETag("a", True)
    assert len({ETag("a"), ETag("a"), ETag("b")}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        ETag("a").value = "b"  # type: ignore[misc]
    assert not hasattr(ETag("a"), "__dict__")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"xyzzy"', ETag("xyzzy")),
        ('W/"xyzzy"', ETag("xyzzy", is_weak=True)),
        ('""', ETag("")),
        ('W/""', ETag("", is_weak=True)),
        ('  "padded"\t', ETag("padded")),
        ('"a,b"', ETag("a,b")),
        ('"\\x"', ETag("\\x")),
        ('"caf\u00e9"', ETag("caf\u00e9")),
    ],
)
def test_parse_etag_accepts_rfc9110_entity_tags(header: str, expected: ETag) -> None:
    assert parse_etag(header) == expected


@pytest.mark.parametrize(
    "header",
    ["", "xyzzy", 'w/"lowercase-weak"', 'W/ "space"', '"a b"', '"a"b"', '"open', "*", '"a" x'],
)
def test_parse_etag_rejects_invalid_values(header: str) -> None:
    assert parse_etag(header) is None


def test_parse_etag_list_reads_every_member() -> None:
    assert parse_etag_list('"xyzzy", "r2d2xxxx", W/"c3piozzzz"') == [
        ETag("xyzzy"),
        ETag("r2d2xxxx"),
        ETag("c3piozzzz", is_weak=True),
    ]


def test_parse_etag_list_keeps_commas_inside_opaque_tags() -> None:
    assert parse_etag_list('"a,b",W/"c,d"') == [ETag("a,b"), ETag("c,d", is_weak=True)]


def test_parse_etag_list_skips_invalid_and_empty_members() -> None:
    header = ' , bad, "ok1", w/"x", "unterminated, , "ok2" junk, W/"ok3",'
    assert parse_etag_list(header) == [ETag("ok1"), ETag("ok3", is_weak=True)]


def test_parse_etag_list_of_empty_header_is_empty() -> None:
    assert parse_etag_list("") == []
    assert parse_etag_list(" , ,") == []


def test_parse_etag_list_star_means_any() -> None:
    assert parse_etag_list(" * ") == [ETag(ETAG_ANY)]
    assert parse_etag_list('*, "a"') == [ETag("a")]


# --------------------------------------------------------------------------- Content-Type


@pytest.mark.parametrize(
    ("header", "mimetype", "params"),
    [
        ("text/html", "text/html", {}),
        ("Text/HTML; Charset=UTF-8", "text/html", {"charset": "UTF-8"}),
        ('text/html;charset="utf-8"', "text/html", {"charset": "utf-8"}),
        ('text/plain; a="x;y"; b=2', "text/plain", {"a": "x;y", "b": "2"}),
        ('text/plain; a="q\\"uo\\\\te"', "text/plain", {"a": 'q"uo\\te'}),
        ('text/plain; a=""', "text/plain", {"a": ""}),
        ("application/json;", "application/json", {}),
        ("  application/json ; ; charset=utf-8 ", "application/json", {"charset": "utf-8"}),
        ("application/vnd.api+json", "application/vnd.api+json", {}),
        ("multipart/form-data; boundary=----x", "multipart/form-data", {"boundary": "----x"}),
    ],
)
def test_parse_content_type_valid(header: str, mimetype: str, params: dict[str, str]) -> None:
    got_type, got_params = parse_content_type(header)
    assert got_type == mimetype
    assert dict(got_params) == params
    assert isinstance(got_params, MappingProxyType)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "text",
        "text/",
        "/html",
        "text/html/x",
        "text /html",
        "text/html; charset = utf-8",  # RFC 9110 §5.6.6: no whitespace around "="
        "text/html; charset",
        "text/html; charset=",
        'text/html; charset="utf-8',
        'text/html; charset="utf-8"x',
        "text/html; charset=utf 8",
        "text/html junk",
        "text/h(tml)",
        "text/html; a=\x00",
    ],
)
def test_parse_content_type_invalid_gives_octet_stream(header: str | None) -> None:
    mimetype, params = parse_content_type(header)
    assert mimetype == "application/octet-stream"
    assert dict(params) == {}


def test_parse_content_type_keeps_first_of_repeated_parameter() -> None:
    assert parse_content_type("text/plain; charset=a; CHARSET=b")[1] == {"charset": "a"}


def test_parse_content_type_parameters_are_read_only() -> None:
    params = parse_content_type("text/plain; charset=utf-8")[1]
    with pytest.raises(TypeError):
        params["charset"] = "x"  # type: ignore[index]


def test_parse_content_type_caches_results_for_repeated_values() -> None:
    first = parse_content_type("text/plain; charset=cache-test")
    assert parse_content_type("text/plain; charset=cache-test") is first


@pytest.mark.parametrize(
    ("mimetype", "expected"),
    [
        ("application/json", True),
        ("APPLICATION/JSON", True),
        ("application/json; charset=utf-8", True),
        ("application/vnd.api+json", True),
        ("application/problem+json", True),
        ("text/x-thing+json", True),
        ("text/plain", False),
        ("application/jsonx", False),
        ("application/+json", False),
        ("+json", False),
        ("application/octet-stream", False),
        ("", False),
    ],
)
def test_content_type_is_json(mimetype: str, expected: bool) -> None:
    assert content_type_is_json(mimetype) is expected


# --------------------------------------------------------------------------- Content-Disposition


def _disposition(header: str) -> ContentDisposition:
    parsed = parse_content_disposition(header)
    assert parsed is not None
    return parsed


def test_content_disposition_absent_header_is_none() -> None:
    assert parse_content_disposition(None) is None


@pytest.mark.parametrize(
    ("header", "disptype", "filename"),
    [
        # RFC 6266 §5
        ("Attachment; filename=example.html", "attachment", "example.html"),
        ('INLINE; FILENAME= "an example.html"', "inline", "an example.html"),
        ("attachment; filename*= UTF-8''%e2%82%ac%20rates", "attachment", "\u20ac rates"),
        (
            "attachment; filename=\"EURO rates\"; filename*=utf-8''%e2%82%ac%20rates",
            "attachment",
            "\u20ac rates",
        ),
    ],
)
def test_content_disposition_rfc6266_examples(header: str, disptype: str, filename: str) -> None:
    parsed = _disposition(header)
    assert parsed.type == disptype
    assert parsed.filename == filename


def test_content_disposition_is_a_frozen_slotted_value() -> None:
    parsed = _disposition("inline")
    assert parsed == ContentDisposition("inline", {}, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.type = "attachment"  # type: ignore[misc]
    assert not hasattr(parsed, "__dict__")


def test_content_disposition_parameters_are_lowercased_and_read_only() -> None:
    parsed = _disposition('form-data; Name="field"; FileName="a.txt"')
    assert dict(parsed.parameters) == {"name": "field", "filename": "a.txt"}
    assert parsed.filename == "a.txt"
    with pytest.raises(TypeError):
        parsed.parameters["name"] = "x"  # type: ignore[index]


def test_content_disposition_without_filename() -> None:
    parsed = _disposition("inline")
    assert (parsed.type, dict(parsed.parameters), parsed.filename) == ("inline", {}, None)


@pytest.mark.parametrize(
    ("ext_value", "expected"),
    [
        # RFC 8187 §3.2.2
        ("iso-8859-1'en'%A3%20rates", "\u00a3 rates"),
        ("UTF-8''%c2%a3%20and%20%e2%82%ac%20rates", "\u00a3 and \u20ac rates"),
        ("utf-8'de-CH'plain", "plain"),
        ("UTF-8''", ""),
    ],
)
def test_decode_ext_value_rfc8187_examples(ext_value: str, expected: str) -> None:
    assert decode_ext_value(ext_value) == expected


@pytest.mark.parametrize(
    "ext_value",
    [
        "no-quotes",
        "UTF-8'onlyone",
        "''%41",  # charset is required
        "UTF-8''%e2%82",  # truncated UTF-8 sequence
        "UTF-8''%zz",
        "UTF-8''%4",
        "UTF-8''a b",
        "UTF-8''a\"b",
        "koi8-r''%c1",  # RFC 8187 §3.2: only UTF-8 and ISO-8859-1 are required; others ignored
    ],
)
def test_decode_ext_value_rejects_malformed(ext_value: str) -> None:
    assert decode_ext_value(ext_value) is None


def test_content_disposition_ext_title_decoded_under_star_key() -> None:
    parsed = _disposition("attachment; title*=iso-8859-1'en'%A3%20rates; title=Economy")
    assert parsed.parameters["title*"] == "\u00a3 rates"
    assert parsed.parameters["title"] == "Economy"


def test_content_disposition_filename_star_wins_regardless_of_order() -> None:
    parsed = _disposition("attachment; filename*=UTF-8''%e2%82%ac.txt; filename=\"EUR.txt\"")
    assert parsed.filename == "\u20ac.txt"


def test_content_disposition_undecodable_filename_star_falls_back_to_filename() -> None:
    parsed = _disposition("attachment; filename*=UTF-8''%ff; filename=plain.txt")
    assert parsed.filename == "plain.txt"
    assert "filename*" not in parsed.parameters


def test_content_disposition_continuations_are_joined() -> None:
    parsed = _disposition('attachment; filename*0="foo."; filename*1="html"')
    assert parsed.filename == "foo.html"
    assert dict(parsed.parameters) == {"filename": "foo.html"}


def test_content_disposition_extended_continuations_are_decoded_as_one_byte_string() -> None:
    # The euro sign's three UTF-8 bytes are split across segments.
    parsed = _disposition(
        "attachment; filename*0*=UTF-8''%e2%82; filename*1*=%ac%20; filename*2=\"rates\""
    )
    assert parsed.filename == "\u20ac rates"
    assert dict(parsed.parameters) == {"filename*": "\u20ac rates"}


def test_content_disposition_rfc2231_continuation_example() -> None:
    parsed = _disposition(
        "attachment; title*0*=us-ascii'en'This%20is%20even%20more%20; "
        'title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"'
    )
    assert parsed.parameters["title*"] == "This is even more ***fun*** isn't it!"


def test_content_disposition_continuation_stops_at_gap_and_needs_segment_zero() -> None:
    assert _disposition('a; filename*0="x"; filename*2="z"').filename == "x"
    assert _disposition('a; filename*1="y"').filename is None


def test_content_disposition_explicit_parameter_outranks_continuation() -> None:
    parsed = _disposition('attachment; filename="whole.txt"; filename*0="part"')
    assert parsed.filename == "whole.txt"


def test_content_disposition_quoted_pairs_are_unescaped() -> None:
    assert _disposition(r'attachment; filename="a\"b\\c.txt"').filename == 'a"b\\c.txt'


def test_content_disposition_tolerates_empty_parameters() -> None:
    parsed = _disposition("attachment; ; filename=a.txt;")
    assert parsed.type == "attachment"
    assert parsed.filename == "a.txt"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        '"quoted type"',
        "attachment filename=a.txt",
        "attachment; filename=foo bar.txt",
        'attachment; filename="unterminated',
        "attachment; filename",
        "attachment; filename=",
        "attachment; filename=a; FILENAME=b",  # RFC 6266 §4.1: names must not repeat
        "attachment; =value",
        "attachment; filename=a.txt junk",
        "inline; filename=a,b",
    ],
)
def test_content_disposition_invalid_syntax_gives_empty_result(header: str) -> None:
    parsed = _disposition(header)
    assert parsed.type is None
    assert dict(parsed.parameters) == {}
    assert parsed.filename is None


# --------------------------------------------------------------------------- Link

BASE = URL("http://example.com/TheBook/chapter3")


def _links(*values: str) -> MultiDictProxy[MultiDictProxy[str | URL]]:
    return parse_links(values, BASE)


def test_links_rfc8288_absolute_target_with_title() -> None:
    links = _links(
        '<http://example.com/TheBook/chapter2>; rel="previous"; title="previous chapter"'
    )
    assert list(links.keys()) == ["previous"]
    link = links["previous"]
    assert link["rel"] == "previous"
    assert link["title"] == "previous chapter"
    assert link["url"] == URL("http://example.com/TheBook/chapter2")


def test_links_rfc8288_relative_target_is_joined_with_base_url() -> None:
    links = _links('</>; rel="http://example.net/foo"')
    assert links["http://example.net/foo"]["url"] == URL("http://example.com/")


def test_links_rfc8288_anchor_is_kept_as_a_parameter() -> None:
    link = _links('</terms>; rel="copyright"; anchor="#foo"')["copyright"]
    assert link["anchor"] == "#foo"
    assert link["url"] == URL("http://example.com/terms")


def test_links_rfc8288_two_links_in_one_field_with_extended_titles() -> None:
    links = _links(
        "</TheBook/chapter2>; rel=\"previous\"; title*=UTF-8'de'letztes%20Kapitel, "
        "</TheBook/chapter4>; rel=\"next\"; title*=UTF-8'de'n%c3%a4chstes%20Kapitel"
    )
    assert list(links.keys()) == ["previous", "next"]
    assert links["previous"]["url"] == URL("http://example.com/TheBook/chapter2")
    assert links["next"]["url"] == URL("http://example.com/TheBook/chapter4")
    # Values are kept as sent; RFC 8187 decoding is left to the caller.
    assert links["previous"]["title*"] == "UTF-8'de'letztes%20Kapitel"
    assert decode_ext_value(str(links["next"]["title*"])) == "n\u00e4chstes Kapitel"


def test_links_rfc8288_multiple_relation_types_stay_one_key() -> None:
    links = _links('<http://example.org/>; rel="start http://example.net/relation/other"')
    assert list(links.keys()) == ["start http://example.net/relation/other"]


def test_links_rfc8288_several_links_in_one_field() -> None:
    links = _links('<https://example.org/>; rel="start", <https://example.org/index>; rel="index"')
    assert links["start"]["url"] == URL("https://example.org/")
    assert links["index"]["url"] == URL("https://example.org/index")


def test_links_from_several_header_fields_are_merged() -> None:
    links = _links("<a>; rel=next", "<b>; rel=prev", "<c>; rel=next")
    assert [str(link["url"]) for link in links.getall("next")] == [
        "http://example.com/TheBook/a",
        "http://example.com/TheBook/c",
    ]
    assert links["prev"]["url"] == URL("http://example.com/TheBook/b")


def test_links_without_rel_are_keyed_by_target_as_written() -> None:
    links = _links('</style.css>; type="text/css"')
    link = links["/style.css"]
    assert link["type"] == "text/css"
    assert link["url"] == URL("http://example.com/style.css")
    assert "rel" not in link


def test_links_commas_in_quotes_and_targets_do_not_split() -> None:
    links = _links('<http://x.test/a,b>; rel="one"; title="a, b", </c>; rel=two')
    assert list(links.keys()) == ["one", "two"]
    assert links["one"]["url"] == URL("http://x.test/a,b")
    assert links["one"]["title"] == "a, b"


def test_links_params_are_lowercased_quoted_pairs_unescaped_and_valueless_params_kept() -> None:
    link = _links('</x>; REL=next; Title="say \\"hi\\""; crossorigin')["next"]
    assert link["rel"] == "next"
    assert link["title"] == 'say "hi"'
    assert link["crossorigin"] == ""


def test_links_later_rel_parameters_are_ignored() -> None:
    link = _links('</x>; rel="first"; rel="second"')["first"]
    assert link.getall("rel") == ["first"]


def test_links_unquoted_non_token_values_are_accepted() -> None:
    link = _links("</style.css>; rel=stylesheet; type=text/css; media=screen")["stylesheet"]
    assert (link["type"], link["media"]) == ("text/css", "screen")


def test_links_whitespace_around_equals_is_allowed() -> None:
    assert _links("</x>; rel = next")["next"]["url"] == URL("http://example.com/x")


def test_links_malformed_members_are_skipped() -> None:
    links = _links(
        'no-brackets; rel=bad, </ok1>; rel=ok1, </x>; rel="unterminated, </ok2>; rel=ok2',
        "</a b>; rel=space, </y> junk; rel=junk, <>; rel=self, , ",
    )
    assert list(links.keys()) == ["ok1", "self"]
    assert links["self"]["url"] == BASE


def test_links_empty_input_gives_empty_proxy() -> None:
    assert len(parse_links([], BASE)) == 0
    assert len(_links("", " , ")) == 0
    assert isinstance(_links(""), MultiDictProxy)


# --------------------------------------------------------------------------- misc


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "[::1]", "2001:db8::1", "[2001:db8::1]",
     "::ffff:192.0.2.1", "fe80::1%eth0"],
)  # fmt: skip
def test_is_ip_address_true_for_literals(host: str) -> None:
    assert is_ip_address(host) is True


@pytest.mark.parametrize(
    "host",
    ["", "localhost", "example.com", "example1", "1.2.3", "256.1.1.1", "01.2.3.4", "1.2.3.4.",
     "[1.2.3.4]", "[::1", "::1]", "[]", "::g", "1.2.3.4:80", "\u0661.2.3.4"],
)  # fmt: skip
def test_is_ip_address_false_for_names_and_malformed(host: str) -> None:
    assert is_ip_address(host) is False


class _Named:
    def __init__(self, name: object) -> None:
        self.name = name


def test_guess_filename_uses_basename_of_name() -> None:
    assert guess_filename(_Named("/tmp/dir/report.pdf")) == "report.pdf"
    assert guess_filename(_Named("relative/data.bin"), "x") == "data.bin"


@pytest.mark.parametrize("name", ["<stdin>", "<fdopen>", "", 3, None, b"/tmp/a.txt"])
def test_guess_filename_falls_back_to_default(name: object) -> None:
    assert guess_filename(_Named(name)) is None
    assert guess_filename(_Named(name), "fallback") == "fallback"


def test_guess_filename_for_objects_without_name() -> None:
    assert guess_filename(io.BytesIO(b"x"), "blob") == "blob"
    assert guess_filename(object()) is None


def test_guess_filename_of_real_file(tmp_path: Path) -> None:
    path = tmp_path / "upload.txt"
    path.write_text("x")
    with open(path, "rb") as fh:
        assert guess_filename(fh) == "upload.txt"


def test_sentinel_is_a_unique_enum_member() -> None:
    from hyperclient.helpers import _SENTINEL, _Sentinel

    assert isinstance(sentinel, enum.Enum)
    assert sentinel is _Sentinel.sentinel
    assert sentinel is not None
    assert not isinstance(sentinel, int)
    assert repr(sentinel) == "sentinel"
    assert _SENTINEL is not None


# --------------------------------------------------------------------------- robustness

_header_text = st.text(alphabet=st.sampled_from(" \t;,=\"\\<>/*%'aZ09-_.\u20acW"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_header_text)
def test_parsers_never_raise_on_arbitrary_text(text: str) -> None:
    mimetype, _ = parse_content_type(text)
    assert mimetype
    disposition = parse_content_disposition(text)
    assert disposition is not None
    parse_links([text], BASE)
    parse_etag(text)
    parse_etag_list(text)
    decode_ext_value(text)
    is_ip_address(text)
