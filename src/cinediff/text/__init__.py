"""Frozen text encoders turning prompts into conditioning for the video denoisers."""

from .encoders import (TextEmbedding, TextEncoder, check_prompt, load_text_encoder, masked_mean, reads_token_ids,
                       text_condition)
from .phrases import PhraseEncoder, split_phrases

__all__ = ["PhraseEncoder", "TextEmbedding", "TextEncoder", "check_prompt", "load_text_encoder", "masked_mean",
           "reads_token_ids", "split_phrases", "text_condition"]
