"""Medians over several alternating runs and the tutor/PyTorch ratio per model.

    python3 bench/ratios.py tutor_1.json tutor_2.json ... -- torch_1.json torch_2.json ...

Each file is the output of `tutor bench --json` or `bench/torch_models.py --json`. Standard
library only: no PyTorch needed to read the figures.
"""
import json
import statistics
import sys


def medians(files, key):
    per = {}
    for f in files:
        with open(f) as fh:
            for m in json.load(fh)["models"]:
                if m.get(key) is not None:
                    per.setdefault(m["model"], []).append(m[key])
    return {k: statistics.median(v) for k, v in per.items()}


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit(__doc__)
    i = args.index("--")
    tutor, torch = args[:i], args[i + 1:]
    for key in ("step_ms", "forward_ms", "backward_ms"):
        a, b = medians(tutor, key), medians(torch, key)
        print(f"{key}: model, tutor, torch, tutor/torch  (medians of {len(tutor)} and {len(torch)} runs)")
        for m in a:
            if m in b:
                print(f"  {m:18} {a[m]:8.2f} {b[m]:8.2f} {a[m] / b[m]:6.2f}")


if __name__ == "__main__":
    main()
