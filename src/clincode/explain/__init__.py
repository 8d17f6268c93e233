"""Static HTML explanations of coded documents (``clincode explain``): evidence highlighted, codes ranked."""
