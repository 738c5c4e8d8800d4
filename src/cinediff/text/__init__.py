"""Frozen text encoders turning prompts into conditioning for the video denoisers."""

from .encoders import TextEmbedding, TextEncoder, check_prompt, load_text_encoder, masked_mean, text_condition

__all__ = ["TextEmbedding", "TextEncoder", "check_prompt", "load_text_encoder", "masked_mean", "text_condition"]
