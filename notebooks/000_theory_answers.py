# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 000: a student's answers to the theory part of ML fundamentals homework 4, checked
#
# <div dir="rtl" lang="fa">
# پاسخ‌های یک دانشجو به سؤال‌های نظری تمرین ۴ مبانی یادگیری ماشین (سند ۰۰۲)، سؤال به سؤال با
# کتابخانه‌ی backproplab سنجیده می‌شود و خطاهای پاسخ در همان سؤال نشان داده می‌شود.
# </div>
#
# Source: `000_51af47210256172d.txt`, one student's written answers to theory questions 1-3 of
# document 002 (that document and its notebook state the questions). This notebook goes through the
# answers in order. Each question is shown as the course map restates it, in English and Persian,
# with the errata the map records against this answer. Then each claim of the answer is tested with
# the library: layers and their gradients, calculators, and quick lab runs (seconds each; the full
# `backproplab lab NAME` runs are the answers). Written answers: `docs/course/000.md`.

# %%
import json

import numpy as np

from backproplab import calc, nn
from backproplab.course.notebook import run_quick_lab, show_figures, show_question

SEED = 0

# %% [markdown]
# ## Question 1: degradation in very deep CNNs

# %%
q = show_question("000/Q1.a")

# %% [markdown]
# The answer explains vanishing gradients as a product of small derivatives, which is right, and
# lists remedies: ReLU-like activations, BatchNorm, and gradient clipping. The last one is the slip
# (erratum 000-E1): clipping rescales a gradient only when its norm exceeds the threshold, so it
# never enlarges a vanishing one. With the library's `clip_grad_norm_` at max_norm 1:

# %%
rng = np.random.default_rng(SEED)
for scale in (1e-6, 1e3):
    p = nn.Parameter(np.zeros(10))
    p.grad = scale * rng.normal(size=10)
    before = np.linalg.norm(p.grad)
    nn.clip_grad_norm_([p], max_norm=1.0)
    print(f"gradient norm {before:.3g} -> {np.linalg.norm(p.grad):.3g} after clipping")
    assert np.isclose(np.linalg.norm(p.grad), min(before, 1.0))

# %% [markdown]
# The vanishing itself, measured by the `activations` lab: at 5 hidden layers the sigmoid network's
# first-layer gradient is a small fraction of its output layer's, ReLU's is not.

# %%
result, folder = run_quick_lab("activations", seed=SEED, activations=("sigmoid", "relu"), depths=(1, 5))
rows = {row["model"]: row for row in result["rows"]}
for name in ("sigmoid-d5", "relu-d5"):
    print(f"{name}: first/last layer gradient ratio {rows[name]['grad_ratio_first_last_epoch1']:.2e}")
assert rows["sigmoid-d5"]["grad_ratio_first_last_epoch1"] < 0.1 < rows["relu-d5"]["grad_ratio_first_last_epoch1"]
show_figures(folder, "grad_ratio.png")

# %%
q = show_question("000/Q1.b")

# %% [markdown]
# Zero initialization: the answer is right, equal filters get equal gradients and stay equal. Two
# slips. First, He's fan-in for a conv layer is in_channels·kh·kw (one filter's size), not the number
# of filters (erratum 000-E2). For 64 → 128 channels, 3×3:

# %%
he = calc.init_stats("he", 64, 128, kernel_size=3)
print(he.text())
print(f"with the number of filters as n: Var = 2/128 = {2 / 128:.5f}, "
      f"{2 / 128 / he['schemes']['he_normal']['variance']:.1f} times too large")
assert np.isclose(he["schemes"]["he_normal"]["variance"], 2 / 576)

# %% [markdown]
# Second, the answer groups the sigmoid with tanh as symmetric around zero (erratum 000-E6). Only
# tanh is: the sigmoid's outputs are all positive. The `init` lab with sigmoid units, the map's
# demonstration of the erratum, measures each layer's mean activation at a Xavier initialization:

# %%
result, folder = run_quick_lab("init", seed=SEED, activation="sigmoid")
stats = json.loads((folder / "init_activation_stats.json").read_text())
for row in stats:
    if row["model"] == "xavier":
        print(f"xavier, {row['layer']}: mean {row['mean']:.3f}, std {row['std']:.3f}")
hidden_means = [row["mean"] for row in stats if row["model"] == "xavier" and row["layer"].startswith("hidden")]
assert all(0.4 < m < 0.6 for m in hidden_means)
z = np.linspace(-3, 3, 7)
print("sigmoid on a symmetric input:", np.round(nn.Sigmoid()(z), 3), " tanh:", np.round(nn.Tanh()(z), 3))

# %%
q = show_question("000/Q1.c")

# %% [markdown]
# The answer says that a block whose residual branch is zero, F(x) = 0, reproduces its input, and
# that the shortcut carries the gradient back unchanged. Both hold exactly in the library: a stack of
# 20 residual blocks whose branches start at zero passes the input and the upstream gradient through.

# %%
rng = np.random.default_rng(SEED)
blocks = [nn.Residual(nn.Sequential(nn.Linear(8, 8, rng=rng, init="zeros", dtype=np.float64), nn.Tanh()))
          for _ in range(20)]
stack = nn.Sequential(*blocks)
x, dy = rng.normal(size=(4, 8)), rng.normal(size=(4, 8))
np.testing.assert_array_equal(stack(x), x)
np.testing.assert_array_equal(stack.backward(dy), dy)
print("20 blocks with F = 0: y = x and dL/dx = dL/dy exactly")
print(calc.residual_gradient(depths=(10, 30), seed=SEED).text())

# %% [markdown]
# ## Question 2: gradients of a convolution

# %%
q = show_question("000/Q2.a")

# %% [markdown]
# The answer sums the four input patches weighted by ∂L/∂Y and gets the right ∂L/∂W; it writes the
# third coefficient as 1 while using -1 (erratum 000-E3). The `conv-gradients` lab lists each term:

# %%
result, folder = run_quick_lab("conv-gradients", seed=SEED)
dy = np.array(result["dY"])
for term in result["dW_terms"]:
    print(f"dL/dY[{term['i']},{term['j']}] = {dy[term['i'], term['j']]:+.0f} times the patch at ({term['i']}, "
          f"{term['j']}):", np.array(term["term"]).tolist())
print("dL/dW =", result["dW"])
np.testing.assert_allclose(result["dW"], q.expected, atol=1e-12)
np.testing.assert_allclose(np.sum([t["term"] for t in result["dW_terms"]], axis=0), q.expected, atol=1e-12)
show_figures(folder, "dw_terms.png")

# %%
q = show_question("000/Q2.b")

# %% [markdown]
# ∂L/∂X is the full correlation of ∂L/∂Y, padded by k - 1 = 2 on every side, with the kernel rotated
# by 180°. The answer pads by one ring only and calls the padded ∂L/∂Y "∂L/∂X" (erratum 000-E4); a 3×3
# window over that 4×4 matrix gives only the centre of the answer. Its sample window has a wrong last
# row (erratum 000-E5):

# %%
rot = np.array(result["rot180_W"])


def correlate(a, k):
    """Valid cross-correlation of 2-D arrays."""
    rows, cols = a.shape[0] - k.shape[0] + 1, a.shape[1] - k.shape[1] + 1
    return np.array([[np.sum(a[i:i + k.shape[0], j:j + k.shape[1]] * k) for j in range(cols)] for i in range(rows)])


one_ring, two_rings = np.pad(dy, 1), np.pad(dy, 2)
print("padded by one ring, as in the answer (this is not dL/dX):\n", one_ring)
print("its 3x3 windows give only the centre:\n", correlate(one_ring, rot))
print("padded by two rings, the full correlation is dL/dX:\n", correlate(two_rings, rot))
np.testing.assert_allclose(correlate(two_rings, rot), q.expected, atol=1e-12)
np.testing.assert_allclose(correlate(one_ring, rot), np.array(q.expected)[1:3, 1:3], atol=1e-12)
window_right = one_ring[0:3, 0:3]  # = two_rings[1:4, 1:4], the window of dL/dX[1, 1]
window_printed = np.array([[0, 0, 0], [0, 1, -1], [1, -1, 0]])
print(f"the top-left window of the one-ring padding {window_right.tolist()} gives {np.sum(window_right * rot):g}; "
      f"the window as printed gives {np.sum(window_printed * rot):g}")
assert np.isclose(np.sum(window_right * rot), q.expected[1][1]) and np.isclose(np.sum(window_printed * rot), 2)

# %% [markdown]
# The library's `Conv2d` backward gives the same ∂L/∂X:

# %%
conv = nn.Conv2d(1, 1, 3, bias=False, rng=np.random.default_rng(SEED), dtype=np.float64)
conv.weight.data[:] = np.array(result["W"])[None, None]
conv(np.array(result["X"])[None, None])
conv.zero_grad()
np.testing.assert_allclose(conv.backward(dy[None, None])[0, 0], q.expected, atol=1e-12)
show_figures(folder, "dx_full_conv.png")

# %% [markdown]
# ## Question 3: an RNN for sentence sentiment

# %%
q = show_question("000/Q3.a")

# %% [markdown]
# The answer describes the many-to-one design (one softmax, on the last state), then a
# many-to-many one (n softmaxes) and a mixed one (k). For a sentence label, at test time, one softmax
# per sentence is the design; the `rnn-sentiment` lab trains both heads and counts them:

# %%
result, folder = run_quick_lab("rnn-sentiment", seed=SEED)
outputs = result["outputs"]
print(result["summary"])
print(f"softmax outputs per test sentence: many-to-one {outputs['many_to_one']:g}, many-to-many "
      f"{outputs['many_to_many']:.2f} (the mean sentence length)")
assert outputs["many_to_one"] == 1

# %%
q = show_question("000/Q3.b")

# %% [markdown]
# Right: each ŷ is a categorical distribution over the five sentiment classes of the whole sentence
# (the answer's "multinomial"); its entries are non-negative and sum to 1.

# %%
print("classes:", result["data"]["class_names"])
probs = np.array(result["examples"][0]["probs"])
print("y_hat for one test sentence:", np.round(probs, 3), "sum", probs.sum())
assert len(probs) == 5 and np.all(probs >= 0) and abs(probs.sum() - 1) < 1e-9
show_figures(folder, "confusion_matrix.png")

# %%
q = show_question("000/Q3.c")

# %% [markdown]
# Right: the current word's embedding x_t and the previous state h_{t-1}, combined by weights shared
# across steps. In the library's `nn.RNN` the state after a sentence depends on every word, and
# changing only the first word changes it:

# %%
rng = np.random.default_rng(SEED)
rnn = nn.RNN(3, 4, rng=rng, dtype=np.float64)
sentence = rng.normal(size=(1, 6, 3))
changed = sentence.copy()
changed[0, 0] += 1.0
_, h_n = rnn(sentence)
_, h_n_changed = rnn(changed)
print("h_n:", np.round(h_n[0], 4), "\nh_n with another first word:", np.round(h_n_changed[0], 4))
assert not np.allclose(h_n, h_n_changed)
