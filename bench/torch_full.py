"""PyTorch twin of a full default training run of `tutor bench`, for the classifiers trained
through `train::fit`: lesson 3's `mnist.compare` by default (the MLP, then the CNN).

    torchref/bin/python bench/torch_full.py                   # lesson3_mlp and lesson3_cnn
    torchref/bin/python bench/torch_full.py lesson8_cnn_bn --train 10800 --val 1200 --epochs 5

The loop is the tutor's (src/train.rs): each epoch shuffles the training images (seeded), trains
on batches of 64 (the last one partial) with Adam, then evaluates the validation images and a
2000-image probe of the training images in evaluation mode at batch 256. It times that, as the
experiment's `*_seconds` metric does; the test-set evaluation after it is not timed. The images
are random N(0, 1) values and the labels random digits: the time does not depend on the values,
and this keeps the twin free of data files. 10,800 training and 1,200 validation images are the
defaults of `mnist.compare` (12,000 images, a tenth of them validating).
"""
import argparse
import time

import torch
import torch.nn.functional as F

from torch_models import Net, load_spec


def fit(stem, train_n, val_n, epochs, batch, probe_n, seed):
    spec = load_spec(stem)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    shape = spec["input"]
    xtr = torch.randn(train_n, *shape, generator=g)
    ytr = torch.randint(0, 10, (train_n,), generator=g)
    xva = torch.randn(val_n, *shape, generator=g)
    yva = torch.randint(0, 10, (val_n,), generator=g)
    net = Net(spec)
    with torch.no_grad():
        net(xtr[:2])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def evaluate(x, y):
        net.eval()
        loss, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(x), 256):
                out = dict(net(x[i:i + 256]))["out"]
                loss += F.cross_entropy(out, y[i:i + 256], reduction="sum").item()
                correct += (out.argmax(1) == y[i:i + 256]).sum().item()
        return loss / len(x), correct / len(x)

    t0 = time.perf_counter()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(train_n, generator=g)
        for i in range(0, train_n, batch):
            idx = order[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(dict(net(xtr[idx]))["out"], ytr[idx])
            loss.backward()
            opt.step()
        evaluate(xva, yva)
        evaluate(xtr[:probe_n], ytr[:probe_n])
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=["lesson3_mlp", "lesson3_cnn"])
    ap.add_argument("--train", type=int, default=10800)
    ap.add_argument("--val", type=int, default=1200)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--probe", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for stem in a.models:
        s = fit(stem, a.train, a.val, a.epochs, a.batch, min(a.probe, a.train), a.seed)
        print(f"torch {stem} full run ({a.train} images, {a.epochs} epochs, batch {a.batch}): "
              f"{s:.1f} s", flush=True)


if __name__ == "__main__":
    main()
