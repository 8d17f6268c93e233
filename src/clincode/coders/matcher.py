"""Multi-pattern matching of normalised keys (Aho-Corasick over token strings, word boundaries).

Keys and texts are normalised token sequences (see :mod:`clincode.coders.normalize`). A key
``"fiebr alta"`` is stored as ``" fiebr alta "`` and searched in the text's ``" t1 t2 ... tn "``:
the surrounding spaces make every hit start and end on token boundaries, and the automaton
reports all hits, overlapping ones included (``"fiebr"`` and ``"fiebr alta"`` both match).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import ahocorasick

from clincode.coders.normalize import Tokens


@dataclass(frozen=True)
class Match:
    """One occurrence of key ``key_id`` over tokens ``first .. last`` (inclusive)."""

    key_id: int
    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


class KeyMatcher:
    """All occurrences of a fixed set of keys (non-empty normalised token strings) in token sequences."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self._automaton = ahocorasick.Automaton()
        for key_id, key in enumerate(self.keys):
            if not key.strip() or key != " ".join(key.split()):
                raise ValueError(f"key {key!r} must be non-empty tokens joined by single spaces")
            self._automaton.add_word(f" {key} ", (key_id, key.count(" ") + 1))
        self._empty = not self.keys
        if not self._empty:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, tokens: Tokens) -> list[Match]:
        """Every key occurrence in ``tokens``, ordered by end then by length."""
        return list(self._iter(tokens))

    def _iter(self, tokens: Tokens) -> Iterator[Match]:
        if self._empty or not tokens.tokens:
            return
        joined = tokens.joined()
        # the space after token i sits at this position of ``joined``
        end_of: dict[int, int] = {}
        pos = 0
        for i, tok in enumerate(tokens.tokens):
            pos += 1 + len(tok)
            end_of[pos] = i
        for end, (key_id, n_tokens) in self._automaton.iter(joined):
            last = end_of[end]
            yield Match(key_id, last - n_tokens + 1, last)


class BagMatcher:
    """Keys as bags of tokens: all tokens of a key within a short window of one sentence, any order.

    A key of ``n`` tokens matches where each of its tokens occurs and the occurrences span at most
    ``n + window`` tokens inside one sentence. This catches reordered and interrupted phrasings
    ("masa frontal" for the key "frontal masa", "adenopatías ... inguinales").
    """

    def __init__(self, keys: Sequence[tuple[str, ...]], window: int) -> None:
        if window < 0:
            raise ValueError(f"bag window is {window}; expected >= 0 tokens")
        self.keys = [tuple(k) for k in keys]
        self.window = window
        self._by_anchor: dict[str, list[int]] = {}
        for key_id, key in enumerate(self.keys):
            if len(set(key)) != len(key) or not key:
                raise ValueError(f"bag key {key!r} must be distinct tokens")
            self._by_anchor.setdefault(key[0], []).append(key_id)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, tokens: Tokens) -> list[Match]:
        """Occurrences (tightest span per anchor position) of every bag key in ``tokens``."""
        positions: dict[str, list[int]] = {}
        for i, tok in enumerate(tokens.tokens):
            positions.setdefault(tok, []).append(i)
        sentence = tokens.sentence
        out: list[Match] = []
        for anchor, key_ids in self._by_anchor.items():
            anchor_pos = positions.get(anchor)
            if anchor_pos is None:
                continue
            for key_id in key_ids:
                key = self.keys[key_id]
                found = [positions.get(t) for t in key[1:]]
                others = [p for p in found if p is not None]
                if len(others) < len(found):
                    continue
                limit = len(key) + self.window
                for a in anchor_pos:
                    lo = hi = a
                    ok = True
                    for occ in others:
                        best = min((p for p in occ if sentence[p] == sentence[a]), key=lambda p: abs(p - a), default=None)
                        if best is None or abs(best - a) >= limit:
                            ok = False
                            break
                        lo, hi = min(lo, best), max(hi, best)
                    if ok and hi - lo + 1 <= limit:
                        out.append(Match(key_id, lo, hi))
        return out
