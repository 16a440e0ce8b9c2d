"""sign(0) = +1, clipped straight-through gradient, the IR's threshold rule, weight clipping."""
import torch

from pipeline.nn.quantizers import binary_threshold, clip_latent_weights, hard_sign, sign_ste


def test_sign_of_zero_is_plus_one():
    x = torch.tensor([-2.0, -1e-9, 0.0, -0.0, 1e-9, 3.0])
    assert hard_sign(x).tolist() == [-1, -1, 1, 1, 1, 1]
    assert sign_ste(x).tolist() == [-1, -1, 1, 1, 1, 1]


def test_ste_gradient_is_clipped():
    x = torch.tensor([-1.5, -1.0, -0.3, 0.0, 0.7, 1.0, 1.2], requires_grad=True)
    sign_ste(x).sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]


def test_binary_threshold_matches_rule():
    dot = torch.arange(-5.0, 6.0).view(1, 11, 1).expand(2, 11, 3)
    for thr in (-5, 0, 3, 6):
        for flip in (0, 1):
            f = torch.full((11,), flip, dtype=torch.uint8)
            out = binary_threshold(dot.permute(0, 2, 1), torch.full((11,), float(thr)), f,
                                   channel_dim=2)
            want = torch.where((dot.permute(0, 2, 1) >= thr) != bool(flip), 1.0, -1.0)
            assert torch.equal(out, want)


def test_clip_latent_weights():
    m = torch.nn.Module()
    m.latent_weight = torch.nn.Parameter(torch.tensor([-3.0, 0.5, 2.0]))
    clip_latent_weights(m)
    assert m.latent_weight.tolist() == [-1.0, 0.5, 1.0]


def test_fast_sign_and_ste_equal_the_plain_formulas():
    """hard_sign and the STE's backward use fused kernels; they must equal the plain rules
    (x >= 0 -> +1; gradient where |x| <= clip) on every value, the clip bounds included."""
    torch.manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(10_000, dtype=dtype)
        edges = torch.tensor([0.0, -0.0, 1.0, -1.0, 1e-30, -1e-30], dtype=dtype)
        above = torch.nextafter(torch.tensor([1.0, -1.0], dtype=dtype),
                                torch.tensor([2.0, -2.0], dtype=dtype))
        x = torch.cat([x, edges, above, x.mul(3).clamp(-1, 1)]).requires_grad_()
        plain = torch.where(x >= 0, 1.0, -1.0).to(dtype)
        assert torch.equal(hard_sign(x.detach()), plain)
        grad = torch.randn_like(x)
        sign_ste(x).backward(grad)
        assert torch.equal(x.grad, grad * (x.detach().abs() <= 1).to(dtype))
