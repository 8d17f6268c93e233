"""Data: MEDS cohorts, label spaces, vocabularies, splits, clinical notes and synthetic generators."""
