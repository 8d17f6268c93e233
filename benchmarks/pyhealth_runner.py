"""PyHealth side of ``benchmarks/pyhealth_compare.py``: runs inside PyHealth 1.1.6's own venv.

Imports nothing from clincode (PyHealth 1.1.6 needs numpy < 2, clincode's venv has numpy 2). It
reads the samples exported by the driver (``samples.pkl``: one dict per (patient, target visit)
with ``conditions`` = the code sets of visits 0..t and ``label`` = the label columns of visit
t + 1, and the train / val / test sample indices), builds PyHealth's ``SampleEHRDataset`` and its
``Transformer`` (``mode="multilabel"``), and then obeys the driver's commands, one JSON object
per line on stdin; each reply is one line on stdout starting with ``@@`` (PyHealth logs to
stdout too):

- ``{"cmd": "train", "predictions": N}``: train on at least N more training samples (whole
  batches, new shuffled epoch when one ends), as PyHealth's ``Trainer.train`` does: Adam,
  ``loss = model(**batch)["loss"]``, backward, step. Replies the seconds spent, steps and
  predictions done.
- ``{"cmd": "predict", "split": "tuning", "out": PATH}``: probabilities of the split's samples, in
  the exported order, over the driver's label columns (a label no sample carries gets 0: PyHealth
  has no output for it), saved as a float32 ``.npy``.
- ``{"cmd": "exit"}``: replies the process's peak resident memory and exits.

PyHealth's ``models`` package imports torchvision for image models that are not run here; no
torchvision build loads beside the CPU torch 2.13.0 used by both sides, so a placeholder module
answers that import (calling anything in it raises).
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import pickle
import resource
import sys
import time
import types


class _Absent:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, item: str) -> _Absent:
        if item.startswith("__"):
            raise AttributeError(item)
        return _Absent(f"{self._name}.{item}")

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError(f"{self._name}: torchvision is not installed in this environment")


class _Placeholder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = lambda item, n=spec.name: _Absent(n).__getattr__(item)
        return module

    def exec_module(self, module) -> None:
        pass


def reply(**fields: object) -> None:
    sys.stdout.write("@@" + json.dumps(fields) + "\n")
    sys.stdout.flush()


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would carry the parent's peak across exec)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("--embedding-dim", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    sys.meta_path.insert(0, _Placeholder())
    import numpy as np
    import torch
    from pyhealth.datasets import SampleEHRDataset, get_dataloader
    from pyhealth.models import Transformer
    from torch.utils.data import Subset

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.samples, "rb") as f:
        exported = pickle.load(f)
    dataset = SampleEHRDataset(exported["samples"], dataset_name="clincode-export", task_name="next_visit")
    model = Transformer(
        dataset=dataset,
        feature_keys=["conditions"],
        label_key="label",
        mode="multilabel",
        embedding_dim=args.embedding_dim,
        heads=args.heads,
        num_layers=args.layers,
        dropout=args.dropout,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    train = get_dataloader(Subset(dataset, exported["index"]["train"]), batch_size=args.batch_size, shuffle=True)
    # Column j of PyHealth's output is label token tokens[j]; the driver's label columns are ints.
    tokenizer = model.label_tokenizer
    known = np.asarray([str(c) in tokenizer.vocabulary.token2idx for c in range(exported["num_labels"])])
    ph_cols = np.asarray(tokenizer.convert_tokens_to_indices([str(c) for c in np.flatnonzero(known)]), dtype=np.int64)
    n_params = sum(p.numel() for p in model.parameters())
    reply(ready=True, parameters=n_params, labels_with_output=int(known.sum()), rss_mb=peak_mb())

    batches = iter(train)
    epoch = 0
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "train":
            model.train()
            done = steps = 0
            start = time.perf_counter()
            while done < cmd["predictions"]:
                try:
                    batch = next(batches)
                except StopIteration:
                    epoch += 1
                    batches = iter(train)
                    batch = next(batches)
                loss = model(**batch)["loss"]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                done += len(batch["label"])
                steps += 1
            reply(seconds=time.perf_counter() - start, steps=steps, predictions=done, loss=float(loss), peak_rss_mb=peak_mb())
        elif cmd["cmd"] == "predict":
            model.eval()
            loader = get_dataloader(Subset(dataset, exported["index"][cmd["split"]]), batch_size=256, shuffle=False)
            chunks = []
            with torch.no_grad():
                for batch in loader:
                    chunks.append(model(**batch)["y_prob"].numpy())
            probs = np.concatenate(chunks)
            out = np.zeros((len(probs), exported["num_labels"]), dtype=np.float32)
            out[:, known] = probs[:, ph_cols]
            np.save(cmd["out"], out)
            reply(rows=len(out))
        elif cmd["cmd"] == "exit":
            reply(peak_rss_mb=peak_mb())
            return


if __name__ == "__main__":
    main()
