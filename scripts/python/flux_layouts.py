"""FLUX.1 building blocks shared by the build-time scripts (fixtures and the trained tiny-flux).

- `save`: a minimal safetensors writer (F32 / F16 / BF16 / I64).
- `T5Encoder`: a transcription of Hugging Face transformers' `T5EncoderModel` (models/t5/
  modeling_t5.py: T5LayerNorm, attention without score scaling, block 0's bidirectional
  relative-position buckets, gated-gelu feed-forward); Debian has no python3-transformers.
- `ClipText`: CLIP's text model in Hugging Face names (quick-gelu, causal mask), with the pooled
  output at the first end-of-text token as `CLIPTextModel` computes it.
- `diffusers_transformer` / `diffusers_vae`: BFL / LDM names to diffusers names, as diffusers'
  scripts/convert_flux_to_diffusers.py maps them.
"""

import json
import math
import os
import re
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def save(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        tensor = tensor.contiguous()
        raw = tensor.view(torch.int16).numpy().tobytes() if tensor.dtype == torch.bfloat16 else tensor.numpy().tobytes()
        header[name] = {"dtype": DTYPES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for raw in blobs:
            out.write(raw)


# ---------------------------------------------------------------- T5 (transformers transcription)
class T5LayerNorm(nn.Module):
    def __init__(self, size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def relative_position_bucket(relative_position, num_buckets=32, max_distance=128):
    buckets = 0
    num_buckets //= 2
    buckets += (relative_position > 0).to(torch.long) * num_buckets
    relative_position = torch.abs(relative_position)
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    if_large = max_exact + (
        torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    if_large = torch.min(if_large, torch.full_like(if_large, num_buckets - 1))
    return buckets + torch.where(is_small, relative_position, if_large)


class T5Attention(nn.Module):
    def __init__(self, d_model, heads, d_kv, buckets, has_bias):
        super().__init__()
        self.heads, self.d_kv, self.buckets = heads, d_kv, buckets
        inner = heads * d_kv
        self.q = nn.Linear(d_model, inner, bias=False)
        self.k = nn.Linear(d_model, inner, bias=False)
        self.v = nn.Linear(d_model, inner, bias=False)
        self.o = nn.Linear(inner, d_model, bias=False)
        if has_bias:
            self.relative_attention_bias = nn.Embedding(buckets, heads)

    def compute_bias(self, length):
        context = torch.arange(length, dtype=torch.long)[:, None]
        memory = torch.arange(length, dtype=torch.long)[None, :]
        bucket = relative_position_bucket(memory - context, self.buckets)
        return self.relative_attention_bias(bucket).permute([2, 0, 1]).unsqueeze(0)

    def forward(self, x, position_bias):
        b, length, _ = x.shape
        shape = lambda t: t.view(b, -1, self.heads, self.d_kv).transpose(1, 2)
        q, k, v = shape(self.q(x)), shape(self.k(x)), shape(self.v(x))
        scores = torch.matmul(q, k.transpose(3, 2)) + position_bias
        weights = F.softmax(scores.float(), dim=-1).type_as(scores)
        out = torch.matmul(weights, v).transpose(1, 2).contiguous().view(b, -1, self.heads * self.d_kv)
        return self.o(out)


class T5Block(nn.Module):
    def __init__(self, d_model, heads, d_kv, d_ff, buckets, has_bias):
        super().__init__()
        attention = nn.Module()
        attention.SelfAttention = T5Attention(d_model, heads, d_kv, buckets, has_bias)
        attention.layer_norm = T5LayerNorm(d_model)
        ff = nn.Module()
        ff.DenseReluDense = nn.Module()
        ff.DenseReluDense.wi_0 = nn.Linear(d_model, d_ff, bias=False)
        ff.DenseReluDense.wi_1 = nn.Linear(d_model, d_ff, bias=False)
        ff.DenseReluDense.wo = nn.Linear(d_ff, d_model, bias=False)
        ff.layer_norm = T5LayerNorm(d_model)
        self.layer = nn.ModuleList([attention, ff])

    def forward(self, h, position_bias):
        attention, ff = self.layer
        h = h + attention.SelfAttention(attention.layer_norm(h), position_bias)
        dense = ff.DenseReluDense
        normed = ff.layer_norm(h)
        gelu_new = F.gelu(dense.wi_0(normed), approximate="tanh")
        return h + dense.wo(gelu_new * dense.wi_1(normed))


class T5Encoder(nn.Module):
    def __init__(self, vocab, d_model, heads, d_kv, d_ff, layers, buckets=32):
        super().__init__()
        self.shared = nn.Embedding(vocab, d_model)
        self.encoder = nn.Module()
        self.encoder.block = nn.ModuleList(
            [T5Block(d_model, heads, d_kv, d_ff, buckets, index == 0) for index in range(layers)]
        )
        self.encoder.final_layer_norm = T5LayerNorm(d_model)

    def forward(self, ids):
        h = self.shared(ids)
        bias = self.encoder.block[0].layer[0].SelfAttention.compute_bias(ids.shape[1])
        for block in self.encoder.block:
            h = block(h, bias)
        return self.encoder.final_layer_norm(h)


# ---------------------------------------------------------------- CLIP-L text model (HF names)
class ClipLayer(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.self_attn = nn.Module()
        for name in ["q_proj", "k_proj", "v_proj", "out_proj"]:
            setattr(self.self_attn, name, nn.Linear(width, width))
        self.layer_norm1 = nn.LayerNorm(width)
        self.layer_norm2 = nn.LayerNorm(width)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(width, 4 * width)
        self.mlp.fc2 = nn.Linear(4 * width, width)

    def forward(self, x, mask):
        b, n, w = x.shape
        h = self.layer_norm1(x)
        heads = lambda t: t.view(b, n, self.heads, -1).transpose(1, 2)
        a = self.self_attn
        q, k, v = heads(a.q_proj(h)), heads(a.k_proj(h)), heads(a.v_proj(h))
        scores = q @ k.transpose(-1, -2) * (q.shape[-1] ** -0.5) + mask
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, w)
        x = x + a.out_proj(out)
        hidden = self.mlp.fc1(self.layer_norm2(x))
        return x + self.mlp.fc2(hidden * torch.sigmoid(1.702 * hidden))


class ClipText(nn.Module):
    def __init__(self, vocab, width, heads, layers, positions=77):
        super().__init__()
        self.text_model = nn.Module()
        tm = self.text_model
        tm.embeddings = nn.Module()
        tm.embeddings.token_embedding = nn.Embedding(vocab, width)
        tm.embeddings.position_embedding = nn.Embedding(positions, width)
        tm.encoder = nn.Module()
        tm.encoder.layers = nn.ModuleList([ClipLayer(width, heads) for _ in range(layers)])
        tm.final_layer_norm = nn.LayerNorm(width)


    def forward(self, ids):
        """(last_hidden_state, pooler_output): CLIPTextModel with a causal mask, pooled at the
        first end-of-text token (the highest id)."""
        tm = self.text_model
        n = ids.shape[1]
        x = tm.embeddings.token_embedding(ids) + tm.embeddings.position_embedding.weight[:n]
        mask = torch.full((n, n), float("-inf")).triu(1)
        for layer in tm.encoder.layers:
            x = layer(x, mask)
        x = tm.final_layer_norm(x)
        pooled = x[torch.arange(x.shape[0]), ids.argmax(-1)]
        return x, pooled


def diffusers_transformer(sd, hidden):
    out = {}
    direct = {
        "img_in": "x_embedder", "txt_in": "context_embedder",
        "time_in.in_layer": "time_text_embed.timestep_embedder.linear_1",
        "time_in.out_layer": "time_text_embed.timestep_embedder.linear_2",
        "vector_in.in_layer": "time_text_embed.text_embedder.linear_1",
        "vector_in.out_layer": "time_text_embed.text_embedder.linear_2",
        "guidance_in.in_layer": "time_text_embed.guidance_embedder.linear_1",
        "guidance_in.out_layer": "time_text_embed.guidance_embedder.linear_2",
        "final_layer.linear": "proj_out",
    }
    double = {
        "img_mod.lin": "norm1.linear", "txt_mod.lin": "norm1_context.linear",
        "img_attn.proj": "attn.to_out.0", "txt_attn.proj": "attn.to_add_out",
        "img_mlp.0": "ff.net.0.proj", "img_mlp.2": "ff.net.2",
        "txt_mlp.0": "ff_context.net.0.proj", "txt_mlp.2": "ff_context.net.2",
    }
    norms = {
        "img_attn.norm.query_norm.scale": "attn.norm_q.weight", "img_attn.norm.key_norm.scale": "attn.norm_k.weight",
        "txt_attn.norm.query_norm.scale": "attn.norm_added_q.weight",
        "txt_attn.norm.key_norm.scale": "attn.norm_added_k.weight",
    }
    for key, value in sd.items():
        module, _, leaf = key.rpartition(".")
        parts = key.split(".")
        if module in direct:
            out[f"{direct[module]}.{leaf}"] = value
        elif key.startswith("final_layer.adaLN_modulation.1."):
            shift, scale = value.chunk(2, dim=0)
            out[f"norm_out.linear.{leaf}"] = torch.cat([scale, shift], dim=0)
        elif parts[0] == "double_blocks":
            base = f"transformer_blocks.{parts[1]}."
            rest = ".".join(parts[2:])
            sub = rest.rpartition(".")[0]
            if rest in norms:
                out[base + norms[rest]] = value
            elif sub in double:
                out[f"{base}{double[sub]}.{leaf}"] = value
            elif sub in ("img_attn.qkv", "txt_attn.qkv"):
                names = ["to_q", "to_k", "to_v"] if sub == "img_attn.qkv" else ["add_q_proj", "add_k_proj", "add_v_proj"]
                for name, part in zip(names, value.chunk(3, dim=0)):
                    out[f"{base}attn.{name}.{leaf}"] = part
            else:
                raise KeyError(key)
        elif parts[0] == "single_blocks":
            base = f"single_transformer_blocks.{parts[1]}."
            rest = ".".join(parts[2:])
            if rest == "norm.query_norm.scale":
                out[base + "attn.norm_q.weight"] = value
            elif rest == "norm.key_norm.scale":
                out[base + "attn.norm_k.weight"] = value
            elif rest.startswith("modulation.lin."):
                out[f"{base}norm.linear.{leaf}"] = value
            elif rest.startswith("linear2."):
                out[f"{base}proj_out.{leaf}"] = value
            elif rest.startswith("linear1."):
                q, k, v, mlp = torch.split(value, [hidden, hidden, hidden, value.shape[0] - 3 * hidden], dim=0)
                for name, part in zip(["attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"], [q, k, v, mlp]):
                    out[f"{base}{name}.{leaf}"] = part
            else:
                raise KeyError(key)
        else:
            raise KeyError(key)
    return out


def diffusers_vae(sd):
    """LDM → diffusers AutoencoderKL names (diffusers' convert_vae_pt_to_diffusers, inverted)."""

    out = {}
    for key, value in sd.items():
        name = key
        name = re.sub(r"^encoder\.down\.(\d+)\.block\.(\d+)\.", r"encoder.down_blocks.\1.resnets.\2.", name)
        name = re.sub(r"^encoder\.down\.(\d+)\.downsample\.conv\.", r"encoder.down_blocks.\1.downsamplers.0.conv.", name)
        name = re.sub(r"^decoder\.up\.(\d+)\.block\.(\d+)\.",
                      lambda m: f"decoder.up_blocks.{3 - int(m.group(1))}.resnets.{m.group(2)}.", name)
        name = re.sub(r"^decoder\.up\.(\d+)\.upsample\.conv\.",
                      lambda m: f"decoder.up_blocks.{3 - int(m.group(1))}.upsamplers.0.conv.", name)
        name = re.sub(r"\.mid\.block_(\d)\.", lambda m: f".mid_block.resnets.{int(m.group(1)) - 1}.", name)
        name = name.replace(".mid.attn_1.norm.", ".mid_block.attentions.0.group_norm.")
        for ldm, hf in [("q", "to_q"), ("k", "to_k"), ("v", "to_v"), ("proj_out", "to_out.0")]:
            if f".mid.attn_1.{ldm}." in name:
                name = name.replace(f".mid.attn_1.{ldm}.", f".mid_block.attentions.0.{hf}.")
                value = value.reshape(value.shape[0], -1) if value.ndim == 4 else value
        name = name.replace(".norm_out.", ".conv_norm_out.").replace(".nin_shortcut.", ".conv_shortcut.")
        out[name] = value
    return out


