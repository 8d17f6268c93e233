"""Reusable layers for text models: label attention (CAML, LAAT) and MARN's RAM."""

from clincode.models.layers.label_attention import LabelAttention
from clincode.models.layers.ram import RAM, RAMBlock

__all__ = ["LabelAttention", "RAM", "RAMBlock"]
