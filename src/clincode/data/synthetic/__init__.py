"""Synthetic datasets with a known structure: a MEDS EHR cohort and discharge summaries written from it.

Usage::

    from clincode.data.synthetic import density_preset, generate_ehr_cohort, generate_notes
    generate_ehr_cohort(Path("cohort"), n_patients=20_000, n_codes=2000, seed=0)
    generate_ehr_cohort(Path("admissions"), n_patients=2000, n_codes=2000, **density_preset("admission"))
    generate_notes(Path("notes"), cohort=Path("cohort"), seed=0)

Modules:

- ``ehr``: :func:`generate_ehr_cohort`, the entry point (shards, splits, metadata, ``dataset.json``);
- ``params``: its validated parameters and the named visit densities (``density_preset``);
- ``universe``, ``clusters``, ``processes``: the code universe and the latent comorbidity processes;
- ``progression``: disease progression between chronic processes (``progression="clinical"``);
- ``oracle``: :class:`~clincode.data.synthetic.oracle.CohortOracle`, the exact next-visit Bayes forecast;
- ``demographics``, ``calibrate``, ``simulate``: patients and visits, age/sex rate tables, codes;
- ``tables``, ``ragged``, ``progress``: the MEDS tables written, CSR helpers, the progress bar;
- ``notes``, ``note_text``, ``note_phrases``: :func:`generate_notes`, one note per visit.
"""

from clincode.data.synthetic.ehr import generate_ehr_cohort
from clincode.data.synthetic.notes import generate_notes
from clincode.data.synthetic.params import DENSITY_PRESETS, density_preset

__all__ = ["DENSITY_PRESETS", "density_preset", "generate_ehr_cohort", "generate_notes"]
