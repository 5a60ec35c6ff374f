"""masked-conv lab: the quick run's claims (blind spot L(L-1)/2 for plain stacks and 0 for gated; the
masked PixelCNN causal and below independent pixels; the unmasked cheat below the masked NLL and
seeing its own pixel); the probes on untrained networks; every report sentence both ways."""
import numpy as np

from backproplab.labs import masked_conv as lab
from backproplab.labs.masked_conv_model import closed_forms, dependence
from backproplab.labs.masked_conv_text import (baseline_sentence, blind_sentence, causal_sentence, cheat_sentence,
                                               closed_form_sentence, dilation_sentence, growth_sentence,
                                               ink_sentence)
from backproplab.models.pixelcnn import PixelCNNConfig, make_pixelcnn
from backproplab.report.i18n import language


def test_closed_forms_by_hand():
    # L = 1: the row above (3) and the left neighbour; L = 2: rows i-1, i-2 from j-2 to j+1 / j+2 minus the wedge
    assert [tuple(closed_forms(n).values()) for n in (1, 2, 3, 4)] == [(4, 0), (11, 1), (21, 3), (34, 6)]


def test_dependence_probes_on_untrained_networks():
    x = (np.random.default_rng(0).random((2, 1, 28, 28)) < 0.4).astype(np.float32)
    for masked in (True, False):
        model = make_pixelcnn(PixelCNNConfig(channels=4, num_layers=1, masked=masked), np.random.default_rng(1))
        dep = dependence(model, x)
        assert dep["num_probes"] == 2 * 3
        if masked:
            assert dep["own_share"] == 0 and dep["later_share"] == 0 and dep["flip_change"] == 0
        else:
            assert dep["own_share"] > 0 and dep["later_share"] > 0 and dep["flip_change"] > 0


def _rows(blind, seen=None, up=None):
    seen = seen or [10 * (i + 1) for i in range(len(blind))]
    up = up or [i + 1 for i in range(len(blind))]
    return [{"layers": i + 1, "blind_spot": b, "seen": s, "up": u, "left": u, "right": u}
            for i, (b, s, u) in enumerate(zip(blind, seen, up))]


def test_field_sentences_both_ways():
    with language("en"):
        assert "exactly `(3L² + 5L)/2`" in str(closed_form_sentence({"mismatched_depths": [], "depths": 8}))
        assert "DIFFER" in str(closed_form_sentence({"mismatched_depths": [3], "depths": 8}))
        assert "not checked" in str(closed_form_sentence(None))
        assert "grows with depth" in str(blind_sentence("plain", _rows([0, 1, 3])))
        assert "no blind spot at any depth" in str(blind_sentence("gated", _rows([0, 0, 0])))
        plain = _rows([0, 1, 3], [4, 11, 21], [1, 2, 3])
        assert "does not remove the blind spot" in str(dilation_sentence(plain, _rows([0, 7, 42], [4, 17, 70]),
                                                                         (1, 2, 4)))
        assert "with no blind spot" in str(dilation_sentence(plain, _rows([0, 0, 0], [4, 17, 70]), (1, 2, 4)))
        assert "would need 27 layers" in str(growth_sentence(plain))
        assert "would need 14 layers" in str(growth_sentence(_rows([0, 1], up=[2, 4])))


def test_nll_sentences_both_ways():
    honest = {"own_share": 0.0, "later_share": 0.0, "flip_change": 0.0, "num_probes": 24}
    cheat = {"own_share": 0.09, "later_share": 0.4, "flip_change": 13.0, "num_probes": 24}
    with language("en"):
        assert "fewer than independent" in str(baseline_sentence(140.0, 382.0))
        assert "NOT fewer" in str(baseline_sentence(390.0, 382.0))
        assert "exactly 0 on p" in str(causal_sentence(honest))
        assert "NOT causal" in str(causal_sentence(cheat))
        assert "no likelihood" in str(cheat_sentence(140.0, 30.0, cheat))
        assert "did not exploit" in str(cheat_sentence(140.0, 150.0, cheat))
        assert "no cheat here" in str(cheat_sentence(140.0, 130.0, honest))
        assert "not Fashion-MNIST" in str(ink_sentence({"test": 0.3, "masked_samples": 0.25, "unmasked_samples": 0.04}))
        assert "not Fashion-MNIST" in str(ink_sentence({"test": 0.3, "masked_samples": 0.25, "unmasked_samples": 0.7}))
        assert "within a factor" in str(ink_sentence({"test": 0.3, "masked_samples": 0.25, "unmasked_samples": 0.2}))


def test_quick_run(tmp_path, lab_run, have_fashion_mnist):
    res, out = lab_run(lab, tmp_path)
    fields = res["fields"]
    for row in fields["plain"]["rows"]:
        n = row["layers"]
        assert row["blind_spot"] == n * (n - 1) // 2 and row["seen"] == (3 * n * n + 5 * n) // 2
    assert all(row["blind_spot"] == 0 for row in fields["gated"]["rows"])
    assert all(d["seen"] > p["seen"] for p, d in zip(fields["plain"]["rows"][1:], fields["dilated"]["rows"][1:]))
    assert all(d["blind_spot"] > 0 for d in fields["dilated"]["rows"][1:])
    assert res["closed_form"]["mismatched_depths"] == []
    nll = res["nll"]
    assert nll["masked"] < 0.8 * nll["baseline"], nll
    assert nll["unmasked"] < 0.8 * nll["masked"], nll
    masked, cheat = res["networks"]["masked"]["dependence"], res["networks"]["unmasked"]["dependence"]
    assert masked["own_share"] == 0 and masked["later_share"] == 0 and masked["flip_change"] == 0
    assert cheat["own_share"] > 0 and cheat["flip_change"] > 0
    samples = np.load(out / "samples.npz")
    assert samples["masked_samples"].shape == (2, 28, 28) and samples["unmasked_samples"].shape == (2, 28, 28)
    given = lab.Config().quick().given_rows
    np.testing.assert_array_equal(samples["completions"][:, :given], samples["originals"][:, :given])
    for f in ("fields.npz", "fields.csv", "nll.csv", "receptive_fields.png", "samples.png", "masks.png"):
        assert (out / f).exists(), f


def test_dilation_answer_both_ways():
    from backproplab.labs.masked_conv_text import dilation_answer

    plain = {"layers": 8, "seen": 116, "blind_spot": 28}
    with language("en"):
        assert "removes it (0 pixels)" in str(dilation_answer(plain, {"seen": 1425, "blind_spot": 435},
                                                              {"seen": 161, "blind_spot": 0}))
        text = str(dilation_answer(plain, {"seen": 1425, "blind_spot": 0}, {"seen": 161, "blind_spot": 0}))
        assert "0 pixels with dilation" in text and "removes" not in text
