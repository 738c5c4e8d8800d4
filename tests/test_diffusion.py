"""Formulations against NVlabs EDM formulas, diffusers schedules and closed forms."""

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, EDMEulerScheduler
from diffusers.schedulers.scheduling_ddim import rescale_zero_terminal_snr as diffusers_rescale

from cinediff.diffusion import EDMPrecond, VPPrecond, VPSchedule, beta_schedule, rescale_zero_terminal_snr, snap_sigma_in
from cinediff.noise import NoisePrior
from cinediff.runtime import sample_generators
from cinediff.samplers import vp_timesteps


class TinyNet(torch.nn.Module):
    """A small random backbone F(x, c_noise) for video or image tensors."""

    def __init__(self, channels=3):
        super().__init__()
        self.conv = torch.nn.Conv3d(channels, channels, 3, padding=1)
        self.noise = torch.nn.Linear(1, channels)

    def forward(self, x, c_noise, **cond):
        video = x if x.ndim == 5 else x.unsqueeze(2)
        out = self.conv(video) + self.noise(c_noise[:, None].float())[:, :, None, None, None]
        return out if x.ndim == 5 else out.squeeze(2)


class Zero(torch.nn.Module):
    def forward(self, x, c_noise, **cond):
        return torch.zeros_like(x)


def nvlabs_edm_precond(model, x, sigma, sigma_data):
    """NVlabs edm training/networks.py EDMPrecond.forward, verbatim maths."""
    sigma = sigma.reshape(-1, 1, 1, 1, 1)
    c_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
    c_out = sigma * sigma_data / (sigma**2 + sigma_data**2).sqrt()
    c_in = 1 / (sigma_data**2 + sigma**2).sqrt()
    c_noise = sigma.log() / 4
    return c_skip * x + c_out * model(c_in * x, c_noise.flatten())


def test_edm_with_sigma_in_one_equals_nvlabs_edm():
    net = TinyNet()
    precond = EDMPrecond(net, sigma_data=0.5)
    x = torch.randn(3, 3, 4, 8, 8) * 5
    sigma = torch.tensor([0.01, 1.0, 60.0])
    torch.testing.assert_close(precond(x, sigma), nvlabs_edm_precond(net, x, sigma, 0.5), rtol=0, atol=1e-6)


def test_edm_loss_equals_nvlabs_edm_loss():
    """NVlabs training/loss.py EDMLoss: λ(σ) |D(y + n) - y|², with λ = (σ² + σ_d²)/(σ σ_d)²."""
    net = TinyNet()
    precond = EDMPrecond(net, sigma_data=0.5)
    y, noise = torch.randn(3, 3, 4, 8, 8) * 0.5, torch.randn(3, 3, 4, 8, 8)
    sigma = torch.tensor([0.05, 0.8, 20.0])
    weight = ((sigma**2 + 0.25) / (sigma * 0.5) ** 2).reshape(-1, 1, 1, 1, 1)
    D = nvlabs_edm_precond(net, y + sigma.reshape(-1, 1, 1, 1, 1) * noise, sigma, 0.5)
    expected = (weight * (D - y) ** 2).flatten(1).mean(1)
    torch.testing.assert_close(precond.loss(y, sigma, noise), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(precond.loss_weight(sigma, y), weight.flatten())


def test_edm_scalings_equal_diffusers_edm_scheduler():
    sched = EDMEulerScheduler(sigma_data=0.5)
    precond = EDMPrecond(Zero(), sigma_data=0.5)
    sigma = torch.tensor([0.002, 0.3, 7.0, 80.0])
    x = torch.ones(4, 3, 8, 8)
    c_skip, c_out, c_in, c_noise = precond.scalings(sigma, x)
    torch.testing.assert_close(c_in, sched.precondition_inputs(torch.ones(4), sigma))
    torch.testing.assert_close(c_noise, sched.precondition_noise(sigma))
    out = torch.randn(4)
    torch.testing.assert_close(c_skip * 2.0 + c_out * out, sched.precondition_outputs(torch.full((4,), 2.0), out, sigma))


@pytest.mark.parametrize("sigma_in", [1.0, 4.0, "auto"])
def test_snap_training_target_has_unit_variance_at_every_sigma(sigma_in):
    """Data of std σ_data in data scale is σ_data/σ_in after input scaling; the regression target
    (x/σ_in - c_skip x_σ)/c_out must have unit variance for every σ (a zero backbone's loss is E[target²])."""
    precond = EDMPrecond(Zero(), sigma_data=0.5, sigma_in=sigma_in)
    x0 = torch.randn(8, 3, 16, 16, 16) * 0.5
    for sigma in [0.002, 0.05, 0.5, 2.0, 10.0, 80.0]:
        s = torch.full((8,), sigma)
        loss = precond.loss(x0, s, torch.randn_like(x0)).mean()
        assert abs(loss.item() - 1) < 0.03, (sigma, loss.item())


def test_snap_sigma_in_formula():
    assert snap_sigma_in(16, 64, 64) == pytest.approx(4.0)
    assert snap_sigma_in(1, 64, 64) == pytest.approx(1.0)
    assert snap_sigma_in(16, 128, 128) == pytest.approx(8.0)
    precond = EDMPrecond(Zero(), sigma_in="auto")
    assert precond.input_scale(torch.zeros(1, 3, 16, 64, 64)) == pytest.approx(4.0)
    assert precond.input_scale(torch.zeros(1, 3, 64, 64)) == pytest.approx(1.0)  # an image
    assert precond.effective_sigma_data(torch.zeros(1, 3, 16, 64, 64)) == pytest.approx(0.125)
    with pytest.raises(ValueError, match="sigma_in"):
        EDMPrecond(Zero(), sigma_in=-1)


def test_lognormal_training_sigma():
    precond = EDMPrecond(Zero())
    log_sigma = precond.sample_training_sigma(20000).log()
    assert abs(log_sigma.mean().item() + 1.2) < 0.05 and abs(log_sigma.std().item() - 1.2) < 0.05
    a = precond.sample_training_sigma(3, sample_generators([5, 6, 7]))
    b = precond.sample_training_sigma(1, sample_generators([6]))
    assert a[1] == b[0]


@pytest.mark.parametrize("name,diffusers_name", [("linear", "linear"), ("scaled_linear", "scaled_linear"), ("cosine", "squaredcos_cap_v2")])
def test_beta_schedules_equal_diffusers(name, diffusers_name):
    ours = beta_schedule(name, 1000, 0.00085, 0.012)
    theirs = DDPMScheduler(beta_schedule=diffusers_name, beta_start=0.00085, beta_end=0.012).betas
    torch.testing.assert_close(ours.float(), theirs, rtol=1e-5, atol=1e-7)


def test_zero_terminal_snr_equals_diffusers():
    betas = beta_schedule("scaled_linear")
    ours = rescale_zero_terminal_snr(betas)
    torch.testing.assert_close(ours.float(), diffusers_rescale(betas.float()), rtol=1e-4, atol=1e-6)
    alpha_bar = (1 - ours).cumprod(0)
    assert alpha_bar[-1] == 0 and alpha_bar[0] == pytest.approx((1 - betas[0]).item())
    schedule = VPSchedule(zero_terminal_snr=True)
    assert torch.isfinite(schedule.sigmas).all() and schedule.sigmas[-1] > 1000


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("n", [10, 25, 50])
def test_vp_timesteps_equal_diffusers_ddim(spacing, n):
    sched = DDIMScheduler(timestep_spacing=spacing, steps_offset=1 if spacing == "leading" else 0)
    sched.set_timesteps(n)
    ours = vp_timesteps(n, 1000, spacing, steps_offset=1 if spacing == "leading" else 0)
    assert ours.tolist() == sched.timesteps.tolist()


def test_sigma_t_round_trip():
    schedule = VPSchedule()
    t = torch.tensor([0.0, 10.0, 499.5, 998.25, 999.0])
    torch.testing.assert_close(schedule.sigma_to_t(schedule.t_to_sigma(t)), t, rtol=0, atol=2e-3)
    torch.testing.assert_close(schedule.t_to_sigma(torch.arange(1000.0)), schedule.sigmas)


class Oracle(torch.nn.Module):
    """Returns the true ε, v or x0 of the sample it is given (stored by the test)."""

    def __init__(self, prediction):
        super().__init__()
        self.prediction = prediction

    def forward(self, x_t, t, **cond):
        alpha = self.alpha_bar.sqrt().reshape(-1, 1, 1, 1, 1)
        sigma_vp = (1 - self.alpha_bar).sqrt().reshape(-1, 1, 1, 1, 1)
        torch.testing.assert_close(x_t, alpha * self.x0 + sigma_vp * self.eps, rtol=1e-4, atol=1e-5)
        return {"eps": self.eps, "v": alpha * self.eps - sigma_vp * self.x0, "x0": self.x0}[self.prediction]


@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
def test_vp_parameterisations_recover_x0_and_zero_loss(prediction):
    schedule = VPSchedule()
    oracle = Oracle(prediction)
    precond = VPPrecond(oracle, schedule, prediction)
    t = torch.tensor([0, 300, 999])
    oracle.alpha_bar = schedule.alphas_cumprod[t]
    oracle.x0, oracle.eps = torch.rand(3, 3, 2, 4, 4) * 2 - 1, torch.randn(3, 3, 2, 4, 4)
    sigma = schedule.sigmas[t]
    x = oracle.x0 + sigma.reshape(-1, 1, 1, 1, 1) * oracle.eps
    torch.testing.assert_close(precond(x, sigma), oracle.x0, rtol=1e-4, atol=1e-4)
    assert precond.loss(oracle.x0, sigma, oracle.eps).max() < 1e-8


def test_v_target_equals_diffusers_velocity():
    schedule, sched = VPSchedule(), DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    t = torch.tensor([5, 500, 990])
    x0, eps = torch.randn(3, 3, 4, 4), torch.randn(3, 3, 4, 4)
    captured = {}

    def backbone(x_t, c_noise):
        captured["x_t"], captured["t"] = x_t, c_noise
        return torch.zeros_like(x_t)

    precond = VPPrecond(backbone, schedule, "v")
    loss = precond.loss(x0, schedule.sigmas[t], eps)
    v = sched.get_velocity(x0, eps, t)
    torch.testing.assert_close(loss, v.pow(2).flatten(1).mean(1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(captured["x_t"], sched.add_noise(x0, eps, t), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(captured["t"], t.float(), rtol=0, atol=1e-3)


@pytest.mark.parametrize("make", [lambda: EDMPrecond(TinyNet(), sigma_in="auto"), lambda: VPPrecond(TinyNet(), prediction="v")])
def test_training_loss_uses_the_prior_and_is_batch_independent(make):
    precond = make()
    x0 = torch.rand(3, 3, 4, 8, 8) * 2 - 1
    prior = NoisePrior("progressive", 2.0)
    batch = precond.training_loss(x0, prior, sample_generators([1, 2, 3]))
    alone = precond.training_loss(x0[1:2], prior, sample_generators([2]))
    torch.testing.assert_close(batch[1:2], alone, rtol=1e-5, atol=1e-6)
    assert batch.shape == (3,) and torch.isfinite(batch).all()


class FixedOutput(torch.nn.Module):
    """A backbone that returns a fixed tensor (the test sets it), whatever its input."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x, c_noise, **cond):
        return self.out


@pytest.mark.parametrize("make", [lambda b: EDMPrecond(b, sigma_in="auto"), lambda b: VPPrecond(b, prediction="v")])
def test_the_temporal_loss_term_is_the_frame_difference_of_the_error(make):
    backbone = FixedOutput()
    precond = make(backbone)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.rand(2, 3, 5, 4, 4, generator=g) * 2 - 1, torch.randn(2, 3, 5, 4, 4, generator=g)
    sigma = torch.tensor([0.3, 2.0])
    backbone.out = torch.randn(x0.shape, generator=g)
    z = precond.from_data(x0)  # the loss's target, as in Precond.loss
    x = z + sigma[:, None, None, None, None] * noise
    c_skip, c_out, _, _ = precond.scalings(sigma, x)
    target = (z - c_skip[:, None, None, None, None] * x) / c_out[:, None, None, None, None]
    error = backbone.out - target
    expected = error.pow(2).flatten(1).mean(1) + 2.5 * error.diff(dim=2).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(precond.loss(x0, sigma, noise, temporal_weight=2.5), expected, rtol=1e-5, atol=1e-6)
    # An error that is the same in every frame costs nothing extra; images never get the term.
    backbone.out = target + torch.randn(2, 3, 1, 4, 4, generator=g)
    torch.testing.assert_close(precond.loss(x0, sigma, noise, temporal_weight=2.5), precond.loss(x0, sigma, noise))
    backbone.out = torch.zeros(2, 3, 4, 4)
    image = precond.loss(x0[:, :, 0], sigma, noise[:, :, 0])
    torch.testing.assert_close(precond.loss(x0[:, :, 0], sigma, noise[:, :, 0], temporal_weight=2.5), image)
