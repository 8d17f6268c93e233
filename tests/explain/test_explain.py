"""clincode explain: static pages of a coder run, checked in a real headless browser (Debian's chromium).

The browser check opens a copy of each page with two small scripts added: one first in <head>
that records every error and console.error / console.warn, one at the end of <body> that walks
the DOM of ``#doc-text`` and writes, as JSON, its text and the character ranges of every
highlight per code. ``chromium --headless --dump-dom`` prints the resulting DOM; the ranges must
be exactly the evidence offsets the coder gave.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from clincode.config import load_config
from clincode.explain.page import Page, PageCode, render_page
from clincode.explain.run import explain_run
from clincode.resources import config_path
from clincode.train.fit import train_run
from clincode.train.runs import load_run
from helpers.codiesp_release import write_release

QUIET = Console(quiet=True)
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium), absent here")

PROBE_HEAD = """<script>window.__problems=[];
window.addEventListener('error',function(e){window.__problems.push('error: '+e.message);});
['error','warn'].forEach(function(k){var f=console[k];console[k]=function(){window.__problems.push(k+': '+Array.prototype.join.call(arguments,' '));f.apply(console,arguments);};});
</script>"""
PROBE_BODY = """<script>(function(){
var root=document.getElementById('doc-text'), pos=0, ranges={};
var walker=document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
var text='';
while(walker.nextNode()){
  var node=walker.currentNode, n=Array.from(node.data).length;
  var mark=node.parentElement.closest('mark.ev');
  if(mark){mark.dataset.codes.split(' ').forEach(function(c){(ranges[c]=ranges[c]||[]).push([pos,pos+n]);});}
  text+=node.data; pos+=n;
}
var out=document.createElement('pre'); out.id='clincode-check';
out.textContent=JSON.stringify({text:text, ranges:ranges, problems:window.__problems,
  anchors:Array.from(document.querySelectorAll('#doc-text a.anchor')).map(function(a){return a.id;})});
document.body.appendChild(out);
})();</script>"""


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=False)


def browser_view(page: Path, tmp: Path) -> tuple[dict, str]:
    html = page.read_text(encoding="utf-8")
    probed = html.replace("<head>", "<head>" + PROBE_HEAD, 1).replace("</body>", PROBE_BODY + "</body>", 1)
    copy = tmp / f"probe-{page.name}"
    copy.write_text(probed, encoding="utf-8")
    done = chromium("--dump-dom", copy.as_uri(), tmp=tmp)
    found = re.search(r'<pre id="clincode-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"chromium printed no probe result (exit {done.returncode}): {done.stderr[-2000:]}"
    import html as html_lib

    return json.loads(html_lib.unescape(found.group(1))), done.stderr


def merged(spans) -> list[list[int]]:
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    release = write_release(root / "codiesp")
    cfg = load_config(
        config_path("codiesp_dictionary"),
        [f"data.path={release}", f"out_dir={root / 'runs'}", "eval.n_bootstrap=0", "trainer.progress=false",
         "data.text.code_types=[D,P]", "model.params.extend_labels=false", "model.params.keys_from=evidence"],
    )
    run = train_run(cfg, console=QUIET)
    out = root / "pages"
    info = explain_run(run, release, out, split="test", top_k=5, console=QUIET)
    return run, release, out, info


def expected_spans(run: Path, release: Path, doc: str, top_k: int = 5) -> dict[str, list[list[int]]]:
    """Listed code index -> merged evidence spans, straight from the coder."""
    artefact, _ = load_run(run)
    coder = artefact.build_model()
    text = (release / "test" / "text_files" / f"{doc}.txt").read_text(encoding="utf-8")
    probs = coder.predict_proba([text])[0]
    spans = coder.evidence_spans([text])[0]
    order = sorted(range(len(probs)), key=lambda j: (-probs[j], j))[:top_k]
    return {str(i): merged(s.as_pair() for s in spans[j]) for i, j in enumerate(order) if spans.get(j)}


def test_pages_are_static_and_complete(explained):
    run, release, out, info = explained
    assert info["documents"] == 10
    pages = sorted((out / "docs").glob("*.html"))
    assert len(pages) == 10
    index = (out / "index.html").read_text(encoding="utf-8")
    assert all(f'href="docs/{p.name}"' in index for p in pages)
    for page in [out / "index.html", *pages]:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:|//)", html) and "<link" not in html and "@import" not in html
        assert not re.search(r"<script[^>]+src=", html)
    pages_html = [p.read_text(encoding="utf-8") for p in pages]
    assert all("✓ gold" in h for h in pages_html)  # every test document has a gold code among its first 5
    assert any("&lt;sin&gt; &amp; cambios" in h for h in pages_html)  # markup in the text is escaped
    assert not any("<sin>" in h for h in pages_html)


@pytest.mark.parametrize("doc", ["test-000", "test-003", "test-007"])
@needs_chromium
def test_highlighted_dom_ranges_are_the_evidence_offsets(explained, doc, tmp_path):
    run, release, out, _ = explained
    view, stderr = browser_view(out / "docs" / f"{doc}.html", tmp_path)
    text = (release / "test" / "text_files" / f"{doc}.txt").read_text(encoding="utf-8")
    assert view["problems"] == []
    assert "Uncaught" not in stderr
    assert view["text"] == text
    want = expected_spans(run, release, doc)
    assert want, "the test documents have evidence"
    assert {c: merged(r) for c, r in view["ranges"].items()} == want


@needs_chromium
def test_overlaps_line_breaks_and_astral_characters_keep_offsets(tmp_path):
    text = "Dolor torácico\r\nfiebre 🙂 alta <b>&amp;</b>\nfin"
    a = (text.index("fiebre"), text.index("alta") + 4)
    b = (text.index("alta"), text.index("fin"))
    c = (0, 5)
    page = Page("doc-1", text, [PageCode("ICD10CM//R50.9", "Fever", 0.9, (a,), gold=True),
                                PageCode("ICD10CM//R07.9", "Chest pain", 0.5, (b, c), gold=False),
                                PageCode("ICD10CM//Z00.0", "None", 0.1)])
    path = tmp_path / "page.html"
    path.write_text(render_page(page), encoding="utf-8")
    view, _ = browser_view(path, tmp_path)
    assert view["problems"] == []
    assert view["text"] == text
    assert {k: merged(v) for k, v in view["ranges"].items()} == {"0": [list(a)], "1": merged([b, c])}
    assert sorted(view["anchors"]) == ["ev-0-0", "ev-1-0", "ev-1-1"]


@needs_chromium
def test_screenshot(explained, tmp_path):
    _, _, out, _ = explained
    shot = tmp_path / "page.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1280,900", (out / "docs" / "test-000.html").as_uri(), tmp=tmp_path)
    assert shot.is_file(), done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_explain_errors(explained, tmp_path):
    run, release, _, _ = explained
    with pytest.raises(ValueError, match="--doc 'nope' is not a document of split 'held_out'"):
        explain_run(run, release, tmp_path / "x", split="test", doc_ids=["nope"], console=QUIET)
    with pytest.raises(ValueError, match="--split is 'final'"):
        explain_run(run, release, tmp_path / "x", split="final", console=QUIET)
    info = explain_run(run, release, tmp_path / "one", split="dev", doc_ids=["dev-002"], console=QUIET)
    assert info["documents"] == 1 and [p.name for p in (tmp_path / "one" / "docs").iterdir()] == ["dev-002.html"]


def test_explain_command(explained, tmp_path):
    from typer.testing import CliRunner

    from clincode.cli import app

    run, release, _, _ = explained
    runner = CliRunner()
    ok = runner.invoke(app, ["explain", str(run), "--data", str(release), "--out", str(tmp_path / "p"),
                             "--split", "test", "--doc", "test-001", "--doc", "test-002", "--top-k", "3"])
    assert ok.exit_code == 0, ok.output
    assert sorted(p.name for p in (tmp_path / "p" / "docs").iterdir()) == ["test-001.html", "test-002.html"]
    bad = runner.invoke(app, ["explain", str(tmp_path / "no-run"), "--data", str(release), "--out", str(tmp_path / "q")])
    assert bad.exit_code == 1 and "does not exist" in bad.output and "Traceback" not in bad.output


@pytest.fixture(scope="module")
def caml_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("caml")
    release = write_release(root / "codiesp")
    cfg = load_config(
        config_path("codiesp_caml"),
        [f"data.path={release}", f"out_dir={root / 'runs'}", "eval.n_bootstrap=0", "trainer.progress=false",
         "data.text.language=es", "data.text.min_df=1", "data.text.word2vec=false", "data.text.embed_dim=8",
         "model.params={embed_dim: 8, embed_dropout: 0.0, freeze_embeddings: false, kernel_size: 3, num_filters: 8}",
         "trainer.max_epochs=2", "trainer.batch_size=8", "trainer.monitor=val/auprc_micro", "optim.lr=0.01"],
    )
    return train_run(cfg, console=QUIET), release


def test_attention_windows_of_a_label_attention_network(caml_run, tmp_path):
    import numpy as np

    from clincode.explain.attention import attention_rows, token_spans
    from clincode.tasks import task_for

    run, release = caml_run
    info = explain_run(run, release, tmp_path / "pages", split="test", top_k=3, console=QUIET)
    assert info["documents"] == 10
    page = (tmp_path / "pages" / "docs" / "test-004.html").read_text(encoding="utf-8")
    assert "most attended window" in page and "<th>attention</th>" in page
    # each listed code's highlight is the 5-token window around its most attended token
    artefact, cfg = load_run(run)
    task = task_for(cfg)
    from clincode.data.labels import LabelSpace

    space = LabelSpace.from_dict(artefact.label_space)
    data = task.prepare_for_predict(cfg, release, space, artefact.vocab)
    docs, probs, position, _ = attention_rows(artefact.build_model(), task.loader(data, "held_out", cfg, shuffle=False, eval=True),
                                              task, len(space.codes_))
    row = int(np.flatnonzero(docs == 4)[0])
    text = (release / "test" / "text_files" / "test-004.txt").read_text(encoding="utf-8")
    tokens = token_spans(text)
    top = np.argsort(-probs[row], kind="stable")[:3]
    want = {}
    for i, j in enumerate(top):
        t = int(position[row, j])
        want[str(i)] = [[tokens[max(0, t - 2)][0], tokens[min(len(tokens) - 1, t + 2)][1]]]
    got_text, ranges = parsed_ranges(page)
    assert got_text == text
    assert {c: merged(r) for c, r in ranges.items()} == want


def parsed_ranges(page: str) -> tuple[str, dict[str, list[list[int]]]]:
    """Text of #doc-text and each code's highlighted ranges, from the HTML (Python's parser, no browser)."""
    from html.parser import HTMLParser

    class Walk(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.inside, self.codes, self.text, self.ranges = False, None, "", {}

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "pre" and attrs.get("id") == "doc-text":
                self.inside = True
            elif tag == "mark" and self.inside:
                self.codes = attrs["data-codes"].split()

        def handle_endtag(self, tag):
            if tag == "pre":
                self.inside = False
            elif tag == "mark":
                self.codes = None

        def handle_data(self, data):
            if self.inside:
                for c in self.codes or ():
                    self.ranges.setdefault(c, []).append([len(self.text), len(self.text) + len(data)])
                self.text += data

    walk = Walk()
    walk.feed(page)
    return walk.text, walk.ranges


def test_token_spans_follow_the_task_tokenizer():
    from clincode.data.notes.text import tokenize
    from clincode.explain.attention import token_spans

    text = "Paciente de 54 años, TAC-2 normal; 3 días."
    spans = token_spans(text)
    assert [text[s:e].lower() for s, e in spans] == tokenize(text)
