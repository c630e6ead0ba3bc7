"""The lines people read: progress, sizes, counts, no escape codes."""

from __future__ import annotations

import io

import pytest

from lambda_wheels_cdk.events import Progress, counted, human_size, plain_text


def _progress_after(seconds: float) -> tuple[Progress, io.StringIO]:
    stream = io.StringIO()
    progress = Progress("api", stream=stream)
    progress._start -= seconds  # as if the bundle started that long ago
    return progress, stream


@pytest.mark.parametrize(
    ("message", "line"),
    [
        # uv's stage line has its own time: one number, not "(1.46s) (4.9s)"
        ("resolved 1 package (1.46s)", "[lambda-wheels] api: resolved 1 package (1.46s)"),
        ("installed 12 packages (35ms)", "[lambda-wheels] api: installed 12 packages (35ms)"),
        (
            "downloading pyarrow (40.1MiB)",
            "[lambda-wheels] api: downloading pyarrow (40.1MiB) (4.9s)",
        ),
        (
            "audit python3.12/arm64: 0 errors",
            "[lambda-wheels] api: audit python3.12/arm64: 0 errors (4.9s)",
        ),
    ],
)
def test_one_time_per_line(message: str, line: str) -> None:
    progress, stream = _progress_after(4.9)
    progress(message)
    assert stream.getvalue() == line + "\n"


def test_no_time_in_the_first_second_and_no_escape_codes() -> None:
    progress, stream = _progress_after(0.0)
    progress("\x1b[1mbuilding\x1b[0m lw-hooked")
    assert stream.getvalue() == "[lambda-wheels] api: building lw-hooked\n"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (812, "812 B"),
        (1024, "1.0 KiB"),
        (40_680, "39.7 KiB"),  # the "0.0 MB"
        (2_306_867, "2.2 MiB"),
        (262_144_000, "250.0 MiB"),  # Lambda's unzipped limit
        (1_181_116_006, "1.1 GiB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_counted() -> None:
    assert counted(1, "distribution") == "1 distribution"
    assert counted(0, "distribution") == "0 distributions"
    assert counted(3_904, "file") == "3,904 files"


def test_plain_text_removes_colours_titles_and_links() -> None:
    text = "\x1b[36mdocopt\x1b[39m \x1b]0;title\x07\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\"
    assert plain_text(text) == "docopt link"
