"""PyTorch twins of the full default training runs that `tutor bench` times: one twin per
lesson experiment in `MODELS` of src/bench.rs, each doing the same amount of work as the
experiment run with its default parameters (same networks from nets/, data sizes and shapes,
batch sizes, epochs, Adam and its learning rate, loss kinds, and the evaluation passes after
every epoch), on 2 threads.

    torchref/bin/python bench/torch_runs.py                  # every lesson model (minutes)
    torchref/bin/python bench/torch_runs.py lesson7 --json   # models whose name contains this
    torchref/bin/python bench/torch_runs.py --list           # what each twin covers

The inputs and targets are random tensors of the right shapes and kinds (digits in 0..1 or
N(0, 1) as the tutor normalises them, class labels, 0/1 anchor targets with weights, masks):
time does not depend on the values, and this keeps the twins free of data files and of the
tutor's scene generator. Accuracy is not reproduced, only the work.

What is timed matches what `tutor bench` reads for the model (src/bench.rs):

- when the experiment reports a `*_seconds` metric for the model (mnist.compare,
  transfer.compare, det.detect, seg.compare, arch.resnet, arch.se), the twin times the same
  stretch: the training loop with its per-epoch evaluation (`train::fit`), nothing before or
  after it;
- otherwise (ae.linear, ae.conv, det.localize, craft.batchnorm) the tutor reports the
  experiment's wall time, for every model it trains; the twin then times every network the
  experiment trains and the network passes the experiment makes after training (test-set
  reconstructions, test-set scoring), but not the loading of MNIST from disk, its
  normalisation or the generation of the scenes, which are tutor-specific and have no twin
  (`--list` says which parts each twin leaves out).

The loop is `train::fit` (src/train.rs): each epoch shuffles the training examples, trains on
batches (the last one partial), then evaluates the validation set and a probe of the first
2000 training examples in evaluation mode at batch 256 (loss and the experiment's metrics), and
copies the weights when the validation loss improved (the tutor's snapshot); the best weights
are put back at the end, with a fresh optimiser, as the tutor does.

A filter chooses models, and each chosen model's experiment runs whole once (both networks of
ae.conv for `lesson5_conv`, as `tutor bench --model lesson5_conv` runs all of ae.conv). With
`--json` it prints `{"models": [{"model", "full_run_experiment", "full_run_seconds"}]}`,
the shape of `tutor bench --json`, for bench/ratios.py.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

from torch_models import MODELS as STEP_MODELS, Net, bench, load_spec

TRAIN_PROBE = 2000
EVAL_BATCH = 256

# (network file stem, experiment, the experiment's seconds metric for it or None for its wall
# time): the table MODELS of src/bench.rs.
MODELS = [
    ("lesson3_mlp", "mnist.compare", "mlp_seconds"),
    ("lesson3_cnn", "mnist.compare", "cnn_seconds"),
    ("lesson4_cnn", "transfer.compare", "scratch_seconds"),
    ("lesson5_linear", "ae.linear", None),
    ("lesson5_conv", "ae.conv", None),
    ("lesson5_upsample", "ae.conv", None),
    ("lesson6_localizer", "det.localize", None),
    ("lesson6_detector", "det.detect", "focal_seconds"),
    ("lesson7_unet", "seg.compare", "unet_seconds"),
    ("lesson7_noskip", "seg.compare", "noskip_seconds"),
    ("lesson8_cnn", "craft.batchnorm", None),
    ("lesson8_cnn_bn", "craft.batchnorm", None),
    ("lesson9_plain", "arch.resnet", "plain_seconds"),
    ("lesson9_resnet", "arch.resnet", "resnet_seconds"),
    ("lesson9_se", "arch.se", "se_seconds"),
    ("lesson9_nose", "arch.se", "no_se_seconds"),
]


def build(stem):
    """The network of nets/STEM.toml, its lazy layers materialised, and its input shape."""
    spec = load_spec(stem)
    net = Net(spec)
    with torch.no_grad():
        net.eval()
        net(torch.zeros(2, *spec["input"]))
    return net, list(spec["input"])


class Data:
    """Inputs `x` ([N, ...]) and targets, each a tensor indexed by example along dim 0."""

    def __init__(self, x, **targets):
        self.x = x
        self.t = targets

    def __len__(self):
        return self.x.shape[0]

    def take(self, idx):
        return self.x[idx], {k: v[idx] for k, v in self.t.items()}

    def first(self, n):
        return Data(self.x[:n], **{k: v[:n] for k, v in self.t.items()})


# ---------------------------------------------------------------------------------------------
# Objectives: `loss(outs, t)` is the batch's objective (the tutor's mean rule for each term);
# `metric(outs, t, acc)` accumulates the experiment's per-epoch metrics into the dict `acc`.

def ce_loss(outs, t):
    return F.cross_entropy(outs["out"], t["y"])


def accuracy(head):
    def metric(outs, t, acc):
        acc["right"] = acc.get("right", 0) + (outs[head].argmax(1) == t["y"]).sum().item()
    return metric


def mse_loss(outs, t):
    out = outs["image"]
    return F.mse_loss(out.reshape(t["img"].shape), t["img"])


def mse_psnr(outs, t, acc):
    # MetricKind::Mse and MetricKind::Psnr (data range 1, per image, averaged) on `image`.
    img = t["img"]
    per = ((outs["image"].reshape(img.shape) - img) ** 2).flatten(1).mean(1)
    acc["mse"] = acc.get("mse", 0.0) + per.sum().item()
    acc["psnr"] = acc.get("psnr", 0.0) + (10 * torch.log10(1.0 / per.clamp_min(1e-12))).sum().item()


def localize_loss(alpha):
    # Cross-entropy on `class` + alpha * MSE on `box` (det.localize).
    def loss(outs, t):
        return F.cross_entropy(outs["class"], t["y"]) + alpha * F.mse_loss(outs["box"], t["box"])
    return loss


def focal_detect_loss(gamma, alpha, beta):
    # det.detect: sigmoid focal loss (torchvision's ops.sigmoid_focal_loss, alpha_t folded into
    # the weights) on the class head and smooth L1 (beta 1/9) on the box head, each summed over
    # the weighted anchors and divided by the batch's foreground anchors (RetinaNet).
    def loss(outs, t):
        denom = t["norm"].sum()
        x = outs["class"].flatten(1)
        y = t["cls"]
        w = t["cls_w"] * (alpha * y + (1 - alpha) * (1 - y))
        ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        p = torch.sigmoid(x)
        m = (p * (1 - 2 * y) + y).clamp(0.0, 1.0) ** gamma
        focal = (w * ce * m).sum() / denom
        b = F.smooth_l1_loss(outs["box"].flatten(1), t["off"], beta=beta, reduction="none")
        return focal + (t["off_w"] * b).sum() / denom
    return loss


def seg_loss(dice_weight, smooth=1.0):
    # seg.compare: per-pixel cross-entropy + dice_weight * soft Dice over softmax probabilities,
    # pooled over the batch, mean over all K classes (src/nn/loss.rs, `soft_dice`).
    def loss(outs, t):
        out, y = outs["out"], t["mask"]
        ce = F.cross_entropy(out, y)
        p = torch.softmax(out, 1)
        onehot = F.one_hot(y, out.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
        inter = (p * onehot).sum((0, 2, 3))
        dice = (2 * inter + smooth) / (p.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + smooth)
        return ce + dice_weight * (1 - dice.mean())
    return loss


def seg_dice(k):
    # MetricKind::Dice: per-class counts over the split from the argmax masks.
    def metric(outs, t, acc):
        pred, y = outs["out"].argmax(1).flatten(), t["mask"].flatten()
        tp = torch.bincount(y[pred == y], minlength=k)
        acc["tp"] = acc.get("tp", 0) + tp
        acc["fp"] = acc.get("fp", 0) + torch.bincount(pred, minlength=k) - tp
        acc["fn"] = acc.get("fn", 0) + torch.bincount(y, minlength=k) - tp
    return metric


# ---------------------------------------------------------------------------------------------
# The loop.

def evaluate(net, data, loss, metric, batch=EVAL_BATCH):
    """`train::evaluate_with`: loss summed over the examples and the metrics, in eval mode."""
    net.eval()
    total, acc = 0.0, {}
    with torch.no_grad():
        for i in range(0, len(data), batch):
            x, t = data.take(slice(i, i + batch))
            outs = dict(net(x))
            total += loss(outs, t).item() * x.shape[0]
            if metric is not None:
                metric(outs, t, acc)
    return total / max(len(data), 1), acc


def snapshot(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


class Trainer:
    """A network with its Adam optimiser, trained by `fit` (which may be called once per epoch,
    as lesson 4's race does, keeping the optimiser's moments)."""

    def __init__(self, net, lr, loss, metric):
        self.net, self.lr, self.loss, self.metric = net, lr, loss, metric
        self.opt = torch.optim.Adam(net.parameters(), lr=lr)
        self.best = None

    def fit(self, train, val, epochs, batch, g):
        """`train::fit`; returns its seconds and the last epoch's validation loss."""
        t0 = time.perf_counter()
        probe = train.first(TRAIN_PROBE)
        best, best_epoch = None, 0
        for epoch in range(1, epochs + 1):
            self.net.train()
            order = torch.randperm(len(train), generator=g)
            for i in range(0, len(train), batch):
                x, t = train.take(order[i:i + batch])
                self.opt.zero_grad(set_to_none=True)
                loss = self.loss(dict(self.net(x)), t)
                loss.backward()
                self.opt.step()
                loss.item()  # the tutor reads every batch's loss
            v, _ = evaluate(self.net, val, self.loss, self.metric)
            evaluate(self.net, probe, self.loss, self.metric)
            if best is None or v < best[0]:
                best, best_epoch = (v, snapshot(self.net)), epoch
        if best is not None and best_epoch != epochs:
            self.net.load_state_dict(best[1])
            self.opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        return time.perf_counter() - t0, v

    def track_epoch(self, train, val, batch, g):
        """lesson 4's `Track::epoch`: one epoch through `fit`, then the track's own best."""
        t0 = time.perf_counter()
        _, v = self.fit(train, val, 1, batch, g)
        if self.best is None or v < self.best:
            self.best = v
            snapshot(self.net)
        return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Data of the right shapes.

def digits(n, shape, g, normalised=True, classes=10):
    x = torch.randn(n, *shape, generator=g) if normalised else torch.rand(n, *shape, generator=g)
    return Data(x, y=torch.randint(0, classes, (n,), generator=g))


def images(n, shape, g):
    x = torch.rand(n, *shape, generator=g)
    return Data(x, img=x)


def split_counts(n, fraction=0.1):
    """`Prepared::new` / `Digits::from`: round(n * fraction) held out."""
    v = max(int(round(n * fraction)), 1)
    return n - v, v


# ---------------------------------------------------------------------------------------------
# The twins, one per experiment; each returns {metric or "wall": seconds}.

def classifier_race(nets, train_size, epochs, lrs, g, batch=64):
    """mnist.compare, arch.resnet, arch.se: classifiers through `train::fit` on digits."""
    out = {}
    tr, va = split_counts(train_size)
    for (stem, metric), lr in zip(nets, lrs):
        net, shape = build(stem)
        train, val = digits(tr, shape, g), digits(va, shape, g)
        trainer = Trainer(net, lr, ce_loss, accuracy("out"))
        out[metric] = trainer.fit(train, val, epochs, batch, g)[0]
    return out


def mnist_compare(g):
    # 12,000 digits, 10% validating, 5 epochs, batch 64; the CNN's rate comes from a range test
    # (not timed by cnn_seconds: it runs before) and does not change the work.
    return classifier_race([("lesson3_mlp", "mlp_seconds"), ("lesson3_cnn", "cnn_seconds")],
                           12000, 5, [1e-3, 1e-3], g)


def arch_resnet(g):
    # 3,000 digits, 10% validating, 3 epochs, batch 64, Adam 2e-3. The gradient norms at the
    # start and the test scoring are outside the seconds metrics.
    return classifier_race([("lesson9_plain", "plain_seconds"),
                            ("lesson9_resnet", "resnet_seconds")], 3000, 3, [2e-3, 2e-3], g)


def arch_se(g):
    return classifier_race([("lesson9_nose", "no_se_seconds"), ("lesson9_se", "se_seconds")],
                           3000, 3, [3e-3, 3e-3], g)


def transfer_compare(g):
    # scratch_seconds: the mean over the 3 draws at 3 labels per class of the from-scratch
    # track's time: 20 epochs, each a `train::fit` of one epoch over 15 labelled digits (5
    # classes, batch 16: one step) with 500 validation digits and the 15-digit probe, then its
    # own best-epoch snapshot. Lesson 4's CNN with a new 5-class head, Adam 3e-3.
    draws, epochs, per_class, classes, val_n = 3, 20, 3, 5, 500
    secs = []
    for _ in range(draws):
        net, shape = build("lesson4_cnn")
        train = digits(per_class * classes, shape, g, classes=classes)
        val = digits(val_n, shape, g, classes=classes)
        trainer = Trainer(net, 3e-3, ce_loss, accuracy("out"))
        s = 0.0
        for _ in range(epochs):
            s += trainer.track_epoch(train, val, 16, g)
        secs.append(s)
    return {"scratch_seconds": sum(secs) / len(secs)}


def autoencoder(stem, train_size, epochs, lr, g, test_n=2000):
    """One autoencoder of lesson 5: `train_live` (fit with MSE and PSNR per epoch) then the
    reconstruction of the test digits at batch 256 (loss included, as `outputs` computes it)
    and the per-image MSE and PSNR."""
    net, shape = build(stem)
    tr, va = split_counts(train_size)
    train, val, test = images(tr, shape, g), images(va, shape, g), images(test_n, shape, g)
    t0 = time.perf_counter()
    Trainer(net, lr, mse_loss, mse_psnr).fit(train, val, epochs, 64, g)
    evaluate(net, test, mse_loss, mse_psnr)
    return net, shape, t0


def ae_linear(g):
    # 6,000 digits (10% validating), 6 epochs, batch 64, Adam 3e-3; then the 2,000 test digits
    # reconstructed and one embedding computed.
    net, shape, t0 = autoencoder("lesson5_linear", 6000, 6, 3e-3, g)
    with torch.no_grad():
        net(torch.rand(1, *shape, generator=g))
    return {"wall": time.perf_counter() - t0}


def ae_conv(g):
    # Both conv autoencoders: 3,000 digits (10% validating), 4 epochs, batch 64, Adam 1e-3;
    # each then reconstructs the 2,000 test digits and one all-black image.
    total = 0.0
    for stem in ("lesson5_conv", "lesson5_upsample"):
        net, shape, t0 = autoencoder(stem, 3000, 4, 1e-3, g)
        with torch.no_grad():
            net(torch.zeros(1, *shape))
        total += time.perf_counter() - t0
    return {"wall": total}


def det_localize(g):
    # 800 training, 160 validation, 200 test scenes of 64x64; at alpha 20 and 100: fit for 10
    # epochs at batch 32, Adam 3e-3, CE(class) + alpha * MSE(box), accuracy on `class` per
    # epoch; then the test scenes scored at batch 64.
    total = 0.0
    for alpha in (20.0, 100.0):
        net, shape = build("lesson6_localizer")

        def scenes(n):
            return Data(torch.rand(n, *shape, generator=g),
                        y=torch.randint(0, 3, (n,), generator=g),
                        box=torch.rand(n, 4, generator=g))
        train, val, test = scenes(800), scenes(160), scenes(200)
        loss = localize_loss(alpha)
        t0 = time.perf_counter()
        Trainer(net, 3e-3, loss, accuracy("class")).fit(train, val, 10, 32, g)
        evaluate(net, test, loss, None, batch=64)
        total += time.perf_counter() - t0
    return {"wall": total}


def det_detect(g):
    # focal_seconds: the focal detector's `train::fit`: 600 training and 120 validation scenes,
    # 12 epochs at batch 16, Adam 3e-3; 8x8 cells x 9 anchors x 3 classes (class head 27
    # channels, box head 36). Metrics: the default accuracy finds no single output, so each
    # evaluation is the loss alone. The two evaluations before it, the outputs after it and
    # the plain-CE detector are outside focal_seconds.
    net, shape = build("lesson6_detector")
    with torch.no_grad():
        heads = dict(net(torch.zeros(1, *shape)))
    nc, nb = heads["class"][0].numel(), heads["box"][0].numel()

    def scenes(n):
        fg = (torch.rand(n, nb, generator=g) < 0.01).float()
        return Data(torch.rand(n, *shape, generator=g),
                    cls=(torch.rand(n, nc, generator=g) < 0.003).float(),
                    cls_w=(torch.rand(n, nc, generator=g) > 0.01).float(),
                    off=torch.randn(n, nb, generator=g), off_w=fg,
                    norm=fg.sum(1).div(4).clamp_min(1))
    train, val = scenes(600), scenes(120)
    t = Trainer(net, 3e-3, focal_detect_loss(2.0, 0.25, 1.0 / 9.0), None)
    return {"focal_seconds": t.fit(train, val, 12, 16, g)[0]}


def seg_compare(g):
    # 160 training and 32 validation scenes of 64x64 with 4-class masks, 10 epochs at batch 8,
    # Adam 8e-3, CE + soft Dice, Dice metric per epoch; each net's seconds are its fit.
    out = {}
    for stem, metric in (("lesson7_unet", "unet_seconds"), ("lesson7_noskip", "noskip_seconds")):
        net, shape = build(stem)

        def scenes(n):
            return Data(torch.rand(n, *shape, generator=g),
                        mask=torch.randint(0, 4, (n, *shape[1:]), generator=g))
        train, val = scenes(160), scenes(32)
        out[metric] = Trainer(net, 8e-3, seg_loss(1.0), seg_dice(4)).fit(train, val, 10, 8, g)[0]
    return out


def craft_batchnorm(g):
    # Both CNNs: 6,000 digits (10% validating), 3 epochs at batch 64, Adam 0.05; no test pass.
    tr, va = split_counts(6000)
    total = 0.0
    for stem in ("lesson8_cnn", "lesson8_cnn_bn"):
        net, shape = build(stem)
        train, val = digits(tr, shape, g), digits(va, shape, g)
        total += Trainer(net, 0.05, ce_loss, accuracy("out")).fit(train, val, 3, 64, g)[0]
    return {"wall": total}


TWINS = {
    "mnist.compare": mnist_compare,
    "transfer.compare": transfer_compare,
    "ae.linear": ae_linear,
    "ae.conv": ae_conv,
    "det.localize": det_localize,
    "det.detect": det_detect,
    "seg.compare": seg_compare,
    "craft.batchnorm": craft_batchnorm,
    "arch.resnet": arch_resnet,
    "arch.se": arch_se,
}

LEFT_OUT = {
    "mnist.compare": "both sides leave out the CNN's learning-rate range test and the test and "
                     "shifted-digit scoring (outside mlp_seconds and cnn_seconds)",
    "transfer.compare": "both sides leave out the frozen and fine-tuned tracks, the 100-labels "
                        "budget and test scoring (outside scratch_seconds)",
    "ae.linear": "the tutor's wall time includes loading MNIST from disk and drawing its "
                 "subset, which the twin leaves out",
    "ae.conv": "the tutor's wall time includes loading MNIST from disk and drawing its "
               "subset, which the twin leaves out",
    "det.localize": "the tutor's wall time includes generating the 1,160 scenes and the "
                    "IoU scoring on the host, which the twin leaves out",
    "det.detect": "both sides leave out the scene generation and anchor targets, the two "
                  "evaluations before training, the outputs after it, the plain-CE detector, "
                  "NMS and COCO scoring (outside focal_seconds)",
    "seg.compare": "both sides leave out the scene generation, test predictions, scoring and "
                   "mask export (outside unet_seconds and noskip_seconds)",
    "craft.batchnorm": "the tutor's wall time includes loading and normalising MNIST, which "
                       "the twin leaves out (the plain CNN collapses to chance at lr 0.05 with "
                       "the default seed but trains all 3 epochs: no early stop, same work)",
    "arch.resnet": "both sides leave out the gradient norms at the start and test scoring "
                   "(outside plain_seconds and resnet_seconds)",
    "arch.se": "both sides leave out test scoring (outside se_seconds and no_se_seconds)",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default="",
                    help="only the models whose network file name contains this")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--list", action="store_true", help="say what each twin leaves out")
    a = ap.parse_args()
    chosen = [m for m in MODELS if a.model in m[0]]
    if not chosen:
        sys.exit(f"no lesson model matches `{a.model}`")
    if a.list:
        for exp in dict.fromkeys(e for _, e, _ in chosen):
            nets = ", ".join(n for n, e, _ in chosen if e == exp)
            print(f"{exp} ({nets}): {LEFT_OUT[exp]}")
        return
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(a.seed)
    torch.manual_seed(a.seed)
    # Warm-up, untimed: six training steps of every chosen network at its batch size, as
    # `tutor bench` times each model's steps before its full run. Without it the first twin
    # timed would carry PyTorch's one-time start-up costs (thread pool, kernel selection).
    batches = dict(STEP_MODELS)
    for stem, _, _ in chosen:
        bench(stem, batches[stem], 1)
    runs, results = {}, []
    for stem, exp, metric in chosen:
        if exp not in runs:
            runs[exp] = TWINS[exp](g)
            if not a.json:
                figs = ", ".join(f"{k} {v:.1f} s" for k, v in runs[exp].items())
                print(f"torch {exp} with its defaults: {figs}", flush=True)
        secs = runs[exp][metric or "wall"]
        results.append(dict(model=stem, full_run_experiment=exp, full_run_seconds=secs))
        if not a.json:
            print(f"torch {stem} full default run {secs:.1f} s", flush=True)
    if a.json:
        print(json.dumps(dict(threads=a.threads, models=results)))


if __name__ == "__main__":
    main()
