"""What NIQE and BRISQUE share as metrics: LIVE parameters loaded once, a flat-region share per image.

Both are no-reference, lower-is-better scores computed from natural-scene statistics with parameters
released by LIVE (:mod:`metrics.nr_params` provisions them, sha256-verified).  Besides the score, each
reports per image the share of flat windows whose statistics had to be set to exact zeros
(``flat_share``) and an ``unstable`` flag when that share exceeds the metric's own threshold: both
describe the image, not the method, so they are informational outputs (no arrow, never bold).
"""
from __future__ import annotations

from typing import Any, ClassVar, Mapping

import torch

from bench.core.types import PerImageMetric


class LiveMetric(PerImageMetric):
    """Base of :class:`metrics.niqe.NIQE` and :class:`metrics.brisque.BRISQUE` (see the module documentation).

    Subclasses implement :meth:`_load_parameters` and :meth:`_details` (``{"value", "flat_share", ...}``).
    """

    higher_is_better: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = False
    unit: ClassVar[str] = ""
    extra_outputs: ClassVar[tuple[str, ...]] = ("flat_share", "unstable")
    #: the flat-region share and the ``unstable`` flag describe the image, they do not rank methods
    outputs: ClassVar[Mapping[str, str]] = {"value": "lower", "flat_share": "info", "unstable": "info"}

    flat_share_warning: float
    _params: Any = None

    def _load_parameters(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _details(self, restored: torch.Tensor, params: Any) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def prepare(self) -> None:
        self._parameters()

    def _parameters(self) -> Any:
        """The LIVE parameters, loaded (fetched, verified, converted) at the first use."""
        if self._params is None:
            self._params = self._load_parameters()
        return self._params

    def details(self, restored: torch.Tensor, reference: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        out = self._details(restored, self._parameters())
        out.pop("features", None)
        out["unstable"] = (out["flat_share"] > self.flat_share_warning).to(torch.float64)
        return out

    def __call__(self, restored: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        return self._details(restored, self._parameters())["value"]
