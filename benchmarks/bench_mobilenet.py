"""Training speed of the MobileNet study's models: the lab's loop against the study's step engines.

    python benchmarks/bench_mobilenet.py [--models cnn-w1.0-r32,v1-w1.0-r32,v2-w1.0-r32] [--steps 30]
                                         [--batch-size 256] [--device auto] [--data-dir DIR]

For each model, one row per way to train it, all in one run: the lab's loop
(``training.train_model``: data on the device, eager steps, a host copy of the
augmentation draws per batch) and the study's jobs (``TrainJob``: eager or CUDA graph,
channels_last or NCHW). Prints images/s and the ratio to the lab's loop. Meant for a GPU
(on a CPU every engine is eager). The study's own probe (``python -m
backproplab.torchmodels.study --probe-only``) also times lanes and stacked seeds.
"""
from __future__ import annotations

import argparse
import dataclasses

import torch

from backproplab.torchmodels import build_model
from backproplab.torchmodels.gpu_data import load_fashion_mnist_32
from backproplab.torchmodels.job import JobOptions, Recipe
from backproplab.torchmodels.probe import measure
from backproplab.torchmodels.study_config import parse_spec
from backproplab.torchmodels.training import TrainSettings, select_device, train_model

OPTIONS = [("study: eager, channels_last", "eager", True), ("study: graph, channels_last", "graph", True),
           ("study: graph, NCHW", "graph", False)]


def lab_loop_images_per_s(spec, data, batch_size: int, steps: int) -> float:
    """The lab's training loop over ``steps`` batches (after a warm-up epoch of 3 batches)."""
    torch.manual_seed(0)
    model = build_model(spec.model, spec.width, data.num_classes, spec.resolution, in_channels=data.channels,
                        variant="cifar").to(data.x_train.device)
    x, x_test = data.at(spec.resolution)
    y = data.y_train
    s = TrainSettings(num_epochs=1, batch_size=batch_size, progress=False, crop_pad=round(4 * spec.resolution / 32))
    train_model(model, x[:3 * batch_size], y[:3 * batch_size], x_test[:batch_size], data.y_test[:batch_size], s)
    res = train_model(model, x[:steps * batch_size], y[:steps * batch_size], x_test[:batch_size],
                      data.y_test[:batch_size], s)
    return steps * batch_size / res.history["epoch_time_s"][0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="cnn-w1.0-r32,v1-w1.0-r32,v2-w1.0-r32")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="auto")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args()
    device = select_device(args.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    data = load_fashion_mnist_32(device, args.data_dir, train_size=max(args.steps, 3) * args.batch_size,
                                 test_size=2000)
    recipe = dataclasses.replace(Recipe(), batch_size=args.batch_size)
    print(f"{'model':<16} {'way':<30} {'images/s':>10} {'vs lab':>7}  engine")
    for text in args.models.split(","):
        spec = parse_spec(text)
        base = lab_loop_images_per_s(spec, data, args.batch_size, args.steps)
        print(f"{text:<16} {'lab loop (train_model)':<30} {base:>10.0f} {1.0:>7.2f}  eager", flush=True)
        for label, engine, channels_last in OPTIONS:
            row = measure(data, recipe, JobOptions(engine=engine, channels_last=channels_last), device, spec,
                          args.steps, label)
            print(f"{text:<16} {label:<30} {row['images_per_s']:>10.0f} {row['images_per_s'] / base:>7.2f}  "
                  f"{row['engine']}{' (' + row['note'] + ')' if row.get('note') else ''}", flush=True)


if __name__ == "__main__":
    main()
