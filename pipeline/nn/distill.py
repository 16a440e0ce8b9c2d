"""Knowledge distillation: KL divergence to a float teacher at temperature T, mixed with CE."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def distillation_loss(student_logits: torch.Tensor, labels: torch.Tensor,
                      teacher_logits: torch.Tensor | None = None, temperature: float = 4.0,
                      alpha: float = 0.5) -> torch.Tensor:
    """``(1 - alpha) * CE(student, labels) + alpha * T^2 * KL(teacher_T || student_T)``.

    The T^2 factor keeps the soft term's gradient scale independent of T (Hinton et al.)."""
    ce = F.cross_entropy(student_logits, labels)
    if teacher_logits is None or alpha == 0:
        return ce
    t = temperature
    kl = F.kl_div(F.log_softmax(student_logits / t, dim=1),
                  F.log_softmax(teacher_logits.detach() / t, dim=1),
                  log_target=True, reduction="batchmean") * (t * t)
    return (1 - alpha) * ce + alpha * kl
