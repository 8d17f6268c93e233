"""The Lightning module hands the loss's own parameters to the optimiser with their own settings."""

from clincode.config import OptimConfig
from clincode.losses import build_loss
from clincode.models import build_model
from clincode.train.module import ClincodeModule


def test_loss_parameters_are_optimised():
    model = build_model("ehr_transformer", vocab_size=20, num_labels=6, params={"d_model": 8, "n_heads": 2, "n_layers": 1})
    loss = build_loss("dependency_aware", 6)
    module = ClincodeModule(model, loss, OptimConfig(lr=1e-3, weight_decay=0.05, loss_lr=1e-2, loss_weight_decay=0.01), 6)
    opt = module.configure_optimizers()
    groups = opt.param_groups
    assert len(groups) == 2
    loss_ids = {id(p) for p in loss.parameters()}
    assert loss_ids and {id(p) for p in groups[1]["params"]} == loss_ids
    assert groups[1]["lr"] == 1e-2 and groups[1]["weight_decay"] == 0.01
    assert groups[0]["weight_decay"] == 0.05 and not loss_ids & {id(p) for p in groups[0]["params"]}
    # the loss is a submodule: its W is in the module's state_dict, hence in every checkpoint
    assert any(k.startswith("criterion.") for k in module.state_dict())


def test_parameter_free_loss_single_group():
    model = build_model("ehr_transformer", vocab_size=20, num_labels=6, params={"d_model": 8, "n_heads": 2, "n_layers": 1})
    opt = ClincodeModule(model, build_loss("bce", 6), OptimConfig(), 6).configure_optimizers()
    assert len(opt.param_groups) == 1


def test_non_finite_loss_stops_training_with_a_clear_error():
    import pytest
    import torch
    from torch import nn

    from clincode.train.module import NonFiniteLossError

    class Diverged(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, batch):
            return torch.full((batch["targets"].shape[0], 4), float("nan")) + self.w

    loss = build_loss("bce", 4)
    loss.validate = False  # input checks run on the first batch only; a run diverges later
    module = ClincodeModule(Diverged(), loss, OptimConfig(), 4)
    batch = {"targets": torch.zeros(3, 4, dtype=torch.int8)}
    with pytest.raises(NonFiniteLossError, match="training loss is nan at epoch 0, step 0.*diverged"):
        module.training_step(batch, 5)
