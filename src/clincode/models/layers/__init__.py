"""Reusable layers for text models: label attention (CAML, LAAT), MARN's RAM, label descriptions."""

from clincode.models.layers.descriptions import check_label_descriptions, masked_mean
from clincode.models.layers.label_attention import LabelAttention
from clincode.models.layers.ram import RAM, RAMBlock

__all__ = ["LabelAttention", "RAM", "RAMBlock", "check_label_descriptions", "masked_mean"]
