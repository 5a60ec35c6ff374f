"""CONTRIBUTING.md's recipes, followed in a temporary package: a toy layer passes the two
independent checks (central differences, PyTorch), and a toy lab in its own file is found by the
registry and round-trips through the command line (options, run folder, reports, result)."""
import json
import sys
import textwrap

import numpy as np
import pytest

from backproplab.analysis import check_module_grads

TOY_LAYER = '''
"""Scale: y = x * weight, one learned factor per feature. Shapes: x (N, F) -> y (N, F)."""
import numpy as np

from backproplab.nn import Module, Parameter


class Scale(Module):
    def __init__(self, features, *, rng):
        super().__init__()
        self.weight = Parameter(rng.uniform(0.5, 1.5, size=features))

    def forward(self, x):
        self._x = x
        return x * self.weight.data

    def backward(self, dy):
        self.weight.grad += (dy * self._x).sum(axis=0)
        return dy * self.weight.data
'''

TOY_LAB = '''
"""A toy lab: fit y = a x by gradient descent, one task per learning rate."""
import functools
from dataclasses import dataclass

import numpy as np

from backproplab.labs.config import LabConfig, option, quick
from backproplab.report.i18n import N_, _

NAME = "toy-fit"
TITLE = N_("Toy fit")
SUMMARY = N_("fit a line by gradient descent")
QUESTIONS = ()


@dataclass(frozen=True)
class Config(LabConfig):
    num_steps: int = option(50, "gradient steps", low=1, high=10000)
    lrs: tuple[float, ...] = option((0.1, 0.5), "learning rates", min_len=1, each_low=0, each_low_open=True)

    def quick(self):
        return quick(self, num_steps=5)


def fit(config, lr):
    rng = np.random.default_rng([config.seed, int(lr * 1000)])
    x = rng.standard_normal(64)
    a = 0.0
    for _step in range(config.num_steps):
        a -= lr * np.mean(2 * (a * x - 3.0 * x) * x)
    return {"lr": lr, "a": a}


def run(config, out):
    fits = out.map({f"lr-{lr}": functools.partial(fit, config, lr) for lr in config.lrs})
    best = min(fits.values(), key=lambda f: abs(f["a"] - 3.0))
    return {"summary": f"best a = {best['a']:.4f}", "fits": list(fits.values())}


def report(result, config, doc):
    doc.para(_("Fitted slopes: {n}.", n=len(result["fits"])))
    doc.table([("lr", _("learning rate"), "g"), ("a", _("slope"), ".4f")], result["fits"])
'''


@pytest.fixture
def toy_package(tmp_path, monkeypatch):
    pkg = tmp_path / "toypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "scale.py").write_text(textwrap.dedent(TOY_LAYER))
    (pkg / "toy_fit.py").write_text(textwrap.dedent(TOY_LAB))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BACKPROPLAB_LAB_PACKAGES", "toypkg")
    from backproplab.labs import registry

    registry._labs.cache_clear()
    yield pkg
    registry._labs.cache_clear()
    for name in [m for m in sys.modules if m.startswith("toypkg")]:
        del sys.modules[name]


def test_toy_layer_passes_central_differences(toy_package):
    from toypkg.scale import Scale

    rng = np.random.default_rng(0)
    errors = check_module_grads(Scale(4, rng=rng).double(), rng.standard_normal((3, 4)), rng)
    assert max(errors.values()) < 1e-6


def test_toy_layer_matches_its_torch_twin(toy_package):
    torch = pytest.importorskip("torch")
    from backproplab.analysis import compare_with_torch
    from toypkg.scale import Scale

    class TorchScale(torch.nn.Module):
        def __init__(self, features):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(features))

        def forward(self, x):
            return x * self.weight

    rng = np.random.default_rng(1)
    errors = compare_with_torch(Scale(5, rng=rng), TorchScale(5), rng.standard_normal((4, 5)), rng)
    assert max(errors.values()) < 1e-6
    broken = Scale(5, rng=rng)
    broken.backward = lambda dy: 2 * dy  # a wrong backward must be caught
    assert max(compare_with_torch(broken, TorchScale(5), rng.standard_normal((4, 5)), rng).values()) > 1e-3


def test_toy_lab_round_trips_through_the_cli(toy_package, tmp_path, capsys):
    from backproplab.cli import main

    assert main(["lab", "--help"]) == 0
    assert "toy-fit" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["lab", "toy-fit", "--help"])
    assert e.value.code == 0 and "--num-steps" in capsys.readouterr().out
    out = tmp_path / "run"
    assert main(["lab", "toy-fit", "--quick", "--lrs", "0.1,0.2", "--out", str(out), "--lang", "en,fa"]) == 0
    result = json.loads((out / "result.json").read_text())["result"]
    assert [f["lr"] for f in result["fits"]] == [0.1, 0.2]
    for f in ("report.md", "report.html", "report.fa.md", "report.fa.html", "config.json"):
        assert (out / f).exists()
    assert main(["lab", "toy-fit", "--num-steps", "0", "--out", str(tmp_path / "bad")]) == 2
    assert "--num-steps must be" in capsys.readouterr().err
    assert main(["lab", "toy-fti"]) == 2
    assert "did you mean 'toy-fit'" in capsys.readouterr().err
