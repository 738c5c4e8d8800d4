"""Samplers against diffusers' schedulers on the same model function, and against closed forms."""

import math

import pytest
import torch
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EDMEulerScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
)

from cinediff.diffusion import EDMPrecond, VPPrecond, VPSchedule
from cinediff.noise import NoisePrior, noise_prior
from cinediff.runtime import sample_generators
from cinediff.samplers import (
    ClassifierFreeGuidance,
    karras_sigmas,
    make_sigmas,
    sample,
    sample_ddim,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
    sdedit_sigmas,
    vp_sigmas,
)

SD_BETAS = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)
SHAPE = (2, 3, 4, 8, 8)


def model_fn(x, t):
    """A smooth nonlinear stand-in for a trained network: output depends on the input and on t."""
    t = torch.as_tensor(t, dtype=torch.float32).reshape(-1, *([1] * (x.ndim - 1)))
    return torch.tanh(0.7 * x) * (0.5 + t / 2000) + 0.1 * torch.sin(t / 300) * x.roll(1, dims=-1)


class Backbone(torch.nn.Module):
    def forward(self, x, c_noise, **cond):
        return model_fn(x, c_noise)


def run_diffusers(sched, x, noises=None, **step_kwargs):
    """The standard diffusers loop; returns the final sample."""
    for i, t in enumerate(sched.timesteps):
        out = model_fn(sched.scale_model_input(x, t), t)
        extra = {"variance_noise": noises[i]} if noises is not None else {}
        x = sched.step(out, t, x, **step_kwargs, **extra).prev_sample
    return x


def sequence(noises):
    it = iter(noises)
    return lambda: next(it)


def report(name, ours, theirs):
    err = (ours - theirs).abs().max().item()
    print(f"\n{name}: max abs error vs diffusers = {err:.2e}")
    return err


@pytest.mark.parametrize("spacing", ["leading", "trailing"])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_equals_diffusers(spacing, eta):
    n = 20
    sched = DDIMScheduler(**SD_BETAS, clip_sample=False, set_alpha_to_one=True, timestep_spacing=spacing)
    sched.set_timesteps(n)
    x_T = torch.randn(SHAPE)
    noises = [torch.randn(SHAPE) for _ in range(n)]
    theirs = run_diffusers(sched, x_T, noises, eta=eta)

    denoiser = VPPrecond(Backbone(), VPSchedule(), "eps")
    sigmas = vp_sigmas(denoiser.schedule, n, spacing=spacing)
    x = x_T * (1 + sigmas[0] ** 2).sqrt()  # VP x_T -> VE coordinates
    ours = sample_ddim(denoiser, x, sigmas, eta=eta, noise_sampler=sequence(noises))
    # diffusers passes noise to every step; the last step to σ = 0 scales it by 0, ours skips that draw.
    assert report(f"DDIM {spacing} eta={eta}", ours, theirs) < 1e-4


def test_ddim_final_level_first_equals_diffusers_sd_config():
    """Stable Diffusion's DDIM (set_alpha_to_one=False) stops at σ_0, not at 0."""
    n = 10
    sched = DDIMScheduler(**SD_BETAS, clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    sched.set_timesteps(n)
    x_T = torch.randn(SHAPE)
    theirs = run_diffusers(sched, x_T)
    denoiser = VPPrecond(Backbone(), VPSchedule(), "eps")
    sigmas = vp_sigmas(denoiser.schedule, n, steps_offset=1, final="first")
    ours = sample_ddim(denoiser, x_T * (1 + sigmas[0] ** 2).sqrt(), sigmas)
    assert report("DDIM SD config", ours / (1 + sigmas[-1] ** 2).sqrt(), theirs) < 1e-4


@pytest.mark.parametrize("karras", [False, True])
@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_dpmpp_2m_equals_diffusers(karras, prediction, monkeypatch):
    if karras:
        # With Karras sigmas diffusers rounds the timesteps fed to the model but not the σ used in
        # the update; a model that ignores t isolates the solver from that quirk.
        monkeypatch.setattr(__import__(__name__), "model_fn", lambda x, t: torch.tanh(0.7 * x))
    n = 12
    sched = DPMSolverMultistepScheduler(**SD_BETAS, algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint",
                                        use_karras_sigmas=karras,
                                        prediction_type="epsilon" if prediction == "eps" else "v_prediction")
    sched.set_timesteps(n)
    x_T = torch.randn(SHAPE)
    theirs = run_diffusers(sched, x_T)
    denoiser = VPPrecond(Backbone(), VPSchedule(), prediction)
    sigmas = sched.sigmas.float()
    ours = sample_dpmpp_2m(denoiser, x_T * (1 + sigmas[0] ** 2).sqrt(), sigmas)
    assert report(f"DPM-Solver++(2M) karras={karras} {prediction}", ours, theirs) < 1e-4


@pytest.mark.parametrize("scheduler_cls,ours_fn", [(EulerDiscreteScheduler, sample_euler), (HeunDiscreteScheduler, sample_heun)])
def test_euler_heun_equal_diffusers_with_karras_sigmas(scheduler_cls, ours_fn):
    n = 15
    sched = scheduler_cls(**SD_BETAS, use_karras_sigmas=True)
    sched.set_timesteps(n)
    denoiser = VPPrecond(Backbone(), VPSchedule(), "eps")
    sigmas = karras_sigmas(n, denoiser.sigma_min, denoiser.sigma_max)
    sched_sigmas = sched.sigmas.float().unique_consecutive()
    assert report("karras sigmas", sigmas, sched_sigmas) < 1e-4 * sigmas.max()
    x = torch.randn(SHAPE) * sched.init_noise_sigma
    theirs = run_diffusers(sched, x.clone())
    ours = ours_fn(denoiser, x.clone(), sigmas)
    assert report(scheduler_cls.__name__, ours, theirs) < 1e-4


def test_edm_euler_equals_diffusers_edm_euler():
    n = 18
    sched = EDMEulerScheduler(sigma_min=0.002, sigma_max=80.0, sigma_data=0.5)
    sched.set_timesteps(n)
    denoiser = EDMPrecond(Backbone(), sigma_data=0.5)
    sigmas = karras_sigmas(n, 0.002, 80.0)
    torch.testing.assert_close(sigmas, sched.sigmas.float())
    x = torch.randn(SHAPE) * 80.0
    theirs = run_diffusers(sched, x.clone())
    assert report("EDMEuler", sample_euler(denoiser, x.clone(), sigmas), theirs) < 1e-4


class GaussianDenoiser:
    """Exact D(x; σ) for data ~ N(0, s² I): D = s²/(σ² + s²) x (edm2 toy_example spirit)."""

    def __init__(self, std):
        self.std = std

    def __call__(self, x, sigma, **cond):
        sigma = sigma.reshape(-1, *([1] * (x.ndim - 1)))
        return self.std**2 / (sigma**2 + self.std**2) * x


@pytest.mark.parametrize("name,fn,steps", [("euler", sample_euler, 800), ("heun", sample_heun, 80),
                                           ("ddim", sample_ddim, 800), ("dpmpp_2m", sample_dpmpp_2m, 80)])
def test_deterministic_samplers_solve_the_gaussian_flow(name, fn, steps):
    """The probability-flow ODE of N(0, s²) data has x(σ) = x(σ_max) sqrt(σ² + s²)/sqrt(σ_max² + s²)."""
    std, sigma_max = 0.5, 80.0
    x_T = torch.randn(4, 3, 2, 4, 4) * sigma_max
    sigmas = karras_sigmas(steps, 0.002, sigma_max)
    exact = x_T * std / math.sqrt(sigma_max**2 + std**2)
    err = ((fn(GaussianDenoiser(std), x_T, sigmas) - exact).abs().max() / exact.abs().max()).item()
    print(f"\n{name}: max relative error vs exact ODE solution = {err:.2e}")
    assert err < 5e-3


def test_heun_is_second_order():
    std, x_T = 0.5, torch.randn(2, 3, 4, 4) * 80
    exact = x_T * std / math.sqrt(80**2 + std**2)
    errs = [(sample_heun(GaussianDenoiser(std), x_T, karras_sigmas(n, 0.002, 80)) - exact).abs().max() for n in (20, 40)]
    euler = (sample_euler(GaussianDenoiser(std), x_T, karras_sigmas(40, 0.002, 80)) - exact).abs().max()
    assert errs[1] < errs[0] / 3 and errs[1] < euler / 4


@pytest.mark.parametrize("sampler,kwargs", [("heun", {"S_churn": 40.0}), ("ddim", {"eta": 1.0}), ("euler", {"S_churn": 20.0})])
def test_stochastic_samplers_reach_the_data_distribution(sampler, kwargs):
    """Stochastic steps are first order: the sample std converges to the data std as steps grow."""
    std = 0.5
    errors = []
    for steps in (30, 240):
        out = sample(GaussianDenoiser(std), (256, 3, 2, 8, 8), karras_sigmas(steps, 0.002, 80), sampler=sampler, **kwargs,
                     generators=sample_generators(0, 256))
        errors.append(abs(out.std().item() - std))
        assert abs(out.mean().item()) < 0.01
    assert errors[1] < 0.02 and errors[1] < errors[0] / 2, errors


def test_sampler_output_is_in_data_scale_with_sigma_in():
    """Data of std σ_data in data scale; diffusion runs on x/σ_in (std σ_data/σ_in). With the exact
    (zero-backbone) Gaussian denoiser, samples must come back with std σ_data, not σ_data/σ_in."""
    class Zero(torch.nn.Module):
        def forward(self, x, c_noise, **cond):
            return torch.zeros_like(x)

    denoiser = EDMPrecond(Zero(), sigma_data=0.5, sigma_in="auto")  # 16 frames at 16x16, base 16 -> σ_in = 4
    denoiser.base_resolution = (16, 16)
    out = sample(denoiser, (16, 3, 16, 16, 16), karras_sigmas(64, 0.002, 80), sampler="heun", generators=sample_generators(0, 16))
    assert abs(out.std().item() - 0.5) < 0.01


@pytest.mark.parametrize("sampler,kwargs", [("ddim", {"eta": 1.0}), ("heun", {"S_churn": 10.0}), ("dpmpp_2m", {})])
@pytest.mark.parametrize("kind", ["iid", "mixed", "progressive"])
def test_same_seed_same_video_whatever_the_batch(sampler, kwargs, kind):
    denoiser = EDMPrecond(Backbone(), sigma_in="auto")
    sigmas, prior = karras_sigmas(6, 0.002, 80), noise_prior(kind)
    batch = sample(denoiser, (3, 3, 4, 8, 8), sigmas, sampler, prior, sample_generators([10, 20, 30]), **kwargs)
    alone = sample(denoiser, (1, 3, 4, 8, 8), sigmas, sampler, prior, sample_generators([20]), **kwargs)
    torch.testing.assert_close(batch[1:2], alone, rtol=1e-5, atol=1e-5)
    other = sample(denoiser, (1, 3, 4, 8, 8), sigmas, sampler, prior, sample_generators([21]), **kwargs)
    assert not torch.allclose(other, alone)


def test_stochastic_steps_draw_from_the_prior():
    """DDIM η=1 with the mixed prior: the fresh noise of every step is correlated across frames."""
    drawn = []
    prior = NoisePrior("mixed", 3.0)

    def recording_denoiser(x, sigma, **cond):
        return torch.zeros_like(x)

    x = torch.zeros(8, 1, 4, 16, 16)
    from cinediff.noise import noise_sampler
    draw = noise_sampler(prior, x, sample_generators(0, 8))
    sample_ddim(recording_denoiser, x, karras_sigmas(4, 0.1, 10), eta=1.0, noise_sampler=lambda: drawn.append(draw()) or drawn[-1])
    frames = drawn[0].permute(2, 0, 1, 3, 4).reshape(4, -1)
    assert len(drawn) == 3 and abs(torch.corrcoef(frames)[0, 3].item() - 0.9) < 0.05


def test_classifier_free_guidance():
    calls = []

    def denoiser(x, sigma, text=None, fps=None):
        calls.append(x.shape[0])
        return x * 0 + text.mean(dim=(1, 2)).reshape(-1, 1, 1, 1, 1) + fps

    cond, uncond = torch.full((2, 5, 4), 2.0), torch.full((2, 5, 4), -1.0)
    x, sigma = torch.zeros(2, 3, 2, 4, 4), torch.ones(2)
    guided = ClassifierFreeGuidance(denoiser, 7.5, {"text": uncond})(x, sigma, text=cond, fps=8.0)
    torch.testing.assert_close(guided, torch.full_like(x, 8.0 - 1.0 + 7.5 * 3.0))
    assert calls == [4]  # both branches in one batched forward
    plain = ClassifierFreeGuidance(denoiser, 1.0, {"text": uncond})(x, sigma, text=cond, fps=8.0)
    torch.testing.assert_close(plain, torch.full_like(x, 10.0))


def test_schedules():
    vp = VPPrecond(Backbone())
    k = make_sigmas(vp, 10)
    assert k.shape == (11,) and k[-1] == 0 and k[0] == pytest.approx(vp.sigma_max) and torch.all(k[:-1] > k[1:])
    u = make_sigmas(vp, 10, "uniform")
    assert u.shape == (11,) and u[0] == pytest.approx(vp.sigma_max, rel=1e-6)
    with pytest.raises(ValueError, match="VP model"):
        make_sigmas(EDMPrecond(Backbone()), 10, "uniform")
    with pytest.raises(ValueError, match="unknown sampler"):
        sample(vp, (1, 3, 4, 4), k, sampler="plms")


def diffusers_img2img_timesteps(sched, n, strength):
    """diffusers' ``StableDiffusionImg2ImgPipeline.get_timesteps`` (copied: importing the pipeline takes ~10 s)."""
    init_timestep = min(int(n * strength), n)
    t_start = max(n - init_timestep, 0)
    return sched.timesteps[t_start * sched.order:]


@pytest.mark.parametrize("n,strength", [(20, 0.3), (20, 0.75), (7, 0.5), (10, 1.0)])
def test_sdedit_equals_diffusers_img2img(n, strength):
    """DDIM img2img: noise the init to the first kept timestep (``add_noise``), denoise the rest."""
    sched = DDIMScheduler(**SD_BETAS, clip_sample=False, set_alpha_to_one=True)
    sched.set_timesteps(n)
    timesteps = diffusers_img2img_timesteps(sched, n, strength)
    init, noise = torch.randn(SHAPE) * 0.5, NoisePrior()(SHAPE, sample_generators([1, 2]))
    x = sched.add_noise(init, noise, timesteps[:1])
    for t in timesteps:
        x = sched.step(model_fn(x, t), t, x).prev_sample

    denoiser = VPPrecond(Backbone(), VPSchedule(), "eps")
    sigmas = sdedit_sigmas(vp_sigmas(denoiser.schedule, n), strength)
    assert torch.equal(denoiser.schedule.sigma_to_t(sigmas[:-1]).round().long(), timesteps)
    ours = sample(denoiser, SHAPE, sigmas, "ddim", generators=sample_generators([1, 2]), init=init)
    assert report(f"img2img n={n} strength={strength}", ours, x) < 1e-4


def test_sdedit_sigmas_and_start():
    sigmas = karras_sigmas(10, 0.002, 80)
    assert torch.equal(sdedit_sigmas(sigmas, 1.0), sigmas) and torch.equal(sdedit_sigmas(sigmas, 0.0), sigmas[-1:])
    assert torch.equal(sdedit_sigmas(sigmas, 0.25), sigmas[-3:])  # int(10 · 0.25) = 2 steps
    with pytest.raises(ValueError, match="strength"):
        sdedit_sigmas(sigmas, 1.5)
    init = torch.rand(2, 3, 4, 8, 8) * 2 - 1
    low = sample(GaussianDenoiser(0.5), init.shape, sdedit_sigmas(sigmas, 0.1), "heun", init=init,
                 generators=sample_generators([0, 1]))
    assert (low - init).abs().max() < 0.01  # one step from σ = 0.002: the init, barely denoised
