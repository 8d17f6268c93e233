"""Dictionary coders: evidence-mention and terminology keys matched in the text, plus a learned ranker.

- :class:`MentionCoder`: keys from annotated evidence spans and/or code descriptions, matched with
  Aho-Corasick over stemmed tokens (and as bags of words in a sentence window), ``p(code | key)``
  estimated on training documents, noisy-OR scoring, full ranking with the training prior behind;
- :class:`CandidateRanker`: a LightGBM ranker over (document, candidate code) features,
  cross-fitted on the training documents (:mod:`clincode.coders.ranker`);
- :class:`Span` / :class:`CodeEvidence`: the text spans that support a ranked code
  (``predict_evidence``, :mod:`clincode.coders.evidence`);
- :func:`icd10cm_descriptions`: ICD-10-CM description phrases for the terminology-only mode;
- :func:`codiesp_map`: CodiEsp's official MAP of a score matrix.
"""

from clincode.coders.evaluate import codiesp_map
from clincode.coders.evidence import CodeEvidence, Span
from clincode.coders.mention_coder import Evidence, Mention, MentionCoder, as_mention
from clincode.coders.normalize import LANGUAGES, TextNormalizer, strip_accents
from clincode.coders.ranker import CandidateRanker
from clincode.coders.registry import CODERS, DocumentCoder, EvidenceCoder, build_coder, coder_from_state, fitted_label_codes
from clincode.coders.terminology import icd10cm_descriptions

__all__ = [
    "CODERS",
    "LANGUAGES",
    "CandidateRanker",
    "CodeEvidence",
    "DocumentCoder",
    "Evidence",
    "EvidenceCoder",
    "Mention",
    "MentionCoder",
    "Span",
    "TextNormalizer",
    "as_mention",
    "build_coder",
    "codiesp_map",
    "coder_from_state",
    "fitted_label_codes",
    "icd10cm_descriptions",
    "strip_accents",
]
