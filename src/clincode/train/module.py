"""The LightningModule that composes any model with any loss.

The loss is a submodule, so a loss that owns parameters (the dependency-aware loss's W) is
optimised with the model (its own parameter group) and lands in every checkpoint.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics.classification import MultilabelAveragePrecision

from clincode.config import OptimConfig


def valid_rows(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Flatten [..., V] to rows and keep rows with at least one non-ignored target."""
    v = logits.shape[-1]
    logits, targets = logits.reshape(-1, v), targets.reshape(-1, v)
    keep = (targets != -1).any(dim=1)
    return logits[keep], targets[keep]


class ClincodeModule(L.LightningModule):
    """Model + loss + optimiser for any task whose batches carry ``targets`` [..., V]."""

    def __init__(
        self,
        model: nn.Module,
        criterion: nn.Module,
        optim: OptimConfig,
        num_labels: int,
        run_meta: dict[str, Any] | None = None,
        val_thresholds: int = 200,
    ) -> None:
        super().__init__()
        self.model = model
        self.criterion = criterion
        self.optim = optim
        self.num_labels = num_labels
        self.run_meta = run_meta or {}
        # Binned micro AUPRC (constant memory whatever the validation size); the exact metrics
        # are computed once after training by clincode.metrics.
        self.val_auprc = MultilabelAveragePrecision(
            num_labels=num_labels, average="micro", thresholds=val_thresholds, ignore_index=-1
        )

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.model(batch)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self.model(batch)
        loss = self.criterion(logits, batch["targets"])
        if batch_idx == 0 and self.current_epoch == 0 and hasattr(self.criterion, "validate"):
            # Input checks ran once on real data; skip them on the hot path from here on.
            self.criterion.validate = False
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=logits.shape[0])
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        logits = self.model(batch)
        loss = self.criterion(logits, batch["targets"])
        self.log("val/loss", loss, prog_bar=False, on_epoch=True, batch_size=logits.shape[0], sync_dist=True)
        rows, targets = valid_rows(logits.float(), batch["targets"])
        if rows.shape[0]:
            self.val_auprc.update(torch.sigmoid(rows), targets.long())

    def on_validation_epoch_end(self) -> None:
        self.log("val/auprc_micro", self.val_auprc.compute(), prog_bar=True, sync_dist=True)
        self.val_auprc.reset()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups: list[dict[str, Any]] = [
            {"params": [p for p in self.model.parameters() if p.requires_grad], "weight_decay": self.optim.weight_decay}
        ]
        loss_params = [p for p in self.criterion.parameters() if p.requires_grad]
        if loss_params:
            # The loss's own parameters (e.g. the dependency matrix) get no weight decay: decaying W
            # would bias the audited dependency structure towards zero.
            groups.append({"params": loss_params, "weight_decay": 0.0, "lr": self.optim.loss_lr or self.optim.lr})
        opt = torch.optim.AdamW(groups, lr=self.optim.lr)
        if not self.optim.warmup_steps:
            return opt
        warm = self.optim.warmup_steps
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warm))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}  # type: ignore[return-value]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["clincode"] = self.run_meta
