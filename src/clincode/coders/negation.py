"""Negation cues: a cue in a short window before a match, inside the same sentence, negates it."""

from __future__ import annotations

from clincode.coders.matcher import Match
from clincode.coders.normalize import TextNormalizer, Tokens

NEGATION_CUES: dict[str, tuple[str, ...]] = {
    "es": (
        "no", "sin", "ni", "niega", "niegan", "negó", "negativo", "negativa", "negativos", "negativas",
        "descarta", "descartan", "descartó", "se descartó", "descartándose", "descartado", "descartada",
        "ausencia de", "ausente", "ausentes", "libre de", "nunca", "tampoco",
    ),
    "en": (
        "no", "not", "nor", "without", "denies", "denied", "deny", "negative", "negative for",
        "ruled out", "rules out", "rule out", "absence of", "absent", "free of", "never",
    ),
}


class NegationDetector:
    """Is a match preceded, within ``window`` tokens of the same sentence, by a negation cue?"""

    def __init__(self, normalizer: TextNormalizer, window: int = 5, cues: tuple[str, ...] | None = None) -> None:
        if window < 0:
            raise ValueError(f"negation window is {window}; expected >= 0 tokens")
        self.window = window
        phrases = NEGATION_CUES[normalizer.language] if cues is None else cues
        self.cues: set[tuple[str, ...]] = {tuple(normalizer.key(c).split()) for c in phrases} - {()}
        self.max_len = max((len(c) for c in self.cues), default=0)

    def cue_positions(self, tokens: Tokens) -> list[int]:
        """Token indices where a cue ends."""
        words = tokens.tokens
        out = []
        for i in range(len(words)):
            for n in range(1, self.max_len + 1):
                if i - n + 1 >= 0 and tuple(words[i - n + 1 : i + 1]) in self.cues:
                    out.append(i)
                    break
        return out

    def negated(self, match: Match, tokens: Tokens, cue_ends: list[int]) -> bool:
        """True if a cue ends in the ``window`` tokens before ``match``, in the match's sentence."""
        if self.window == 0:
            return False
        sentence = tokens.sentence[match.first]
        lo = match.first - self.window
        return any(lo <= e < match.first and tokens.sentence[e] == sentence for e in cue_ends)
