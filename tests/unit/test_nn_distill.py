"""Distillation loss: CE at alpha 0; the KL term vanishes when teacher and student agree."""
import torch
import torch.nn.functional as F

from pipeline.nn.distill import distillation_loss


def test_alpha_zero_is_cross_entropy():
    s, y = torch.randn(8, 10), torch.randint(0, 10, (8,))
    assert torch.equal(distillation_loss(s, y, torch.randn(8, 10), 4.0, 0.0),
                       F.cross_entropy(s, y))


def test_kl_vanishes_for_equal_logits_and_pulls_towards_teacher():
    s, y = torch.randn(8, 10, requires_grad=True), torch.randint(0, 10, (8,))
    same = distillation_loss(s, y, s.detach(), 3.0, 0.7)
    assert torch.allclose(same, 0.3 * F.cross_entropy(s, y), atol=1e-6)
    teacher = torch.randn(8, 10) * 3
    distillation_loss(s, y, teacher, 3.0, 1.0).backward()
    moved = s - 0.5 * s.grad
    before = F.kl_div(F.log_softmax(s / 3, 1), F.log_softmax(teacher / 3, 1), log_target=True,
                      reduction="batchmean")
    after = F.kl_div(F.log_softmax(moved / 3, 1), F.log_softmax(teacher / 3, 1), log_target=True,
                     reduction="batchmean")
    assert after < before
