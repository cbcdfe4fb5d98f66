"""PyTorch twins of `tutor bench`: every lesson model built from its file in nets/ (the same
layers, sizes, initial-value-independent timing), trained on the same fixed-shape batch with the
same loss rule, optimiser (Adam, lr 1e-3), batch size and number of threads (2).

    torchref/bin/python bench/torch_models.py                 # every lesson model
    torchref/bin/python bench/torch_models.py lesson3_cnn     # models whose name contains this
    torchref/bin/python bench/torch_models.py --json --steps 60

Prints, per model, the median of `--steps` timed steps after 5 warm-up steps, split into
forward+loss, backward and the Adam update, exactly as `tutor bench --no-full` times its own
(src/nn/bench.rs). The loss rule is `nn::bench::bench_objective`'s: an output with as many values
per example as the input is a reconstruction (MSE against the input, and then the only loss);
otherwise every output is trained, a head whose name contains "box" with smooth L1 towards 0, the
others with cross-entropy on classes i*7 mod K (per pixel or anchor for [N, K, H, W] outputs).
"""
import argparse
import json
import os
import statistics
import sys
import time
import tomllib

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
NETS = os.path.join(HERE, "..", "nets")

# (file stem, batch size the lesson trains it with): the table in src/bench.rs.
MODELS = [
    ("lesson3_mlp", 64), ("lesson3_cnn", 64), ("lesson4_cnn", 16),
    ("lesson5_linear", 64), ("lesson5_conv", 64), ("lesson5_upsample", 64),
    ("lesson6_localizer", 32), ("lesson6_detector", 16),
    ("lesson7_unet", 8), ("lesson7_noskip", 8),
    ("lesson8_cnn", 64), ("lesson8_cnn_bn", 64),
    ("lesson9_plain", 64), ("lesson9_resnet", 64), ("lesson9_se", 64), ("lesson9_nose", 64),
]


def pair(v, default):
    if v is None:
        return default
    return (v, v) if isinstance(v, int) else tuple(v)


class Net(nn.Module):
    """A network in the tutor's format (nets/README.md): layers in order, with save/concat/
    add/scale/branch/output for skips and heads."""

    def __init__(self, spec):
        super().__init__()
        self.layers = spec["layers"]
        self.mods = nn.ModuleList()
        for l in self.layers:
            t = l["type"]
            if t in ("conv2d", "conv_transpose2d"):
                k = pair(l.get("kernel"), (1, 1))
                args = dict(stride=pair(l.get("stride"), (1, 1)),
                            padding=pair(l.get("padding"), (0, 0)),
                            dilation=pair(l.get("dilation"), (1, 1)),
                            groups=l.get("groups", 1), bias=l.get("bias", True))
                if t == "conv2d":
                    m = nn.LazyConv2d(l["out_channels"], k, **args)
                else:
                    m = nn.LazyConvTranspose2d(l["out_channels"], k,
                                               output_padding=pair(l.get("output_padding"), (0, 0)),
                                               **args)
            elif t in ("maxpool2d", "avgpool2d"):
                k = pair(l.get("kernel"), (1, 1))
                cls = nn.MaxPool2d if t == "maxpool2d" else nn.AvgPool2d
                m = cls(k, stride=pair(l.get("stride"), k), padding=pair(l.get("padding"), (0, 0)))
            elif t == "global_avgpool":
                m = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            elif t == "upsample":
                m = nn.Upsample(scale_factor=l["scale"], mode="nearest")
            elif t in ("batchnorm1d", "batchnorm2d"):
                cls = nn.LazyBatchNorm1d if t == "batchnorm1d" else nn.LazyBatchNorm2d
                m = cls(eps=l.get("eps", 1e-5), momentum=l.get("momentum", 0.1))
            elif t == "dropout":
                m = nn.Dropout(l.get("p", 0.5))
            elif t == "flatten":
                m = nn.Flatten()
            elif t == "linear":
                m = nn.LazyLinear(l["out_features"], bias=l.get("bias", True))
            elif t == "relu":
                m = nn.ReLU()
            elif t == "sigmoid":
                m = nn.Sigmoid()
            elif t == "tanh":
                m = nn.Tanh()
            elif t == "softmax":
                m = nn.Softmax(dim=1)
            else:
                m = nn.Identity()  # save, concat, add, scale, branch, output: handled in forward
            self.mods.append(m)

    def forward(self, x):
        saved, heads = {}, []
        for l, m in zip(self.layers, self.mods):
            t = l["type"]
            if t == "save":
                saved[l["as"]] = x
            elif t == "concat":
                x = torch.cat([x, saved[l["with"]]], dim=1)
            elif t == "add":
                x = x + saved[l["with"]]
            elif t == "scale":
                x = saved[l["with"]] * x[:, :, None, None]
            elif t == "branch":
                x = saved[l["from"]]
            elif t == "output":
                heads.append((l["as"], x))
            else:
                x = m(x)
        if not heads:
            heads.append(("out", x))
        return heads


def objective(heads, x):
    n = x.shape[0]
    per_input = x.numel() // n
    recon = [name for name, h in heads if h.numel() // n == per_input]
    terms = []
    if recon:
        for name in recon:
            terms.append((name, lambda h: F.mse_loss(h.reshape(x.shape), x)))
        return terms
    for name, h in heads:
        if "box" in name:
            terms.append((name, lambda h: F.smooth_l1_loss(h, torch.zeros_like(h), beta=1.0)))
        else:
            k = h.shape[1]
            count = h.numel() // k
            y = torch.arange(count) * 7 % k
            if h.dim() == 4:
                y = y.reshape(h.shape[0], h.shape[2], h.shape[3])
            terms.append((name, lambda h, y=y: F.cross_entropy(h, y)))
    return terms


def load_spec(stem):
    with open(os.path.join(NETS, stem + ".toml"), "rb") as f:
        return tomllib.load(f)


def bench(stem, batch, steps):
    spec = load_spec(stem)
    torch.manual_seed(0)
    net = Net(spec)
    x = torch.randn(batch, *spec["input"])
    with torch.no_grad():
        heads = net(x)  # materialises the lazy layers
    terms = objective(heads, x)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    tot, fwd, bwd, upd = [], [], [], []
    for i in range(steps + 5):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        outs = dict(net(x))
        loss = sum(fn(outs[name]) for name, fn in terms)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= 5:
            tot.append((t3 - t0) * 1e3)
            fwd.append((t1 - t0) * 1e3)
            bwd.append((t2 - t1) * 1e3)
            upd.append((t3 - t2) * 1e3)
    med = statistics.median
    return dict(model=stem, batch=batch, step_ms=med(tot), forward_ms=med(fwd),
                backward_ms=med(bwd), update_ms=med(upd))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default="")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    results = []
    for stem, batch in MODELS:
        if a.model not in stem:
            continue
        r = bench(stem, batch, a.steps)
        results.append(r)
        if not a.json:
            print(f"torch {stem} batch={batch}: step median {r['step_ms']:.2f} ms (forward "
                  f"{r['forward_ms']:.2f}, backward {r['backward_ms']:.2f}, adam "
                  f"{r['update_ms']:.2f}) over {a.steps} steps", flush=True)
    if a.json:
        print(json.dumps(dict(steps=a.steps, threads=a.threads, models=results)))


if __name__ == "__main__":
    sys.exit(main())
