"""URL credentials: the one module that strips and masks them (lambda_wheels_cdk/urls.py).

Expected values are literals written from RFC 3986 section 3.2.1 (``userinfo@host``, ending the
authority at the first ``/``, ``?`` or ``#``) and the masking rules the README promises
(``user:***``, a lone token as ``***``).
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_wheels_cdk import urls

FUZZ = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
#: Characters RFC 3986 allows in a password without escaping, and ``%`` for escapes.
PASSWORDS = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.~%!$&()*+,;=", min_size=6, max_size=30
).map(lambda p: "PW" + p)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@host/simple/", "https://host/simple/"),
        ("https://TOKEN@host/simple", "https://host/simple"),
        ("https://us%40er:p%3Ass@host:8443/x", "https://host:8443/x"),
        # An unescaped '@' in the password: the userinfo runs to the last '@'.
        ("https://user:p@ss@host/x", "https://host/x"),
        ("git+https://user:tok@github.com/o/r.git@v1.0", "git+https://github.com/o/r.git@v1.0"),
        # '@' after the authority is no userinfo.
        ("https://host/path@x", "https://host/path@x"),
        ("https://host?next=a@b", "https://host?next=a@b"),
        ("https://host#a@b", "https://host#a@b"),
        ("https://host/simple", "https://host/simple"),
        # A URL urllib cannot parse (bad IPv6 literal) still loses its secret.
        ("https://user:tok@[::1/simple", "https://[::1/simple"),
        ("not a url", "not a url"),
        ("/local/wheels", "/local/wheels"),
        ("", ""),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert urls.strip_credentials(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@host/simple/", "https://user:***@host/simple/"),
        ("https://TOKEN@host/simple", "https://***@host/simple"),
        ("https://us%40er:p%3Ass@host/x", "https://us%40er:***@host/x"),
        ("https://user:p@ss@host/x", "https://user:***@host/x"),
        ("https://user:@host/x", "https://user:***@host/x"),
        ("https://host/simple", "https://host/simple"),
        ("https://user:tok@[::1/x", "https://user:***@[::1/x"),
        # Leading blanks do not hide a URL (urllib skips them too).
        ("  https://user:tok@host/", "  https://user:***@host/"),
        ("C:\\wheels", "C:\\wheels"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert urls.redact_url(url) == expected


def test_redact_text_masks_every_url_and_known_secrets() -> None:
    text = (
        "GET https://alice:hunter22@a.example/simple failed; "
        "retry 'https://tok123@b.example/x' and https://c.example/ (key hunter22)"
    )
    assert urls.redact_text(text, ["hunter22", "abc", ""]) == (
        "GET https://alice:***@a.example/simple failed; "
        "retry 'https://***@b.example/x' and https://c.example/ (key ***)"
    )


def test_redact_text_leaves_short_known_secrets_alone() -> None:
    # Secrets under 4 characters would mask ordinary words.
    assert urls.redact_text("abc def", ["abc"]) == "abc def"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://us%40er:p%3Ass@host/x", ("us@er", "p:ss")),
        ("https://tok@host/", ("tok", "")),
        ("https://user:p@ss@host/", ("user", "p@ss")),
        ("https://host/", None),
        ("host:8080", None),
    ],
)
def test_credentials_are_decoded(url: str, expected: tuple[str, str] | None) -> None:
    assert urls.credentials(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pa%21ss@host/", "pa%21ss"),
        ("https://tok@host/", "tok"),
        ("https://user:@host/", None),
        ("https://host/", None),
    ],
)
def test_secret_of_is_the_written_secret(url: str, expected: str | None) -> None:
    assert urls.secret_of(url) == expected


def test_userinfo_in_text_rewrites_each_url() -> None:
    text = "pkg @ https://u:p@h.example/pkg.whl\n--extra-index-url https://t@i.example/simple\n"
    assert urls.userinfo_in_text(text, lambda info: f"<{len(info)}>") == (
        "pkg @ https://<3>@h.example/pkg.whl\n--extra-index-url https://<1>@i.example/simple\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "--index-url https://u:p@host/simple?token=abc&x=1",
            "--index-url https://u:***@host/simple?token=***&x=1",
        ),
        ("https://bucket/k?X-Amz-Signature=deadbeef", "https://bucket/k?X-Amz-Signature=***"),
        ("password = hunter2", "password = ***"),
        ("--token abc123", "--token ***"),
        ("api_key: zzz", "api_key: ***"),
        ("id AKIAABCDEFGHIJKLMNOP here", "id *** here"),
        # A requirement's version specifier is no secret value.
        ("auth-lib>=1.0", "auth-lib>=1.0"),
    ],
)
def test_redact_secrets(text: str, expected: str) -> None:
    assert urls.redact_secrets(text) == expected


def test_masked_cuts_long_lines() -> None:
    assert urls.masked("x" * 100) == "x" * 77 + "..."
    assert urls.masked("x" * 80) == "x" * 80
    assert urls.masked("password=abcdef", limit=11) == "password..."


def test_quoted_is_masked_in_quotes() -> None:
    assert urls.quoted("--index-url https://u:tok@h/ password=x") == (
        "'--index-url https://u:***@h/ password=***'"
    )


@FUZZ
@given(
    scheme=st.sampled_from(["https", "http", "git+https", "file"]),
    user=st.text(alphabet=string.ascii_lowercase, max_size=8),
    password=PASSWORDS,
    rest=st.text(alphabet=string.ascii_lowercase + "/.?=&#:@", max_size=30),
    with_user=st.booleans(),
)
def test_no_function_leaks_the_secret(
    scheme: str, user: str, password: str, rest: str, with_user: bool
) -> None:
    userinfo = f"{user}:{password}" if with_user else password
    url = f"{scheme}://{userinfo}@host.example.com/{rest}"
    assert urls.redact_url(url).startswith(f"{scheme}://{user + ':' if with_user else ''}***@")
    assert password not in urls.redact_url(url)
    assert password not in urls.redact_text(f"--index-url {url} and more text")
    assert password not in urls.masked(f"--index-url {url}", limit=1000)
    assert urls.strip_credentials(url) == f"{scheme}://host.example.com/{rest}"
    assert urls.secret_of(url) == password
    assert urls.userinfo(url) == userinfo


@FUZZ
@given(text=st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=300))
def test_no_function_raises(text: str) -> None:
    for function in (urls.redact_url, urls.redact_text, urls.strip_credentials, urls.masked):
        assert isinstance(function(text), str)
    for find in (urls.userinfo, urls.secret_of):
        assert isinstance(find(text), (str, type(None)))
    found = urls.credentials(text)
    assert found is None or all(isinstance(part, str) for part in found)


@pytest.mark.parametrize(
    ("text", "url", "remote", "drive"),
    [
        # RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        ("https://host/simple", True, True, False),
        ("git+ssh://git@host/repo.git", True, True, False),
        ("FILE:///abs/pkg.whl", True, False, False),
        ("file:///C:/pkg.whl", True, False, False),
        ("file:relative/pkg", False, False, False),
        ("./pkg", False, False, False),
        ("pkg-1.0-py3-none-any.whl", False, False, False),
        ("1http://host", False, False, False),
        ("C:\\pkgs\\pkg.whl", False, False, True),
        ("c:/pkgs", False, False, True),
        ("C://share/pkg", True, True, True),  # a path (see local_path_of), shaped like a URL
        ("C:pkg", False, False, False),
    ],
)
def test_url_or_path(text: str, url: bool, remote: bool, drive: bool) -> None:
    assert (urls.is_url(text), urls.is_remote_url(text), urls.has_drive(text)) == (
        url,
        remote,
        drive,
    )
