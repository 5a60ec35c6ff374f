"""Receptive fields of masked stacks by backpropagation, against closed forms counted by hand:
a plain 3x3 PixelCNN stack of L layers sees row i-r (r = 1..L) from column j-L to j+r, plus L pixels
to the left in row i: (3L² + 5L)/2 pixels, and misses a wedge of L(L-1)/2 (the blind spot);
the gated two-stack sees L+1 full rows of width 2L+1 plus L pixels to the left, and misses none."""
from __future__ import annotations

import numpy as np
import pytest

from backproplab.analysis.masked_receptive_field import blind_spot, field_counts, masked_stack, receptive_fields


@pytest.fixture(scope="module")
def fields():
    return {kind: receptive_fields(kind, max_layers=6) for kind in ("plain", "dilated", "gated")}


def test_plain_stack_field_and_blind_spot_match_the_closed_form(fields):
    for c in fields["plain"].counts:
        depth = c["layers"]
        assert c["seen"] == (3 * depth**2 + 5 * depth) // 2, c
        assert c["blind_spot"] == depth * (depth - 1) // 2, c


def test_gated_stack_has_no_blind_spot(fields):
    for c in fields["gated"].counts:
        depth = c["layers"]
        assert c["seen"] == (depth + 1) * (2 * depth + 1) + depth, c
        assert c["blind_spot"] == 0, c
    assert not fields["gated"].blind.any()


def test_the_blind_spot_lies_above_right(fields):
    r = fields["plain"]
    i, j = r.pixel
    rows, cols = np.nonzero(r.blind[-1])
    assert rows.max() < i and cols.min() > j  # strictly above and to the right of p


@pytest.mark.parametrize("kind", ["plain", "dilated", "gated"])
def test_every_field_is_causal(fields, kind):
    r = fields[kind]
    i, j = r.pixel
    size = r.fields.shape[-1]
    after = (np.arange(size * size) >= i * size + j).reshape(size, size)
    assert not r.fields[:, after].any()
    assert r.fields[:, i, j - 1].all()  # the left neighbour is always seen


def test_dilation_widens_the_field_but_keeps_the_blind_spot(fields):
    plain, dilated = fields["plain"].counts, fields["dilated"].counts
    assert dilated[0] == plain[0]  # layer 1 has dilation 1 in both
    for p, d in zip(plain[1:], dilated[1:]):
        assert d["seen"] > p["seen"] and d["blind_spot"] > 0
    assert dilated[3]["seen"] > 5 * plain[3]["seen"]  # dilations 1, 2, 4, 8: 284 pixels against 34


def test_heat_is_normalised_and_matches_fields(fields):
    r = fields["plain"]
    assert np.allclose(r.heat.max(axis=(1, 2)), 1.0)
    np.testing.assert_array_equal(r.fields, r.heat > 0)


def test_counts_on_made_up_fields():
    field = np.zeros((4, 5), dtype=bool)
    field[1, 1:4] = True  # a row of 3 above p = (2, 2)
    field[2, 1] = True
    assert field_counts(field, (2, 2)) == {"seen": 4, "causal_in_box": 4, "blind_spot": 0}
    field[1, 3] = False  # a hole above right
    field[0, 3] = True  # keeps the box as wide, one row taller
    counts = field_counts(field, (2, 2))
    assert counts == {"seen": 4, "causal_in_box": 7, "blind_spot": 3}
    assert blind_spot(field, (2, 2)).sum() == 3 and not blind_spot(field, (2, 2))[2].any()


def test_masked_stack_builds_positive_a_then_b_layers():
    model = masked_stack(3, kernel_size=3, dilations=(1, 2))
    kinds = [(m.mask_type, m.dilation) for m in model]
    assert kinds == [("A", (1, 1)), ("B", (2, 2)), ("B", (1, 1))]
    assert all((m.weight.data[m.mask] > 0).all() for m in model)
