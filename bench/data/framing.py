"""How a dataset frames its faces, and which frame a run restores and scores them in.

Every dataset declares its **framing** (class attribute ``framing``; the ``folder`` dataset takes it as an
option, ``-D framing=ffhq``):

``ffhq``
    FFHQ-aligned squares (Karras et al., CVPR 2019; the frame of facexlib's 512 five-point template that
    GFPGAN, CodeFormer, GPEN, VQFR, PSFRGAN, RestoreFormer++ and DebiasFR are trained and run in):
    FFHQ, CelebA-HQ.
``utkface``
    UTKFace's aligned-and-cropped framing: the face fills the square (about 1.55x larger than in FFHQ
    and about 0.1 of the width higher; ``reference_models.shared.face_alignment.TEMPLATES``).
``unaligned``
    no known framing (a folder of photographs, COX frames, IMDB-WIKI crops): the default.

Two things follow from it.

* **The alignment protocol step** (:func:`resolve_alignment`, run option ``align``): ``ffhq`` re-aligns
  every HQ face to the FFHQ 512 template (:mod:`bench.data.alignment`) before the LQ is synthesised, so
  the method, the LQ and every metric see that frame; ``none`` feeds the faces as the dataset frames them;
  ``auto`` (default) is ``ffhq`` for a method that declares ``expects_alignment = "ffhq"`` on a real
  (not synthetic) dataset with HQ images whose framing is not ``ffhq``, else ``none``.
* **The attribute evaluator's chip template** (:data:`EVALUATOR_CHIPS`): the frame the scored images are
  in (``ffhq`` after alignment, else the dataset's framing) picks the known-alignment template
  (``ffhq`` or ``utkface``), or per-image detection for unaligned faces, unless a metric option says
  otherwise.
"""
from __future__ import annotations

from typing import Any

FRAMINGS = ("ffhq", "utkface", "unaligned")
DEFAULT_FRAMING = "unaligned"
ALIGN_MODES = ("auto", "ffhq", "none")

#: attribute-evaluator options (``dlib_onnx`` classifier) for images in each framing
EVALUATOR_CHIPS: dict[str, dict[str, str]] = {
    "ffhq": {"align": "template", "template": "ffhq"},
    "utkface": {"align": "template", "template": "utkface"},
    # no fixed place for the face: dlib HOG detection + 5 landmarks per image, as the package does
    "unaligned": {"align": "detect"},
}


def check_framing(value: Any, where: str = "framing") -> str:
    """``value`` as a framing name, or a ValueError naming the known ones."""
    text = str(value).strip().lower() if value is not None else ""
    if text not in FRAMINGS:
        raise ValueError(f"{where} must be one of {', '.join(FRAMINGS)}, got {value!r}")
    return text


def dataset_framing(dataset: Any) -> str:
    """The framing a dataset declares (``unaligned`` when it declares none)."""
    return check_framing(getattr(dataset, "framing", DEFAULT_FRAMING) or DEFAULT_FRAMING,
                         f"dataset '{getattr(dataset, 'name', '?')}' framing")


def resolve_alignment(align: str | None, method: Any, dataset: Any, captured: bool) -> tuple[str, str | None]:
    """``(mode, note)``: the alignment a run applies (``ffhq`` or ``none``) and why, for the run's notes.

    Raises ValueError for an unknown mode, or ``ffhq`` on a dataset without HQ images (captured LQ: there
    is no HQ face to find landmarks on and no LQ to synthesise).
    """
    align = "auto" if align is None else str(align).strip().lower()
    if align not in ALIGN_MODES:
        raise ValueError(f"align must be one of {', '.join(ALIGN_MODES)}, got {align!r}")
    framing, name = dataset_framing(dataset), getattr(dataset, "name", "?")
    expects = getattr(method, "expects_alignment", None)
    if align == "ffhq":
        if captured or not getattr(dataset, "has_hq", True):
            raise ValueError(f"--align ffhq re-aligns the HQ faces and synthesises the LQ from them; dataset "
                             f"'{name}' provides captured LQ images (no HQ to align): use --align none")
        return "ffhq", None
    if align == "none":
        if expects == "ffhq" and framing != "ffhq":
            return "none", (f"--align none: the method expects FFHQ-aligned faces and dataset '{name}' is framed "
                            f"'{framing}': it is evaluated off its training framing")
        return "none", None
    if expects != "ffhq" or framing == "ffhq":
        return "none", None
    if captured or not getattr(dataset, "has_hq", True):
        return "none", (f"--align auto: the method expects FFHQ-aligned faces but dataset '{name}' ({framing}) "
                        f"provides captured LQ only, which is not re-aligned: evaluated off its training framing")
    if getattr(dataset, "synthetic", False):
        return "none", (f"--align auto: dataset '{name}' is synthetic (drawn faces have no landmarks to align): "
                        f"not re-aligned")
    return "ffhq", (f"--align auto: the method expects FFHQ-aligned faces and dataset '{name}' is framed "
                    f"'{framing}': HQ re-aligned to the FFHQ 512 template, LQ synthesised and every metric "
                    f"computed in that frame")


def scored_framing(align: str, dataset: Any) -> str:
    """The framing of the images a run scores: ``ffhq`` after alignment, else the dataset's."""
    return "ffhq" if align == "ffhq" else dataset_framing(dataset)
