"""Forecast rows of `clincode predict`: the top k labels per row, ranked, with their alert decision."""

import numpy as np

from clincode.train.predict import forecast_rows


def test_forecast_rows_reference():
    probs = np.array([[0.1, 0.9, 0.5, 0.7], [0.2, 0.1, 0.3, 0.05]])
    rows, labels, rank = forecast_rows(probs, thresholds=np.array([0.6, 0.6, 0.6, 0.15]), top_k=2)
    got = list(zip(rows.tolist(), labels.tolist(), rank.tolist()))
    # row 0: top-2 = labels 1, 3 (also above 0.6); row 1: top-2 = labels 2, 0; label 3 (0.05) not >= 0.15
    assert got == [(0, 1, 1), (0, 3, 2), (1, 2, 1), (1, 0, 2)]
