"""Tests for cinediff.text: frozen encoders, fixed-length padding, prompt cache, offline loading."""

import socket

import pytest
import torch

from cinediff.text import TextEncoder, check_prompt, load_text_encoder, masked_mean
from cinediff.text.encoders import _default_model_dir

PROMPTS = ["a cat playing piano", "left", "a dog running on the beach at sunset"]


def _no_network(*args, **kwargs):
    raise AssertionError("text encoders must never touch the network")


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        return load_text_encoder()


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _no_network)


@pytest.fixture
def count_calls(monkeypatch):
    """Wrap ``encoder.model.forward`` and return the list of batch sizes it was called with."""

    def wrap(encoder):
        calls, forward = [], encoder.model.forward

        def counted(input_ids, **kwargs):
            calls.append(input_ids.shape[0])
            return forward(input_ids, **kwargs)

        monkeypatch.setattr(encoder.model, "forward", counted)
        return calls

    return wrap


def assert_same(a, b, atol=0.0):
    for k in ("tokens", "mask", "pooled"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.shape == y.shape and x.dtype == y.dtype
        assert torch.equal(x, y) if atol == 0 else torch.allclose(x, y, atol=atol, rtol=0), k


def test_shapes_and_dtype(minilm):
    emb = minilm.encode(PROMPTS)
    assert (minilm.dim, minilm.max_length) == (384, 64)
    assert emb.tokens.shape == (3, 64, 384) and emb.tokens.dtype == torch.float32
    assert emb.mask.shape == (3, 64) and emb.mask.dtype == torch.bool
    assert emb.pooled.shape == (3, 384) and emb.pooled.dtype == torch.float32
    assert emb.tokens.device == minilm.device and not emb.tokens.requires_grad
    assert minilm.encode("one prompt").tokens.shape == (1, 64, 384)


def test_truncates_long_prompts(minilm):
    emb = minilm.encode(" ".join(["word"] * 200))
    assert emb.tokens.shape == (1, 64, 384) and emb.mask.all()


def test_mask_matches_tokenizer(minilm):
    ref = minilm.tokenizer(PROMPTS, padding="max_length", max_length=64, return_tensors="pt")
    assert torch.equal(minilm.encode(PROMPTS).mask, ref["attention_mask"].bool())


def test_ids_are_the_tokenizers_and_text_condition_passes_them_on_request(minilm):
    from cinediff.text import text_condition

    ref = minilm.tokenizer(PROMPTS, padding="max_length", max_length=64, return_tensors="pt")
    emb = minilm.encode(PROMPTS)
    assert emb.ids.dtype == torch.int64 and torch.equal(emb.ids, ref["input_ids"])
    assert torch.equal(minilm.encode(PROMPTS[1]).ids[0], ref["input_ids"][1])  # from the cache, one row
    plain, with_ids = text_condition(minilm, PROMPTS), text_condition(minilm, PROMPTS, ids=True)
    assert set(plain) == {"text", "text_mask"} and set(with_ids) == {"text", "text_mask", "text_ids"}
    assert torch.equal(with_ids["text_ids"], ref["input_ids"])
    left, right = minilm.encode(["a red ball moving left", "a red ball moving right"]).ids
    assert (left != right).sum() == 1  # a minimal pair differs in exactly one id: what TokenEmbedding learns on


def test_pooled_matches_sentence_transformers(minilm):
    st = pytest.importorskip("sentence_transformers")
    oracle = st.SentenceTransformer(str(_default_model_dir()), device="cpu")
    expected = oracle.encode(PROMPTS + [""], convert_to_tensor=True).cpu()
    err = (minilm.encode(PROMPTS + [""]).pooled - expected).abs().max().item()
    print(f"pooled vs sentence-transformers: max abs err {err:.3e}")
    assert err < 1e-5


def test_frozen(minilm):
    minilm.train()
    assert not minilm.training and not minilm.model.training
    assert not any(p.requires_grad for p in minilm.parameters())


def test_cache_hit_is_identical_and_skips_model(minilm, count_calls, monkeypatch):
    monkeypatch.setattr(minilm, "cache", type(minilm.cache)())
    calls = count_calls(minilm)
    first = minilm.encode(["a red car", "a blue car"])
    again = minilm.encode(["a red car", "a blue car"])
    assert calls == [2]
    assert_same(first, again)
    mixed = minilm.encode(["a blue car", "a green car", "a green car"])
    assert calls == [2, 1]  # only the new prompt, once
    assert_same(mixed[0], first[1])
    monkeypatch.setattr(minilm, "cache_size", 0)
    assert_same(minilm.encode(["a blue car", "a green car", "a green car"]), mixed, atol=1e-6)


def test_cache_evicts_least_recently_used(minilm, monkeypatch):
    monkeypatch.setattr(minilm, "cache", type(minilm.cache)())
    monkeypatch.setattr(minilm, "cache_size", 2)
    for prompt in ["a", "b", "a", "c"]:
        minilm.encode(prompt)
    assert list(minilm.cache) == ["a", "c"]
    assert all(e.tokens.device.type == "cpu" for e in minilm.cache.values())


def test_batch_matches_single(minilm, monkeypatch):
    monkeypatch.setattr(minilm, "cache_size", 0)
    batch = minilm.encode(PROMPTS)
    for i, prompt in enumerate(PROMPTS):
        assert_same(minilm.encode(prompt), batch[i], atol=1e-6)


def test_different_prompts_differ(minilm):
    left, right = minilm.encode(["left", "right"])[0], minilm.encode(["left", "right"])[1]
    assert (left.tokens - right.tokens).abs().max() > 1e-2
    assert (left.pooled - right.pooled).abs().max() > 1e-2


def test_empty_prompt_is_unconditional(minilm):
    assert_same(minilm.empty(), minilm.encode(""))
    uncond = minilm.empty(3)
    assert uncond.tokens.shape == (3, 64, 384) and uncond.mask.sum(1).tolist() == [2, 2, 2]  # [CLS] [SEP]


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_check_prompt_rejects_blank(prompt):
    with pytest.raises(ValueError, match="non-empty"):
        check_prompt(prompt)


def test_check_prompt_accepts_text():
    assert check_prompt("a cat") == "a cat"


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        load_text_encoder(str(tmp_path / "does-not-exist"))
    with pytest.raises(ValueError, match="config.json"):
        load_text_encoder(tmp_path)


def _clip_tokenizer():
    from transformers import CLIPTokenizer

    words = "a photo of the cat dog left right".split()
    chars = sorted(set("".join(words)))
    specials = ["<|startoftext|>", "<|endoftext|>"]
    tokens = specials + chars + [c + "</w>" for c in chars] + [w + "</w>" for w in words]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[])


@pytest.mark.parametrize("full", [True, False], ids=["CLIPModel", "CLIPTextModel"])
def test_tiny_clip(tmp_path, offline, full):
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tokenizer = _clip_tokenizer()
    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    if full:
        vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                      image_size=32, patch_size=16)
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    else:
        model = CLIPTextModel(CLIPTextConfig(**text))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    encoder = load_text_encoder(str(tmp_path))
    emb = encoder.encode(["a photo of a cat", "left dog"])
    assert (encoder.dim, encoder.max_length) == (32, 77) and emb.tokens.shape == (2, 77, 32)
    batch = tokenizer(["a photo of a cat", "left dog"], padding="max_length", max_length=77, return_tensors="pt")
    text_model = model.text_model if full else model
    with torch.no_grad():
        expected = text_model(**batch).pooler_output
    torch.testing.assert_close(emb.pooled, expected)
    assert torch.equal(emb.mask, batch["attention_mask"].bool())


def test_tiny_t5(tmp_path, offline):
    from transformers import T5Config, T5EncoderModel, T5Tokenizer

    torch.manual_seed(0)
    words, chars = "a photo of the cat dog left right".split(), "acdefghilnoprt"
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    tokenizer = T5Tokenizer(vocab=vocab + [("▁" + w, -1.0) for w in words] + [(c, -5.0) for c in chars], extra_ids=0)
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=2)
    T5EncoderModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    encoder = load_text_encoder(str(tmp_path), max_length=16)
    emb = encoder.encode(["a photo of a cat", "left dog", ""])
    assert encoder.dim == 32 and emb.tokens.shape == (3, 16, 32)
    assert emb.mask.sum(1).tolist() == [6, 3, 1]  # words + </s>
    torch.testing.assert_close(emb.pooled, masked_mean(emb.tokens, emb.mask))


def test_generic_automodel(tmp_path, offline, minilm):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(minilm.tokenizer), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32)
    BertModel(config).save_pretrained(tmp_path)
    minilm.tokenizer.save_pretrained(tmp_path)

    encoder = load_text_encoder(str(tmp_path))
    emb = encoder.encode(["a cat", "left"])
    assert encoder.max_length == 77 and emb.tokens.shape == (2, 77, 16)
    torch.testing.assert_close(emb.pooled, masked_mean(emb.tokens, emb.mask))  # no Normalize module


def test_save_pretrained_round_trips_the_encoder(minilm, tmp_path, offline):
    """An export's copy of its text encoder reads back with the same pooling, normalisation and length."""
    folder = minilm.save_pretrained(tmp_path / "text-encoder")
    again = load_text_encoder(folder)
    assert (again.max_length, again.pooling, again.normalize) == (minilm.max_length, "mean", True)
    prompts = ["a red circle moving left", "two squares"]
    ours, theirs = again(prompts), minilm(prompts)
    torch.testing.assert_close(ours.tokens, theirs.tokens)
    torch.testing.assert_close(ours.pooled, theirs.pooled)
    assert torch.allclose(ours.pooled.norm(dim=-1), torch.ones(2))


def test_split_phrases():
    from cinediff.text import split_phrases

    assert split_phrases("a red ball moving left and  a blue box moving up") == ["a red ball moving left",
                                                                                "a blue box moving up"]
    assert split_phrases("red ball, leftward motion") == ["red ball, leftward motion"]
    assert split_phrases("sand dunes") == ["sand dunes"]  # "and" inside a word is no separator
    assert split_phrases("") == [""] and split_phrases("and") == ["and"]


def test_phrase_encoder_joins_each_phrase_encoded_on_its_own(minilm):
    from cinediff.models.build import build_text_encoder
    from cinediff.text import PhraseEncoder

    phrases = build_text_encoder(None, phrases=True, shared=minilm)
    assert isinstance(phrases, PhraseEncoder) and phrases.encoder is minilm  # the same model, not a copy
    assert build_text_encoder(None, shared=phrases) is minilm
    one, two = "a red ball moving left", "a blue box moving up"
    got, alone = phrases.encode([one, f"{one} and {two}", ""]), minilm.encode([one, two, ""])
    for row in (0, 2):  # one phrase, and the empty (unconditional) prompt: the plain encoding
        assert torch.equal(got.mask[row], alone.mask[row])
        assert torch.equal(got.tokens[row][got.mask[row]], alone.tokens[row][alone.mask[row]])
        assert torch.equal(got.pooled[row], alone.pooled[row])
    real = got.tokens[1][got.mask[1]]  # [CLS] a red ball moving left [SEP] [CLS] a blue box moving up [SEP]
    expected = torch.cat([alone.tokens[0][alone.mask[0]], alone.tokens[1][alone.mask[1]]])
    assert torch.equal(real, expected) and got.mask[1].sum() == alone.mask[:2].sum()
    assert torch.equal(got.ids[1][got.mask[1]], torch.cat([alone.ids[0][alone.mask[0]], alone.ids[1][alone.mask[1]]]))
    assert torch.equal(got.ids[0], alone.ids[0])
    assert not got.mask[1, len(real):].any() and not got.tokens[1, len(real):].any()
    mean = torch.nn.functional.normalize(alone.pooled[:2].mean(0), dim=-1)
    torch.testing.assert_close(got.pooled[1], mean)
    whole = minilm.encode(f"{one} and {two}")  # in one sentence, the second object's states see the first's words
    assert not torch.allclose(whole.tokens[0][whole.mask[0]][-4:], real[-4:], atol=1e-3)
    many = phrases.encode(" and ".join([one] * 12))  # 12 x 7 tokens: cut at the encoder's length
    assert many.mask.all() and many.tokens.shape == (1, minilm.max_length, minilm.dim)


def test_the_gpu_minilm_pack_rebuilds_the_encoder_for_every_caption_token(minilm, tmp_path, offline):
    """benchmarks/gpu_minilm.py: packed (fp16 layers + the word-embedding rows of the package's words)
    then unpacked, a model encodes training captions and the built-in prompts as the original does up
    to fp16 rounding, and rows of words cinediff never writes are zero."""
    import importlib.util
    from pathlib import Path

    from transformers import BertConfig, BertModel

    from cinediff.evaluation.report import builtin_prompts, reworded_prompts

    spec = importlib.util.spec_from_file_location("gpu_minilm", Path(__file__).parents[1] / "benchmarks" / "gpu_minilm.py")
    gpu_minilm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_minilm)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(minilm.tokenizer), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32)
    BertModel(config).save_pretrained(tmp_path / "source")
    minilm.tokenizer.save_pretrained(tmp_path / "source")
    ids = gpu_minilm.pack(tmp_path / "source", tmp_path / "site", captions=200, check=500)
    assert not (tmp_path / "site" / "model" / "model.safetensors").exists()  # the full table does not travel
    gpu_minilm.unpack(tmp_path / "site")

    original, rebuilt = load_text_encoder(str(tmp_path / "source")), load_text_encoder(str(tmp_path / "site" / "model"))
    prompts = gpu_minilm.sampled_captions(20)[::7] + builtin_prompts(8) + reworded_prompts(8)
    ours, theirs = rebuilt.encode(prompts), original.encode(prompts)
    assert torch.equal(ours.mask, theirs.mask)
    torch.testing.assert_close(ours.tokens, theirs.tokens, atol=2e-2, rtol=1e-2)  # fp16-rounded layers
    table = rebuilt.model.embeddings.word_embeddings.weight
    assert torch.equal(table[ids], original.model.embeddings.word_embeddings.weight[ids])  # kept rows: exact
    unused = minilm.tokenizer.convert_tokens_to_ids("zeppelin")
    assert unused not in set(ids.tolist()) and not table[unused].any()
