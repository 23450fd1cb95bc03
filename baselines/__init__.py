"""Restoration methods without attribute conditioning (interpolation, GFPGAN, GPEN, CodeFormer, ...).

Each method implements the :class:`bench.core.types.Method` interface and is registered in
:mod:`bench.core.registry`.
"""
