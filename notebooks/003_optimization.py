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
# # 003: optimization and regularization (deep learning homework 2, theory with solutions)
#
# <div dir="rtl" lang="fa">
# تمرین ۲ یادگیری عمیق: بهینه‌سازی و منظم‌سازی. هر سؤال با کتابخانه‌ی backproplab پاسخ داده می‌شود.
# </div>
#
# Source: `003_b420073cf502c22d.txt`. This notebook follows its questions in order. Each question
# is shown as the course map restates it (`backproplab.course`), in English and Persian, with the
# errata of the document's worked solution at that question. The answers come from the library:
# calculators (`backproplab.calc`), layers (`backproplab.nn`) and quick lab runs. A quick run
# takes seconds, so its numbers show the effect but are not the lab's full answer; run
# `backproplab lab NAME` for that. Written answers: `docs/course/003.md`.
#
# Every lab below runs through the Python API, which is what `run_quick_lab` does:
#
# ```python
# from backproplab.labs import registry
# from backproplab.labs.runner import run_lab
# m = registry.load_lab("quadratic")
# result = run_lab(m, m.Config().quick(), "runs/nb/quadratic")
# ```

# %%
import numpy as np

from backproplab import calc, nn, optim
from backproplab.analysis import check_module_grads
from backproplab.course.notebook import expect, run_quick_lab, show_figures, show_question

SEED = 0

# %% [markdown]
# ## Question 1: short questions

# %%
q = show_question("003/Q1.1")

# %% [markdown]
# The `batch-size` lab tunes the learning rate for every batch size B and counts the steps to a
# target training loss. Below the critical batch size, doubling B about halves the steps (slope
# near -1 on log-log axes: the gradient noise σ²/B limits the step); above it the curve flattens,
# because the curvature, not the noise, limits the step.

# %%
result, folder = run_quick_lab("batch-size", seed=SEED)
for row in result["rows"]:
    print(f"B = {row['batch_size']:>4}: {row['steps']:>4} steps at lr {row['best_lr']:g} "
          f"({row['examples']} examples) {row.get('regime', '')}")
fit = result["fit"]
print(f"two-line fit: slope {fit['slope_small']:.2f} below B = {fit['break_batch_size']}, "
      f"{fit['slope_large']:.2f} above")
steps = [row["steps"] for row in result["rows"]]
assert steps == sorted(steps, reverse=True), "more examples per step never needs more steps here"
show_figures(folder, "batch_size.png")

# %%
q = show_question("003/Q1.2")

# %% [markdown]
# Training-mode BatchNorm normalizes each example with its batch's mean and standard deviation,
# which are random. The same example therefore comes out differently in different batches. Two
# batches that share their first example, through the library's `BatchNorm1d`:

# %%
rng = np.random.default_rng(SEED)
bn = nn.BatchNorm1d(3, dtype=np.float64).train()
shared = rng.normal(size=(1, 3))
batch_a = np.vstack([shared, rng.normal(size=(7, 3))])
batch_b = np.vstack([shared, rng.normal(size=(7, 3))])
out_a, out_b = bn(batch_a)[0], bn(batch_b)[0]
print("the shared example after BN, batch a:", np.round(out_a, 4))
print("the shared example after BN, batch b:", np.round(out_b, 4))
assert not np.allclose(out_a, out_b)

# %% [markdown]
# How large is the noise? For batches of M examples with variance σ² and kurtosis κ,
# Var(μ_B) = σ²/M and Var(σ_B) ≈ σ²(κ-1)/(4M). The `bn-noise` lab measures both on real
# first-layer activations, and on Gaussian batches where the document's formulas (errata
# 003-E1 and 003-E2 above) can be compared with ours.

# %%
result, folder = run_quick_lab("bn-noise", seed=SEED)
print(result["summary"])
for row in result["gaussian"]:
    print(f"M = {row['M']:>2}: Var(mu_B) measured {row['var_mu']:.4f}, sigma^2/M {row['theory_mu']:.4f}, "
          f"document {row['document_mu']:.4f}; Var(sigma_B) measured {row['var_sigma']:.4f}, "
          f"sigma^2(kappa-1)/(4M) {row['theory_sigma']:.4f}, document {row['document_sigma']:.4f}")
show_figures(folder, "bn_noise.png")

# %%
q = show_question("003/Q1.3")

# %% [markdown]
# Pixels are non-negative, so with large positive weights every pre-activation is large and
# positive: every sigmoid outputs about 1 and its derivative σ(1-σ) about 0. The `saturation` lab
# compares such an initialization with Glorot's.

# %%
result, folder = run_quick_lab("saturation", seed=SEED)
print(result["summary"])
print("mean sigma'(z) per layer, large positive:", result["mean_dsigma_bad"])
print("mean sigma'(z) per layer, Glorot:        ", np.round(result["mean_dsigma_good"], 3).tolist())
assert result["saturated_bad"] == 1.0 and result["grad_norm_bad"] == 0.0 < result["grad_norm_good"]
show_figures(folder, "saturation.png")

# %%
q = show_question("003/Q1.4")

# %%
r = calc.mlp_params([20, 10, 10, 10, 10, 10, 1])
print(r.text())
expect(q, r.to_dict())

# %% [markdown]
# The same count from the library's layers (erratum 003-E3: the fifth layer has H5 biases, not H4):

# %%
rng = np.random.default_rng(SEED)
sizes = [20, 10, 10, 10, 10, 10, 1]
layers = []
for n_in, n_out in zip(sizes[:-1], sizes[1:]):
    layers += [nn.Linear(n_in, n_out, rng=rng), nn.Sigmoid()]
mlp = nn.Sequential(*layers[:-1])
print(mlp.num_parameters(), "parameters")
assert mlp.num_parameters() == r["total"]

# %%
q = show_question("003/Q1.5")

# %% [markdown]
# The softmax's second probability is σ(z₂ - z₁), so a two-class softmax with rows (W_s1, b_s1),
# (W_s2, b_s2) is the logistic model W_l = W_s2 - W_s1, b_l = b_s2 - b_s1. With random weights:

# %%
rng = np.random.default_rng(SEED)
softmax_layer = nn.Linear(4, 2, rng=rng, dtype=np.float64)
x = rng.normal(size=(6, 4))
p_softmax = nn.Softmax()(softmax_layer(x))[:, 1]
w_l = softmax_layer.weight.data[1] - softmax_layer.weight.data[0]
b_l = softmax_layer.bias.data[1] - softmax_layer.bias.data[0]
p_logistic = nn.Sigmoid()(x @ w_l[:, None] + b_l)[:, 0]
print("softmax p(class 2): ", np.round(p_softmax, 6))
print("logistic p(class 2):", np.round(p_logistic, 6))
np.testing.assert_allclose(p_softmax, p_logistic, rtol=1e-12)

# %% [markdown]
# The `logistic-vs-softmax` lab trains the softmax on two Fashion-MNIST classes and converts it.

# %%
result, folder = run_quick_lab("logistic-vs-softmax", seed=SEED)
print(result["summary"])
assert result["all_predictions_agree"]
show_figures(folder, "logistic_vs_softmax.png")

# %% [markdown]
# ## Question 2: committees of networks

# %%
q = show_question("003/Q2.1")

# %%
r = calc.committee_error(5, correlation=(0.0, 0.3, 0.7), seed=SEED)
print(r.text())
expect(q, r.to_dict())

# %%
q = show_question("003/Q2.2")

# %% [markdown]
# The `committee` lab trains members that differ by preprocessing (original images and width
# normalizations, all distorted afresh every epoch) and a control committee whose members differ
# only by seed, and measures how correlated the members' mistakes are. The quick run trains three
# tiny members for two epochs on 1000 images: its error rates are far from the full run's. The
# full run (`docs/committee.md`) finds that on clothing the width normalizations do decorrelate
# the errors but cost each member more accuracy than the committee gains back (an object's width
# is a class cue for clothes, unlike for digits), so the seed-only committee wins there.

# %%
result, folder = run_quick_lab("committee", seed=SEED)
print(result["summary"])
for name, committee in result["committees"].items():
    print(f"{name}: member errors {committee['member_error']}, committee of the first k: {committee['k_curve']}, "
          f"mean correlation of the members' 0/1 errors {committee['mean_corr']:+.3f}")
show_figures(folder, "preprocessing.png", "error_correlation.png", "k_curve.png")

# %% [markdown]
# ## Question 3: a computational graph

# %%
q = show_question("003/Q3.1")

# %%
result, folder = run_quick_lab("graph", seed=SEED)
for row in result["rows"]:
    print(f"dL_reg/d{row['name']:<3} = {row['formula']:<28} library {row['library']:+.10f}, "
          f"central difference {row['central_difference']:+.10f}")
expect(q, result)
show_figures(folder, "graph.png")

# %% [markdown]
# The same check with the library's gradient checker: a float64 `Linear(1, 1) → Sigmoid` against
# central differences, with a random upstream gradient.

# %%
rng = np.random.default_rng(SEED)
unit = nn.Sequential(nn.Linear(1, 1, rng=rng), nn.Sigmoid()).double()
errors = check_module_grads(unit, rng.normal(size=(5, 1)), rng)
print(errors)
assert max(errors.values()) < 1e-6

# %%
q = show_question("003/Q3.2")

# %% [markdown]
# Not random: units that start equal stay equal. Not small (relative to the fan-in): the signal
# explodes or, with sigmoids, saturates (question 1.3). The `init` lab trains a 3-layer MLP from
# each initialization and measures, for the all-zeros model, how far its hidden units end apart.

# %%
result, folder = run_quick_lab("init", seed=SEED)
print(result["summary"])
for row in result["rows"]:
    print(f"{row['model']:<14} final test accuracy {row['final_test_acc']:.3f}")
show_figures(folder, "init_activation_stats.png", "symmetry.png")

# %%
q = show_question("003/Q3.3")

# %% [markdown]
# The document's start w₀ = b₀ = 0.1, λ = 0.1, learning rate 0.1, with x = 2 and t = 1 (the map's
# choice). Errata 003-E4 to E6 above are the document's slips in this step.

# %%
result, folder = run_quick_lab("graph", seed=SEED, w=0.1, b=0.1, lam=0.1, lr=0.1, x=2.0, t=1.0)
step = result["step"]
print(f"w: {step['w']} -> {step['w_new']:.7f}, b: {step['b']} -> {step['b_new']:.7f}, "
      f"L_reg: {step['L_reg_before']:.7f} -> {step['L_reg_after']:.7f}")
expect(q, result)
assert step["L_reg_after"] < step["L_reg_before"]

# %% [markdown]
# ## Question 4: Adam

# %%
q = show_question("003/Q4.1")

# %% [markdown]
# One Adam step of the library's optimizer, read back from its state (`exp_avg` is m_t,
# `exp_avg_sq` is v_t) and compared with the six lines of the algorithm:

# %%
theta = nn.Parameter(np.array([1.0, -2.0]))
adam = optim.Adam([theta], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
g = np.array([0.5, -3.0])
theta.grad = g.copy()
adam.step()
state = adam.state[0]  # one dict per parameter, in order
m, v = 0.1 * g, 0.001 * g**2
m_hat, v_hat = m / (1 - 0.9), v / (1 - 0.999)
by_hand = np.array([1.0, -2.0]) - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)
print("m_1 =", state["exp_avg"], " v_1 =", state["exp_avg_sq"], " theta_1 =", theta.data)
np.testing.assert_allclose(state["exp_avg"], m)
np.testing.assert_allclose(theta.data, by_hand)

# %%
q = show_question("003/Q4.2")

# %%
result, folder = run_quick_lab("adam-bias", seed=SEED)
print(result["summary"])
for row in result["constant"][:4]:
    print(f"t = {row['t']}: m_t = {row['m']:.4f}, m_hat_t = {row['m_hat']:.4f}")
expect(q, result)
show_figures(folder, "adam_bias.png")

# %% [markdown]
# ## Question 5: gradient descent and Newton's method on wᵀHw

# %%
q = show_question("003/Q5.1")

# %% [markdown]
# ∇(wᵀHw) = 2Hw, so w_{t+1} = (I - 2εH)w_t. With H = QΛQᵀ the step multiplies the coordinate
# along eigenvector i by 1 - 2ελ_i. Checked on the lab's H (eigenvalues 1 and 10, rotated 30°):

# %%
result, folder = run_quick_lab("quadratic", seed=SEED)
h = np.array(result["h"])
lam, big_q = np.linalg.eigh(h)
w0, eps, t = np.array([1.0, 1.0]), 0.05, 25
w = w0.copy()
for _ in range(t):
    w = w - eps * 2 * h @ w
closed_form = big_q @ np.diag((1 - 2 * eps * lam) ** t) @ big_q.T @ w0
print("eigenvalues:", lam, " w_25 iterated:", w, " closed form:", closed_form)
np.testing.assert_allclose(w, closed_form, rtol=1e-12)

# %%
q = show_question("003/Q5.2")

# %% [markdown]
# The lab measures the contraction per step from each trajectory; it equals max_i |1 - 2ελ_i|:

# %%
for run in result["runs"]:
    print(f"lr = {run['lr']:.3f} ({run['lr_factor']} / lambda_max): measured factor {run['measured_factor']:.4f}, "
          f"max|1 - 2 lr lambda_i| = {run['spectral_radius']:.4f}: {run['behaviour']}")
    assert abs(run["measured_factor"] - run["spectral_radius"]) < 1e-9
show_figures(folder, "quadratic.png")

# %%
q = show_question("003/Q5.3")

# %%
print(result["summary"])
expect(q, result)
for case, c in result["curvature"].items():
    print(f"{case}: eigenvalues {c['eigenvalues']} ({c['kind']}), f after {len(c['f']) - 1} steps: {c['f'][-1]:.4g}")
show_figures(folder, "quadratic_curvature.png")

# %%
q = show_question("003/Q5.4")

# %%
newton = result["newton"]
print(f"one Newton step from w0 = {w0}: w1 = {newton['w1']}, "
      f"distance to the minimum {newton['distance_to_origin']:.1e}")
w1 = w0 - np.linalg.solve(2 * h, 2 * h @ w0)  # Hessian 2H (erratum 003-E10), gradient 2Hw
assert np.linalg.norm(w1) < 1e-12 and newton["distance_to_origin"] < 1e-12

# %%
q = show_question("003/Q5.5")

# %%
print(calc.newton_cost(params=(1_000, 1_000_000, 100_000_000)).text())
expect(q, calc.newton_cost(params=(1_000_000,)).to_dict())  # the map's command: P = 1e6

# %% [markdown]
# ## Question 6: Gaussian dropout

# %%
q = show_question("003/Q6.1")

# %% [markdown]
# E[∂J₁/∂w_k] = -(y_d - Σ_i w_i x_i)x_k + αw_k x_k². A Monte Carlo check with the library's
# `GaussianDropout` on the weights of one example (noise ξ ~ N(1, α), so δ_k = (ξ_k - 1)w_k):

# %%
rng = np.random.default_rng(SEED)
p = 0.3
drop = nn.GaussianDropout(p, rng=rng).train()
alpha = drop.alpha
w_k, x_k, y_d = rng.normal(size=5), rng.normal(size=5), 0.7
draws = 200_000
noisy_w = drop(np.tile(w_k, (draws, 1)))  # one noise draw per row: w_k + delta_k
residual = y_d - noisy_w @ x_k
grads = -residual[:, None] * x_k * (noisy_w / w_k)  # dJ1/dw_k, with delta_k proportional to w_k
mc, se = grads.mean(axis=0), grads.std(axis=0) / np.sqrt(draws)
formula = -(y_d - w_k @ x_k) * x_k + alpha * w_k * x_k**2
print("Monte Carlo:", np.round(mc, 4), "\nformula:    ", np.round(formula, 4))
assert np.all(np.abs(mc - formula) < 5 * se)

# %%
result, folder = run_quick_lab("gaussian-dropout", seed=SEED)
print(result["summary"])
show_figures(folder, "gaussian_dropout.png")

# %%
q = show_question("003/Q6.2")

# %% [markdown]
# On average the noisy loss is J₀ + ½α Σ_k w_k² x_k²: an L2 penalty on w_k weighted by its
# feature's mean square. The lab's features have different scales, so the plain penalty
# ½α Σ_k w_k² misses the Monte Carlo loss by many standard errors while the weighted one fits:

# %%
for row in result["rows"]:
    print(f"p = {row['p']}: weighted penalty off by {row['z_formula']:+.2f} standard errors, "
          f"plain L2 off by {row['z_plain_l2']:+.1f}")
assert result["max_z"] < 4 < result["min_z_plain_l2"]
