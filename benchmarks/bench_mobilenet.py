"""Time one training epoch of the MobileNet lab's models (Fashion-MNIST padded to 32x32).

    python benchmarks/bench_mobilenet.py --models cnn,v1,v2 --batch-sizes 128,256 [--channels-last]

Prints seconds per epoch (after one warm-up epoch of 20 batches) and images/s, to plan
a full lab run. Needs PyTorch.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from backproplab.data import load_fashion_mnist
from backproplab.torchmodels import build_model
from backproplab.torchmodels.training import TrainSettings, select_device, train_model


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="cnn,v1,v2")
    p.add_argument("--widths", default="1.0")
    p.add_argument("--batch-sizes", default="128")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--images", type=int, default=60000)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    device = select_device(args.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    d = load_fashion_mnist(classes=None, flatten=False)
    x = np.pad(d.x_train[:args.images], ((0, 0), (0, 0), (2, 2), (2, 2)))
    x = torch.from_numpy((x - x.mean()) / x.std()).to(device)
    y = torch.from_numpy(d.y_train[:args.images]).to(device)
    for bs in map(int, args.batch_sizes.split(",")):
        for width in map(float, args.widths.split(",")):
            for name in args.models.split(","):
                model = build_model(name, width, 10, 32, in_channels=1, variant="cifar").to(device)
                if args.channels_last:
                    model = model.to(memory_format=torch.channels_last)
                s = TrainSettings(num_epochs=1, batch_size=bs, progress=False)
                train_model(model, x[:20 * bs], y[:20 * bs], x[:bs], y[:bs], s)  # warm-up (cuDNN autotuning)
                t0 = time.perf_counter()
                res = train_model(model, x, y, x[:1000], y[:1000], s)
                dt = res.history["epoch_time_s"][0]
                print(f"{name} width {width} batch {bs} channels_last={args.channels_last}: {dt:.2f} s/epoch, "
                      f"{len(x) / dt:.0f} images/s (with eval {time.perf_counter() - t0:.2f} s)", flush=True)


if __name__ == "__main__":
    main()
