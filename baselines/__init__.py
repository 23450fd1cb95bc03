"""Restoration methods without attribute conditioning (interpolation, GFPGAN, GPEN, CodeFormer, ...).

Each method implements the :class:`bench.types.Method` interface and is registered in
:mod:`bench.registries`.
"""
