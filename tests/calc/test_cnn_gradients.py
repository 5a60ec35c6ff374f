"""001 Q3: the hand-derived gradients of the small CNN, the library's backward, PyTorch autograd, and the
formulas the document's solution prints."""
import pytest

from backproplab.calc.cnn_gradients import (PASS_TOL, build_network, cnn_gradients, library_gradients,
                                            network_values, own_formulas, rel_norm_error)
from backproplab.calc.cnn_gradients_solution import dp1_final, dw2_final


@pytest.mark.parametrize("seed, target", [(0, 1.0), (3, 0.0), (11, 0.3)])
def test_own_formulas_match_library_and_central_differences(seed, target):
    v = cnn_gradients(seed, target).values
    assert v["all_own_pass"]
    for key, o in v["own"].items():
        assert o["rel_err_library"] < 1e-12, key
        if o["rel_err_numeric"] is not None:
            assert o["rel_err_numeric"] < 1e-7, key


def test_own_formulas_match_torch_autograd():
    torch = pytest.importorskip("torch")
    layers, x = build_network(5)
    v = network_values(layers, x, 1.0)
    own = own_formulas(v)
    tx = torch.tensor(x)
    w1 = torch.tensor(layers[0].weight.data, requires_grad=True)   # (4, 8, 1, 1)
    w2 = torch.tensor(layers[1].weight.data, requires_grad=True)   # (1, 4, 2, 2)
    wfc = torch.tensor(layers[4].weight.data, requires_grad=True)  # (1, 4)
    p1 = torch.nn.functional.conv2d(tx, w1)
    p1.retain_grad()
    p2 = torch.nn.functional.conv2d(p1, w2)
    p3 = torch.nn.functional.avg_pool2d(p2, 2, 2)
    p3.retain_grad()
    y_hat = torch.sigmoid(p3.flatten(1) @ wfc.T)
    (0.5 * (y_hat - 1.0) ** 2).sum().backward()
    # torch layouts -> the document's (H, W, C) layouts
    assert rel_norm_error(own["W1"], w1.grad[:, :, 0, 0].T.numpy()) < 1e-12
    assert rel_norm_error(own["W2"], w2.grad[0].permute(1, 2, 0).numpy()) < 1e-12
    assert rel_norm_error(own["Wfc"], wfc.grad[0].numpy()) < 1e-12
    assert rel_norm_error(own["P1"], p1.grad[0].permute(1, 2, 0).numpy()) < 1e-12
    assert rel_norm_error(own["P3"], p3.grad[0, 0].numpy()) < 1e-12


def test_solution_formulas_verdicts():
    v = cnn_gradients(0).values
    verdict = {item["id"]: item["pass"] for item in v["solution"]}
    assert verdict == {"Q3(a)i": True, "Q3(a)ii pool step": True, "Q3(a)ii conv step": False, "Q3(a)ii": False,
                       "Q3(b)": False, "Q3(c) middle step": False, "Q3(c)": False}
    for item in v["solution"]:
        if item["faults"]:
            # every suspected fault is an error by itself, and repairing all of them gives the right gradient
            assert all(f["real_error"] for f in item["faults"]), item["id"]
            assert item["rel_err_fixed"] < 1e-12, item["id"]


def test_each_fault_matters_on_its_own():
    # the printed dL/dP1 with only one fault left differs from the library by more than rounding
    layers, x = build_network(2)
    v = network_values(layers, x, 1.0)
    truth = library_gradients(layers, x, 1.0)["P1"]
    assert rel_norm_error(dp1_final(v, True, True, True), truth) < 1e-12
    for fixes in [(False, True, True), (True, False, True), (True, True, False)]:
        assert rel_norm_error(dp1_final(v, *fixes), truth) > 0.1, fixes
    truth_w2 = library_gradients(layers, x, 1.0)["W2"]
    assert rel_norm_error(dw2_final(v, True, True), truth_w2) < 1e-12
    assert rel_norm_error(dw2_final(v, False, True), truth_w2) > 0.1
    assert rel_norm_error(dw2_final(v, True, False), truth_w2) > 0.1


def test_dropping_dl_dyhat_is_harmless_only_when_it_is_one():
    # with dL/dŷ = 1 the missing factor cannot be seen: the check needs a loss whose dL/dŷ is not 1
    layers, x = build_network(0)
    v = network_values(layers, x, 1.0)
    v_one = dict(v, dL_dyhat=1.0)
    assert rel_norm_error(dw2_final(v_one, False, True), dw2_final(v_one, True, True)) == 0.0
    assert abs(v["dL_dyhat"] - 1.0) > 0.1
    assert rel_norm_error(dw2_final(v, False, True), dw2_final(v, True, True)) > PASS_TOL


def test_bad_arguments():
    with pytest.raises(ValueError, match="seed"):
        cnn_gradients(-1)
    with pytest.raises(ValueError, match="target"):
        cnn_gradients(0, float("nan"))
