"""Label-level tools shared by losses and models: frequency segmentation (:class:`Segmenter`).

A leaf of the import layers (numpy only), so that ``losses/`` (the SH loss) and ``models/``
(per-segment models) and ``clincode segments`` use one segmentation without importing each other.
"""

from .segments import Segmenter

__all__ = ["Segmenter"]
