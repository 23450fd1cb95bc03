"""Dataset loaders: one module per dataset, each a :class:`bench.core.types.Dataset` subclass.

* :mod:`.synthetic` - ``SyntheticFaces``: procedurally drawn faces, the embedded default (no files);
  age/gender cues are fine details that x8 downsampling erases.
* :mod:`.utkface` - ``UTKFace``: aligned crops, age/gender/race from ``AGE_GENDER_RACE_DATETIME`` names.
* :mod:`.ffhq` - ``FFHQ``: aligned HQ faces with ffhq-features (Face API) or FFHQ-Aging labels.
* :mod:`.celebahq` - ``CelebAHQ``: CelebA-HQ with CelebA ``Male``/``Young`` (no ages).
* :mod:`.imdb` - ``IMDBWiki``: IMDB-WIKI crops as captured LQ, ages and genders from ``imdb.mat``.
* :mod:`.cox` - ``COX``: COX Face DB surveillance frames as captured LQ, sharpest frame per camera.
* :mod:`.folder` - ``FolderDataset``: any folder of HQ and/or LQ images with an optional attributes CSV.
* :mod:`.codings` - label codings of CSV label files (``-D coding=frbench|fairface-hf``), FairFace's
  age-group vocabulary mapped to the FFHQ-Aging groups.
* :mod:`._common` - label parsing and hashing helpers shared by the loaders, and :class:`~._common.RowCounts`:
  every entry a loader does not use, counted by reason (``filter_counts``; printed, stored, listed).

They are registered lazily (``"module:attr"``) in :mod:`bench.core.registry`; nothing is imported here,
so listing datasets stays cheap.
"""
