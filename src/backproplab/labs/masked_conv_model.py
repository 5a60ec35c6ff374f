"""The masked-conv lab's computations: exact receptive fields of masked stacks, and one PixelCNN
(masked, or the same network without masks) trained and probed (one task each).

Receptive fields come from :func:`backproplab.analysis.masked_receptive_field.receptive_fields`:
the gradient of one output pixel with respect to the input, by one backward pass through
positive weights, so every connection counts.

The probes of a trained network, at a few pixels p of a few test images:

* the gradient of logit p with respect to the input (:func:`input_gradient`): its share on the
  pixel p itself and on the pixels after p in raster order (a causal network: exactly 0);
* the logit p after every pixel at and after p is flipped: unchanged for a causal network.

References: van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural Networks";
van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders" (the blind spot).
"""
from __future__ import annotations

import functools
import time

import numpy as np

from . import progress

#: output pixels the trained networks are probed at (row, column), inside the 28 x 28 image
PROBE_PIXELS = ((14, 14), (8, 20), (20, 6))


# -- receptive fields ------------------------------------------------------------------------------------
def closed_forms(num_layers: int) -> dict:
    """A plain stack of L 3x3 masked layers (A, then B): (3L² + 5L)/2 pixels seen, L(L-1)/2 in the blind spot."""
    return {"seen": (3 * num_layers ** 2 + 5 * num_layers) // 2, "blind_spot": num_layers * (num_layers - 1) // 2}


def _extent(field: np.ndarray, pixel) -> dict:
    """How far the field reaches from p: rows up, columns left and right."""
    rows, cols = np.nonzero(field)
    return {"up": int(pixel[0] - rows.min()), "left": int(pixel[1] - cols.min()),
            "right": int(cols.max() - pixel[1])}


def fields(config) -> tuple[dict, dict]:
    """(counts per kind: a row per depth with seen, blind_spot, causal_in_box, reach; arrays to save)."""
    from ..analysis.masked_receptive_field import KINDS, receptive_fields

    counts, arrays = {}, {}
    for kind in KINDS:
        rf = receptive_fields(kind, config.max_layers, config.kernel_size, config.dilations)
        rows = []
        for depth, row in enumerate(rf.counts):
            rows.append({**row, **_extent(rf.fields[depth], rf.pixel)})
        counts[kind] = {"pixel": list(rf.pixel), "rows": rows}
        arrays[f"{kind}_heat"], arrays[f"{kind}_blind"] = rf.heat, rf.blind
    return counts, arrays


# -- data ------------------------------------------------------------------------------------------------
def load_binary(config) -> tuple[np.ndarray, np.ndarray]:
    """(x_train, x_test) binarized (N, 1, 28, 28) images of the lab's subset; read once per process."""
    from ..data.fashion_mnist import data_folder

    return _binary(config.classes, data_folder(config.data_dir), config.train_size, config.test_size, config.seed)


@functools.lru_cache(maxsize=2)
def _binary(classes, data_dir, train_size, test_size, seed):
    from ..data import load_fashion_mnist, parse_classes
    from ..models.pixelcnn import binarize

    ds = load_fashion_mnist(classes=parse_classes(classes), data_dir=data_dir, flatten=False)
    ds = ds.subset(train_size, np.random.default_rng([seed, 1]), test_size)
    return binarize(ds.x_train), binarize(ds.x_test)


# -- probes ----------------------------------------------------------------------------------------------
def dependence(model, images: np.ndarray) -> dict:
    """Where the gradient of logit p goes, summed over ``images`` (N, 1, 28, 28) and PROBE_PIXELS:
    shares of Σ|∂logit_p/∂x| on p itself and on the pixels after p; and the largest change of logit p
    when every pixel at or after p is flipped (0 <-> 1)."""
    from ..analysis.masked_receptive_field import input_gradient

    model.eval()
    own = later = total = 0.0
    change = 0.0
    width = images.shape[3]
    for x in images:
        x = x[None].astype(np.float32)
        for (i, j) in PROBE_PIXELS:
            g = np.abs(input_gradient(model, x, (i, j))[0]).astype(np.float64)
            after = (np.arange(g.size) > i * width + j).reshape(g.shape)
            own, later, total = own + g[i, j], later + g[after].sum(), total + g.sum()
            flipped = x.copy()
            flipped[0, 0].reshape(-1)[i * width + j:] = 1.0 - flipped[0, 0].reshape(-1)[i * width + j:]
            change = max(change, float(abs(model.forward(flipped)[0, 0, i, j] - model.forward(x)[0, 0, i, j])))
    return {"own_share": own / total if total else 0.0, "later_share": later / total if total else 0.0,
            "flip_change": change, "num_probes": len(images) * len(PROBE_PIXELS)}


# -- one network (a task of the run) -----------------------------------------------------------------------
def train_network(config, masked: bool) -> dict:
    """Train the PixelCNN (``masked``) or its unmasked twin; its curves, test NLL, probes and samples.

    Both start from the same generator ([seed, 0]: the same weights, of which the masks zero some) and
    see the same batches ([seed, 2]). JSON-able.
    """
    from ..models.pixelcnn import (IMAGE_PIXELS, PixelCNNConfig, complete, make_pixelcnn, pixelcnn_trainer,
                                   sample, sample_noncausal)
    from ..train import TrainingDiverged
    from ..utils.cores import single_threaded_blas

    x_train, x_test = load_binary(config)
    label = "masked" if masked else "unmasked"
    model = make_pixelcnn(PixelCNNConfig(config.channels, config.num_layers, masked=masked),
                          np.random.default_rng([config.seed, 0]))
    trainer = pixelcnn_trainer(model, lr=config.lr, batch_size=config.batch_size, num_epochs=config.num_epochs,
                               rng=np.random.default_rng([config.seed, 2]), eval_train=False, record_steps=True,
                               callbacks=[progress.current().training(label)])
    diverged = None
    with single_threaded_blas():  # small products: a second thread costs more than it gains on a busy machine
        t0 = time.perf_counter()
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                trainer.fit(x_train, x_train, x_test, x_test)
        except TrainingDiverged as e:
            diverged = str(e)
        train_time = time.perf_counter() - t0
    h = trainer.history
    result = {"masked": masked, "diverged": diverged, "train_time_s": train_time,
              "steps": int(sum(h.epoch_steps)), "history": h.to_dict(),
              "test_nll_curve": [v * IMAGE_PIXELS for v in h.test_loss],
              "step_nll": [v * IMAGE_PIXELS for v in h.step_loss]}
    if diverged:
        return result
    result["test_nll"] = result["test_nll_curve"][-1]
    result["dependence"] = dependence(model, x_test[:config.num_probe_images])
    t0 = time.perf_counter()
    draw = sample if masked else sample_noncausal
    samples = draw(model, config.num_samples, np.random.default_rng([config.seed, 3]))
    result["samples"] = samples[:, 0].astype(np.uint8).tolist()
    if masked:
        done = complete(model, x_test[:config.num_completions], np.random.default_rng([config.seed, 4]),
                        config.given_rows)
        result["completions"] = done[:, 0].astype(np.uint8).tolist()
    result["sampling_time_s"] = time.perf_counter() - t0
    return result
