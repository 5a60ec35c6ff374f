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
# # 001: convolutional networks (homework 4, theory with worked solutions)
#
# <div dir="rtl" lang="fa">
# تمرین ۴ شبکه‌های پیچشی: لایه‌ی تمام‌متصل و پیچشی، نرمال‌سازی دسته‌ای، U-Net، گرادیان کانولوشن،
# DenseNet، Inception، کانولوشن Deformable، گسترش‌یافته و ماسک‌شده، و محوشدن گرادیان. هر پاسخ با
# کتابخانه‌ی backproplab محاسبه و خطاهای حل سند در همان سؤال نشان داده می‌شود.
# </div>
#
# Source: `001_e12ca10f5d65d730.txt`. This notebook follows its questions in order. Each question is
# shown as the course map restates it, in English and Persian, with the errata of the document's worked
# solution at that question. The answers come from the library: calculators (`backproplab.calc`, whose
# answers are checked against the course map's expected values), layers (`backproplab.nn`) with
# gradient checks, and quick lab runs (seconds each: they show the effect; the full
# `backproplab lab NAME` runs are the answers). Written answers: `docs/course/001.md`.

# %%
import numpy as np

from backproplab import calc, nn
from backproplab.analysis import check_module_grads
from backproplab.analysis.gradcam import relu_backward_rule
from backproplab.course.notebook import expect, run_quick_lab, show_figures, show_question

SEED = 0

# %% [markdown]
# ## Question 1

# %%
q = show_question("001/Q1.a.1")

# %%
r = calc.fc_vs_conv(width=5, height=5, in_channels=2, out_channels=4, kernel_size=3)
print(r.text())
expect(q, r.to_dict())

# %%
q = show_question("001/Q1.a.2")

# %% [markdown]
# Fewer weights come from a prior, not for free: a conv layer applies the same detector at every
# position, so shifting the input shifts its output (away from the border). That is what lets it learn
# from fewer examples when the prior holds for the data, and what misleads it when position itself
# matters. With the library's `Conv2d`:

# %%
rng = np.random.default_rng(SEED)
conv = nn.Conv2d(1, 2, 3, padding=1, bias=False, rng=rng, dtype=np.float64)
image = np.zeros((1, 1, 9, 9))
image[0, 0, 2:4, 2:4] = 1.0
moved = np.roll(image, (3, 3), axis=(2, 3))
np.testing.assert_allclose(conv(moved), np.roll(conv(image), (3, 3), axis=(2, 3)), atol=1e-15)
print("conv(shifted image) = shifted conv(image)")

# %%
q = show_question("001/Q1.b.1")

# %%
r = calc.norm_stats(batch_size=8, channels=4, height=6, width=6)
print(r.text())
expect(q, r.to_dict())

# %% [markdown]
# The library's `BatchNorm2d` normalizes each channel over N·H·W values, `BatchNorm1d` each feature
# over N examples:

# %%
rng = np.random.default_rng(SEED)
maps = rng.normal(2.0, 3.0, size=(8, 4, 6, 6))
out = nn.BatchNorm2d(4, dtype=np.float64).train()(maps)
print("per-channel mean after BatchNorm2d:", np.round(out.mean(axis=(0, 2, 3)), 12))
print("per-channel variance after BatchNorm2d:", np.round(out.var(axis=(0, 2, 3)), 4))
np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)

# %%
q = show_question("001/Q1.b.2")

# %% [markdown]
# BN subtracts the batch mean of each channel, which contains the conv's bias, so the bias changes
# nothing and gets no gradient. The `batchnorm` lab measures it on the library's layers:

# %%
result, folder = run_quick_lab("batchnorm", seed=SEED)
cancel = result["bias_cancel"]
print(f"largest output difference with and without the bias {cancel['max_abs_output_diff']:.1e}; "
      f"largest bias gradient through BN {cancel['max_abs_bias_grad']:.1e} (without BN: "
      f"{np.abs(cancel['bias_grad_without_bn']).max():.1f})")
assert cancel["max_abs_output_diff"] < 1e-12 and cancel["max_abs_bias_grad"] < 1e-10
show_figures(folder, "batchnorm.png")

# %%
q = show_question("001/Q1.b.3")

# %% [markdown]
# A bias-free conv is linear in its weights and in its input, so scaling either by α scales z by α;
# with batch statistics BN undoes that (up to the sign), with the running statistics of inference it
# does not (errata 001-E1 to 001-E3):

# %%
r = calc.bn_scale(alphas=(2.0, -2.0), seed=SEED)
print(r.text())
expect(q, r.to_dict())

# %%
q = show_question("001/Q1.b.4")

# %%
expect(q, r.to_dict())
print("weights scaled vs input scaled, largest difference:", [c["weights_vs_input_max_diff"] for c in r["cases"]])
assert all(c["weights_vs_input_max_diff"] < 1e-12 for c in r["cases"])

# %%
q = show_question("001/Q1.b.5")

# %%
r = calc.norm_stats(batch_size=2, channels=4, height=6, width=6, groups=2, seed=SEED)
print(r.text())
expect(q, r.to_dict())

# %%
q = show_question("001/Q1.c.1")

# %%
r = calc.unet(input_size=256)
print(r.text())
expect(q, r.to_dict())

# %%
q = show_question("001/Q1.c.2")

# %%
r = calc.conv_params(in_channels=64, out_channels=128, kernel_size=3)
print(r.text())
expect(q, r.to_dict())
layer = nn.Conv2d(64, 128, 3, rng=np.random.default_rng(SEED))
assert layer.num_parameters() == r["total_with_bias"]

# %%
q = show_question("001/Q1.d")

# %% [markdown]
# The three rules for passing a gradient back through a ReLU (erratum 001-E5: guided backpropagation
# is Springenberg et al.'s later rule, not the deconvnet's). On one ReLU, input x and upstream dy:

# %%
x = np.array([[-1.0, 2.0, 3.0, -4.0]])
dy = np.array([[0.5, -0.5, 1.0, 1.0]])
relu_net = nn.Sequential(nn.ReLU())
for rule in ("plain", "guided", "deconvnet"):
    with relu_backward_rule(relu_net, rule):
        relu_net(x)
        print(f"{rule:>9}: {relu_net.backward(dy)[0]}")

# %% [markdown]
# The `gradcam` lab draws deconvnet and guided-backpropagation saliency next to Grad-CAM for a small
# Fashion-MNIST CNN (trained for one quick epoch here):

# %%
result, folder = run_quick_lab("gradcam", seed=SEED)
print(result["summary"])
show_figures(folder, "gradcam.png")

# %% [markdown]
# ## Question 2: the gradient of a 1-D convolution

# %%
q = show_question("001/Q2")

# %% [markdown]
# dL/dW_j = Σ_{i=0}^{N-K} dL/dZ_i·X_{i+j}: a valid cross-correlation of X with dL/dZ, over the N-K+1
# outputs that exist (erratum 001-E6). The `conv-gradients` lab's 1-D case, and the same sum written out:

# %%
result, folder = run_quick_lab("conv-gradients", seed=SEED)
x1, dz, k = np.array(result["x1d"]), np.array(result["dy1d"]), len(result["weight1d"])
by_hand = [float(sum(dz[i] * x1[i + j] for i in range(len(x1) - k + 1))) for j in range(k)]
print("X =", x1, " dL/dZ =", dz, "\ndL/dW by the sum:", by_hand, " lab (library Conv1d):", result["dW_1d"])
np.testing.assert_allclose(by_hand, q.expected)
np.testing.assert_allclose(result["dW_1d"], q.expected)
np.testing.assert_allclose(np.correlate(x1, dz, mode="valid"), q.expected)

# %% [markdown]
# ## Question 3: backpropagation through a small CNN
#
# `calc.cnn_gradients` builds the question's network (1×1 conv, 2×2 conv, average pooling, a
# sigmoid unit), computes every gradient with explicit loops from our own formulas, compares each with
# the library's backward and with central differences, and then evaluates the solution's printed
# formulas (errata 001-E7 to 001-E12).

# %%
r = calc.cnn_gradients(seed=SEED)
print(r.text())

# %%
q = show_question("001/Q3.a.1")

# %%
expect(q, r.to_dict())

# %%
q = show_question("001/Q3.a.2")

# %%
expect(q, r.to_dict())

# %%
q = show_question("001/Q3.b")

# %%
expect(q, r.to_dict())

# %%
q = show_question("001/Q3.c")

# %%
expect(q, r.to_dict())

# %% [markdown]
# ## Question 4: DenseNet, Inception, deformable convolution

# %%
q = show_question("001/Q4.a.1")

# %%
r = calc.densenet_channels(in_channels=32, growth_rate=24, num_layers=3)
print(r.text())

# %%
q = show_question("001/Q4.a.2")

# %% [markdown]
# In a dense block every layer's output reaches the block's output through the concatenation, so the
# first layer gets a gradient with no later layer's Jacobian in between. An extreme case with the
# library's layers: the second layer has zero weights, so it passes no gradient back. In a plain chain
# the first layer then gets none; in a dense block (the concatenation written out) it still does.

# %%
rng = np.random.default_rng(SEED)
x = rng.normal(size=(5, 4))
for dense in (False, True):
    first = nn.Linear(4, 3, rng=rng, dtype=np.float64)
    second = nn.Linear(7 if dense else 3, 3, rng=rng, init="zeros", dtype=np.float64)
    h1 = first(x)
    seen = np.concatenate([x, h1], axis=1) if dense else h1  # (5, 7): the second layer sees x and h1
    h2 = second(seen)
    out = np.concatenate([seen, h2], axis=1) if dense else h2  # a dense block passes everything on
    d_out = rng.normal(size=out.shape)
    first.zero_grad()
    d_seen = second.backward(d_out[:, -3:]) + (d_out[:, :7] if dense else 0.0)
    first.backward(d_seen[:, -3:])
    norm = np.linalg.norm(first.weight.grad)
    print(f"{'dense block' if dense else 'plain chain'}: ||dL/dW_1|| = {norm:.3f}")
    assert (norm > 0) == dense

# %%
q = show_question("001/Q4.a.3")

# %%
expect(q, calc.densenet_channels(in_channels=32, growth_rate=24, num_layers=3).to_dict())

# %%
q = show_question("001/Q4.b.1")

# %%
r = calc.bottleneck_macs(input_size=28, in_channels=192, out_channels=32, kernel_size=5, mid_channels=16)
print(r.text())
expect(q, r.to_dict())

# %%
q = show_question("001/Q4.b.2")

# %%
r = calc.inception_macs(input_size=28, in_channels=192, ch1x1=64, ch3x3_reduce=96, ch3x3=128, ch5x5_reduce=16,
                        ch5x5=32, pool_proj=32)
print(r.text())
expect(q, r.to_dict())

# %%
q = show_question("001/Q4.b.3")

# %% [markdown]
# An auxiliary classifier on an intermediate layer adds its loss's gradient there, past the layers
# above it. In a deep sigmoid stack (8 layers, library layers), the first layer's weight gradient from
# the top loss alone and with an auxiliary head after layer 4 (weight 0.3, as in GoogLeNet):

# %%
rng = np.random.default_rng(SEED)


def sigmoid_stack(depth):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(16, 16, rng=rng, dtype=np.float64), nn.Sigmoid()]
    return nn.Sequential(*layers)


lower, upper = sigmoid_stack(4), nn.Sequential(sigmoid_stack(4), nn.Linear(16, 1, rng=rng, dtype=np.float64))
aux_head = nn.Linear(16, 1, rng=rng, dtype=np.float64)
x, target = rng.normal(size=(32, 16)), rng.normal(size=(32, 1))
mse_top, mse_aux = nn.MSELoss(), nn.MSELoss()
h = lower(x)
mse_top(upper(h), target)
mse_aux(aux_head(h), target)
d_top, d_aux = upper.backward(mse_top.backward()), aux_head.backward(mse_aux.backward())
first_layer = list(lower.children())[0]
norms = {}
for name, dh in (("top loss only", d_top), ("with the auxiliary loss", d_top + 0.3 * d_aux)):
    lower.zero_grad()
    lower.backward(dh)
    norms[name] = np.linalg.norm(first_layer.weight.grad)
    print(f"{name}: ||dL/dW_1|| = {norms[name]:.3e}")
assert norms["with the auxiliary loss"] > 10 * norms["top loss only"]

# %%
q = show_question("001/Q4.c.1")

# %% [markdown]
# The `deformable-conv` lab trains a plain CNN and the same CNN with its last two convolutions
# deformable, from the same start, and draws where the centre unit reads the image through the
# learned offsets against the regular grid. One quick epoch on 512 images is far too little to learn
# offsets that matter (`docs/deformable_masked.md` has the full run); it shows what is measured.

# %%
result, folder = run_quick_lab("deformable-conv", seed=SEED)
print(result["summary"])
branch = result["start"]["offset_branch"]
print(f"offset branch: a {branch['kernel_size'][0]}x{branch['kernel_size'][1]} conv from {branch['in_channels']} "
      f"to {branch['out_channels']} channels (2 per tap of the 3x3 kernel), largest weight at the start "
      f"{branch['weight_abs_max']}")
show_figures(folder, "sampling_points.png")

# %%
q = show_question("001/Q4.c.2")

# %% [markdown]
# The offsets start at zero, so at the start the deformable network is the plain one (erratum 001-E15:
# fractional positions are read by bilinear interpolation, not "binomial"):

# %%
expect(q, result)
r = calc.bilinear(1.3, 2.6, seed=SEED)
print(r.text())
weights = [n["weight"] for n in r["neighbours"]]
np.testing.assert_allclose(weights, [0.7 * 0.4, 0.7 * 0.6, 0.3 * 0.4, 0.3 * 0.6])

# %% [markdown]
# ## Question 5: dilated and masked convolutions

# %%
q = show_question("001/Q5.a")

# %%
r = calc.conv_out(input_size=(16, 12), kernel_size=3, dilation=2)
print(r.text())
expect(q, r.to_dict())
dilated = nn.Conv2d(1, 1, 3, dilation=2, rng=np.random.default_rng(SEED))
assert dilated(np.zeros((1, 1, 16, 12), np.float32)).shape[2:] == tuple(r["output_size"])

# %%
q = show_question("001/Q5.b")

# %% [markdown]
# With A the D×D matrix holding a single 1 in its top-left corner, K⊗A places K's entries D apart:
# a plain convolution with it equals the dilated convolution with K (the last D-1 rows and columns of
# K⊗A are zero and are dropped for a 'valid' output). With the library's `Conv2d`:

# %%
rng = np.random.default_rng(SEED)
kernel, d = rng.normal(size=(3, 3)), 2
a = np.zeros((d, d))
a[0, 0] = 1.0
spread = np.kron(kernel, a)[: -(d - 1), : -(d - 1)]  # (5, 5)
image = rng.normal(size=(1, 1, 9, 9))
with_dilation = nn.Conv2d(1, 1, 3, dilation=d, bias=False, rng=rng, dtype=np.float64)
with_dilation.weight.data[:] = kernel
plain = nn.Conv2d(1, 1, 5, bias=False, rng=rng, dtype=np.float64)
plain.weight.data[:] = spread
np.testing.assert_allclose(with_dilation(image), plain(image), atol=1e-12)
print("K ⊗ A (trimmed) =\n", np.round(spread, 2))
result, folder = run_quick_lab("dilated-conv", seed=SEED)
print(result["summary"])
assert result["equivalence_max_abs_diff"] < 1e-12
show_figures(folder, "dilated_kernel.png")

# %%
q = show_question("001/Q5.c")

# %%
r = calc.receptive_field_calc(kernel_sizes=[2, 3, 4], dilations=[1, 2, 3])
print(r.text())
expect(q, r.to_dict())
w, d = 3, 2  # the closed form 3(d(w - 1) + 1) for kernels w-1, w, w+1 and dilations d-1, d, d+1
assert r["receptive_field"] == 3 * (d * (w - 1) + 1)

# %%
q = show_question("001/Q5.d")

# %% [markdown]
# The `masked-conv` lab traces the exact receptive field of a pixel through stacks of masked 3×3
# convolutions (plain PixelCNN stacks leave a growing blind spot above-right; the gated two-stack
# design has none) and trains a small PixelCNN on binarized Fashion-MNIST.

# %%
result, folder = run_quick_lab("masked-conv", seed=SEED)
print(result["summary"])
for row in result["fields"]["plain"]["rows"]:
    print(f"{row['layers']} masked layers: sees {row['seen']} earlier pixels, blind spot {row['blind_spot']}")
expect(q, result)
show_figures(folder, "receptive_fields.png", "masks.png")

# %% [markdown]
# ## Question 6: vanishing gradients

# %%
q = show_question("001/Q6.a.1")

# %%
r = calc.vanishing_bound(sigma=0.9, num_layers=100, layer=0, index_base=0, width=32, seed=SEED)
print(r.text())
expect(q, r.to_dict())

# %%
q = show_question("001/Q6.a.2")

# %%
expect(q, calc.vanishing_bound(sigma=0.9, num_layers=100, layer=0, index_base=0).to_dict())

# %%
q = show_question("001/Q6.b")

# %%
r = calc.init_stats("he_normal", 3, 8, kernel_size=8)
print(r.text())
expect(q, r.to_dict())
weights = nn.Conv2d(3, 8, 8, rng=np.random.default_rng(SEED), init="he_normal").weight.data
print(f"a library Conv2d(3, 8, 8) drawn with he_normal: sample variance {weights.var():.4f} "
      f"over {weights.size} weights")

# %%
q = show_question("001/Q6.c")

# %% [markdown]
# σ' ≤ 1/4 shrinks the gradient at every sigmoid layer; ReLU passes it unchanged where active. The
# `activations` lab, with the ReLU variants of question 6(d), at 1 and 5 hidden layers:

# %%
result, folder = run_quick_lab("activations", seed=SEED, activations=("sigmoid", "relu", "leaky_relu", "prelu", "elu"),
                               depths=(1, 5))
for row in result["rows"]:
    if row["depth"] == 5:
        print(f"{row['model']:<14} first/last layer gradient ratio {row['grad_ratio_first_last_epoch1']:.2e}, "
              f"test accuracy {row['final_test_acc']:.3f}")
assert result["vanished"] == ["sigmoid"]
show_figures(folder, "grad_norms_depth5.png")

# %%
q = show_question("001/Q6.d")

# %% [markdown]
# The derivatives of the ReLU variants from the library's backward (element-wise, so dy = 1 gives f'):
# ReLU's is 0 for x < 0 (a unit negative on every input never learns again), the others keep a
# gradient there. PReLU's slope is a parameter and gets its own gradient.

# %%
x = np.array([-3.0, -1.0, -0.1, 0.5, 2.0])
for name, layer in (("ReLU", nn.ReLU()), ("LeakyReLU", nn.LeakyReLU(0.01)), ("PReLU", nn.PReLU()),
                    ("ELU", nn.ELU(1.0))):
    layer.double()
    layer.zero_grad()
    y = layer(x)
    print(f"{name:>9}: f(x) = {np.round(y, 3)}, f'(x) = {np.round(layer.backward(np.ones_like(x)), 3)}")
prelu = nn.PReLU().double()
errors = check_module_grads(prelu, np.array([[-2.0, -0.5, 0.7, 1.5]]), np.random.default_rng(SEED))
print("PReLU gradient check:", {k: f"{v:.1e}" for k, v in errors.items()})
assert max(errors.values()) < 1e-6

# %%
q = show_question("001/Q6.e")

# %%
r = calc.residual_gradient(depths=(2, 10, 30), seed=SEED)
print(r.text())
assert all(row["residual_w1"] > 1.0 for row in r["rows"]) and r["rows"][-1]["plain_w1"] < 1e-20
