"""The LightningModule that composes any model with any loss.

The loss is a submodule, so a loss that owns parameters (the dependency-aware loss's W) is
optimised with the model (its own parameter group) and lands in every checkpoint.

A model may return a dict ``{"icd": logits, "ccs": logits}`` (MARN's multitask heads): the loss is
then a :class:`clincode.losses.MultitaskLoss` fed ``batch["targets"]`` and ``batch["ccs_targets"]``,
and validation metrics use the ICD logits. A model with ``auxiliary_loss(batch) -> Tensor | None``
(e.g. DR-CAML's description regulariser) has that term added to the training loss.
"""

from __future__ import annotations

from typing import Any, cast

import lightning as L
import torch
from torch import Tensor, nn

from clincode.config import OptimConfig
from clincode.losses import MultitaskLoss, Validates
from clincode.metrics.streaming import BinnedMicroAP, DecisionCounts05
from clincode.models import AuxiliaryLossHook


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite."""


def primary_logits(outputs: Tensor | dict[str, Tensor]) -> Tensor:
    """The logits the run is evaluated on: the ICD head of a multitask model, else the output."""
    return outputs["icd"] if isinstance(outputs, dict) else outputs


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
        # Validation F1 at 0.5 from per-label counts (MARN early-stops on validation macro-F1).
        self.val_f1 = DecisionCounts05(num_labels)

    def forward(self, batch: dict[str, Tensor]) -> Tensor | dict[str, Tensor]:
        return self.model(batch)

    def compute_loss(self, outputs: Tensor | dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        """The criterion on the model's outputs (both heads for a multitask model)."""
        if isinstance(outputs, dict):
            if not isinstance(self.criterion, MultitaskLoss):
                raise ValueError(
                    f"the model returned heads {sorted(outputs)} but the loss is {type(self.criterion).__name__}; "
                    "a multitask model needs data.params.ccs: true"
                )
            return self.criterion(outputs, {"icd": batch["targets"], "ccs": batch["ccs_targets"]})
        return self.criterion(outputs, batch["targets"])

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        outputs = self.model(batch)
        loss = self.compute_loss(outputs, batch)
        n = primary_logits(outputs).shape[0]
        if isinstance(self.model, AuxiliaryLossHook):
            extra = self.model.auxiliary_loss(batch)
            if extra is not None:
                self.log("train/aux_loss", extra, on_step=False, on_epoch=True, batch_size=n)
                loss = loss + extra
        if batch_idx == 0 and self.current_epoch == 0 and isinstance(self.criterion, Validates):
            # Input checks ran once on real data; skip them on the hot path from here on.
            self.criterion.validate = False
        if not torch.isfinite(loss.detach()):
            # Stop at the first non-finite loss: training on would pick a "best" checkpoint of a
            # diverged model and write a NaN artefact.
            raise NonFiniteLossError(
                f"the training loss is {float(loss.detach())} at epoch {self.current_epoch}, step {self.global_step} "
                f"(batch {batch_idx}); the run diverged. Lower optim.lr, set trainer.gradient_clip_val, or check "
                "the loss parameters; checkpoints/last.ckpt (if any) holds the last finished epoch"
            )
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        outputs = self.model(batch)
        loss = self.compute_loss(outputs, batch)
        logits = primary_logits(outputs)
        self.log("val/loss", loss, prog_bar=False, on_epoch=True, batch_size=logits.shape[0], sync_dist=True)
        probs = torch.sigmoid(logits.float())
        self.val_auprc.update(probs, batch["targets"])
        self.val_f1.update(probs, batch["targets"])

    def on_validation_epoch_start(self) -> None:
        self.val_auprc.reset()
        self.val_f1.reset()

    def on_validation_epoch_end(self) -> None:
        pos, neg = self.val_auprc.state()
        if self.trainer.world_size > 1:  # sum the histograms of every rank before computing
            pos, neg = cast(Tensor, self.all_gather(pos)).sum(0), cast(Tensor, self.all_gather(neg)).sum(0)
            self.val_auprc.reset()
            self.val_auprc.merge(pos, neg)
        self.log("val/auprc_micro", self.val_auprc.compute(), prog_bar=True)
        counts = self.val_f1.counts
        if self.trainer.world_size > 1:
            counts = cast(Tensor, self.all_gather(counts)).sum(0)
            self.val_f1.reset()
            self.val_f1.merge(counts)
        macro, micro = self.val_f1.compute()
        self.log("val/f1_macro", macro, prog_bar=True)
        self.log("val/f1_micro", micro)

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
        # The fused implementation (one kernel over all tensors) when every parameter allows it:
        # the per-step optimiser cost matters with the small batches of the next-visit defaults.
        params = [p for group in groups for p in group["params"]]
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params) or None
        opt = torch.optim.AdamW(groups, lr=self.optim.lr, fused=fused)
        if not self.optim.warmup_steps:
            return opt
        warm = self.optim.warmup_steps
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warm))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}  # type: ignore[return-value]  # Lightning's annotation omits this documented dict form

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["clincode"] = self.run_meta
