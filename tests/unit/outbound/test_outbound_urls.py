"""The one URL parser: what it refuses (and says why), what it accepts, and that what it
accepts reads back the same."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lti_app.outbound import BadURL, SafeURL, parse_url

REFUSED = [
    ("http://127.0.0.1\\@evil.com/", "backslash"),
    ("http:\\\\127.0.0.1/", "backslash"),
    ("http://user@example.com/", "user information"),
    ("http://evil.com:80@127.0.0.1/", "user information"),
    ("http://@127.0.0.1/", "user information"),
    ("http://2130706433/", "dotted-quad"),
    ("http://0x7f.1/", "dotted-quad"),
    ("http://0x7f000001/", "dotted-quad"),
    ("http://0177.0.0.1/", "dotted-quad"),
    ("http://127.1/", "dotted-quad"),
    ("http://127.0.0.01/", "dotted-quad"),
    ("http://256.0.0.1/", "dotted-quad"),
    ("http://1.2.3.4.5/", "dotted-quad"),
    ("http://example.0x10/", "dotted-quad"),
    ("http://localhost./", "ending with a dot"),
    ("http://example.com./x", "ending with a dot"),
    ("http://[fe80::1%25eth0]/", "zone identifier"),
    ("http://[fe80::1%eth0]/", "zone identifier"),
    ("http://[::1/", "unclosed"),
    ("http://[::1]x/", "after its IPv6"),
    ("http://[zz::1]/", "invalid IPv6"),
    ("http://::1/", "several ':'"),
    ("http://example.com:/", "empty port"),
    ("http://example.com:0/", "invalid port"),
    ("http://example.com:080/", "invalid port"),
    ("http://example.com:99999/", "out of range"),
    ("http://example.com:+80/", "invalid port"),
    ("http://example.com:８０/", "invalid port"),
    ("http://exa mple.com/", "whitespace"),
    ("http://example.com/\tx", "whitespace"),
    ("http://example.com/\nx", "whitespace"),
    (" http://example.com/", "whitespace"),
    ("http://example.com/\x00", "control"),
    ("http://exa%6dple.com/", "percent-encoded host"),
    ("http://example.com/%zz", "malformed percent"),
    ("http://example.com/é", "non-ASCII"),
    ("ftp://example.com/", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://127.0.0.1:25/", "only http and https"),
    ("javascript:alert(1)", "only http and https"),
    ("//example.com/", "no scheme"),
    ("http:/example.com/", "//host"),
    ("http:///example.com/", "//host"),
    ("http://", "no host"),
    ("http://:80/", "no host"),
    ("http://exa_mple..com/", "invalid host"),
    ("http://-example.com/", "invalid host"),
    ("http://xn--zz.com/", "not a valid domain"),
    ("http://" + "a" * 64 + ".com/", "invalid host"),
    ("http://example.com/" + "a" * 5000, "longer than"),
]


@pytest.mark.parametrize(("url", "problem"), REFUSED)
def test_ambiguous_or_unfetchable_urls_are_refused_with_the_reason(url: str, problem: str):
    with pytest.raises(BadURL) as refused:
        parse_url(url)
    assert problem in str(refused.value), str(refused.value)


ACCEPTED = [
    ("http://example.com", SafeURL("http", "example.com", 80, "/")),
    ("HTTPS://Example.COM:443/a?b=c#frag", SafeURL("https", "example.com", 443, "/a?b=c")),
    ("http://example.com?x=1", SafeURL("http", "example.com", 80, "/?x=1")),
    ("http://evil.com#@127.0.0.1", SafeURL("http", "evil.com", 80, "/")),
    ("http://127.0.0.1:8080/x", SafeURL("http", "127.0.0.1", 8080, "/x")),
    ("http://[::1]:8443/", SafeURL("http", "::1", 8443, "/")),
    ("http://[::ffff:127.0.0.1]/", SafeURL("http", "::ffff:7f00:1", 80, "/")),
    ("http://münchen.de/", SafeURL("http", "xn--mnchen-3ya.de", 80, "/")),
    # UTS 46 maps full-width forms: this IS 127.0.0.1 and is then checked as such.
    ("http://１２７．０．０．１/", SafeURL("http", "127.0.0.1", 80, "/")),
    ("http://moodle_app:8080/x", SafeURL("http", "moodle_app", 8080, "/x")),
    ("http://example.com/a%20b", SafeURL("http", "example.com", 80, "/a%20b")),
]


@pytest.mark.parametrize(("url", "parsed"), ACCEPTED)
def test_accepted_urls_are_normalised(url: str, parsed: SafeURL):
    assert parse_url(url) == parsed


def test_authority_carries_the_port_only_when_it_is_not_the_default():
    assert parse_url("https://example.com:443/").authority == "example.com"
    assert parse_url("https://example.com:8443/").authority == "example.com:8443"
    assert parse_url("http://[::1]:81/").authority == "[::1]:81"
    assert str(parse_url("http://[::1]/x")) == "http://[::1]/x"


def test_redirect_targets_are_joined_then_parsed_just_as_strictly():
    base = parse_url("https://example.com/a/b")
    assert base.join("c") == parse_url("https://example.com/a/c")
    assert base.join("//other.example/x") == parse_url("https://other.example/x")
    assert base.join("http://127.0.0.1:9/") == parse_url("http://127.0.0.1:9/")
    for hostile in ("http://2130706433/", "/x\ty", "\\\\evil.com/", "http://a@b/"):
        with pytest.raises(BadURL):
            base.join(hostile)


_host = st.one_of(
    st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,2}\Z"),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
)
_path = st.from_regex(r"\A(/[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,12}){0,4}\Z").filter(
    lambda p: "%" not in p
)


@settings(max_examples=300)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    host=_host,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=_path,
    query=st.one_of(st.none(), st.from_regex(r"\A[a-z0-9=&]{0,12}\Z")),
)
def test_what_is_accepted_reads_back_identically(scheme, host, port, path, query):
    raw = f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"
    if query is not None:
        raw += f"?{query}"
    parsed = parse_url(raw)
    assert parse_url(str(parsed)) == parsed
    assert "@" not in parsed.host and "\\" not in str(parsed)
    assert parsed.port == (port or {"http": 80, "https": 443}[scheme.lower()])


@settings(max_examples=500)
@given(st.text(max_size=60))
def test_any_text_is_either_a_clean_url_or_refused(text: str):
    try:
        parsed = parse_url("http://" + text)
    except BadURL as refused:
        assert str(refused)  # a message, never an unhandled error
        return
    rendered = str(parsed)
    assert rendered.isascii()
    assert not any(c.isspace() or ord(c) < 0x21 or c == "\\" for c in rendered)
    assert parse_url(rendered) == parsed
