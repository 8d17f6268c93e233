"""Dictionary coders: evidence-mention and terminology keys matched in the text, plus a learned ranker.

- :class:`MentionCoder`: keys from annotated evidence spans and/or code descriptions, matched with
  Aho-Corasick over stemmed tokens, ``p(code | key)`` estimated on training documents, noisy-OR
  scoring, full ranking with the training prior behind the matches;
- :mod:`clincode.coders.ranker`: a LightGBM ranker over (document, candidate code) features,
  cross-fitted on the training documents;
- :func:`icd10cm_descriptions`: ICD-10-CM description phrases for the terminology-only mode.
"""

from clincode.coders.mention_coder import Evidence, Mention, MentionCoder, as_mention
from clincode.coders.normalize import LANGUAGES, TextNormalizer, strip_accents

__all__ = ["LANGUAGES", "Evidence", "Mention", "MentionCoder", "TextNormalizer", "as_mention", "strip_accents"]
