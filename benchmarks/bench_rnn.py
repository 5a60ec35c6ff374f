"""Training time per epoch: backproplab's NumPy RNN classifier vs the same model in PyTorch (CPU).

Both train Embedding -> RNN(tanh) -> last valid hidden state -> Linear on the same bucketed SST
batches with Adam and gradient-norm clipping; PyTorch gets the lengths through
pack_padded_sequence (and, second, padded with the last valid state gathered). One epoch each,
side by side, then the ratio against the faster PyTorch variant.

    python benchmarks/bench_rnn.py                 # SST-5 training sentences, 1 thread each
    python benchmarks/bench_rnn.py --phrases       # every labelled training phrase (the lab's data)

Thread counts are fixed (default 1) because these machines are shared: OPENBLAS_NUM_THREADS
is set before NumPy is imported, torch.set_num_threads for PyTorch.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="folder of train/dev/test.txt")
    p.add_argument("--phrases", action="store_true", help="train on every labelled phrase, not only sentences")
    p.add_argument("--embedding-dim", type=int, default=100)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--min-freq", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))  # must precede the NumPy import

    import numpy as np
    import torch

    from backproplab.data.sst import bucket_batches, load_sst, pad_batch
    from backproplab.models import RNNClassifier
    from backproplab.nn import CrossEntropyLoss, clip_grad_norm_
    from backproplab.optim import Adam

    torch.set_num_threads(args.threads)
    data = load_sst(args.data_dir, train_phrases=args.phrases, min_freq=args.min_freq)
    split = data.phrases if args.phrases else data.train
    seqs = [data.vocab.encode(t) for t in split.tokens]
    labels = split.labels
    batches = []
    for idx in bucket_batches([len(s) for s in seqs], args.batch_size, np.random.default_rng(args.seed)):
        x, lengths = pad_batch([seqs[i] for i in idx])
        batches.append((x, lengths, labels[idx]))
    v, d, h = len(data.vocab), args.embedding_dim, args.hidden_size

    # -- backproplab -----------------------------------------------------------------------
    model = RNNClassifier(v, 5, d, h, padding_idx=0, dropout=0.3, rng=np.random.default_rng(args.seed))
    opt, loss_fn = Adam(model.parameters(), lr=1e-3), CrossEntropyLoss()
    t0 = time.perf_counter()
    for x, lengths, y in batches:
        loss_fn(model(x, lengths), y)
        opt.zero_grad()
        model.backward(loss_fn.backward())
        clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    t_numpy = time.perf_counter() - t0

    # -- PyTorch, same architecture and batches --------------------------------------------------------
    torch.manual_seed(args.seed)
    emb, rnn = torch.nn.Embedding(v, d, padding_idx=0), torch.nn.RNN(d, h, batch_first=True)
    fc, drop = torch.nn.Linear(h, 5), torch.nn.Dropout(0.3)
    params = [*emb.parameters(), *rnn.parameters(), *fc.parameters()]
    topt = torch.optim.Adam(params, lr=1e-3)
    tbatches = [(torch.from_numpy(x), torch.from_numpy(lengths), torch.from_numpy(y)) for x, lengths, y in batches]
    def torch_epoch(packed_input: bool) -> float:
        """One epoch; lengths via pack_padded_sequence, or a padded run with the last valid state gathered
        (right-padding cannot change earlier states, so both give the same h_last)."""
        t0 = time.perf_counter()
        for x, lengths, y in tbatches:
            e = drop(emb(x))
            if packed_input:
                packed = torch.nn.utils.rnn.pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
                _, h_n = rnn(packed)
                h_last = h_n[-1]
            else:
                out, _ = rnn(e)
                h_last = out[torch.arange(len(lengths)), lengths - 1]
            loss = torch.nn.functional.cross_entropy(fc(drop(h_last)), y)
            topt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            topt.step()
        return time.perf_counter() - t0

    t_packed = torch_epoch(True)
    t_padded = torch_epoch(False)
    t_torch = min(t_packed, t_padded)

    what = "phrases" if args.phrases else "sentences"
    print(f"one epoch over {len(seqs)} SST training {what}, {len(batches)} batches of {args.batch_size}, "
          f"vocab {v}, embedding {d}, hidden {h}, {args.threads} thread(s)")
    print(f"backproplab NumPy {np.__version__}:  {t_numpy:8.2f} s/epoch")
    print(f"PyTorch {torch.__version__} packed: {t_packed:8.2f} s/epoch")
    print(f"PyTorch {torch.__version__} padded: {t_padded:8.2f} s/epoch")
    print(f"ratio NumPy / PyTorch (faster of the two): {t_numpy / t_torch:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
