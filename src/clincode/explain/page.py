"""Static HTML pages of coded documents: the text with each code's evidence highlighted, the ranked codes.

A page is self-contained (inline CSS and JS, no network, no external file). The document text sits
in one ``<pre id="doc-text">`` whose text content is exactly the document (a carriage return is
written as a character reference, which HTML keeps); every stretch of text covered by evidence is a
``<mark class="ev" data-codes="i j">`` naming the listed codes whose spans cover it, and the start
of each span carries an empty anchor ``<a id="ev-i-k">`` (code ``i``, span ``k``), so the offsets
of the highlighted DOM ranges are the evidence offsets. A code row links to its spans; a click on
highlighted text selects the codes it supports (and the code rows link back).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{padding:.8rem 1.2rem;background:#24364b;color:#fff}
header a{color:#cfe3ff}
header h1{font-size:1.15rem;margin:.2rem 0}
header p{margin:.2rem 0;font-size:.85rem;opacity:.85}
main{display:flex;gap:1rem;padding:1rem;align-items:flex-start}
#text{flex:3;min-width:0}
#codes{flex:2;min-width:22rem;position:sticky;top:.5rem;max-height:96vh;overflow:auto}
pre#doc-text{white-space:pre-wrap;word-wrap:break-word;font:15px/1.6 Georgia,serif;background:#fff;padding:1rem;border:1px solid #ddd;border-radius:6px}
mark.ev{background:#ffe58a;border-radius:2px;cursor:pointer}
mark.ev.multi{background:#ffc94d}
mark.ev.active{background:#7cc4ff;outline:1px solid #1b74c5}
table{border-collapse:collapse;width:100%;font-size:.85rem;background:#fff}
th,td{border-bottom:1px solid #e4e4e4;padding:.3rem .4rem;text-align:left;vertical-align:top}
th{background:#eef1f5;position:sticky;top:0}
tr.code{cursor:pointer}
tr.code.active{background:#dcefff}
tr.alert td.score{font-weight:600}
td.gold{color:#137333;font-weight:600;white-space:nowrap}
tr.nogold td.gold{color:#b3261e;font-weight:400}
.spans a{margin-right:.3rem}
.missed{font-size:.85rem;background:#fff;border:1px solid #e4e4e4;padding:.5rem;margin-top:.6rem}
.legend{font-size:.8rem;color:#555;margin:.4rem 0}
"""

# Selecting a code highlights its spans; clicking highlighted text selects the codes that cover it.
JS = """
(function(){
  var rows=document.querySelectorAll('tr.code');
  var marks=document.querySelectorAll('mark.ev');
  function select(ids){
    var set={};ids.forEach(function(i){set[i]=true;});
    rows.forEach(function(r){r.classList.toggle('active',!!set[r.dataset.code]);});
    marks.forEach(function(m){
      var on=m.dataset.codes.split(' ').some(function(i){return set[i];});
      m.classList.toggle('active',on);
    });
  }
  rows.forEach(function(r){r.addEventListener('click',function(){select([r.dataset.code]);});});
  marks.forEach(function(m){m.addEventListener('click',function(){
    var ids=m.dataset.codes.split(' ');select(ids);
    var row=document.getElementById('code-'+ids[0]);if(row){row.scrollIntoView({block:'nearest'});}
  });});
})();
"""


@dataclass(frozen=True)
class PageCode:
    """One listed code of a page: rank, label, description, score, evidence spans, gold / alert marks."""

    code: str
    description: str
    score: float
    spans: tuple[tuple[int, int], ...] = ()
    gold: bool | None = None  # None: the data have no gold codes
    alert: bool = False


@dataclass
class Page:
    doc_id: str
    text: str
    codes: list[PageCode]
    missed_gold: list[tuple[str, str]] = field(default_factory=list)  # (code, description) gold but not listed
    subtitle: str = ""
    kind: str = "evidence"  # "evidence" (a coder's matches) or "attention" (a network's most attended window)


def _text(value: str) -> str:
    return html.escape(value, quote=False).replace("\r", "&#13;")


def _attr(value: str) -> str:
    return html.escape(value, quote=True).replace("\r", "&#13;").replace("\n", "&#10;")


def highlighted_text(text: str, codes: Sequence[PageCode]) -> str:
    """The inner HTML of ``<pre id="doc-text">``: ``text`` with the codes' spans as marks and anchors."""
    n = len(text)
    anchors: dict[int, list[str]] = {}
    bounds = {0, n}
    for i, code in enumerate(codes):
        for k, (s, e) in enumerate(code.spans):
            if not 0 <= s < e <= n:
                raise ValueError(f"span ({s}, {e}) of {code.code} lies outside the document text (length {n})")
            anchors.setdefault(s, []).append(f"ev-{i}-{k}")
            bounds |= {s, e}
    cuts = sorted(bounds)
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        out += [f'<a id="{x}" class="anchor"></a>' for x in anchors.get(a, ())]
        covering = [str(i) for i, c in enumerate(codes) if any(s <= a and b <= e for s, e in c.spans)]
        piece = _text(text[a:b])
        if covering:
            names = ", ".join(codes[int(i)].code for i in covering)
            cls = "ev multi" if len(covering) > 1 else "ev"
            out.append(f'<mark class="{cls}" data-codes="{" ".join(covering)}" title="{_attr(names)}">{piece}</mark>')
        else:
            out.append(piece)
    return "".join(out)


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="es"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_text(title)}</title><style>{CSS}</style></head><body>"
    )


def render_page(page: Page, index_href: str = "../index.html") -> str:
    """The HTML of one document's page."""
    has_gold = any(c.gold is not None for c in page.codes) or bool(page.missed_gold)
    rows = []
    for i, c in enumerate(page.codes):
        links = " ".join(f'<a href="#ev-{i}-{k}">{k + 1}</a>' for k in range(len(c.spans))) or "–"
        classes = ["code"] + (["alert"] if c.alert else []) + (["nogold"] if c.gold is False else [])
        gold = "" if c.gold is None else ("✓ gold" if c.gold else "✗")
        rows.append(
            f'<tr id="code-{i}" class="{" ".join(classes)}" data-code="{i}"><td>{i + 1}</td>'
            f'<td><a href="#ev-{i}-0">{_text(c.code)}</a></td>' if c.spans else
            f'<tr id="code-{i}" class="{" ".join(classes)}" data-code="{i}"><td>{i + 1}</td><td>{_text(c.code)}</td>'
        )
        rows[-1] += (
            f"<td>{_text(c.description)}</td><td class=\"score\">{c.score:.3f}</td>"
            + (f'<td class="gold">{gold}</td>' if has_gold else "")
            + f'<td class="spans">{links}</td></tr>'
        )
    missed = ""
    if page.missed_gold:
        items = "".join(f"<li>{_text(c)} {_text(d)}</li>" for c, d in page.missed_gold)
        missed = f'<div class="missed"><strong>Gold codes not listed</strong><ul>{items}</ul></div>'
    header_gold = '<th>gold</th>' if has_gold else ""
    spans_head = "attention" if page.kind == "attention" else "spans"
    return (
        _head(f"{page.doc_id} · clincode explain")
        + f'<header><a href="{_attr(index_href)}">all documents</a><h1>{_text(page.doc_id)}</h1>'
        + f"<p>{_text(page.subtitle)}</p></header><main>"
        + '<section id="text"><p class="legend">Highlighted: '
        + ("the most attended window of each listed code (attention, not a reference)" if page.kind == "attention"
           else "evidence of the listed codes")
        + " (darker: several codes). Click a code or a highlight to link them.</p>"
        + f'<pre id="doc-text">{highlighted_text(page.text, page.codes)}</pre></section>'
        + '<section id="codes"><table><thead><tr><th>#</th><th>code</th><th>description</th><th>score</th>'
        + f"{header_gold}<th>{spans_head}</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{missed}</section>"
        + f"</main><script>{JS}</script></body></html>\n"
    )


def render_index(title: str, entries: Sequence[tuple[str, str, int, int | None, int | None, list[str]]]) -> str:
    """The index page: (doc id, page href, listed codes, gold codes, gold among listed, top codes) per document."""
    has_gold = any(e[3] is not None for e in entries)
    rows = "".join(
        f'<tr><td><a href="{_attr(href)}">{_text(doc)}</a></td><td>{n}</td>'
        + (f"<td>{'' if gold is None else gold}</td><td>{'' if hits is None else hits}</td>" if has_gold else "")
        + f"<td>{_text(', '.join(top))}</td></tr>"
        for doc, href, n, gold, hits, top in entries
    )
    gold_head = "<th>gold codes</th><th>gold listed</th>" if has_gold else ""
    return (
        _head(title)
        + f"<header><h1>{_text(title)}</h1><p>{len(entries)} documents</p></header><main><section style=\"flex:1\">"
        + f"<table><thead><tr><th>document</th><th>codes listed</th>{gold_head}<th>first codes</th></tr></thead>"
        + f"<tbody>{rows}</tbody></table></section></main></body></html>\n"
    )


def page_file_names(doc_ids: Sequence[str]) -> list[str]:
    """A distinct, filesystem-safe ``.html`` name per document id."""
    out, seen = [], set()
    for doc in doc_ids:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", doc)[:120] or "doc"
        name, n = f"{base}.html", 1
        while name.lower() in seen:
            n += 1
            name = f"{base}-{n}.html"
        seen.add(name.lower())
        out.append(name)
    return out
