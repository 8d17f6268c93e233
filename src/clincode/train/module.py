"""The LightningModule that composes any model with any loss.

The loss is a submodule, so a loss that owns parameters (the dependency-aware loss's W) is
optimised with the model (its own parameter group) and lands in every checkpoint.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from clincode.config import OptimConfig
from clincode.train.val_metric import BinnedMicroAP


class ClincodeModule(L.LightningModule):
    """Model + loss + optimiser for any task whose batches carry ``targets`` [..., V]."""

    def __init__(
        self,
        model: nn.Module,
        criterion: nn.Module,
        optim: OptimConfig,
        num_labels: int,
        run_meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.criterion = criterion
        self.optim = optim
        self.num_labels = num_labels
        self.run_meta = run_meta or {}
        # Binned micro AUPRC (constant memory whatever the validation size); the exact metrics
        # are computed once after training by clincode.metrics.
        self.val_auprc = BinnedMicroAP()

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
        self.val_auprc.update(torch.sigmoid(logits.float()), batch["targets"])

    def on_validation_epoch_start(self) -> None:
        self.val_auprc.reset()

    def on_validation_epoch_end(self) -> None:
        pos, neg = self.val_auprc.state()
        if self.trainer.world_size > 1:  # sum the histograms of every rank before computing
            pos, neg = self.all_gather(pos).sum(0), self.all_gather(neg).sum(0)
            self.val_auprc.reset()
            self.val_auprc.merge(pos, neg)
        self.log("val/auprc_micro", self.val_auprc.compute(), prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups: list[dict[str, Any]] = [
            {"params": [p for p in self.model.parameters() if p.requires_grad], "weight_decay": self.optim.weight_decay}
        ]
        loss_params = [p for p in self.criterion.parameters() if p.requires_grad]
        if loss_params:
            # The loss's own parameters (e.g. the dependency matrix) have their own weight decay,
            # 0 by default [ours]: decaying W biases the audited matrix towards zero, but without
            # it W can drift upwards as a whole (see docs/results.md).
            groups.append(
                {"params": loss_params, "weight_decay": self.optim.loss_weight_decay, "lr": self.optim.loss_lr or self.optim.lr}
            )
        opt = torch.optim.AdamW(groups, lr=self.optim.lr)
        if not self.optim.warmup_steps:
            return opt
        warm = self.optim.warmup_steps
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warm))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}  # type: ignore[return-value]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["clincode"] = self.run_meta
