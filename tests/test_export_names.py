"""The one slug rule for file names made from run names (CLI, sessions, the window's exports)."""

import pytest

from resnet_viz.export.names import SLUG_MAX, slug


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain-56 · he · sgd 0.1", "plain-56-he-sgd-0.1"),
        ("resnet-20 · he · sgd 0.1 m0.9", "resnet-20-he-sgd-0.1-m0.9"),
        ("finished · run/ü", "finished-run-u"),
        ("Müller's   Net", "muller-s-net"),
        ("..", "run"),
        ("../../etc/passwd", "etc-passwd"),
        (".hidden", "hidden"),
        ("-- · --", "run"),
        ("", "run"),
        ("日本", "run"),
    ],
)
def test_slug_is_lower_case_ascii_joined_by_dashes(text, expected):
    assert slug(text) == expected


def test_slug_is_cut_at_the_limit_and_ends_on_no_separator():
    long = "a" * (SLUG_MAX - 1) + " b" + "c" * 20
    assert slug(long) == "a" * (SLUG_MAX - 1)
    assert len(slug("x" * 500)) == SLUG_MAX
