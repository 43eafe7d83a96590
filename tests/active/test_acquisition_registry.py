"""get_acquisition and needs_members."""

import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def test_registry_names_and_errors():
    for name in ["entropy", "least_confidence", "margin", "variation_ratio", "bald", "mean_std"]:
        assert kt.active.get_acquisition(name) is getattr(kt.active, name)
    custom = lambda members: members.max(axis=(0, 2))  # noqa: E731
    assert kt.active.get_acquisition(custom) is custom
    with pytest.raises(
        ValueError,
        match=r"Unknown acquisition.*'bald'.*Received: "
        r"acquisition='baldd'",
    ):
        kt.active.get_acquisition("baldd")
    with pytest.raises(TypeError, match="name or a callable"):
        kt.active.get_acquisition(3)
    assert kt.active.needs_members(kt.active.variation_ratio)
    assert not kt.active.needs_members(kt.active.margin)
