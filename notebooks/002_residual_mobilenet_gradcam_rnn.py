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
# # 002: residual blocks, MobileNet, Grad-CAM and an RNN for sentiment (ML fundamentals homework 4)
#
# <div dir="rtl" lang="fa">
# تمرین ۴ مبانی یادگیری ماشین: سؤال‌های نظری (افت عملکرد شبکه‌های عمیق، مقداردهی اولیه، ResNet،
# گرادیان کانولوشن، RNN و Grad-CAM) و سؤال‌های عملی (بلوک Residual با دست و MobileNet).
# </div>
#
# Source: `002_b0fa309ff14163bb.txt`, questions without solutions (the theory answers of one student
# are document 000, with its own notebook). This notebook follows the questions in order. Each one is
# shown as the course map restates it, in English and Persian. It is answered with the library:
# calculators (`backproplab.calc`), layers (`backproplab.nn`) with gradient checks, and quick lab runs
# (seconds each: they show the effect, the full `backproplab lab NAME` runs are the answers). The
# residual-block walkthrough also shows `backproplab check` on example student files. Written
# answers: `docs/course/002.md` and `docs/course/000.md`.

# %%
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from backproplab import calc, nn
from backproplab.analysis import check_module_grads
from backproplab.analysis.gradcam import grad_cam
from backproplab.course.notebook import run_quick_lab, show_figures, show_question, verdicts

SEED = 0
WORK = Path(tempfile.mkdtemp(prefix="backproplab-nb002-"))  # the example student files

# %% [markdown]
# ## Theory 1: very deep convolutional networks

# %%
q = show_question("002/Q1.a")

# %% [markdown]
# Backpropagation multiplies the gradient by one factor per layer; with sigmoid (f' ≤ 1/4) and
# weights of norm about 1 the gradient reaching the first of 10 layers is bounded by 0.25⁹:

# %%
print(calc.vanishing_bound(sigma=0.25, num_layers=10, layer=1).text())

# %% [markdown]
# Measured: the `activations` lab trains sigmoid and ReLU networks of 1 and 5 hidden layers and
# compares each layer's weight-gradient norm with the output layer's.

# %%
result, folder = run_quick_lab("activations", seed=SEED, activations=("sigmoid", "relu"), depths=(1, 5))
rows = {row["model"]: row for row in result["rows"]}
for name in ("sigmoid-d5", "relu-d5"):
    print(f"{name}: first/last layer gradient ratio {rows[name]['grad_ratio_first_last_epoch1']:.2e}, "
          f"test accuracy {rows[name]['final_test_acc']:.3f}")
assert rows["sigmoid-d5"]["grad_ratio_first_last_epoch1"] < 0.1 < rows["relu-d5"]["grad_ratio_first_last_epoch1"]
show_figures(folder, "grad_norms_depth5.png")

# %%
q = show_question("002/Q1.b")

# %% [markdown]
# For a conv layer the fan-in is in_channels·kh·kw, the size of one filter. Every scheme for a
# 3×3 conv from 64 to 128 channels:

# %%
print(calc.init_stats("all", 64, 128, kernel_size=3).text())

# %% [markdown]
# The `init` lab: the activation scale per layer at initialization for each scheme, and the
# all-zeros model's hidden units after training (still identical).

# %%
result, folder = run_quick_lab("init", seed=SEED)
print(result["summary"])
show_figures(folder, "init_activation_stats.png", "symmetry.png")

# %%
q = show_question("002/Q1.c")

# %% [markdown]
# A residual block y = x + F(x) has Jacobian I + ∂F/∂x: the identity term carries the gradient
# through any number of blocks. The same sigmoid blocks with and without shortcuts:

# %%
r = calc.residual_gradient(depths=(2, 10, 30), seed=SEED)
print(r.text())
assert all(row["residual_w1"] > 1.0 > row["plain_w1"] for row in r["rows"][1:])

# %% [markdown]
# In the library, `nn.Residual.backward` returns the body's input gradient plus dy; a gradient
# check of a residual block against central differences:

# %%
rng = np.random.default_rng(SEED)
block = nn.Residual(nn.Sequential(nn.Linear(4, 4, rng=rng), nn.Sigmoid(), nn.Linear(4, 4, rng=rng))).double()
errors = check_module_grads(block, rng.normal(size=(3, 4)), rng)
print({k: f"{v:.1e}" for k, v in errors.items()})
assert max(errors.values()) < 1e-6

# %% [markdown]
# ## Theory 2: gradients of a convolution

# %%
q = show_question("002/Q2.a")

# %% [markdown]
# The library's `Conv2d` (valid, stride 1, cross-correlation) on the question's X and W, backward
# with the given ∂L/∂Y:

# %%
x = np.array([[1, 2, 1, 0], [2, 1, 0, 1], [1, 0, 2, 1], [0, 1, 2, 1]], dtype=np.float64)[None, None]
w = np.array([[1, -1, 0], [0, 1, -1], [-1, 0, 1]], dtype=np.float64)[None, None]
dy = np.array([[1, -1], [-1, 1]], dtype=np.float64)[None, None]
conv = nn.Conv2d(1, 1, 3, bias=False, rng=np.random.default_rng(SEED), dtype=np.float64)
conv.weight.data[:] = w
conv(x)
conv.zero_grad()
dx = conv.backward(dy)
print("dL/dW =\n", conv.weight.grad[0, 0])
np.testing.assert_allclose(conv.weight.grad[0, 0], q.expected, atol=1e-12)

# %% [markdown]
# The `conv-gradients` lab shows ∂L/∂W as the sum of the four input patches weighted by ∂L/∂Y, and
# checks it against the library and PyTorch's autograd:

# %%
result, folder = run_quick_lab("conv-gradients", seed=SEED)
print(result["summary"])
np.testing.assert_allclose(result["dW"], q.expected, atol=1e-12)
show_figures(folder, "dw_terms.png")

# %%
q = show_question("002/Q2.b")

# %%
print("dL/dX =\n", dx[0, 0])
np.testing.assert_allclose(dx[0, 0], q.expected, atol=1e-12)
np.testing.assert_allclose(result["dX"], q.expected, atol=1e-12)
print("the same as a full correlation of the padded dL/dY with rot180(W):")
padded, rot = np.array(result["dY_padded"]), np.array(result["rot180_W"])
full = np.array([[np.sum(padded[i:i + 3, j:j + 3] * rot) for j in range(4)] for i in range(4)])
np.testing.assert_allclose(full, q.expected, atol=1e-12)
show_figures(folder, "dx_full_conv.png")

# %% [markdown]
# ## Theory 3: an RNN for sentence sentiment

# %%
q = show_question("002/Q3.a")

# %% [markdown]
# The `rnn-sentiment` lab trains a many-to-one RNN (one softmax per sentence, on the last state) on
# SST-5, and a many-to-many head (one softmax per word) for comparison; it counts the softmax
# outputs per sentence at test time.

# %%
result, folder = run_quick_lab("rnn-sentiment", seed=SEED)
print(result["summary"])
outputs = result["outputs"]
print(f"softmax outputs per test sentence: many-to-one {outputs['many_to_one']:g}, "
      f"many-to-many {outputs['many_to_many']:.2f} (= mean words per sentence, {outputs['mean_words']:.2f})")
assert outputs["many_to_one"] == 1 and np.isclose(outputs["many_to_many"], outputs["mean_words"])

# %%
q = show_question("002/Q3.b")

# %%
print("classes:", result["data"]["class_names"])
for example in result["examples"][:2]:
    probs = np.array(example["probs"])
    print(f"'{example['sentence'][:60]}...': y_hat = {np.round(probs, 3)} (sum {probs.sum():.6f})")
print("largest |sum of y_hat - 1| over the test set:", outputs["largest_sum_error"])
assert outputs["largest_sum_error"] < 1e-9
show_figures(folder, "confusion_matrix.png")

# %%
q = show_question("002/Q3.c")

# %% [markdown]
# At step t the cell reads the word's embedding x_t and the previous state h_{t-1}:
# h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), with the same weights at every step. The
# library's `nn.RNN` against this recurrence written out:

# %%
rng = np.random.default_rng(SEED)
rnn = nn.RNN(3, 4, rng=rng, dtype=np.float64)
words = rng.normal(size=(1, 5, 3))  # one sentence of 5 word embeddings
states, h_n = rnn(words)
h = np.zeros(4)
for t in range(5):
    h = np.tanh(rnn.weight_ih_l0.data @ words[0, t] + rnn.bias_ih_l0.data + rnn.weight_hh_l0.data @ h
                + rnn.bias_hh_l0.data)
    np.testing.assert_allclose(states[0, t], h, rtol=1e-12)
print("h_n =", np.round(h_n[0], 4))

# %% [markdown]
# ## Theory 4 (bonus): Grad-CAM

# %%
q = show_question("002/Q4.a")

# %% [markdown]
# For a network whose last conv maps go through global average pooling into a linear layer,
# y_c = Σ_k w_k^c (1/Z) Σ_ij A^k_ij, so ∂y_c/∂A^k_ij = w_k^c/Z and α_k^c = w_k^c/Z: Grad-CAM's weights
# are the class-activation-map weights. Checked with `analysis.gradcam.grad_cam` on a small model:

# %%
rng = np.random.default_rng(SEED)
features, head = nn.ReLU(), nn.Linear(3, 2, rng=rng, dtype=np.float64)
cnn = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, rng=rng, dtype=np.float64), features, nn.GlobalAvgPool2d(),
                    nn.Flatten(), head).eval()
images = rng.normal(size=(2, 1, 6, 6))  # Z = 6·6 positions per map
cam = grad_cam(cnn, features, images, classes=np.array([0, 1]))
print("alpha:\n", cam["alpha"], "\nw_c / Z:\n", head.weight.data / 36)
np.testing.assert_allclose(cam["alpha"], head.weight.data / 36, rtol=1e-12)

# %%
q = show_question("002/Q4.b")

# %% [markdown]
# Where Σ_k α_k A^k is negative the features there lower y_c (evidence for another class); the
# ReLU keeps the regions that raise it. The `gradcam` lab explains a Fashion-MNIST CNN trained for
# one quick epoch, next to guided backpropagation and deconvnet saliency:

# %%
result, folder = run_quick_lab("gradcam", seed=SEED)
print(result["summary"])
for example in result["examples"][:4]:
    removed = abs(example["raw_negative_share"])  # abs: a map with no negative entry gives -0.0
    print(f"test image {example['test_index']}: {example['true']}, predicted {example['predicted']}; "
          f"share of the map (sum of |values|) the ReLU removes {removed:.1%}")
show_figures(folder, "gradcam.png")

# %% [markdown]
# ## Practical 1: a residual block by hand

# %%
q = show_question("002/P1.1")

# %% [markdown]
# The `residual-walkthrough` lab computes every step with the library's layers (`Conv2d`, `ReLU`,
# `MaxPool2d`); the notebook recomputes each with plain NumPy and compares with the course map.

# %%
result, folder = run_quick_lab("residual-walkthrough", seed=SEED)
steps = {k: np.array(v) for k, v in result["steps"].items()}
x_in, kernel = steps["X"], steps["W"]
z = np.array([[np.sum(np.pad(x_in, 1)[i:i + 3, j:j + 3] * kernel) for j in range(5)] for i in range(5)])
print("Z =\n", z, "\ncentre:", result["centre"]["terms"], "=", result["centre"]["hand"])
np.testing.assert_allclose(z, q.expected)
np.testing.assert_allclose(steps["Z"], q.expected)
show_figures(folder, "matrices.png")

# %%
q = show_question("002/P1.2")

# %%
a = np.maximum(z, 0)
print("entries ReLU set to zero:", result["relu1_zeroed"])
np.testing.assert_allclose(steps["A"], q.expected)
np.testing.assert_allclose(a, q.expected)

# %%
q = show_question("002/P1.3")

# %%
h = np.maximum(a + x_in, 0)
print("H =\n", h)
np.testing.assert_allclose(steps["H"], q.expected)
np.testing.assert_allclose(h, q.expected)

# %%
q = show_question("002/P1.4")

# %% [markdown]
# 2×2 windows with stride 2 fit twice in 5 rows: PyTorch's default (floor mode) drops the last row
# and column; ceil mode keeps the partial windows.

# %%
p = np.array([[h[i:i + 2, j:j + 2].max() for j in (0, 2)] for i in (0, 2)])
print("floor mode:\n", steps["P_floor"], "\nceil mode:\n", steps["P_ceil"])
np.testing.assert_allclose(p, q.expected)
np.testing.assert_allclose(steps["P_floor"], q.expected)

# %%
q = show_question("002/P1.5")

# %%
print(f"GAP after floor-mode pooling {result['gap_floor']}, after ceil-mode pooling {result['gap_ceil']:.2f}")
assert np.isclose(p.mean(), q.expected) and np.isclose(result["gap_floor"], q.expected)

# %% [markdown]
# ### Checking a student's walkthrough with `backproplab check`
#
# A student's NumPy code for the five steps, and two copies with a planted mistake each: the kernel
# flipped (a true convolution, not the cross-correlation CNN layers compute), and the kernel
# transposed. The checker runs each file in a child process with limits, on the assignment's matrices
# and on random ones with negative entries (where each ReLU matters).

# %%
WALKTHROUGH = textwrap.dedent('''\
    """Practical 1: a residual block by hand, NumPy only."""
    import numpy as np


    def conv2d(image, kernel):
        """'Same' cross-correlation of a 2-D image with a 3x3 kernel (stride 1, zero padding 1)."""
        padded = np.pad(image, 1)
        out = np.empty(image.shape)
        for i in range(image.shape[0]):
            for j in range(image.shape[1]):
                out[i, j] = np.sum(padded[i:i + 3, j:j + 3] * kernel)
        return out


    def relu(a):
        return np.maximum(a, 0.0)


    def residual_block(x, kernel):
        return relu(relu(conv2d(x, kernel)) + x)


    def max_pool(h, size=2, stride=2):
        rows, cols = (h.shape[0] - size) // stride + 1, (h.shape[1] - size) // stride + 1
        out = np.empty((rows, cols))
        for i in range(rows):
            for j in range(cols):
                out[i, j] = h[i * stride:i * stride + size, j * stride:j * stride + size].max()
        return out


    def global_average_pool(p):
        return float(p.mean())
    ''')
RIGHT = "padded[i:i + 3, j:j + 3] * kernel)"
files = {"walkthrough.py": WALKTHROUGH,
         "walkthrough_flipped.py": WALKTHROUGH.replace(RIGHT, "padded[i:i + 3, j:j + 3] * kernel[::-1, ::-1])"),
         "walkthrough_transposed.py": WALKTHROUGH.replace(RIGHT, "padded[i:i + 3, j:j + 3] * kernel.T)")}
assert len(set(files.values())) == 3
for name, text in files.items():
    (WORK / name).write_text(text)
cmd = [sys.executable, "-m", "backproplab.cli", "check", *(str(WORK / name) for name in files), "--json",
       "--jobs", "2"]
done = subprocess.run(cmd, capture_output=True, text=True)
assert done.returncode in (0, 1), done.stderr
report = json.loads(done.stdout)
passed = {Path(f["file"]).name: f["passed"] for f in report["files"]}
print(passed)
assert passed == {"walkthrough.py": True, "walkthrough_flipped.py": False, "walkthrough_transposed.py": False}
verdicts(report, "conv", "residual-block")

# %% [markdown]
# The flipped kernel matches a mistake the checker simulates, so it names it. The transposed kernel
# fails the same checks without a hint: the checker suggests a cause only when the student's numbers
# equal those of a mistake it knows.
#
# ## Practical 2: MobileNet V1 and V2

# %%
q = show_question("002/P2.1")

# %% [markdown]
# A depthwise separable convolution is a depthwise k×k conv (`groups` = channels) followed by a 1×1
# conv. Its cost relative to a standard conv is 1/N + 1/k², for M = 64 → N = 128 channels, 3×3, on a
# 32×32 map:

# %%
standard = calc.conv_macs(32, 64, 128, 3, padding=1)
depthwise = calc.conv_macs(32, 64, 64, 3, padding=1, groups=64)
pointwise = calc.conv_macs(32, 64, 128, 1)
ratio = (depthwise["macs"] + pointwise["macs"]) / standard["macs"]
print(depthwise.text(), pointwise.text(), standard.text(), sep="\n")
print(f"separable / standard = {ratio:.4f}, 1/N + 1/k^2 = {1 / 128 + 1 / 9:.4f}")
assert abs(ratio - (1 / 128 + 1 / 9)) < 1e-12

# %% [markdown]
# The same block from the library's layers, with its gradients checked against central differences
# (tanh in place of the ReLU: a difference quotient that straddles ReLU's kink is not its derivative).
# BatchNorm's input gradient sums to zero over the batch, so some of its entries are tiny and their
# entry-wise relative error is the largest; the step is h = 1e-5 and the tolerance 1e-5:

# %%
rng = np.random.default_rng(SEED)
separable = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False, rng=rng), nn.BatchNorm2d(4),
                          nn.Tanh(), nn.Conv2d(4, 6, 1, bias=False, rng=rng)).double()
errors = check_module_grads(separable, rng.normal(size=(2, 4, 5, 5)), rng, h=1e-5)
print({k: f"{v:.1e}" for k, v in errors.items()})
assert max(errors.values()) < 1e-5

# %% [markdown]
# The `mobilenet` lab (PyTorch models) counts the MACs and parameters of its MobileNet V1 and V2 at
# 224×224 against the papers' tables, then trains them with a plain CNN at several widths and
# resolutions. It uses CIFAR-10 when its files are found and Fashion-MNIST otherwise (the run says
# which). The quick run trains one epoch on 256 images, so its accuracies are near chance; its counts
# are exact.

# %%
result, folder = run_quick_lab("mobilenet", seed=SEED)
print(result["summary"])
for row in result["imagenet_table"]:
    print(f"{row['model']} width {row['width']} at {row['resolution']} px: {row['macs_m']:.0f} M MACs "
          f"(paper {row['paper_macs_m']}), "
          f"{row['params_m']:.2f} M parameters (paper {row['paper_params_m']})")
assert all(row["matches"] for row in result["imagenet_table"])

# %%
q = show_question("002/P2.2")

# %%
print(f"data: {result['data']['name']} ({result['data']['n_train']} training images in this quick run)")
for row in result["rows"]:
    print(f"{row['key']:<16} test accuracy {row['test_acc']:.3f}, {row['params']:>9,} parameters, "
          f"{row['macs']:>11,} MACs")

# %%
q = show_question("002/P2.3")

# %%
for row in result["separable"]:
    if row["block"] is None:  # the last row sums the network
        print(f"the whole network: separable/standard MACs {row['measured_ratio']:.4f}")
    else:
        print(f"block {row['block']:>2} ({row['out_channels']:>4} channels, {row['map']}): separable/standard "
              f"MACs {row['measured_ratio']:.4f}, 1/N + 1/k^2 = {row['formula_ratio']:.4f}")
show_figures(folder, "accuracy_vs_macs.png")

# %%
q = show_question("002/P2.4")

# %% [markdown]
# Halving the width multiplier α cuts MACs and parameters to about a quarter (α²); halving the
# resolution cuts MACs to about a quarter (ρ²) and leaves the parameters unchanged. V2 stays further
# from α² at these tiny widths: it rounds channel counts to multiples of 8 and keeps its
# 1280-channel last layer below width 1 (`docs/mobilenet.md`).

# %%
for row in result["multipliers"]:
    print(f"{row['model']} {row['multiplier']} x{row['factor']}: MACs x{row['macs_ratio']:.3f} "
          f"(predicted {row['predicted']}), parameters x{row['params_ratio']:.3f}")
show_figures(folder, "multipliers.png")
