"""The `tiny` model's modules, written from scratch in plain torch (no diffusers / transformers).

- VAEEncoder / VAEDecoder: a 4x convolutional autoencoder (64x64x3 <-> 16x16x4), no normalisation
  layers, so it is purely local and works at any size that is a multiple of 4.
- TextEncoder: a small CLIP-style causal transformer (token + position embeddings, pre-LN blocks,
  final LayerNorm; pooler_output = hidden state at the first end-of-text token, as CLIP's argmax).
- UNet: diffusers-style conditional UNet: sinusoidal timestep embedding (flip_sin_to_cos=True,
  freq_shift=0) + MLP, ResNet blocks with GroupNorm and a time projection, spatial transformers with
  self-attention, cross-attention on the text and a feed-forward, skip connections, upsampling to the
  skip's size so any latent size works.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ------------------------------------------------------------------------------------------ VAE

class PlainRes(nn.Module):
    """Residual block without normalisation (VAE)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x):
        h = self.conv1(F.silu(x))
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class VAEEncoder(nn.Module):
    def __init__(self, chs=(16, 32, 64), latent=4):
        super().__init__()
        self.conv_in = nn.Conv2d(3, chs[0], 3, padding=1)
        layers = []
        for i, c in enumerate(chs):
            prev = chs[max(i - 1, 0)]
            if i > 0:
                layers.append(nn.Conv2d(prev, c, 3, stride=2, padding=1))
            layers.append(PlainRes(c, c))
        layers.append(PlainRes(chs[-1], chs[-1]))
        self.body = nn.Sequential(*layers)
        self.conv_out = nn.Conv2d(chs[-1], latent, 3, padding=1)

    def forward(self, x):
        return self.conv_out(F.silu(self.body(self.conv_in(x))))


class Up2(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class VAEDecoder(nn.Module):
    def __init__(self, chs=(16, 32, 64), latent=4):
        super().__init__()
        rev = list(reversed(chs))
        self.conv_in = nn.Conv2d(latent, rev[0], 3, padding=1)
        layers = [PlainRes(rev[0], rev[0])]
        for i, c in enumerate(rev):
            if i > 0:
                layers.append(Up2(rev[i - 1], c))
            layers.append(PlainRes(c, c))
        self.body = nn.Sequential(*layers)
        self.conv_out = nn.Conv2d(rev[-1], 3, 3, padding=1)

    def forward(self, z):
        return self.conv_out(F.silu(self.body(self.conv_in(z))))


# ------------------------------------------------------------------------------- text encoder

class SelfAttention(nn.Module):
    def __init__(self, dim, heads, ctx_dim=None):
        super().__init__()
        ctx_dim = ctx_dim or dim
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(ctx_dim, dim, bias=False)
        self.v = nn.Linear(ctx_dim, dim, bias=False)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, ctx=None, mask=None):
        ctx = x if ctx is None else ctx
        b = x.shape[0]
        h = self.heads
        q = self.q(x).reshape(b, -1, h, x.shape[2] // h).transpose(1, 2)
        k = self.k(ctx).reshape(b, -1, h, x.shape[2] // h).transpose(1, 2)
        v = self.v(ctx).reshape(b, -1, h, x.shape[2] // h).transpose(1, 2)
        w = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
        if mask is not None:
            w = w + mask
        w = w.softmax(-1)
        out = torch.matmul(w, v).transpose(1, 2).reshape(b, -1, x.shape[2])
        return self.o(out)


class TextBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))

    def forward(self, x, mask):
        x = x + self.attn(self.ln1(x), mask=mask)
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    def __init__(self, vocab_size, dim=64, layers=2, heads=4, max_len=77):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, dim)
        self.pos = nn.Parameter(torch.randn(max_len, dim) * 0.01)
        nn.init.normal_(self.tok.weight, std=0.02)
        self.blocks = nn.ModuleList([TextBlock(dim, heads) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(dim)
        self.register_buffer("mask", torch.full((max_len, max_len), float("-inf")).triu(1), persistent=False)

    def forward(self, input_ids):
        ids = input_ids.long()
        x = self.tok(ids) + self.pos
        for blk in self.blocks:
            x = blk(x, self.mask)
        x = self.ln_final(x)
        eos = ids.argmax(-1)  # first end-of-text token (highest id), as CLIP does
        pooled = torch.gather(x, 1, eos[:, None, None].expand(-1, 1, x.shape[2])).squeeze(1)
        return x, pooled


# --------------------------------------------------------------------------------------- UNet

def timestep_embedding(t, dim):
    """diffusers Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0)."""
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half
    emb = t.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(emb), torch.sin(emb)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb_dim, groups=8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb_dim, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class SpatialTransformer(nn.Module):
    def __init__(self, ch, ctx_dim, heads, groups=8, self_attn=True, ff_mult=2):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch)
        self.proj_in = nn.Linear(ch, ch)
        self.self_attn = self_attn
        if self_attn:
            self.ln1 = nn.LayerNorm(ch)
            self.attn1 = SelfAttention(ch, heads)
        self.ln2 = nn.LayerNorm(ch)
        self.attn2 = SelfAttention(ch, heads, ctx_dim)
        self.ln3 = nn.LayerNorm(ch)
        self.ff = nn.Sequential(nn.Linear(ch, ch * ff_mult), nn.GELU(), nn.Linear(ch * ff_mult, ch))
        self.proj_out = nn.Linear(ch, ch)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x, ctx):
        b, c = x.shape[0], x.shape[1]
        h = self.norm(x).flatten(2).transpose(1, 2)  # [b, hw, c]
        h = self.proj_in(h)
        if self.self_attn:
            h = h + self.attn1(self.ln1(h))
        h = h + self.attn2(self.ln2(h), ctx)
        h = h + self.ff(self.ln3(h))
        h = self.proj_out(h).transpose(1, 2).reshape(x.shape)
        return x + h


class UNet(nn.Module):
    def __init__(self, in_ch=4, chs=(32, 64, 64), ctx_dim=64, head_dim=32, layers=1, attn=("none", "full", "full"),
                 groups=8):
        super().__init__()
        self.chs = chs
        self.t_dim = chs[0]
        temb = chs[0] * 4
        self.time_mlp = nn.Sequential(nn.Linear(chs[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        # pooled text conditioning (as SDXL's add_embedding): the last position of the causal text
        # encoder has seen the whole prompt; it is added to the time embedding of every ResBlock.
        self.text_mlp = nn.Sequential(nn.Linear(ctx_dim, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_ch, chs[0], 3, padding=1)

        def tr(c, kind):
            if kind == "none":
                return None
            return SpatialTransformer(c, ctx_dim, max(1, c // head_dim), groups, kind == "full")

        self.down = nn.ModuleList()
        skip_ch = [chs[0]]
        prev = chs[0]
        for i, c in enumerate(chs):
            for _ in range(layers):
                self.down.append(nn.ModuleList([ResBlock(prev, c, temb, groups), tr(c, attn[i])]))
                prev = c
                skip_ch.append(c)
            if i < len(chs) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skip_ch.append(c)
        self.mid1 = ResBlock(prev, prev, temb, groups)
        self.mid_attn = tr(prev, "full")
        self.mid2 = ResBlock(prev, prev, temb, groups)
        self.up = nn.ModuleList()
        for i, c in reversed(list(enumerate(chs))):
            for _ in range(layers + 1):
                self.up.append(nn.ModuleList([ResBlock(prev + skip_ch.pop(), c, temb, groups), tr(c, attn[i])]))
                prev = c
            if i > 0:
                self.up.append(nn.Conv2d(c, c, 3, padding=1))  # upsample to skip size + conv
        self.norm_out = nn.GroupNorm(groups, chs[0])
        self.conv_out = nn.Conv2d(chs[0], in_ch, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, sample, timestep, encoder_hidden_states):
        ctx = encoder_hidden_states
        temb = self.time_mlp(timestep_embedding(timestep, self.t_dim)) + self.text_mlp(ctx[:, -1])
        h = self.conv_in(sample)
        skips = [h]
        for m in self.down:
            if isinstance(m, nn.ModuleList):
                h = m[0](h, temb)
                h = h if m[1] is None else m[1](h, ctx)
            else:
                h = m(h)
            skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb), ctx), temb)
        for m in self.up:
            if isinstance(m, nn.ModuleList):
                h = m[0](torch.cat([h, skips.pop()], 1), temb)
                h = h if m[1] is None else m[1](h, ctx)
            else:
                h = m(F.interpolate(h, size=skips[-1].shape[-2:], mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


def n_params(m):
    return sum(p.numel() for p in m.parameters())
