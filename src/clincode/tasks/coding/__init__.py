"""Text coding: notes -> token ids and label columns, batches, CodiEsp submissions and the registered task."""
