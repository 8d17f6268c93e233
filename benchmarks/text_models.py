"""Training throughput and peak memory of the text models at 4,000 tokens.

Times one full optimisation step (forward, MARN's focal loss, DR-CAML's regulariser where
defined, backward, AdamW step) of cnn, caml, dr_caml, bigru, laat and marn with their default
sizes, at batch B = 16, T = 4,000 tokens (every document full length, the worst case), V = 1,767
labels (CodiEsp-D training labels) and a 20,000-word vocabulary. Each model runs in a fresh
subprocess so that its peak resident memory (``ru_maxrss``, which includes the ~0.3 GB of the
interpreter and torch) is its own; the models run one after the other in one invocation, so the
ratios between them are measured under the same machine load (the 1-minute load average is
printed before and after each model).

    .venv/bin/python benchmarks/text_models.py [--models cnn,caml,...] [--batch 16] [--tokens 4000]
        [--labels 1767] [--vocab 20000] [--steps 2] [--warmup 1] [--threads 1] [--max-gb 16] [--legacy]

``--legacy`` times reference forms of three layers instead of clincode's (packed BiGRU,
ConvTranspose1d modules, label attention with extra copies), for comparison.

Inputs are random token ids and random targets (about 11 positives per document, CodiEsp-D's
mean); DR-CAML gets random 5-20-token descriptions. Speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

MODELS = ["cnn", "caml", "dr_caml", "bigru", "laat", "marn"]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def use_legacy_layers() -> None:
    """Swap in the reference forms (for comparison): packed BiGRU, ConvTranspose1d modules in RAM,
    and label attention with a transposed score copy and an unconditional mask multiplication.
    Outputs are the same up to float rounding.
    """
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from clincode.models.layers.label_attention import LabelAttention
    from clincode.models.layers.ram import RAMBlock
    from clincode.models.text import BiGRUEncoder

    def packed_forward(self, x, mask):  # type: ignore[no-untyped-def]
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=x.shape[1])
        return out * mask.unsqueeze(-1).to(out.dtype)

    def old_attention(self, h, mask):  # type: ignore[no-untyped-def]
        z = torch.tanh(self.projection(h)) if self.projection is not None else h
        scores = self.query(z).transpose(1, 2)
        keep = mask.unsqueeze(1)
        scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=-1) * keep.to(scores.dtype)

    BiGRUEncoder.forward = packed_forward  # type: ignore[method-assign]
    RAMBlock._conv = staticmethod(lambda conv, x: conv(x))  # type: ignore[method-assign]
    LabelAttention.attention = old_attention  # type: ignore[method-assign]


def run_one(args: argparse.Namespace) -> dict[str, object]:
    """Child process: build one model, time ``warmup + steps`` optimisation steps, return the numbers."""
    # Fail with MemoryError rather than invoke the machine's OOM killer on other jobs.
    limit = int(args.max_gb * 1024**3)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import torch

    from clincode.losses import build_loss
    from clincode.models import build_model

    torch.set_num_threads(args.threads)
    if args.legacy:
        use_legacy_layers()
    torch.manual_seed(0)
    b, t, v = args.batch, args.tokens, args.labels
    model = build_model(args.child, vocab_size=args.vocab, num_labels=v)
    gen = torch.Generator().manual_seed(1)
    if hasattr(model, "set_label_descriptions"):
        lengths = torch.randint(5, 21, (v,), generator=gen)
        desc_mask = torch.arange(20)[None, :] < lengths[:, None]
        desc_ids = torch.randint(2, args.vocab, (v, 20), generator=gen) * desc_mask
        model.set_label_descriptions(desc_ids, desc_mask)
    tokens = torch.randint(2, args.vocab, (b, t), generator=gen)
    targets = (torch.rand(b, v, generator=gen) < 11.0 / v).float()
    batch = {"tokens": tokens, "token_mask": tokens != 0, "targets": targets}
    criterion = build_loss("focal_marn", v)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    model.train()
    rss_before = _rss_mb()
    times = []
    for _ in range(args.warmup + args.steps):
        start = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        loss = criterion(model(batch), targets)
        extra = model.auxiliary_loss(batch) if hasattr(model, "auxiliary_loss") else None
        if extra is not None:
            loss = loss + extra
        loss.backward()
        optimiser.step()
        times.append(time.perf_counter() - start)
    step = statistics.median(times[args.warmup :])
    return {
        "model": args.child,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "ms_per_step": step * 1000.0,
        "docs_per_s": b / step,
        "step_times_s": [round(x, 2) for x in times],
        "rss_before_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=4000)
    ap.add_argument("--labels", type=int, default=1767)
    ap.add_argument("--vocab", type=int, default=20000)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-gb", type=float, default=16.0)
    ap.add_argument("--legacy", action="store_true", help="time the pre-optimisation layers (see use_legacy_layers)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_one(args)))
        return
    import torch

    print(
        f"# text models: B={args.batch}, T={args.tokens}, V={args.labels}, vocab={args.vocab}, "
        f"threads={args.threads}, {args.warmup} warm-up + {args.steps} timed steps (median)"
        f"{', LEGACY layers' if args.legacy else ''}\n"
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, torch {torch.__version__}",
        flush=True,
    )
    rows = []
    for name in args.models.split(","):
        load_before = os.getloadavg()[0]
        cmd = [sys.executable, __file__, "--child", name]
        for key in ("batch", "tokens", "labels", "vocab", "steps", "warmup", "threads", "max_gb"):
            cmd += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
        cmd += ["--legacy"] if args.legacy else []
        proc = subprocess.run(cmd, capture_output=True, text=True)
        load_after = os.getloadavg()[0]
        if proc.returncode != 0:
            print(f"# {name}: failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["load"] = f"{load_before:.1f} -> {load_after:.1f}"
        rows.append(row)
        print(f"# {name}: {json.dumps(row)}", flush=True)
    if not rows:
        return
    base = rows[0]["ms_per_step"]
    print(f"\n| model | params (M) | ms / step | docs / s | x {rows[0]['model']} | peak RSS (MB) | load 1-min |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['params_m']:.2f} | {r['ms_per_step']:.0f} | {r['docs_per_s']:.3f} | "
            f"{r['ms_per_step'] / base:.1f} | {r['peak_rss_mb']:.0f} | {r['load']} |"
        )


if __name__ == "__main__":
    main()
