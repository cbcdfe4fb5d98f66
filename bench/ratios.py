"""Medians over several alternating runs and the tutor/PyTorch ratio per model.

    python3 bench/ratios.py tutor_1.json tutor_2.json ... -- torch_1.json torch_2.json ...

Each file is the output of `tutor bench --json` or of a PyTorch twin with `--json`:
`bench/torch_models.py` (steps: `step_ms`, `forward_ms`, `backward_ms`) or `bench/torch_runs.py`
(full default training runs: `full_run_seconds`). Every figure both sides have is compared; a
`tutor bench --no-full` file has no full-run figures, a `torch_runs.py` file no step figures.
Standard library only: no PyTorch needed to read the figures.
"""
import json
import statistics
import sys

KEYS = (("step_ms", "ms"), ("forward_ms", "ms"), ("backward_ms", "ms"),
        ("full_run_seconds", "s"))


def values(files, key):
    per = {}
    for f in files:
        with open(f) as fh:
            for m in json.load(fh)["models"]:
                if m.get(key) is not None:
                    per.setdefault(m["model"], []).append(m[key])
    return per


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit(__doc__)
    i = args.index("--")
    tutor, torch = args[:i], args[i + 1:]
    for key, unit in KEYS:
        a, b = values(tutor, key), values(torch, key)
        common = [m for m in a if m in b]
        if not common:
            continue
        print(f"{key}: model, tutor, torch ({unit}), tutor/torch  (medians; runs per side)")
        for m in common:
            ta, tb = statistics.median(a[m]), statistics.median(b[m])
            print(f"  {m:18} {ta:8.2f} {tb:8.2f} {ta / tb:6.2f}   ({len(a[m])}, {len(b[m])})")


if __name__ == "__main__":
    main()
