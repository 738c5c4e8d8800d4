"""Real Stable Diffusion weights from a folder, end to end, on a tiny random SD the test saves:
train latent-shift-sd → export → generate; export --format diffusers loads back in diffusers."""

import json

import pytest
import torch
from typer.testing import CliRunner

from cinediff.cli.main import app
from cinediff.models.loading import load_model
from cinediff.text import load_text_encoder
from cinediff.training.checkpoint import CheckpointError
from cinediff.training.export import export_model
from cinediff.training.config import load_config
from cinediff.training.trainer import train

diffusers = pytest.importorskip("diffusers")


def tiny_sd(root):
    """A diffusers text-to-image folder (unet, vae, text_encoder, tokenizer, scheduler) with random weights."""
    from test_text import _clip_tokenizer
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tokenizer = _clip_tokenizer()
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=1, num_attention_heads=2, bos_token_id=0, eos_token_id=1,
                                        pad_token_id=1))
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=2, cross_attention_dim=32, norm_num_groups=8)
    with torch.no_grad():  # diffusers zero-inits some output layers: make every layer matter
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    vae = diffusers.AutoencoderKL(block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
                                  up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, latent_channels=4,
                                  norm_num_groups=4)
    scheduler = diffusers.DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                        prediction_type="v_prediction")
    for part, module in (("unet", unet), ("vae", vae), ("text_encoder", text), ("tokenizer", tokenizer),
                         ("scheduler", scheduler)):
        module.save_pretrained(root / part)
    (root / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    return root, unet.eval()


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    return tiny_sd(tmp_path_factory.mktemp("sd"))


def test_the_folder_fills_in_the_model(sd):
    folder, unet = sd
    cfg = load_config("latent-shift-sd", [f"model.init_from='{folder}'"])
    model = cfg.model
    assert model.backbone == "unet" and model.formulation == "vp" and model.text_encoder == str(folder)
    assert model.autoencoder == str(folder / "vae") and model.backbone_args["temporal"] == "shift"
    assert model.backbone_args["block_channels"] == [16, 32] and model.backbone_args["text_dim"] == 32
    assert model.formulation_args["prediction"] == "v" and model.formulation_args["beta"] == "scaled_linear"


def test_train_export_generate_and_back_to_diffusers(sd, tmp_path):
    folder, reference = sd
    cfg = load_config("latent-shift-sd", [
        f"model.init_from='{folder}'", "data.args={frames=4, height=16, width=16, length=8}", "data.batch_size=2",
        "train.steps=2", "train.precision='fp32'", f"train.out_dir='{tmp_path / 'run'}'", "train.checkpoint_every=1",
        "model.backbone_args.gradient_checkpointing=false", "train.ema_decay=0.0"])
    from cinediff.training.checkpoint import latest_checkpoint, load_checkpoint
    from cinediff.training.tasks import build_task
    from cinediff.training.trainer import init_weights

    task = build_task(cfg.model)  # before training: the video U-Net is SD's U-Net on every frame
    init_weights(task, cfg.model.init_from, verbose=False)
    x, t, text = torch.randn(2, 4, 3, 8, 8), torch.tensor([3.0, 700.0]), torch.randn(2, 7, 32)
    with torch.no_grad():
        ours = task.denoiser.backbone(x, t, text=text)
        frames = reference(x.permute(0, 2, 1, 3, 4).flatten(0, 1), t.repeat_interleave(3),
                           encoder_hidden_states=text.repeat_interleave(3, 0)).sample
    shifted = not torch.allclose(ours, frames.unflatten(0, (2, 3)).permute(0, 2, 1, 3, 4), atol=1e-5)
    assert shifted  # the temporal shift mixes frames (no new parameters)
    with torch.no_grad():
        torch.testing.assert_close(task.denoiser.backbone(x[:, :, 0], t, text=text),
                                   reference(x[:, :, 0], t, encoder_hidden_states=text).sample, atol=1e-5, rtol=0)
    run = train(cfg)
    assert load_checkpoint(latest_checkpoint(run / "checkpoints"))["state"]["step"] == 2
    exported = export_model(run, tmp_path / "export")
    loaded = load_model(exported)
    assert loaded.shape == (4, 4, 8, 8) and loaded.decoder is not None  # SD's VAE, factor 2 here
    assert json.loads((exported / "config.json").read_text())["model"]["text_encoder"] == "text-encoder"
    prompts = ["a photo of the cat", "two dogs"]  # the export's own copy of SD's CLIP, same pooling and length
    ours, theirs = loaded.text_encoder(prompts), load_text_encoder(folder)(prompts)
    assert loaded.text_encoder.max_length == 77 and loaded.text_encoder.pooling == "pooler"
    torch.testing.assert_close(ours.tokens, theirs.tokens)
    torch.testing.assert_close(ours.pooled, theirs.pooled)
    config = json.loads((exported / "config.json").read_text())
    config["model"]["text_encoder"] = str(folder)  # an export naming a folder elsewhere is not followed
    (exported / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="model.text_encoder .* points outside the folder"):
        load_model(exported)
    assert load_model(exported, allow_outside=True).text_encoder.max_length == 77
    config["model"]["text_encoder"] = "text-encoder"
    (exported / "config.json").write_text(json.dumps(config))
    out = tmp_path / "clip.mp4"
    result = CliRunner().invoke(app, ["generate", "a photo of the cat", "-o", str(out), "--model", str(exported),
                                      "--steps", "2"])
    assert result.exit_code == 0, result.output
    from cinediff.io import read_video

    assert read_video(out).shape == (3, 4, 16, 16)
    result = CliRunner().invoke(app, ["export", str(run), "-o", str(tmp_path / "unet"), "--format", "diffusers"])
    assert result.exit_code == 0, result.output
    back = diffusers.UNet2DConditionModel.from_pretrained(tmp_path / "unet").eval()
    with torch.no_grad():
        torch.testing.assert_close(back(x[:, :, 0], t, encoder_hidden_states=text).sample,
                                   loaded.denoiser.backbone(x[:, :, 0], t, text=text), atol=1e-5, rtol=0)
