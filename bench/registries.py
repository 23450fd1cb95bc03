"""The registries of the suite and the built-in entries (lazy ``"module:attr"`` targets).

Third-party packages add their own through entry points::

    [project.entry-points."frbench.methods"]
    mymethod = "mypkg.restorer:MyMethod"

Groups: ``frbench.methods``, ``frbench.metrics``, ``frbench.datasets``, ``frbench.degradations``.
"""
from __future__ import annotations

from .registry import Registry

METHODS: Registry = Registry("method", "frbench.methods")
METRICS: Registry = Registry("metric", "frbench.metrics")
DATASETS: Registry = Registry("dataset", "frbench.datasets")
DEGRADATIONS: Registry = Registry("degradation", "frbench.degradations")

REGISTRIES = {"methods": METHODS, "metrics": METRICS, "datasets": DATASETS, "degradations": DEGRADATIONS}

# -- methods -------------------------------------------------------------------------------------
METHODS.register("bilinear", "baselines.interpolation:Bilinear",
                 "Bilinear upsampling of the LQ to the HQ size (torch, align_corners=False, no antialias).")
METHODS.register("bicubic", "baselines.interpolation:Bicubic",
                 "Bicubic upsampling of the LQ to the HQ size (torch, a=-0.75, align_corners=False, clamped).")

# -- metrics -------------------------------------------------------------------------------------
METRICS.register("psnr", "metrics.psnr:PSNR",
                 "PSNR in dB on RGB, 8-bit range, float64 (skimage / BasicSR convention). Higher is better.")
METRICS.register("psnr_y", "metrics.psnr:psnr_y",
                 "PSNR in dB on the BT.601 Y channel (BasicSR test_y_channel). Higher is better.")
METRICS.register("ssim", "metrics.ssim:SSIM",
                 "SSIM (Wang et al. 2004; 11x11 Gaussian sigma 1.5, valid), mean over RGB channels. Higher is better.")
METRICS.register("ssim_y", "metrics.ssim:ssim_y",
                 "SSIM on the BT.601 Y channel (BasicSR test_y_channel). Higher is better.")
METRICS.register("ssim_gray", "metrics.ssim:ssim_gray",
                 "SSIM on MATLAB rgb2gray, as the official ssim.m run without downsampling. Higher is better.")

# -- datasets ------------------------------------------------------------------------------------
DATASETS.register("synthetic", "bench.datasets.synthetic:SyntheticFaces",
                  "SYNTHETIC procedurally drawn faces (no files needed); age/gender cues are fine details.")
DATASETS.register("utkface", "bench.datasets.utkface:UTKFace",
                  "UTKFace aligned crops; age, gender, race parsed from AGE_GENDER_RACE_DATETIME file names.")
DATASETS.register("ffhq", "bench.datasets.ffhq:FFHQ",
                  "FFHQ aligned faces with ffhq-features (Microsoft Face API) age and gender labels.")
DATASETS.register("celebahq", "bench.datasets.celebahq:CelebAHQ",
                  "CelebA-HQ images with CelebA Male/Young attributes through the HQ-to-CelebA mapping.")
DATASETS.register("imdb", "bench.datasets.imdb:IMDBWiki",
                  "IMDB-WIKI crops (captured LQ) with imdb.mat ages (photo_taken - dob), gender, face-score filters.")
DATASETS.register("cox", "bench.datasets.cox:COX",
                  "COX Face DB surveillance frames (captured LQ), sharpest frame per subject and camera.")
DATASETS.register("folder", "bench.datasets.folder:FolderDataset",
                  "Any folder of HQ and/or LQ face images with an optional attributes CSV.")

# -- degradations --------------------------------------------------------------------------------
for _scale in (4, 8, 16, 32):
    DEGRADATIONS.register(f"x{_scale}", f"bench.degradation:bicubic_x{_scale}",
                          f"Fixed-scale x{_scale}: bicubic (PIL, antialiased, a=-0.5) downsampling only.")
DEGRADATIONS.register("debiasfr", "bench.degradation:debiasfr_random",
                      "DebiasFR training degradation: blur, bilinear down s~U[1,20], noise, JPEG, seeded per image.")
for _scale in (16, 32):
    DEGRADATIONS.register(f"debiasfr-x{_scale}", f"bench.degradation:debiasfr_x{_scale}",
                          f"DebiasFR degradation with the scale fixed at {_scale} (CelebA-HQ [SUITE] track).")
DEGRADATIONS.register("none", "bench.degradation:identity",
                      "No degradation: LQ = HQ (or the dataset's captured LQ).")
METRICS.register("niqe", "metrics.niqe:NIQE",
                 "NIQE (LIVE niqe_release, real pristine model; no reference). Lower is better. Adds niqe.flat_share/unstable.")
METRICS.register("brisque", "metrics.brisque:BRISQUE",
                 "BRISQUE (LIVE release, real allmodel SVR and ranges; no reference). Lower is better. Adds brisque.flat_share/unstable.")

# -- set-level metrics on the FID Inception-v3 (TF inception-2015-12-05) ------------------------
METRICS.register("fid", "metrics.fid:FID",
                 "FID vs the run's HQ images (TF Inception pool3, torch-fidelity resize), streaming float64 moments.")
METRICS.register("fid_clean", "metrics.fid:fid_clean",
                 "FID vs the run's HQ images with clean-fid's mode='clean' resize (PIL bicubic on float channels).")
METRICS.register("kid", "metrics.kid:KID",
                 "KID vs the run's HQ images: cubic-kernel MMD^2 on 100 subsets of a seeded bottom-2048 feature sample.")
METRICS.register("fid_groups", "metrics.fid:GroupFID",
                 "FID and KID per gender and age bin on equal-size seeded subsamples (size reported; biased < 2048).")
METRICS.register("is", "metrics.inception_score:InceptionScore",
                 "Inception Score (10 hash-assigned splits); refuses when the Inception parameters have no logits.")

# -- attribute-bias metrics (age / gender error, floor, fairness discrepancy, per-group CIs) -----
METRICS.register("attr", "metrics.attribute_error:AttributeBias",
                 "Age/gender error vs HQ prediction and vs label, age MAE, classifier floor on HQ, FD, worst-group "
                 "gap, bootstrap 95% CIs; dlib-models ONNX age/gender nets, known alignment (UTKFace-style crops).")
METRICS.register("attr_ffhq", "metrics.attribute_error:attr_ffhq",
                 "As attr, with the FFHQ known-alignment chip template (FFHQ/CelebA-HQ aligned faces, restorer outputs).")
METRICS.register("attr_detect", "metrics.attribute_error:attr_detect",
                 "As attr, with dlib HOG detection + 5 landmarks on every image (no-face/multi-face shares reported).")
METRICS.register("attr_dbfr", "metrics.attribute_error:attr_dbfr",
                 "As attr, with DebiasFR's LR attribute predictor (ResNet-34, 10 bins, 2 genders; official weights needed).")
METRICS.register("attr_deepface", "metrics.attribute_error:attr_deepface",
                 "As attr, with DeepFace age/gender models (extra [deepface]; weights must be present).")
METRICS.register("attr_pred", "metrics.attribute_error:AttributePredictions",
                 "Per-image attribute predictions (restored and HQ gender, age, age bin, face status) as score rows.")
METHODS.register("codeformer", "baselines.codeformer:CodeFormerMethod",
                 "CodeFormer (NeurIPS'22; aligned 512, fidelity -M w=0.5; weights -M weights=PATH; NTU S-Lab 1.0 NC).")
METHODS.register("gfpgan", "baselines.gfpgan:GFPGANMethod",
                 "GFPGAN v1.3 (CVPR'21, clean arch; aligned 512; -M version=1.4; weights -M weights=PATH; Apache-2.0).")
METHODS.register("gpen", "baselines.gpen:GPENMethod",
                 "GPEN-BFR-512 (CVPR'21; aligned 512; -M model=256; weights -M weights=PATH; no licence, research only).")
METHODS.register("vqfr", "baselines.vqfr:VQFRMethod",
                 "VQFR v2 (ECCV'22; aligned 512, fidelity -M f=0.0; weights -M weights=PATH; Apache-2.0).")
METHODS.register("psfrgan", "baselines.psfrgan:PSFRGANMethod",
                 "PSFR-GAN (CVPR'21; aligned 512, parsing map predicted by its ParseNet; -M weights=PATH "
                 "-M parse_weights=PATH; CC BY-NC-SA 4.0).")

# -- IFQA assessors (interpretable per-pixel face quality; official weights: Google Drive, see assets) ----
METRICS.register("ifqa", "metrics.ifqa:IFQA",
                 "IFQA (WACV'23) CNN: mean of the per-pixel realism map at 256 (no reference), higher is better; "
                 "adds ifqa.eyes/nose/mouth/rest region means. Weights: asset ifqa_cnn or -X ifqa.weights=PATH.")
METRICS.register("ifqa_vit", "metrics.ifqa:IFQAViT",
                 "IFQA++ (MAE ViT-H/14) per-pixel realism map at 224, sum/224^2 (no reference), higher is better; "
                 "adds region means. Weights: asset ifqa_vit or -X ifqa_vit.weights=PATH.")
METHODS.register("restoreformerpp", "baselines.restoreformerpp:RestoreFormerPPMethod",
                 "RestoreFormer++ (TPAMI'23; aligned 512; -M version=v1 for RestoreFormer; weights -M weights=PATH; "
                 "Apache-2.0).")
METHODS.register("debiasfr", "reference_models.debiasfr.method:DebiasFRMethod",
                 "DebiasFR (IJCAI 2023): attribute-conditioned restoration; -M attributes=predicted|top2|labels|none|"
                 "'age=30-39:0.7,40-49:0.3;gender=female'; preset small (shipped, trained here) or official.")
