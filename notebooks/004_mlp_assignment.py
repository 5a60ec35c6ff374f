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
# # 004: the NumPy MLP assignment on two-class Fashion-MNIST
#
# <div dir="rtl" lang="fa">
# تمرین ۲ شبکه‌های عصبی: MLP با NumPy روی Fashion-MNIST دوکلاسه؛ توابع فعالیت، مقداردهی اولیه،
# گرادیان کاهشی، بهینه‌سازها و L2. کد نمونه‌ی دانشجو با <code>backproplab check</code> سنجیده
# می‌شود.
# </div>
#
# Source: `004_60d4665303d33516.txt`. The assignment asks for code (activations, initializations,
# gradient-descent variants, optimizers, L2) and then for experiments. This notebook follows it
# section by section. Each question is shown as the course map restates it, in English and Persian,
# with the errata of the document's text at that question. The code parts are answered three ways:
# the library's own layer or optimizer, a small computation, and `backproplab check` run on two
# example student files that this notebook writes, one correct and one with planted bugs. The
# experiments are quick runs of the MLP labs (seconds each, so their numbers show the effect and
# are not the labs' full answers: `backproplab lab all` runs those). Written answers:
# `docs/course/004.md`; the checker: `docs/check.md`.

# %%
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from backproplab import calc, nn, optim
from backproplab.analysis import check_module_grads, numerical_grad
from backproplab.course.notebook import expect, run_quick_lab, show_figures, show_question, verdicts

SEED = 0
WORK = Path(tempfile.mkdtemp(prefix="backproplab-nb004-"))  # the data files and the student files

# %% [markdown]
# ## Data

# %%
q = show_question("004/Q0")

# %% [markdown]
# `backproplab data to-npz` writes the assignment's four files from the official IDX files; they load
# exactly as the assignment loads them.

# %%
cmd = [sys.executable, "-m", "backproplab.cli", "data", "to-npz", str(WORK / "data"), "--classes", "0,1"]
print(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
x_train = np.load(WORK / "data" / "x_train.npz")["arr_0"]
y_train = np.load(WORK / "data" / "y_train.npz")["arr_0"]
x_test = np.load(WORK / "data" / "x_test.npz")["arr_0"]
y_test = np.load(WORK / "data" / "y_test.npz")["arr_0"]
print(x_train.shape, x_train.dtype, x_train.min(), x_train.max(), np.bincount(y_train), x_test.shape)
assert x_train.shape == (12000, 784) and set(np.unique(y_train)) == {0, 1}

# %% [markdown]
# ## The example student files
#
# A student's code for the whole assignment, in the style the assignment suggests (weights of shape
# (inputs, outputs), batch-first arrays, one optimizer object per parameter). Its initializers draw
# from one seeded generator. The second file is the same code with five planted bugs, each a
# mistake students make; one repeats a slip of the assignment's own text (erratum 004-E3 below).

# %%
STUDENT = textwrap.dedent('''\
    """Homework 2: activations, initializations, a dense layer, optimizers and L2, in NumPy."""
    import numpy as np

    rng = np.random.default_rng(2024)


    def identity(x):
        return x.copy()


    def identity_prime(x):
        return np.ones(x.shape)


    def sigmoid(x):
        return np.exp(-np.logaddexp(0.0, -x))  # 1/(1 + e^-x) without overflow


    def sigmoid_prime(x):
        return sigmoid(x) * sigmoid(-x)  # sigma(x)(1 - sigma(x))


    def tanh(x):
        return 2.0 * sigmoid(2.0 * x) - 1.0


    def tanh_prime(x):
        return 4.0 * sigmoid_prime(2.0 * x)


    def relu(x):
        return x * (x > 0)


    def relu_prime(x):
        return (x > 0).astype(float)


    def leaky_relu(x, slope=0.01):
        return np.where(x > 0, x, slope * x)


    def leaky_relu_prime(x, slope=0.01):
        return np.where(x > 0, 1.0, slope)


    def zeros_init(n_in, n_out):
        return np.zeros((n_in, n_out))


    def small_random_init(n_in, n_out):
        return 0.01 * rng.standard_normal((n_in, n_out))


    def large_random_init(n_in, n_out):
        return rng.standard_normal((n_in, n_out))


    def xavier_init(n_in, n_out):
        return rng.standard_normal((n_in, n_out)) * np.sqrt(1.0 / n_in)


    def he_init(n_in, n_out):
        return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)


    class Dense:
        """y = x W + b, W of shape (n_in, n_out), x of shape (batch, n_in)."""

        def __init__(self, n_in, n_out):
            self.W = he_init(n_in, n_out)
            self.b = np.zeros(n_out)

        def forward(self, x):
            self.x = x
            return x @ self.W + self.b

        def backward(self, dy):
            self.dW = self.x.T @ dy
            self.db = dy.sum(axis=0)
            return dy @ self.W.T


    class SGD:
        def __init__(self, lr=0.1):
            self.lr = lr

        def update(self, w, dw):
            return w - self.lr * dw


    class Momentum:
        def __init__(self, lr=0.1, beta=0.9):
            self.lr, self.beta, self.v = lr, beta, None

        def update(self, w, dw):
            if self.v is None:
                self.v = np.zeros_like(w)
            self.v = self.beta * self.v + (1 - self.beta) * dw
            return w - self.lr * self.v


    class RMSprop:
        def __init__(self, lr=0.01, beta=0.9, eps=1e-8):
            self.lr, self.beta, self.eps, self.s = lr, beta, eps, None

        def update(self, w, dw):
            if self.s is None:
                self.s = np.zeros_like(w)
            self.s = self.beta * self.s + (1 - self.beta) * dw**2
            return w - self.lr * dw / (np.sqrt(self.s) + self.eps)


    class Adam:
        def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
            self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
            self.v = self.s = None
            self.t = 0

        def update(self, w, dw):
            if self.v is None:
                self.v, self.s = np.zeros_like(w), np.zeros_like(w)
            self.t += 1
            self.v = self.beta1 * self.v + (1 - self.beta1) * dw
            self.s = self.beta2 * self.s + (1 - self.beta2) * dw**2
            v_hat = self.v / (1 - self.beta1**self.t)
            s_hat = self.s / (1 - self.beta2**self.t)
            return w - self.lr * v_hat / np.sqrt(s_hat + self.eps)  # the assignment puts eps under the root


    def l2_cost(h, y, params, gamma):
        m = len(y)
        weights = [p for p in params if p.ndim == 2]
        return (np.sum((h - y) ** 2) + gamma * sum(np.sum(w**2) for w in weights)) / (2 * m)


    def l2_gradient(params, gamma, m):
        return [gamma / m * p if p.ndim == 2 else np.zeros_like(p) for p in params]
    ''')

PLANTED = {  # task: (correct line, buggy line)
    "activations": ("return np.where(x > 0, 1.0, slope)", "return np.where(x > 0, 1.0, -slope)"),
    "init": ("* np.sqrt(1.0 / n_in)", "* np.sqrt(1.0 / n_out)"),
    "dense": ("self.dW = self.x.T @ dy", "self.dW = dy.T @ self.x"),
    "momentum": ("self.v = self.beta * self.v + (1 - self.beta) * dw", "self.v = self.beta * self.v + dw"),
    "l2": ("weights = [p for p in params if p.ndim == 2]", "weights = params"),
}
buggy = STUDENT
for right, wrong in PLANTED.values():
    assert buggy.count(right) == 1, right
    buggy = buggy.replace(right, wrong)
good_file, bug_file = WORK / "mlp_homework.py", WORK / "mlp_homework_bugs.py"
for path, text in ((good_file, STUDENT), (bug_file, buggy)):
    path.write_text(text)

# %% [markdown]
# The checker runs each (file, task) pair in a child process with time and memory limits, so the
# files never run inside this kernel. Exit status 1 means some check failed (here: the planted bugs).

# %%
cmd = [sys.executable, "-m", "backproplab.cli", "check", str(good_file), str(bug_file), "--json", "--jobs", "2"]
done = subprocess.run(cmd, capture_output=True, text=True)
assert done.returncode in (0, 1), done.stderr
report = json.loads(done.stdout)
good, bad = report["files"]
for path, verdict in ((good_file, good), (bug_file, bad)):
    print(f"{path.name}: {'PASS' if verdict['passed'] else 'FAIL'}")
failed = sorted(t for t, v in bad["tasks"].items() if not v["passed"])
print("tasks failed by the planted bugs:", failed)
assert good["passed"] and failed == sorted(PLANTED)

# %% [markdown]
# ## 1. Activation functions

# %%
q = show_question("004/Q1.1")

# %% [markdown]
# With identity activations the network is a product of affine maps, itself affine: the library's
# three-layer identity network equals one `Linear` layer built from its weights.

# %%
rng = np.random.default_rng(SEED)
deep = nn.Sequential(nn.Linear(4, 8, rng=rng, dtype=np.float64), nn.Identity(),
                     nn.Linear(8, 8, rng=rng, dtype=np.float64), nn.Identity(),
                     nn.Linear(8, 2, rng=rng, dtype=np.float64))
(w1, b1), (w2, b2), (w3, b3) = [(m.weight.data, m.bias.data) for m in deep.children() if isinstance(m, nn.Linear)]
w, b = w3 @ w2 @ w1, w3 @ (w2 @ b1 + b2) + b3
x = rng.normal(size=(5, 4))
np.testing.assert_allclose(deep(x), x @ w.T + b, rtol=1e-12)
print("the 3-layer identity network is the single affine map W x + b with W of shape", w.shape)

# %%
q = show_question("004/Q1.2")

# %%
z = np.array([-8.0, -5.0, -2.0, 0.0, 2.0, 5.0, 8.0])
sig = nn.Sigmoid()
sig(z)
d_sigmoid = sig.backward(np.ones_like(z))  # element-wise, so dy = 1 gives f'(z)
for zi, di in zip(z, d_sigmoid):
    print(f"sigma'({zi:+.0f}) = {di:.5f}")
assert np.isclose(d_sigmoid.max(), 0.25) and np.all(d_sigmoid[np.abs(z) >= 5] < 0.0067)

# %%
q = show_question("004/Q1.3")

# %% [markdown]
# tanh(x) = 2σ(2x) - 1 maps ℝ onto (-1, 1), not (0, 1) (erratum 004-E2), and is zero at 0:

# %%
z = np.linspace(-6, 6, 13)
tanh_z = nn.Tanh()(z)
np.testing.assert_allclose(tanh_z, 2 * nn.Sigmoid()(2 * z) - 1, atol=1e-15)
print("tanh range on [-6, 6]:", tanh_z.min(), tanh_z.max(), " tanh(0) =", tanh_z[6])
assert tanh_z.min() < -0.99 and tanh_z.max() > 0.99

# %%
q = show_question("004/Q1.4")

# %% [markdown]
# A dead ReLU unit: a bias so negative that the pre-activation is below 0 for every input. Its
# weights get exactly zero gradient, so no step can revive it.

# %%
rng = np.random.default_rng(SEED)
layer = nn.Linear(4, 2, rng=rng, dtype=np.float64)
layer.bias.data[:] = [0.0, -100.0]  # unit 1 is dead on every input below
relu_net = nn.Sequential(layer, nn.ReLU())
x = rng.normal(size=(16, 4))
relu_net.zero_grad()
relu_net.backward(rng.normal(size=relu_net(x).shape))
print("weight gradient of the live unit:", np.round(layer.weight.grad[0], 4))
print("weight gradient of the dead unit:", layer.weight.grad[1])
assert np.all(layer.weight.grad[1] == 0) and np.any(layer.weight.grad[0] != 0)

# %%
q = show_question("004/Q1.5")

# %% [markdown]
# The slope for x < 0 is a small positive number (0.01), so the derivative there is +0.01, not
# negative (erratum 004-E3). The planted bug writes -0.01: the checker's derivative check and its
# central-difference check fail, while the values still pass. The checker's verdicts on the five
# activations of both files:

# %%
leaky = nn.LeakyReLU(0.01)
z = np.array([-3.0, -0.5, 0.5, 3.0])
leaky(z)
print("f(z) =", leaky(z), " f'(z) =", leaky.backward(np.ones_like(z)))
verdicts(report, "activations")

# %% [markdown]
# ## 2. Weight initialization

# %%
q = show_question("004/Q2.1")

# %% [markdown]
# With all-zero weights the two hidden units of a tiny sigmoid network compute the same output and
# receive the same gradient, so every update keeps them equal.

# %%
rng = np.random.default_rng(SEED)
hidden = nn.Linear(3, 2, rng=rng, init="zeros", dtype=np.float64)
head = nn.Linear(2, 1, rng=rng, init="zeros", dtype=np.float64)
net = nn.Sequential(hidden, nn.Sigmoid(), head)
sgd = optim.SGD(net.parameters(), lr=0.5)
loss_fn = nn.MSELoss()
x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
for _ in range(20):
    net.zero_grad()
    loss_fn(net(x), y)
    net.backward(loss_fn.backward())
    sgd.step()
print("hidden weights after 20 steps:\n", hidden.weight.data)
assert np.array_equal(hidden.weight.data[0], hidden.weight.data[1])

# %%
q = show_question("004/Q2.2")

# %% [markdown]
# Each layer multiplies the signal's second moment by about n·Var(w) (halved by a ReLU). Through
# five ReLU layers of 64 units, from the library's `small` N(0, 0.01²) and `large` N(0, 1) schemes:

# %%
rng = np.random.default_rng(SEED)
signal0 = rng.normal(size=(256, 64))
for scheme in ("small", "large", "he"):
    signal, stds = signal0, []
    for _ in range(5):
        signal = nn.ReLU()(nn.Linear(64, 64, rng=rng, init=scheme, dtype=np.float64)(signal))
        stds.append(signal.std())
    print(f"{scheme:>5}: activation std per layer", " ".join(f"{s:.3g}" for s in stds))

# %%
q = show_question("004/Q2.3")

# %% [markdown]
# The assignment's "Xavier" is variance 1/fan_in, which is LeCun's scheme; Glorot and Bengio's uses
# 2/(fan_in + fan_out) (erratum 004-E4). For the first layer, 784 → 256:

# %%
print(calc.init_stats("all", 784, 256).text())
xavier = calc.init_stats("xavier", 784, 256)  # the assignment's name; the calculator answers with lecun_normal
print(xavier.values)
assert abs(xavier["schemes"]["lecun_normal"]["variance"] - 1 / 784) < 1e-12

# %%
q = show_question("004/Q2.4")

# %%
he = calc.init_stats("he", 784, 256)
print(he.text())
assert abs(he["schemes"]["he_normal"]["std"] - np.sqrt(2 / 784)) < 1e-12

# %% [markdown]
# The checker draws 40,000 weights from each of the student's initializers and tests their mean and
# variance; the planted bug takes n = fan_out in Xavier's variance:

# %%
verdicts(report, "init")

# %% [markdown]
# ## 3. Batch, mini-batch and stochastic gradient descent
#
# One update rule, θ ← θ - lr·g; the three variants differ in how many examples form g. The
# dense layer they train is checked first (the planted bug stores dW transposed):

# %%
verdicts(report, "dense")

# %%
q = show_question("004/Q3.1")

# %% [markdown]
# How noisy is a batch gradient? The weight gradient of a logistic model (the library's `Linear`
# and `BCEWithLogitsLoss`) on the training data, over 200 random batches of each size: its spread
# around the full-batch gradient shrinks like 1/√b.

# %%
rng = np.random.default_rng(SEED)
x_all = x_train.astype(np.float64) / 255.0
model = nn.Linear(784, 1, rng=rng, dtype=np.float64)
bce = nn.BCEWithLogitsLoss()


def weight_gradient(rows):
    model.zero_grad()
    bce(model(x_all[rows]), y_train[rows].astype(np.float64))
    model.backward(bce.backward())
    return model.weight.grad.ravel().copy()


full = weight_gradient(np.arange(len(x_all)))
for b in (1, 16, 256):
    spread = np.mean([np.linalg.norm(weight_gradient(rng.choice(len(x_all), b, replace=False)) - full)
                      for _ in range(200)])
    print(f"b = {b:>3}: mean |g_batch - g_full| = {spread:.4f}, times sqrt(b): {spread * np.sqrt(b):.3f}")
verdicts(report, "sgd")

# %%
q = show_question("004/Q3.2")

# %%
q = show_question("004/Q3.3")

# %% [markdown]
# The three variants on the same network are run in the optimizers experiment (question 6.3 below).
#
# ## 4. Momentum, RMSprop, Adam

# %%
q = show_question("004/Q4.1")

# %% [markdown]
# The library's `optim.Momentum` is the assignment's form V ← βV + (1 - β)g (no bias correction):
# three steps with fixed gradients against the formula. The planted bug uses the heavy-ball form
# V ← βV + g, and the checker names it.

# %%
grads = [np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([-1.0, 3.0])]
theta = nn.Parameter(np.zeros(2))
momentum = optim.Momentum([theta], lr=0.1, beta=0.9)
v, by_hand = np.zeros(2), np.zeros(2)
for g in grads:
    theta.grad = g.copy()
    momentum.step()
    v = 0.9 * v + (1 - 0.9) * g
    by_hand = by_hand - 0.1 * v
print("library:", theta.data, " by hand:", by_hand)
np.testing.assert_allclose(theta.data, by_hand)
verdicts(report, "momentum")

# %%
q = show_question("004/Q4.2")

# %% [markdown]
# RMSprop's running mean S is built from its own previous value (erratum 004-E5: the assignment's
# algorithm writes V there). One step with S₀ = 0 takes lr·g/(√((1-β)g²) + ε) ≈ lr·sign(g)/√(1-β):

# %%
theta = nn.Parameter(np.zeros(3))
rms = optim.RMSprop([theta], lr=0.01, alpha=0.9, eps=1e-8)
g = np.array([0.001, 1.0, -50.0])
theta.grad = g.copy()
rms.step()
print("first step:", theta.data, " lr/sqrt(1 - beta) =", 0.01 / np.sqrt(0.1))
np.testing.assert_allclose(theta.data, -0.01 * g / (np.sqrt(0.1 * g**2) + 1e-8))
verdicts(report, "rmsprop")

# %%
q = show_question("004/Q4.3")

# %% [markdown]
# Erratum 004-E6: a second moment built from V is not a mean of squares and goes negative as soon as
# the gradient is negative, so its square root is undefined:

# %%
g, beta1, beta2 = -0.5, 0.9, 0.999
v1 = (1 - beta1) * g
print("S from S (correct):", beta2 * 0.0 + (1 - beta2) * g**2)
print("S from V (the typo):", beta2 * v1 + (1 - beta2) * g**2)

# %% [markdown]
# Erratum 004-E7: the assignment puts ε under the square root. The library (as the paper and
# PyTorch) divides by √Ŝ + ε. The two agree while √Ŝ ≫ √ε = 1e-4 and differ for tiny gradients:

# %%
for g in (1.0, 1e-3, 1e-5):
    theta = nn.Parameter(np.zeros(1))
    adam = optim.Adam([theta], lr=0.001)
    theta.grad = np.array([g])
    adam.step()
    under_root = -0.001 * g / np.sqrt(g**2 + 1e-8)  # first step: V_hat = g, S_hat = g^2
    print(f"g = {g:g}: library step {theta.data[0]:+.3e}, eps under the root {under_root:+.3e}")
verdicts(report, "adam")

# %% [markdown]
# The student's Adam passes with ε under the root: the checker's gradients are at least 0.5 in size,
# where the two forms agree to 1e-8 (`docs/check.md`, "Conventions accepted").
#
# ## 5. L2 regularization

# %%
q = show_question("004/Q5")

# %% [markdown]
# The cost (1/2m)[Σ(h - y)² + γΣθ²] adds (γ/m)θ to the gradient of every weight and nothing to the
# biases; `optim.l2_param_groups` gives the weights that decay. Checked by central differences on a
# small layer:

# %%
rng = np.random.default_rng(SEED)
layer = nn.Linear(3, 2, rng=rng, dtype=np.float64)
x, y, gamma = rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), 0.7
mse = nn.MSELoss()
layer.zero_grad()
mse(layer(x), y)
layer.backward(mse.backward())
analytic = layer.weight.grad + gamma / len(x) * layer.weight.data
numeric = numerical_grad(lambda: mse(layer(x), y) + gamma / (2 * len(x)) * np.sum(layer.weight.data**2),
                         layer.weight.data)
np.testing.assert_allclose(analytic, numeric, rtol=1e-6)
groups = optim.l2_param_groups(layer, gamma, len(x))
print([(len(g["params"]), g["weight_decay"]) for g in groups], "(weights decay by gamma/m, biases do not)")
verdicts(report, "l2")

# %% [markdown]
# The library's layers pass the same kind of check (every layer of the MLP below, float64, random
# upstream gradient):

# %%
rng = np.random.default_rng(SEED)
mlp = nn.Sequential(nn.Linear(6, 5, rng=rng), nn.Tanh(), nn.Linear(5, 4, rng=rng), nn.LeakyReLU(),
                    nn.Linear(4, 2, rng=rng)).double()
errors = check_module_grads(mlp, rng.normal(size=(3, 6)), rng)
print({k: f"{v:.1e}" for k, v in errors.items()})
assert max(errors.values()) < 1e-6

# %% [markdown]
# ## 6. Experiments

# %%
q = show_question("004/Q6.1")

# %%
result, folder = run_quick_lab("activations", seed=SEED)
print(result["summary"])
for row in result["rows"]:
    if row["depth"] == result["deepest"]:
        print(f"{row['model']:<14} test accuracy {row['final_test_acc']:.3f}, first/last layer gradient "
              f"ratio {row['grad_ratio_first_last_epoch1']:.2e}, vanished layers {row['vanished_layers']}")
assert "sigmoid" in result["vanished"]
show_figures(folder, "curves_depth5.png", "grad_norms_depth5.png", "grad_ratio.png")

# %%
q = show_question("004/Q6.2")

# %%
result, folder = run_quick_lab("init", seed=SEED)
print(result["summary"])
for row in result["rows"]:
    print(f"{row['model']:<14} final train loss {row['final_train_loss']:.4f}, "
          f"test accuracy {row['final_test_acc']:.3f}")
show_figures(folder, "curves.png", "init_activation_stats.png", "symmetry.png")

# %%
q = show_question("004/Q6.3")

# %%
result, folder = run_quick_lab("optimizers", seed=SEED)
print(result["summary"])
for row in result["rows"]:
    print(f"{row['model']:<18} {row['steps_per_epoch']:>4} steps/epoch, "
          f"final train loss {row['final_train_loss']:.4f}, "
          f"test accuracy {row['final_test_acc']:.3f}")
show_figures(folder, "curves.png", "step_loss.png")

# %%
q = show_question("004/Q6.4")

# %%
result, folder = run_quick_lab("l2", seed=SEED)
print(result["summary"])
for row in result["rows"]:
    print(f"gamma = {row['gamma']:>6g}: sum of squared weights {row['final_weight_norm']:.1f}, "
          f"test accuracy {row['final_test_acc']:.3f}")
assert result["weight_norm"]["with"] < result["weight_norm"]["without"]
show_figures(folder, "with_without_l2.png", "weight_norm.png", "gamma_sweep.png")
