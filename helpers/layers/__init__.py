"""The attention layers the course teaches, each defined once (Keras 3, ``keras.ops``).

One module per topic:

- :mod:`helpers.layers.reweighting`: the softmax re-weighting layers of notebooks 02-03 and attention pooling (02);
- :mod:`helpers.layers.seq2seq`: the decoder attention and the attention decoder of notebook 04;
- :mod:`helpers.layers.self_attention`: feed-forward and dot-product self-attention, learned
  positions (notebook 05);
- :mod:`helpers.layers.multihead`: multi-head attention and the encoder block (notebook 06);
- :mod:`helpers.layers.decoding`: causal self-attention with a key/value cache, the pre-norm decoder
  block, a decoder-only Transformer and generation (notebook 08);
- :mod:`helpers.layers.translation`: cross-attention, the encoder-decoder Transformer, greedy decoding
  and beam search with cached source keys and values (notebook 09);
- :mod:`helpers.layers.efficient`: grouped-query attention, RoPE, sliding windows, the bytes of a
  key/value cache, multi-head latent attention, the online softmax and tiled attention (notebook 10);
- :mod:`helpers.layers.serving`: a compiled decoder step with a fixed-shape cache, paged and prefix
  caches, speculative decoding, the counts behind a roofline (notebook 11);
- :mod:`helpers.layers._common`: the masked softmax and the input checks they all share.

``from helpers.layers import X`` works for every layer. Notebooks show a layer's source with
``helpers.show.source(...)`` where they teach it. Every layer has ``get_config`` and is
registered for ``.keras`` saving.
"""

from helpers.layers._common import PACKAGE, masked_softmax
from helpers.layers.decoding import (CausalSelfAttention, DecoderOnlyTransformer, KVCache, TransformerDecoderBlock,
                                      generate, next_token, sampling_distribution, top_p_keep)
from helpers.layers.efficient import (GroupedQueryAttention, MultiHeadLatentAttention, apply_rope, kv_cache_bytes,
                                      kv_cache_bytes_per_token, naive_attention, online_softmax, repeat_kv_heads,
                                      rope_frequencies, sliding_window_attention, sliding_window_mask,
                                      tiled_attention, tiled_attention_2d)
from helpers.layers.reweighting import AttentionPooling, DimensionAttention, TimestepAttention, _SoftmaxAxisAttention
from helpers.layers.multihead import (MultiHeadAttention, TransformerEncoderBlock, causal_mask, merge_heads,
                                      merge_heads_from_batch, positional_encoding, split_heads,
                                      split_heads_on_batch)
from helpers.layers.self_attention import (FeedForwardAttention, PositionEmbedding, SelfAttention,
                                           scaled_dot_product_attention)
from helpers.layers.seq2seq import AttentionDecoder, Seq2SeqAttention
from helpers.layers.serving import (PagedKVCache, best_seconds, compile_step, decoder_step, decoder_weights,
                                    greedy_generate, new_static_cache, speculative_generate, step_counts,
                                    weight_bytes)
from helpers.layers.translation import (CrossAttention, CrossAttentionDecoderBlock, DecodingState,
                                        EncoderDecoderTransformer, Translation, beam_search, greedy_translate,
                                        sequence_logprob)

__all__ = [
    "PACKAGE", "masked_softmax",
    "TimestepAttention", "DimensionAttention", "_SoftmaxAxisAttention", "AttentionPooling",
    "Seq2SeqAttention", "AttentionDecoder",
    "FeedForwardAttention", "scaled_dot_product_attention", "SelfAttention", "PositionEmbedding",
    "split_heads", "merge_heads", "split_heads_on_batch", "merge_heads_from_batch", "causal_mask",
    "MultiHeadAttention", "positional_encoding", "TransformerEncoderBlock",
    "GroupedQueryAttention", "repeat_kv_heads", "kv_cache_bytes", "kv_cache_bytes_per_token",
    "MultiHeadLatentAttention", "sliding_window_mask", "rope_frequencies",
    "apply_rope", "online_softmax", "naive_attention", "tiled_attention", "tiled_attention_2d",
    "sliding_window_attention",
    "CausalSelfAttention", "TransformerDecoderBlock", "DecoderOnlyTransformer", "KVCache", "next_token",
    "sampling_distribution", "top_p_keep",
    "generate",
    "CrossAttention", "CrossAttentionDecoderBlock", "EncoderDecoderTransformer", "DecodingState", "greedy_translate",
    "beam_search", "sequence_logprob", "Translation",
    "decoder_weights", "weight_bytes", "new_static_cache", "decoder_step", "compile_step", "best_seconds",
    "step_counts", "PagedKVCache", "speculative_generate", "greedy_generate",
]
