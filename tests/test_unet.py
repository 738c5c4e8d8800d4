"""2D latent U-Net: diffusers oracle equality, frame folding, inflation, extra conditioning."""

from dataclasses import replace

import pytest
import torch

from cinediff.backbones.unet import pooled_text, UNet, UNetConfig, inflate_unet

TINY = UNetConfig(block_channels=(32, 64), attention_levels=(False, True), heads=2, text_dim=16, norm_groups=8)


def seeded(config: UNetConfig, seed: int = 0) -> UNet:
    """A tiny U-Net with every parameter random (so zero-initialised layers are exercised too)."""
    torch.manual_seed(seed)
    model = UNet(config)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return model.eval()


def inputs(b=2, t=3, size=16, channels=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, channels, t, size, size, generator=g)
    text = torch.randn(b, 5, 16, generator=g)
    return x, torch.rand(b, generator=g) * 999, text


# ---------------------------------------------------------------- diffusers oracle

@pytest.fixture(scope="module", params=[False, True], ids=["conv_proj", "linear_proj"])
def diffusers_pair(request, tmp_path_factory):
    """A random diffusers UNet2DConditionModel and our UNet loaded from its save_pretrained folder."""
    diffusers = pytest.importorskip("diffusers.models.unets.unet_2d_condition")
    torch.manual_seed(0)
    reference = diffusers.UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=3, block_out_channels=(32, 48, 64), layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=(2, 3, 4), cross_attention_dim=16, norm_num_groups=8,
        use_linear_projection=request.param,
    )
    with torch.no_grad():  # non-trivial values everywhere (diffusers zero-inits some output layers)
        for p in reference.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    path = tmp_path_factory.mktemp("unet")
    reference.save_pretrained(path)
    return reference.eval(), UNet.from_diffusers(path).eval()


def test_from_diffusers_keys_and_images(diffusers_pair):
    reference, ours = diffusers_pair
    assert set(ours.state_dict()) == set(reference.state_dict())
    x, c_noise, text = inputs(b=2, t=1)
    with torch.no_grad():
        expected = reference(x[:, :, 0], c_noise, encoder_hidden_states=text).sample
        got = ours(x[:, :, 0], c_noise, text=text)
    assert got.shape == (2, 3, 16, 16)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_from_diffusers_video_folds_frames(diffusers_pair):
    reference, ours = diffusers_pair
    x, c_noise, text = inputs(b=2, t=3)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    with torch.no_grad():
        frames = x.permute(0, 2, 1, 3, 4).flatten(0, 1)  # (B*T, C, H, W)
        expected = reference(
            frames, c_noise.repeat_interleave(3), encoder_hidden_states=text.repeat_interleave(3, 0),
            encoder_attention_mask=mask.repeat_interleave(3, 0),
        ).sample
        got = ours(x, c_noise, text=text, text_mask=mask)
    expected = expected.unflatten(0, (2, 3)).permute(0, 2, 1, 3, 4)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_from_diffusers_shift_overrides_load_strictly(diffusers_pair, tmp_path):
    reference, _ = diffusers_pair
    reference.save_pretrained(tmp_path)
    shifted = UNet.from_diffusers(tmp_path, temporal="shift").eval()
    assert set(shifted.state_dict()) == set(reference.state_dict())


def test_from_diffusers_rejects_unsupported(tmp_path):
    diffusers = pytest.importorskip("diffusers.models.unets.unet_2d_condition")
    reference = diffusers.UNet2DConditionModel(
        block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16, norm_num_groups=8,
        attention_head_dim=2, layers_per_block=1, class_embed_type="timestep",
    )
    reference.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="class_embed_type"):
        UNet.from_diffusers(tmp_path)


# ---------------------------------------------------------------- frames and temporal mixers

@pytest.mark.parametrize("temporal", ["shift", "attention"])
def test_single_frame_equals_image_model_exactly(temporal):
    image = seeded(TINY)
    video = UNet(replace(TINY, temporal=temporal)).eval()
    video.load_state_dict(image.state_dict(), strict=temporal == "shift")
    if temporal == "attention":  # trained-looking temporal weights: still skipped at T = 1
        with torch.no_grad():
            for name, p in video.named_parameters():
                if ".temporal." in name:
                    p.copy_(torch.randn_like(p))
    x, c_noise, text = inputs(t=1)
    with torch.no_grad():
        expected = image(x[:, :, 0], c_noise, text=text)
        assert torch.equal(video(x, c_noise, text=text)[:, :, 0], expected)
        assert torch.equal(video(x[:, :, 0], c_noise, text=text), expected)


def test_none_processes_frames_independently_and_shift_mixes():
    image = seeded(TINY)
    shift = UNet(replace(TINY, temporal="shift")).eval()
    shift.load_state_dict(image.state_dict())
    x, c_noise, text = inputs(t=4)
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        out = image(x, c_noise, text=text)
        torch.testing.assert_close(image(x[:, :, perm], c_noise, text=text), out[:, :, perm], atol=1e-5, rtol=0)
        frame0 = image(x[:, :, 0], c_noise, text=text)
        torch.testing.assert_close(out[:, :, 0], frame0, atol=1e-5, rtol=0)
        assert (shift(x, c_noise, text=text) - out).abs().max() > 1e-3


def test_shift_adds_no_parameters():
    none, shift = UNet(TINY), UNet(replace(TINY, temporal="shift"))
    assert list(none.state_dict()) == list(shift.state_dict())
    assert sum(p.numel() for p in none.parameters()) == sum(p.numel() for p in shift.parameters())
    _, new_keys = inflate_unet(none, temporal="shift")
    assert new_keys == []


def test_attention_inflation_starts_as_image_model():
    image = seeded(TINY)
    video, new_keys = inflate_unet(image, temporal="attention")
    assert new_keys and all(".temporal." in k for k in new_keys)
    assert set(video.state_dict()) - set(image.state_dict()) == set(new_keys)
    x, c_noise, text = inputs(t=3)
    with torch.no_grad():
        torch.testing.assert_close(video.eval()(x, c_noise, text=text), image(x, c_noise, text=text), atol=0, rtol=0)


def test_inflation_rejects_foreign_checkpoint():
    state = UNet(TINY).state_dict()
    state["down_blocks.0.resnets.0.extra.weight"] = torch.zeros(1)
    with pytest.raises(KeyError, match="unexpected"):
        UNet(TINY).load_image_weights(state)


# ---------------------------------------------------------------- shapes, errors, conditioning

def test_shapes_and_size_check():
    model = UNet(TINY)
    x, c_noise, text = inputs(b=2, t=2)
    assert model(x, c_noise, text=text).shape == x.shape
    assert model(x[:, :, 0], c_noise).shape == (2, 4, 16, 16)  # text=None: cross-attention skipped
    with pytest.raises(ValueError, match="downsampling factor 2"):
        model(torch.randn(1, 4, 2, 16, 15), c_noise[:1])


def test_runs_as_a_backbone_of_the_vp_denoiser():
    from cinediff.diffusion.vp import VPPrecond

    denoiser = VPPrecond(UNet(replace(TINY, temporal="shift")))
    x, _, text = inputs(b=2, t=3)
    assert denoiser(x, torch.tensor([0.5, 3.0]), text=text, text_mask=torch.ones(2, 5, dtype=torch.bool)).shape == x.shape


@pytest.mark.parametrize("temporal", ["shift", "attention"])
def test_backward_with_gradient_checkpointing(temporal):
    config = replace(TINY, temporal=temporal)
    x, c_noise, text = inputs(b=1, t=2)
    grads = []
    for checkpointing in (False, True):
        model = seeded(replace(config, gradient_checkpointing=checkpointing)).train()
        model(x, c_noise, text=text).square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=1e-5)


def test_fps_resolution_and_cond_frames_start_as_no_ops():
    image = seeded(TINY)
    extra, new_keys = inflate_unet(image, fps_embedding=True, resolution_embedding=True, cond_channels=3)
    assert {k.split(".")[0] for k in new_keys} == {"fps_embedding", "height_embedding", "width_embedding"}
    x, c_noise, text = inputs(t=2)
    cond = torch.randn(2, 3, 2, 16, 16)
    with torch.no_grad():
        expected = image(x, c_noise, text=text)
        got = extra(x, c_noise, text=text, fps=torch.tensor([8.0, 24.0]), cond_frames=cond)
        torch.testing.assert_close(got, expected, atol=0, rtol=0)
        trained = seeded(extra.config)  # once trained, fps, size and cond frames matter
        a = trained(x, c_noise, text=text, fps=torch.tensor([8.0, 24.0]), cond_frames=cond)
        b = trained(x, c_noise, text=text, fps=torch.tensor([4.0, 24.0]), cond_frames=cond)
        c = trained(x, c_noise, text=text, fps=torch.tensor([8.0, 24.0]), cond_frames=cond * 0)
    assert (a - b)[0].abs().max() > 1e-4 and torch.equal(a[1], b[1])
    assert (a - c).abs().max() > 1e-4
    with pytest.raises(ValueError, match="fps"):
        trained(x, c_noise, cond_frames=cond)
    with pytest.raises(ValueError, match="cond_channels=3"):
        trained(x, c_noise, fps=torch.tensor([8.0, 24.0]))


def test_space_to_depth_stem_works_on_pixels_and_checks_sizes():
    """patch_size = p: the levels run at H/p; the output is pixel-shuffled back to the input's size."""
    cfg = replace(TINY, in_channels=3, out_channels=3, patch_size=2)
    model = seeded(cfg)
    assert model.conv_in.in_channels == 12 and model.conv_out.out_channels == 12
    x, c, text = inputs(channels=3, size=8)
    out = model(x, c, text)
    assert out.shape == x.shape
    # The stem is a lossless reshuffle: moving one input pixel inside its 2x2 block changes the output.
    moved = x.clone()
    moved[..., 0, 0], moved[..., 0, 1] = x[..., 0, 1], x[..., 0, 0]
    assert not torch.allclose(model(moved, c, text), out)
    with pytest.raises(ValueError, match="divisible by the downsampling factor 4"):
        model(inputs(channels=3, size=6)[0], c, text)


def test_frame_embedding_starts_as_a_no_op_and_tells_frames_apart():
    base = seeded(replace(TINY, temporal="none"))
    model = UNet(replace(TINY, temporal="none", frame_embedding=True)).eval()
    missing = model.load_state_dict(base.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("frame_embedding.") for k in missing)
    x, c, text = inputs(t=4)
    same = x[:, :, :1].expand(-1, -1, 4, -1, -1).contiguous()  # one frame repeated
    torch.testing.assert_close(model(same, c, text), base(same, c, text))  # zero-init: the image model per frame
    with torch.no_grad():
        model.frame_embedding.linear_2.weight.normal_(0, 0.2)
    out = model(same, c, text)
    assert not torch.allclose(out[:, :, 0], out[:, :, 3])  # frames know their index
    torch.testing.assert_close(model(x[:, :, 0], c, text), base(x[:, :, 0], c, text))  # images unchanged


def test_text_embedding_starts_as_a_no_op_and_is_an_mlp_of_the_masked_mean():
    base = seeded(TINY)
    model = UNet(replace(TINY, text_embedding=True)).eval()
    missing = model.load_image_weights(base.state_dict())
    assert missing and all(k.startswith("text_embedding.") for k in missing)
    x, c, text = inputs()
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    torch.testing.assert_close(model(x, c, text, mask), base(x, c, text, mask))  # zero-init: unchanged
    with torch.no_grad():
        model.text_embedding.linear_2.weight.normal_(0, 0.2)
    pooled = torch.stack([text[0].mean(0), text[1, :3].mean(0)])
    mlp = model.text_embedding
    expected = mlp.linear_2(torch.nn.functional.silu(mlp.linear_1(pooled)))
    torch.testing.assert_close(model.embed_text(pooled_text(text, mask)), expected)
    padded = text.clone()
    padded[1, 3:] = 100.0  # masked tokens change neither the pooled state nor cross-attention
    torch.testing.assert_close(model(x, c, padded, mask), model(x, c, text, mask))
    assert not torch.allclose(model(x, c, text, mask), base(x, c, text, mask))  # the prompt now reaches every block
    other = text.clone()
    other[0, 1] += 1.0  # one token's state changes the global condition
    assert not torch.allclose(model.embed_text(pooled_text(other, mask))[0], model.embed_text(pooled_text(text, mask))[0])


def test_frame_text_embedding_ties_the_prompt_to_the_frame_index():
    base = seeded(TINY)
    model = UNet(replace(TINY, frame_text_embedding=True)).eval()
    missing = model.load_image_weights(base.state_dict())
    assert missing and all(k.startswith("frame_text_embedding.") for k in missing)
    x, c, text = inputs(t=3)
    torch.testing.assert_close(model(x, c, text), base(x, c, text))  # zero-init: unchanged
    with torch.no_grad():
        model.frame_text_embedding.linear_2.weight.normal_(0, 0.2)
    torch.testing.assert_close(model(x[:, :, 0], c, text), base(x[:, :, 0], c, text))  # images: none
    assert not torch.allclose(model(x, c, text), base(x, c, text))
    pooled = pooled_text(text, None)  # (2, D): prompts a, b
    temb = torch.zeros(2, model.frame_text_embedding.linear_2.out_features)
    added = model.frame_temb(temb, 3, pooled).unflatten(0, (2, 3))  # (prompt, frame, D)
    # not a sum g(prompt) + h(frame): the prompt changes how the frames differ
    assert not torch.allclose(added[0, 0] - added[0, 2], added[1, 0] - added[1, 2], atol=1e-4)


def test_clip_positions_run_from_minus_one_to_one_smoothly():
    from cinediff.backbones.embeddings import clip_positions

    features = clip_positions(5)
    assert features.shape == (5, 8)
    torch.testing.assert_close(features[:, 0], torch.ones(5))
    torch.testing.assert_close(features[:, 1], torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    torch.testing.assert_close(features[:, 2], torch.sin(torch.pi * features[:, 1] / 2))  # k = 1 sine
    torch.testing.assert_close(features[:, 7], torch.cos(3 * torch.pi * features[:, 1] / 2))  # k = 3 cosine
    assert clip_positions(1)[0, 1] == 0.0


def test_frame_text_product_is_a_no_op_at_first_then_a_bilinear_prompt_x_frame_term():
    from cinediff.backbones.embeddings import clip_positions

    base = seeded(TINY)
    model = UNet(replace(TINY, frame_text_product=True)).eval()
    missing = model.load_image_weights(base.state_dict())
    assert missing and all(k.startswith("frame_text_product.") for k in missing)
    x, c, text = inputs(t=3)
    torch.testing.assert_close(model(x, c, text), base(x, c, text))  # zero-init output: unchanged
    product = model.frame_text_product
    with torch.no_grad():
        product.out.weight.normal_(0, 0.2)
    torch.testing.assert_close(model(x[:, :, 0], c, text), base(x[:, :, 0], c, text))  # images: none
    assert not torch.allclose(model(x, c, text), base(x, c, text))
    pooled = pooled_text(text, None)  # (2, D)
    added = product(text, None, 3).unflatten(0, (2, 3))  # (clip, frame, D_temb), the U-Net's (b t) order
    normed = torch.nn.functional.layer_norm(pooled, pooled.shape[-1:])
    expected = product.out((product.text(normed)[:, None] * product.frame(clip_positions(3))[None]).flatten(0, 1))
    torch.testing.assert_close(added.flatten(0, 1), expected)
    # bilinear: with the biases off, prompt b's term is the negative of prompt a's when its features are
    with torch.no_grad():
        product.text.bias.zero_(), product.frame.bias.zero_(), product.out.bias.zero_()
    torch.testing.assert_close(product(-text, None, 3), -product(text, None, 3))


def test_frame_text_attention_pools_the_mean_at_first_then_reads_the_tokens_its_query_picks():
    from cinediff.backbones.embeddings import FrameTextProduct

    product = FrameTextProduct(16, 8, attention_pooling=True)
    _, _, text = inputs(t=3)  # (2, 5, 16)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    torch.testing.assert_close(product.pool(text, mask), pooled_text(text, mask))  # zero query: the masked mean
    with torch.no_grad():
        product.query.copy_(100 * text[1, 2])  # a query aligned with clip 1's third token
    assert torch.allclose(product.pool(text, mask)[1], text[1, 2], atol=1e-3)
    text[1, 4] = 100 * text[1, 2]  # a masked token, however loud, is never read
    assert torch.allclose(product.pool(text, mask)[1], text[1, 2], atol=1e-3)
    # scores in layer-normed units: a unit-norm query along one token's normalised state gives it
    # most of the weight at MiniLM's width (with raw q·k/√D it would get ~e/(e + 7) ≈ 0.28)
    product = FrameTextProduct(384, 8, attention_pooling=True)
    tokens = torch.randn(1, 8, 384, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        product.query.copy_(torch.nn.functional.normalize(product.norm(tokens[0, 3]), dim=0))
    weights = torch.linalg.lstsq(tokens[0].T, product.pool(tokens, None)[0]).solution  # the pooling's weights
    assert weights[3] > 0.9 and weights.sum().item() == pytest.approx(1.0, abs=1e-4)
    model = UNet(replace(TINY, frame_text_product=True, frame_text_attention=True)).eval()
    assert model.frame_text_product.query.shape == (16,) and model(*inputs(t=3)).shape == (2, 4, 3, 16, 16)


def test_spacetime_attention_relates_frames_and_leaves_images_alone():
    base = seeded(TINY)
    model = UNet(replace(TINY, spacetime_attention=True)).eval()
    model.load_state_dict(base.state_dict())  # same parameters
    x, c, text = inputs(t=3)
    out = model(x, c, text)
    assert out.shape == x.shape
    torch.testing.assert_close(model(x[:, :, 0], c, text), base(x[:, :, 0], c, text))  # images: same function
    torch.testing.assert_close(model(x[:, :, :1], c, text), base(x[:, :, :1], c, text))  # one frame: same
    assert not torch.allclose(out, base(x, c, text), atol=1e-4)  # frames now see each other ("none" mixers)
    changed = x.clone()
    changed[:, :, 2] += 1.0  # frame 2 changes frame 0's output only through the joint attention
    assert not torch.allclose(model(changed, c, text)[:, :, 0], out[:, :, 0])
    torch.testing.assert_close(base(changed, c, text)[:, :, 0], base(x, c, text)[:, :, 0])
    # the batch stays separate: clip 1's frames do not reach clip 0
    other = x.clone()
    other[1] += 1.0
    torch.testing.assert_close(model(other, c, text)[0], out[0])


def test_save_diffusers_loads_in_diffusers_and_computes_the_same_function(tmp_path):
    diffusers = pytest.importorskip("diffusers.models.unets.unet_2d_condition")
    from cinediff.backbones.unet import save_diffusers

    config = replace(TINY, in_channels=4, out_channels=3, heads=(2, 4), temporal="attention", frame_embedding=True,
                     spacetime_attention=True, temporal_head_dim=16)
    video_unet = seeded(config)  # temporal layers and the frame embedding act on videos only: left out
    save_diffusers(video_unet, tmp_path / "unet", sample_size=16)
    reference = diffusers.UNet2DConditionModel.from_pretrained(tmp_path / "unet").eval()
    x, c_noise, text = inputs(b=2, t=1)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    with torch.no_grad():
        expected = reference(x[:, :, 0], c_noise, encoder_hidden_states=text, encoder_attention_mask=mask).sample
        got = video_unet(x[:, :, 0], c_noise, text=text, text_mask=mask)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    back = UNet.from_diffusers(tmp_path / "unet").eval()  # and back: the same image model
    torch.testing.assert_close(back(x[:, :, 0], c_noise, text=text, text_mask=mask), got)
    with pytest.raises(ValueError, match="cannot express.*patch_size"):
        save_diffusers(UNet(replace(TINY, patch_size=2)), tmp_path / "no")


def test_coordinate_channels_are_the_pixels_place_and_time_and_start_as_a_no_op():
    """coord_channels: (t, y, x) each from -1 to 1 appended after x (t = 0 for images); an image
    U-Net loaded into one computes the same (the new conv_in inputs are zero-filled)."""
    model = seeded(replace(TINY, coord_channels=True))
    x = torch.randn(2, 4, 3, 8, 16)
    grid = model.with_coordinates(x)
    assert grid.shape == (2, 7, 3, 8, 16) and torch.equal(grid[:, :4], x)
    torch.testing.assert_close(grid[0, 4, :, 0, 0], torch.tensor([-1.0, 0.0, 1.0]))  # t
    torch.testing.assert_close(grid[1, 5, 2, :, 3], torch.linspace(-1, 1, 8))  # y
    torch.testing.assert_close(grid[0, 6, 1, 5], torch.linspace(-1, 1, 16))  # x
    assert torch.equal(model.with_coordinates(x[:, :, :1])[:, 4], torch.zeros(2, 1, 8, 16))  # an image: t = 0
    plain = seeded(TINY)
    model.load_image_weights(plain.state_dict())
    x, c_noise, text = inputs(t=2)
    with torch.no_grad():
        torch.testing.assert_close(model(x, c_noise, text=text), plain(x, c_noise, text=text), atol=0, rtol=0)
        trained = seeded(model.config)  # once trained, the coordinates reach the output
        before = trained(x, c_noise, text=text)
        trained.conv_in.weight[:, 4:] = 0
        assert (trained(x, c_noise, text=text) - before).abs().max() > 1e-4


def test_frame_text_heads_start_as_the_one_head_model_and_add_their_own_pooled_prompts():
    from cinediff.backbones.embeddings import FrameTextProduct, clip_positions

    one = seeded(replace(TINY, frame_text_product=True, frame_text_attention=True))
    with torch.no_grad():
        one.frame_text_product.out.weight.normal_(0, 0.2)
        one.frame_text_product.query.normal_(0, 0.1)
    three = UNet(replace(one.config, frame_text_heads=3)).eval()
    missing, unexpected = three.load_state_dict(one.state_dict(), strict=False)  # a one-head run loads unchanged
    assert not unexpected and sorted(missing) == ["frame_text_product.change.weight", "frame_text_product.extra_queries",
                                                  "frame_text_product.extra_text.weight"]
    x, c, text = inputs(t=3)
    torch.testing.assert_close(three(x, c, text), one(x, c, text))  # zero-initialised extra projection: same model
    product = three.frame_text_product
    assert product.extra_queries.shape == (2, 16) and not torch.allclose(product.extra_queries[0], product.extra_queries[1])
    with torch.no_grad():
        product.extra_text.weight.normal_(0, 0.2)
    assert not torch.allclose(three(x, c, text), one(x, c, text))
    # the extra heads' pooled prompts (each by its own query) times the centred frame positions
    tokens = text.float()
    extra = torch.cat([product.norm(product.pool(tokens, None, q)) for q in product.extra_queries], dim=-1)
    positions = clip_positions(3)
    first = product.text(product.norm(product.pool(tokens, None)))[:, None] * product.frame(positions)[None]
    change = (extra @ product.extra_text.weight.T)[:, None] * product.change(positions - positions.mean(0))[None]
    torch.testing.assert_close(product(tokens, None, 3), product.out((first + change).flatten(0, 1)))
    # that term averages to zero over a clip: what the extra heads read only moves things over time
    with torch.no_grad():
        product.out.bias.zero_()
        product.text.weight.zero_(), product.text.bias.zero_()
    per_clip = product(tokens, None, 3).unflatten(0, (2, 3)).mean(1)
    torch.testing.assert_close(per_clip, torch.zeros_like(per_clip))
    assert product(tokens, None, 3).abs().max() > 1e-3
    with pytest.raises(ValueError, match="frame_text_heads"):
        FrameTextProduct(16, 8, heads=2)  # more heads need the attention pooling


def test_frame_text_cross_starts_as_a_no_op_then_adds_what_the_cross_attention_reads_times_the_frame():
    from einops import rearrange

    from cinediff.backbones.attention import Attention, FrameValueAttention
    from cinediff.backbones.embeddings import clip_positions

    plain = seeded(replace(TINY, frame_text_product=True))
    framed = UNet(replace(plain.config, frame_text_cross=True)).eval()
    missing, unexpected = framed.load_state_dict(plain.state_dict(), strict=False)  # an earlier stage loads unchanged
    assert not unexpected and missing and all(".attn2.frame_" in k for k in missing)
    x, c, text = inputs(t=3)
    torch.testing.assert_close(framed(x, c, text), plain(x, c, text))  # zero-initialised output: same model

    torch.manual_seed(0)
    attention = FrameValueAttention(8, 16, heads=2, head_dim=4, frame_head_dim=3)
    with torch.no_grad():
        attention.frame_out.weight.normal_(0, 0.5)
    plain_attention = Attention(8, 16, heads=2, head_dim=4)
    plain_attention.load_state_dict(attention.state_dict(), strict=False)
    h, tokens = torch.randn(2 * 3, 5, 8), torch.randn(2 * 3, 4, 16)  # (B·T, N, dim), per-frame context
    mask = torch.tensor([[1, 1, 0, 0]] * 3 + [[1, 1, 1, 1]] * 3, dtype=torch.bool)
    # the stated formula: the same attention weights A, applied to the frame values, times the frame position
    q = rearrange(attention.to_q(h), "n p (k d) -> n k p d", k=2)
    k = rearrange(attention.to_k(tokens), "n l (k d) -> n k l d", k=2)
    weights = (q @ k.transpose(-1, -2) / 2.0).masked_fill(~mask[:, None, None], float("-inf")).softmax(-1)
    read = rearrange(weights @ rearrange(attention.frame_value(tokens), "n l (k d) -> n k l d", k=2), "n k p d -> n p (k d)")
    position = attention.frame_position(clip_positions(3)).repeat(2, 1)[:, None]
    expected = plain_attention(h, tokens, mask) + attention.frame_out(read * position)
    torch.testing.assert_close(attention(h, tokens, mask, num_frames=3), expected)
    # per pixel: unlike FrameTextProduct (one vector per frame), tokens that read other words get other terms
    extra = attention(h, tokens, mask, num_frames=3) - plain_attention(h, tokens, mask)
    assert (extra[:, 0] - extra[:, 1]).abs().max() > 1e-3
    # masked words are not read; images (one frame) get the plain attention
    changed = tokens.clone()
    changed[:3, 2:] = 100.0
    torch.testing.assert_close(attention(h, changed, mask, num_frames=3)[:3], attention(h, tokens, mask, num_frames=3)[:3])
    torch.testing.assert_close(attention(h, tokens, mask), plain_attention(h, tokens, mask))
    with pytest.raises(ValueError, match="frame_text_cross"):
        UNetConfig(frame_text_cross=True, spacetime_attention=True)


def test_token_embedding_starts_as_a_no_op_then_adds_a_learned_row_per_id_and_unused_ids_stay_zero():
    """TokenEmbedding: tokens + gain · proj(table[ids]); the table starts at zero (the model loads unchanged),
    a training step moves only the rows of ids in the batch, and the model refuses states without ids."""
    base = seeded(TINY)
    model = UNet(replace(TINY, token_embedding=50, token_embedding_rank=4,
                          token_embedding_gain=3.0)).eval()
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and sorted(missing) == ["token_embedding.proj.weight", "token_embedding.table.weight"]
    x, c, text = inputs(t=3)
    ids = torch.tensor([[1, 7, 9, 2, 0], [1, 8, 9, 2, 0]])  # two prompts that differ in one word (id 7 vs 8)
    torch.testing.assert_close(model(x, c, text, text_ids=ids), base(x, c, text))
    with pytest.raises(ValueError, match="text_ids"):
        model(x, c, text)
    with pytest.raises(ValueError, match="do not match"):
        model(x, c, text, text_ids=ids[:, :3])
    optimizer = torch.optim.Adam(model.token_embedding.parameters(), lr=1e-2)
    model.train()
    model(x, c, text, text_ids=ids).square().mean().backward()
    optimizer.step()
    table = model.token_embedding.table.weight.detach()
    moved = {i for i in range(50) if table[i].abs().sum() > 0}
    assert moved == {0, 1, 2, 7, 8, 9}  # only the ids the batch used (a word never seen reads as MiniLM's state)
    model.eval()
    emb = model.token_embedding
    expected = text + 3.0 * emb.proj(emb.table(ids))
    torch.testing.assert_close(emb(text, ids), expected)
    assert not torch.allclose(model(x, c, text, text_ids=ids), base(x, c, text))
    other = torch.tensor([[30, 31, 32, 33, 34], [35, 36, 37, 38, 39]])  # ids no step touched: the base model
    torch.testing.assert_close(model(x, c, text, text_ids=other), base(x, c, text))


def test_segment_embeddings_start_as_a_no_op_and_then_tell_the_phrases_of_a_prompt_apart():
    """token_segments: the phrase index counts the "and" tokens before a token (MiniLM's tokenizer: the
    word text.split_phrases splits on); a vector per index, zero at first, is added to the phrase's tokens."""
    from cinediff.text import load_text_encoder

    ids = load_text_encoder("minilm").encode(["a red ball moving left and a blue box moving up and a cat"]).ids
    config = replace(TINY, token_embedding=30522, token_embedding_rank=4, token_segments=2)
    assert ids[0].tolist().count(config.token_separator_id) == 2  # "and" is the id the config names
    model = UNet(config).eval()
    segments = model.token_embedding.segment_ids(ids)[0, : int((ids[0] != 0).sum())].tolist()
    assert segments == [0] * 6 + [1] * 6 + [1] * 4  # [CLS] a red ball moving left | and a blue box moving up | and a cat [SEP]
    x, c, _ = inputs(b=1, t=2)
    text = torch.randn(1, ids.shape[1], TINY.text_dim)
    base = UNet(replace(config, token_segments=0)).eval()
    base.load_state_dict(model.state_dict(), strict=False)
    torch.testing.assert_close(model(x, c, text, text_ids=ids), base(x, c, text, text_ids=ids))
    with torch.no_grad():
        model.token_embedding.segments.weight[1] = 1.0
    shifted = model.token_embedding(text, ids).detach() - text
    assert shifted[0, :6].abs().max() == 0
    torch.testing.assert_close(shifted[0, 6:], torch.ones_like(shifted[0, 6:]))  # the second phrase on (and padding)
    with pytest.raises(ValueError, match="token_embedding too"):
        replace(TINY, token_segments=2)


def test_phrase_context_starts_as_a_no_op_and_gives_each_token_the_mean_of_its_own_phrase_rows():
    """token_phrase_context: every token + gain · W_ctx · (mean of its phrase's learned rows, padding left
    out), W_ctx zero at first; a word's state then changes with the words of its own phrase only."""
    from cinediff.text import load_text_encoder

    encoder = load_text_encoder("minilm")
    config = replace(TINY, token_embedding=30522, token_embedding_rank=4, token_embedding_gain=2.0,
                     token_phrase_context=True)
    model = UNet(config).eval()
    base = UNet(replace(config, token_phrase_context=False)).eval()
    with torch.no_grad():
        base.token_embedding.table.weight.normal_()  # a trained stage: rows not zero
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing == ["token_embedding.context.weight"]
    ids = encoder.encode(["a red ball moving left and a blue box moving up"]).ids
    x, c, _ = inputs(b=1, t=2)
    text = torch.randn(1, ids.shape[1], TINY.text_dim)
    torch.testing.assert_close(model(x, c, text, text_ids=ids), base(x, c, text, text_ids=ids))  # W_ctx = 0
    emb = model.token_embedding
    with torch.no_grad():
        emb.context.weight.normal_()
    rows, real = emb.table(ids), int((ids[0] != 0).sum())  # [CLS] a red ball moving left | and a blue box moving up [SEP]
    first, second = rows[0, :6].mean(0), rows[0, 6:real].mean(0)
    expected = text + 2.0 * (emb.proj(rows) + emb.context(torch.stack([first] * 6 + [second] * (ids.shape[1] - 6))))
    torch.testing.assert_close(emb(text, ids), expected)
    # "red" (the third token) reads its own phrase: it changes with "ball", not with "box"
    swapped_own = encoder.encode(["a red box moving left and a blue box moving up"]).ids
    swapped_other = encoder.encode(["a red ball moving left and a blue ball moving up"]).ids
    red = lambda i: emb(text, i)[0, 2]  # noqa: E731
    assert not torch.allclose(red(swapped_own), red(ids))
    torch.testing.assert_close(red(swapped_other), red(ids))
    with pytest.raises(ValueError, match="token_embedding too"):
        replace(TINY, token_phrase_context=True)


def test_an_attention_level_added_with_zero_init_starts_as_the_model_without_it():
    """zero_init_attention: a trained model given cross-attention at one more level (init_from keeps the
    new layers' init) computes what it did; the new level then learns (its proj_out gets a gradient)."""
    base = seeded(replace(TINY, block_channels=(16, 32, 32), attention_levels=(False, False, True)))
    wider = UNet(replace(base.config, attention_levels=(False, True, True), zero_init_attention=True)).eval()
    missing, unexpected = wider.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(".attentions." in k for k in missing)
    x, c, text = inputs(t=2)
    torch.testing.assert_close(wider(x, c, text), base(x, c, text))
    plain = UNet(replace(base.config, attention_levels=(False, True, True)))
    plain.load_state_dict(base.state_dict(), strict=False)
    assert not torch.allclose(plain(x, c, text), base(x, c, text))  # the usual init would change the model
    wider(x, c, text).square().mean().backward()
    added = [m for name, m in wider.named_modules() if name.endswith("proj_out") and name.split(".")[0] == "down_blocks"
             and name.split(".")[1] == "1"]
    assert added and all(m.weight.grad.abs().sum() > 0 for m in added)
