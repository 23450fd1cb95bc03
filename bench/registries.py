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
