"""CLIP-L's text model in Hugging Face's `CLIPTextModel` key layout (what SD 1.x single files hold
under `cond_stage_model.transformer.`), transcribed from transformers' modeling_clip.py: causal
pre-LN blocks with quick_gelu, learned positions, a final LayerNorm, pooled output at the
end-of-text token (the highest id). Debian has no python3-transformers."""

import torch
import torch.nn as nn


class CLIPAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.scale = self.head_dim**-0.5
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(width, width) for _ in range(4))

    def forward(self, x, causal_mask):
        b, s, w = x.shape
        split = lambda t: t.view(b, s, self.heads, self.head_dim).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q_proj(x) * self.scale), split(self.k_proj(x)), split(self.v_proj(x))
        weights = torch.softmax(q @ k.transpose(-1, -2) + causal_mask, dim=-1)
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, s, w))


class CLIPMLP(nn.Module):
    def __init__(self, width, inner):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, inner), nn.Linear(inner, width)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))  # quick_gelu, CLIP-L's hidden_act


class CLIPEncoderLayer(nn.Module):
    def __init__(self, width, heads, inner):
        super().__init__()
        self.self_attn = CLIPAttention(width, heads)
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.mlp = CLIPMLP(width, inner)

    def forward(self, x, causal_mask):
        x = x + self.self_attn(self.layer_norm1(x), causal_mask)
        return x + self.mlp(self.layer_norm2(x))


class CLIPEmbeddings(nn.Module):
    def __init__(self, vocab, width, positions):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.position_embedding = nn.Embedding(positions, width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.01)
        self.register_buffer("position_ids", torch.arange(positions).expand((1, -1)))

    def forward(self, ids):
        return self.token_embedding(ids) + self.position_embedding(self.position_ids[:, : ids.shape[1]])


class CLIPEncoder(nn.Module):
    def __init__(self, width, heads, inner, layers):
        super().__init__()
        self.layers = nn.ModuleList(CLIPEncoderLayer(width, heads, inner) for _ in range(layers))


class CLIPTextTransformer(nn.Module):
    def __init__(self, vocab, width, heads, inner, layers, positions=77):
        super().__init__()
        self.embeddings = CLIPEmbeddings(vocab, width, positions)
        self.encoder = CLIPEncoder(width, heads, inner, layers)
        self.final_layer_norm = nn.LayerNorm(width)
        self.register_buffer("mask", torch.full((positions, positions), float("-inf")).triu(1), persistent=False)

    def forward(self, ids):
        s = ids.shape[1]
        x = self.embeddings(ids)
        for layer in self.encoder.layers:
            x = layer(x, self.mask[:s, :s])
        last = self.final_layer_norm(x)
        pooled = last[torch.arange(ids.shape[0]), ids.argmax(dim=-1)]
        return last, pooled


class CLIPTextModel(nn.Module):
    def __init__(self, **config):
        super().__init__()
        self.text_model = CLIPTextTransformer(**config)

    def forward(self, ids):
        return self.text_model(ids)
