"""Curated comorbidity clusters for the synthetic EHR generator: real ICD-10-CM codes that are
among the most frequent in inpatient and primary-care data (MIMIC-IV, CPRD-style) and that
co-occur clinically. They form the head of the code-frequency distribution and overlap the
automatic CCS-based processes, so codes are coupled across chapters as in real cohorts.

Ages are in years. The age effect of a cluster is ``sigmoid(age_slope * (age - age_center) / 10)``
(rescaled later so that the population average is unchanged): positive slopes make a condition
more common with age (chronic disease), negative slopes make it a childhood/young-adult one, and
0 is flat. Sex or pregnancy restrictions are derived from the codes by
:func:`clincode.codes.sex_restriction` / :func:`clincode.codes.is_pregnancy_code`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["chronic", "acute"]


@dataclass(frozen=True)
class ClinicalCluster:
    """One curated latent process.

    Attributes:
        name: short identifier, e.g. ``"heart_failure"``.
        kind: ``"chronic"`` (a patient keeps it once it starts) or ``"acute"`` (per-visit episodes).
        codes: dotted ICD-10-CM bodies, most frequent first.
        weight: relative share of visits on which the cluster is coded (head of the distribution).
        age_center: age in years where the age effect is halfway.
        age_slope: steepness of the age effect per decade (sign = direction; 0 = no age effect).
    """

    name: str
    kind: Kind
    codes: tuple[str, ...]
    weight: float
    age_center: float
    age_slope: float


CLUSTERS: tuple[ClinicalCluster, ...] = (
    ClinicalCluster("cardiometabolic", "chronic",
                    ("I10", "E78.5", "E11.9", "E66.9", "E11.65", "Z79.84", "E78.00", "R73.03", "Z68.41"),
                    10.0, 55.0, 1.0),
    ClinicalCluster("respiratory_infection", "acute",
                    ("J06.9", "J18.9", "J20.9", "R05.9", "J02.9", "B34.9", "U07.1", "J01.90", "H66.90", "J10.1"),
                    6.0, 30.0, -0.2),
    ClinicalCluster("depression_anxiety", "chronic",
                    ("F32.9", "F41.9", "F41.1", "F32.A", "F33.1", "G47.00", "F43.10"), 5.0, 40.0, 0.2),
    ClinicalCluster("coronary_disease", "chronic",
                    ("I25.10", "Z79.82", "Z95.1", "Z95.5", "I25.2", "I20.9", "Z86.73"), 4.5, 65.0, 1.2),
    ClinicalCluster("heart_failure_af", "chronic",
                    ("I48.91", "I50.9", "Z79.01", "I11.0", "I50.32", "Z95.0", "I42.9"), 4.0, 72.0, 1.4),
    ClinicalCluster("gi_chronic", "chronic", ("K21.9", "K59.00", "K57.30", "K58.9", "K76.0"), 3.5, 50.0, 0.6),
    ClinicalCluster("tobacco_copd", "chronic",
                    ("F17.210", "Z87.891", "J44.9", "J44.1", "J43.9", "J96.11", "Z99.81"), 3.5, 60.0, 0.9),
    ClinicalCluster("sepsis_aki", "acute",
                    ("N39.0", "A41.9", "N17.9", "E87.1", "R65.20", "E86.0", "J96.01", "R65.21", "D69.6"),
                    3.5, 68.0, 0.8),
    ClinicalCluster("musculoskeletal_pain", "chronic",
                    ("M54.50", "M19.90", "G89.29", "M17.9", "M81.0", "M79.7", "M25.561"), 3.0, 55.0, 0.8),
    ClinicalCluster("chest_pain_syncope", "acute", ("R07.9", "R55", "R07.89", "R42", "R00.2", "I95.9"),
                    3.0, 55.0, 0.4),
    ClinicalCluster("abdominal", "acute", ("R10.9", "R11.2", "K52.9", "A09", "R19.7", "K35.80"), 3.0, 40.0, 0.0),
    ClinicalCluster("diabetes_complications", "chronic",
                    ("Z79.4", "E11.22", "E11.40", "E11.649", "E11.319", "E11.51", "E11.21"), 2.5, 62.0, 1.0),
    ClinicalCluster("chronic_kidney", "chronic",
                    ("N18.30", "I12.9", "N18.9", "D63.1", "E87.5", "N18.4", "I13.0", "N25.81"), 2.5, 70.0, 1.3),
    ClinicalCluster("thyroid", "chronic", ("E03.9", "E05.90", "E04.2"), 2.5, 50.0, 0.6),
    ClinicalCluster("substance_use", "chronic", ("F10.20", "Z72.0", "F11.20", "F10.10", "F12.10"),
                    2.0, 40.0, 0.0),
    ClinicalCluster("anemia_bleeding", "acute", ("D64.9", "D62", "K92.2", "D50.0", "K92.1"), 2.0, 62.0, 0.6),
    ClinicalCluster("electrolytes", "acute", ("E87.6", "E83.42", "E87.20", "E55.9"), 2.0, 62.0, 0.6),
    ClinicalCluster("pregnancy", "acute",
                    ("Z3A.39", "O80", "Z37.0", "Z34.90", "O48.0", "O24.410", "O13.9", "Z39.2", "O26.893"),
                    2.0, 30.0, 0.0),
    ClinicalCluster("headache_seizure", "acute", ("R51.9", "G43.909", "R20.2", "G40.909", "R56.9"),
                    1.8, 35.0, -0.2),
    ClinicalCluster("asthma_allergy", "chronic", ("J45.909", "J30.9", "J45.20", "L20.9"), 1.8, 25.0, -0.4),
    ClinicalCluster("dementia_parkinson", "chronic",
                    ("F03.90", "G30.9", "R41.82", "F01.50", "G20.A1", "R26.89"), 1.6, 80.0, 1.8),
    ClinicalCluster("injury_fall", "acute",
                    ("R29.6", "Z91.81", "S09.90XA", "S72.001A", "S52.501A", "T14.90XA"), 1.6, 60.0, 0.4),
    ClinicalCluster("stroke", "chronic", ("I63.9", "I69.351", "Z86.73"), 1.2, 70.0, 1.4),
    ClinicalCluster("benign_prostate", "chronic", ("N40.0", "N40.1", "R97.20", "R35.1", "R33.9", "N52.9"),
                    1.5, 65.0, 1.2),
    ClinicalCluster("cancer_care", "chronic", ("Z51.11", "C34.90", "C50.919", "Z85.3", "C18.9", "Z92.21"),
                    1.4, 65.0, 1.0),
    ClinicalCluster("menopause_gynecology", "chronic", ("N95.1", "N92.0", "D25.9", "N80.9", "N94.6"),
                    1.2, 45.0, 0.3),
    ClinicalCluster("skin_infection", "acute", ("L03.90", "L03.116", "L02.91", "L08.9"), 1.2, 45.0, 0.2),
    ClinicalCluster("urinary_stones_hematuria", "acute", ("N20.0", "R31.9", "R30.0"), 1.0, 50.0, 0.2),
)  # fmt: skip
