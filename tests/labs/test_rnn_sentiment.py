"""rnn-sentiment lab: a quick run on a slice of the real SST files (one softmax per sentence, the best dev
epoch restored, a resumed run repeating the numbers), and its report sentences on made-up numbers both ways."""
import json

import numpy as np
import pytest

from backproplab.labs import rnn_sentiment as lab
from backproplab.labs import rnn_sentiment_text as text
from backproplab.labs.config import ConfigError


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from backproplab.data.sst import find_sst_dir
    from backproplab.labs.runner import run_lab

    try:
        find_sst_dir()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    out = tmp_path_factory.mktemp("rnn")
    return run_lab(lab, lab.Config().quick(), out), out


def test_quick_run_numbers_hang_together(quick_run):
    res, out = quick_run
    for f in ("report.md", "curves.csv", "accuracy_curves.png", "confusion_matrix.png", "hidden_grad_norms.png",
              "examples.json", "many_to_many.json", "config.json"):
        assert (out / f).is_file(), f
    curves = res["curves"]
    assert len(curves) == 3 and curves[-1]["train_loss"] < curves[0]["train_loss"]  # it learns on the slice
    assert all(r["grad_norm"] > 0 for r in curves)
    conf = np.array(res["confusion"])
    assert conf.shape == (5, 5) and conf.sum() == 300
    assert res["test_acc"] == pytest.approx(np.trace(conf) / 300, rel=1e-12)
    # the reported model is the best dev epoch's (EarlyStopping restored its weights)
    best = max(curves, key=lambda r: r["dev_acc"])
    assert res["best_epoch"] == best["epoch"] and res["test_acc"] == pytest.approx(best["test_acc"], rel=1e-12)
    g = res["grad_profile"]["mean_norm"]
    assert g[0] > 10 * g[10]  # the gradient through time shrinks
    examples = json.loads((out / "examples.json").read_text())
    assert all(abs(sum(e["probs"]) - 1) < 1e-9 for e in examples)
    assert f"{res['test_acc']:.2%}" in (out / "report.md").read_text()
    assert not res["goal"]["full_setting"]


def test_outputs_per_sentence_answer_question_3(quick_run):
    res, _ = quick_run
    o = res["outputs"]
    assert o["many_to_one"] == 1.0 and o["classes"] == 5
    assert o["many_to_many"] == pytest.approx(o["mean_words"], rel=1e-12) and o["mean_words"] > 5
    assert o["largest_sum_error"] < 1e-12 and o["smallest_probability"] > 0


def test_resumed_run_repeats_the_numbers(quick_run):
    """Without result.json the run starts again: the finished checkpoints give back the best-dev weights and
    the per-epoch test accuracies, so every number is the same."""
    from backproplab.labs.runner import run_lab

    res, out = quick_run
    (out / "result.json").unlink()
    again = run_lab(lab, lab.Config().quick(), out)
    for key in ("curves", "confusion", "test_acc", "grad_profile", "many_to_many", "examples"):
        assert again[key] == res[key], key


def test_config_ranges_and_quick():
    with pytest.raises(ConfigError, match="--dropout"):
        lab.Config(dropout=1.0)
    with pytest.raises(ConfigError, match="--clip"):
        lab.Config(clip=0.0)
    with pytest.raises(ConfigError, match="--tagger-num-epochs"):
        lab.Config(tagger_num_epochs=0)
    q = lab.Config().quick()
    assert q.is_quick and q.train_size == 300 and q.num_epochs == 3
    assert lab.full_setting(lab.Config()) and not lab.full_setting(q)
    assert not lab.full_setting(lab.Config(binary=True)) and not lab.full_setting(lab.Config(test_size=100))


def test_off_by_one_share():
    c = np.diag([5, 5, 5])
    assert lab.off_by_one_share(c) is None
    c = c + np.array([[0, 3, 1], [0, 0, 0], [0, 0, 0]])  # 3 neighbour errors, 1 two classes away
    assert lab.off_by_one_share(c) == pytest.approx(0.75)


# -- sentences on made-up numbers ----------------------------------------------------------------------
def test_outputs_and_distribution_sentences_both_ways():
    good = {"many_to_one": 1.0, "many_to_many": 19.5, "mean_words": 19.5, "classes": 5, "largest_sum_error": 2e-16,
            "smallest_probability": 0.01}
    assert "once per test sentence" in text.outputs_sentence(good).msgid
    assert "measurement is wrong" in text.outputs_sentence({**good, "many_to_one": 2.0}).msgid
    assert "non-negative numbers summing to 1" in text.distribution_sentence(good, ["a", "b"]).msgid
    assert "away from 1" in text.distribution_sentence({**good, "largest_sum_error": 0.1}, ["a"]).msgid
    assert "away from 1" in text.distribution_sentence({**good, "smallest_probability": -0.1}, ["a"]).msgid


def _result(acc, full):
    return {"test_acc": acc, "dev_acc": 0.4, "best_epoch": 3, "goal": {"test_acc": 0.42, "full_setting": full},
            "data": {"chance": 0.2, "majority": 0.23}}


def test_goal_sentence_names_the_setting_and_goes_both_ways():
    def tail(result):
        return str(text.goal_sentence(result, 0.432))

    assert "this meets the goal of 42%" in tail(_result(0.4326, True))
    assert "below the goal of 42%" in tail(_result(0.41, True))
    assert "neither meets nor misses" in tail(_result(0.45, False))
    assert "On SST-5 with every training sentence" in tail(_result(0.4326, True))


def test_confusion_sentence_both_ways():
    assert "mostly confuses neighbouring" in text.confusion_sentence(0.7, 5).msgid
    assert "do not follow the order" in text.confusion_sentence(0.3, 5).msgid
    assert "no error" in text.confusion_sentence(None, 5).msgid
    assert "two classes" in text.confusion_sentence(1.0, 2).msgid
    assert "40%" in str(text.confusion_sentence(0.3, 5))  # an even spread puts 2/k of the errors on neighbours


def test_grad_sentence_four_ways():
    fast = {"mean_norm": [1.0] + [1e-3] * 20}
    flat = {"mean_norm": [1.0] + [0.5] * 20}
    assert "Before and after training the gradient shrinks more" in str(text.grad_sentence(fast, fast))
    assert "keep it within 10-fold" in str(text.grad_sentence(flat, fast))
    assert "training made it vanish" in str(text.grad_sentence(fast, flat))
    assert "no vanishing gradient" in str(text.grad_sentence(flat, flat))
    assert "15 words before it" in str(text.grad_sentence(fast, fast))
    assert "too short" in str(text.grad_sentence({"mean_norm": [1.0]}, {"mean_norm": [1.0]}))


def test_tagger_sentence_both_ways():
    m2m = {"curves": [{"test_prefix_acc": 0.6, "test_sentence_acc": 0.38}], "prefix_majority": 0.5}
    s = str(text.tagger_sentence(m2m, 0.40, "phrases"))
    assert "is above the 50.00%" in s and "below the 40.00%" in s and "phrases as well" in s
    m2m = {"curves": [{"test_prefix_acc": 0.45, "test_sentence_acc": 0.42}], "prefix_majority": 0.5}
    s = str(text.tagger_sentence(m2m, 0.40, "sentences"))
    assert "is not above" in s and "above the 40.00%" in s and "same sentences" in s
    m2m["curves"][0]["test_sentence_acc"] = 0.40
    assert "the same as" in str(text.tagger_sentence(m2m, 0.40, "sentences"))
