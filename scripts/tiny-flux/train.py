"""Builds `tiny-flux`: a FLUX.1-schnell-layout model trained on the `tiny` world (coloured shapes).

    /usr/bin/python3 scripts/tiny-flux/train.py SRC_DIR                 # everything
    /usr/bin/python3 scripts/tiny-flux/train.py SRC_DIR --stage eval    # one stage from <work>

SRC_DIR holds Black Forest Labs' `src/flux/` (github black-forest-labs/flux) and `einops/`
(arogozhnikov/einops), fetched into a scratch folder and never committed: the transformer and the
autoencoder are BFL's own modules, so the weights carry BFL's names and semantics exactly.

Stages (each one's result is checkpointed under --work, default /tmp/tiny_flux_build):
  1. vae     train BFL's AutoEncoder (16 latent channels, 8x down-sampling, 32 channels and 64
             below full resolution) with 4 GroupNorm groups (8 and 16 channels each; BFL's module
             fixes 32, an instance norm per channel at this width, which loses a flat region's
             absolute colour; exported as diffusers' `norm_num_groups`, which Pictor reads)
             on 64x64 images of the world; its latent mean is pulled towards FLUX.1's latent
             statistics, so Pictor's fixed scale 0.3611 / shift 0.1159 give unit-variance latents
  2. encode  encode a fixed pool of images into scaled latents
  3. flow    train a tiny CLIP-L-layout text model (the bundled CLIP BPE vocabulary), a tiny
             T5-layout encoder (its own Unigram tokenizer.json over the world's words) and the
             FLUX transformer (schnell layout: no guidance embedding) jointly, rectified-flow
             objective (x_t = (1-t) x0 + t noise, target noise - x0, t logit-normal), 5% empty
             captions, EMA weights
  4. export  write models/tiny-flux/ as a diffusers FluxPipeline folder (transformer and VAE in
             diffusers names, text encoders in Hugging Face names, F16), configs, tokenizer_2
  5. eval    sample the colour x shape x background grid with flow-matching Euler (schnell's
             sigmas, no shift) from the exported F16 weights, classify with data.classify, write
             models/tiny-flux/eval-python.json and samples.png

Requirements: Debian's torch 1.13 (no network, no diffusers / transformers). Deterministic seeds.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads hurt on a shared box

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path[:0] = [os.path.join(REPO, "scripts", "tiny"), os.path.join(REPO, "scripts", "python")]
import data  # noqa: E402
from clip_vocab import bytes_to_unicode  # noqa: E402
from flux_layouts import ClipText, T5Encoder, diffusers_transformer, diffusers_vae, save  # noqa: E402

CFG = {
    "vae": {"ch": 32, "ch_mult": [1, 2, 2, 2], "groups": 4, "probe_every": 100, "steps": 700, "batch": 8, "lr": 2e-3, "seed": 1, "latent_noise": 0.1,
            "stats_weight": 0.05, "shift": 0.1159, "scale": 0.3611},
    "pool": {"n": 2000, "seed": 2},
    "clip": {"width": 16, "heads": 2, "layers": 2},
    "t5": {"width": 32, "heads": 2, "d_kv": 16, "d_ff": 64, "layers": 2, "tokens": 256},
    "flux": {"hidden": 96, "heads": 3, "depth": 2, "depth_single": 2, "mlp_ratio": 4.0, "axes": [8, 12, 12]},
    "train": {"steps": 1600, "batch": 48, "lr": 1.5e-3, "warmup": 100, "seed": 3, "ema": 0.995,
              "drop_empty": 0.05, "aux": 0.1, "probe_every": 250},
    "eval": {"steps": 16, "seeds": 2, "fast_steps": 4},
}
LATENT = 16
LOG_FILE = None
KEY_LOG_COUNT = None  # [keys]: added to attention scores while the T5 padding is folded


def log(*args):
    msg = " ".join(str(a) for a in args)
    print(msg, flush=True)
    if LOG_FILE:
        with open(LOG_FILE, "a") as f:
            f.write(msg + "\n")


def folded_t5(t5, ids):
    """T5's output with its padding folded into one token of multiplicity, and the log-multiplicity
    of each text token.

    The T5 encoder is trained with its relative-attention bias held at zero, so every `<pad>`
    position has the same output, and attending to K identical keys equals attending to one key
    with log K added to its score. FLUX gives all text tokens position zero, so identical pads stay
    identical through the transformer too. Folding the ~240 pads of schnell's 256 tokens into one
    makes training many times cheaper and gives what the full sequence gives (`--stage check`)."""
    total = ids.shape[1]
    used = int((ids > 0).sum(1).max())  # the longest prompt + </s>
    counts = torch.ones(used + 1)
    counts[used] = total - used
    log_count = counts.log()
    h = t5.shared(ids[:, : used + 1])
    for block in t5.encoder.block:
        h = block(h, log_count)  # the zero relative-position bias plus the multiplicities
    return t5.encoder.final_layer_norm(h), log_count


def load_bfl(src):
    sys.path[:0] = [os.path.join(src, "src"), src]

    def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
        """torch 2's scaled_dot_product_attention, math path (torch 1.13 has none), plus the
        log-multiplicity of each key while the padding is folded (see `folded_t5`)."""
        scores = (q @ k.transpose(-2, -1)) * (scale or q.shape[-1] ** -0.5)
        if KEY_LOG_COUNT is not None:
            scores = scores + KEY_LOG_COUNT
        return torch.softmax(scores, dim=-1) @ v

    F.scaled_dot_product_attention = sdpa
    from flux.model import Flux, FluxParams
    from flux.modules.autoencoder import AutoEncoder, AutoEncoderParams

    return Flux, FluxParams, AutoEncoder, AutoEncoderParams


# ------------------------------------------------------------------------------------ tokenizers

def clip_tokenizer(work):
    """The bundled CLIP tokenizer (models/clip-tokenizer, merges only) with the vocab.json that
    follows from it, read by data.Tokenizer (the same ids Pictor's ClipTokenizer gives)."""
    folder = os.path.join(work, "clip-tokenizer")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(REPO, "models", "clip-tokenizer", "merges.txt")) as f:
        text = f.read()
    merges = [line for line in text.split("\n")[1:] if line]
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump({t: i for i, t in enumerate(tokens)}, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write(text)
    return data.Tokenizer(folder)


class T5Vocab:
    """A T5-format Unigram tokenizer over the world's words: each word one piece ("\u2581word"),
    "," its own piece, letters as the fallback. encode() matches what tokenizers.js gives for
    lower-case captions (checked by the export stage against Pictor's T5Tokenizer)."""

    def __init__(self, max_len):
        self.max_len = max_len
        pieces = [["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581", -2.0], [",", -3.0]]
        pieces += [["\u2581" + w, -5.0 - i * 0.01] for i, w in enumerate(sorted(set(data.WORDS)))]
        letters = "abcdefghijklmnopqrstuvwxyz"
        pieces += [["\u2581" + c, -8.0] for c in letters] + [[c, -9.0] for c in letters]
        self.pieces = pieces
        self.ids = {p: i for i, (p, _) in enumerate(pieces)}

    def encode(self, text):
        body = []
        for word in text.split():
            trail = 0
            while word.endswith(","):
                word, trail = word[:-1], trail + 1
            if word:
                piece = "\u2581" + word
                body += [self.ids[piece]] if piece in self.ids else [self.ids["\u2581" + word[0]]] + [
                    self.ids[c] for c in word[1:]]
            body += [self.ids[","]] * trail
        ids = body[: self.max_len - 1] + [1]
        return ids + [0] * (self.max_len - len(ids))

    def batch(self, texts):
        return np.array([self.encode(t) for t in texts], dtype=np.int64)

    def json(self):
        special = lambda i, c: {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                                "normalized": False, "special": True}
        meta = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
        return {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [special(0, "<pad>"), special(1, "</s>"), special(2, "<unk>")],
            "normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, meta]},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
            "decoder": meta,
            "model": {"type": "Unigram", "unk_id": 2, "vocab": self.pieces, "byte_fallback": False},
        }


# ---------------------------------------------------------------------------------------- models

def make_vae(bfl):
    _, _, AutoEncoder, AutoEncoderParams = bfl
    c = CFG["vae"]
    ae = AutoEncoder(AutoEncoderParams(resolution=64, in_channels=3, ch=c["ch"], out_ch=3, ch_mult=c["ch_mult"],
                                       num_res_blocks=1, z_channels=LATENT, scale_factor=c["scale"],
                                       shift_factor=c["shift"]))
    # BFL's module fixes 32 groups: at 32-64 channels that is an instance norm per channel or pair,
    # which wipes a flat region's absolute colour. A GroupNorm's weights do not depend on its group
    # count, so setting it after construction is all diffusers' `norm_num_groups` (exported) means.
    for m in ae.modules():
        if isinstance(m, torch.nn.GroupNorm):
            m.num_groups = c["groups"]
    return ae


def make_text_flux(bfl, clip_vocab_size, t5_vocab_size):
    Flux, FluxParams, _, _ = bfl
    c, t, f = CFG["clip"], CFG["t5"], CFG["flux"]
    clip = ClipText(vocab=clip_vocab_size, width=c["width"], heads=c["heads"], layers=c["layers"])
    with torch.no_grad():
        clip.text_model.embeddings.token_embedding.weight.normal_(0, 0.02)
        clip.text_model.embeddings.position_embedding.weight.normal_(0, 0.01)
    t5 = T5Encoder(t5_vocab_size, t["width"], heads=t["heads"], d_kv=t["d_kv"], d_ff=t["d_ff"], layers=t["layers"])
    with torch.no_grad():
        t5.shared.weight.normal_(0, 1.0)
        bias = t5.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight
        bias.zero_()  # held at zero: see folded_t5; word order reaches the model through CLIP
        bias.requires_grad_(False)
    flux = Flux(FluxParams(in_channels=4 * LATENT, out_channels=4 * LATENT, vec_in_dim=c["width"],
                           context_in_dim=t["width"], hidden_size=f["hidden"], mlp_ratio=f["mlp_ratio"],
                           num_heads=f["heads"], depth=f["depth"], depth_single_blocks=f["depth_single"],
                           axes_dim=f["axes"], theta=10_000, qkv_bias=True, guidance_embed=False))
    return clip, t5, flux


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def pack(z):
    """BFL: b c (h 2) (w 2) -> b (h w) (c 2 2)."""
    b, c, h, w = z.shape
    return z.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(x, h, w):
    b = x.shape[0]
    return x.reshape(b, h // 2, w // 2, LATENT, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, LATENT, h, w)


def image_ids(b, h, w):
    ids = torch.zeros(h // 2, w // 2, 3)
    ids[..., 1] = torch.arange(h // 2)[:, None]
    ids[..., 2] = torch.arange(w // 2)[None, :]
    return ids.reshape(1, -1, 3).repeat(b, 1, 1)


# ------------------------------------------------------------------------------------------- vae

def train_vae(work, bfl):
    c = CFG["vae"]
    torch.manual_seed(c["seed"])
    rng = np.random.default_rng(c["seed"])
    ae = make_vae(bfl)
    if c.get("resume"):  # continue from <work>/vae.pt (a second round at a fresh learning rate)
        ae.load_state_dict(torch.load(os.path.join(work, "vae.pt"))["ae"])
    log(f"[vae] {n_params(ae):,} params")
    # decoder_only: the encoder (so the encoded pool, and a flow model trained on it) stays fixed
    # while the decoder goes on learning; it can run beside the flow stage
    trained = ae.decoder if c.get("decoder_only") else ae
    ae.encoder.requires_grad_(not c.get("decoder_only"))
    opt = torch.optim.Adam(trained.parameters(), lr=c["lr"])
    target_std = 1.0 / c["scale"]
    t0, run = time.time(), None
    for step in range(c["steps"]):
        lr = c["lr"] * min(1.0, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / c["steps"])))
        for g in opt.param_groups:
            g["lr"] = lr
        x = torch.from_numpy(data.to_tensor_range(data.render(data.sample_attrs(rng, c["batch"]))))
        with torch.set_grad_enabled(not c.get("decoder_only")):
            z = ae.encoder(x)[:, :LATENT]
        zn = z + c["latent_noise"] * z.detach().std() * torch.randn_like(z)
        rec = ae.decoder(zn)
        mse = F.mse_loss(rec, x)
        # FLUX.1's latent statistics: per channel mean `shift`, std 1/`scale`
        stats = (z.mean((0, 2, 3)) - c["shift"]).pow(2).mean() + (z.std((0, 2, 3)) / target_std - 1).pow(2).mean()
        loss = mse + (0 if c.get("decoder_only") else c["stats_weight"] * stats)
        if c.get("l1"):  # L1 (LDM's reconstruction loss) keeps pushing on the small errors at shape edges
            loss = loss + c["l1"] * (rec - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.parameters(), 1.0)
        opt.step()
        run = mse.item() if run is None else 0.95 * run + 0.05 * mse.item()
        if step % c["probe_every"] == c["probe_every"] - 1:
            log(f"[vae] step {step:5d} reconstructions classified: {vae_probe(ae)}")
            ae.train()
            torch.save({"ae": ae.state_dict(), "step": step + 1}, os.path.join(work, "vae-partial.pt"))
        if step % 25 == 0 or step == c["steps"] - 1:
            el = time.time() - t0
            log(f"[vae] step {step:5d} mse {run:.5f} stats {stats.item():.4f} lr {lr:.2e} {el:.0f}s, "
                f"{el / (step + 1):.2f}s/step, eta {el / (step + 1) * (c['steps'] - step - 1):.0f}s")
    ae.eval()
    with torch.no_grad():
        # the log-variance half of the encoder's output is unused (Pictor encodes the mean)
        ae.encoder.conv_out.weight[LATENT:] = 0
        ae.encoder.conv_out.bias[LATENT:] = -10.0
        rng = np.random.default_rng(1234)
        attrs = data.sample_attrs(rng, 128)
        x = torch.from_numpy(data.to_tensor_range(data.render(attrs)))
        rec = ae.decoder(ae.encoder(x)[:, :LATENT]).clamp(-1, 1)
    imgs = ((rec.numpy().transpose(0, 2, 3, 1) + 1) * 127.5).round().astype(np.uint8)
    acc = score(imgs, attrs["fg"], attrs["bg"], attrs["shape"])
    log(f"[vae] done in {time.time() - t0:.0f}s; held-out mse {F.mse_loss(rec, x).item():.5f}, reconstruction "
        f"classified: {acc}")
    torch.save({"ae": ae.state_dict(), "acc": acc, "seconds": time.time() - t0}, os.path.join(work, c.get("save_as", "vae.pt")))


@torch.no_grad()
def vae_probe(ae, n=64):
    """How the held-out reconstructions classify (a quick check while the VAE trains; the end of
    the stage scores 128). The flow model cannot draw better than this."""
    ae.eval()
    attrs = data.sample_attrs(np.random.default_rng(4321), n)
    x = torch.from_numpy(data.to_tensor_range(data.render(attrs)))
    rec = ae.decoder(ae.encoder(x)[:, :LATENT]).clamp(-1, 1)
    imgs = ((rec.numpy().transpose(0, 2, 3, 1) + 1) * 127.5).round().astype(np.uint8)
    return score(imgs, attrs["fg"], attrs["bg"], attrs["shape"])


def load_vae(work, bfl):
    ae = make_vae(bfl)
    ae.load_state_dict(torch.load(os.path.join(work, "vae.pt"))["ae"])
    return ae.eval()


def encode_pool(work, bfl):
    c, v = CFG["pool"], CFG["vae"]
    ae = load_vae(work, bfl)
    rng = np.random.default_rng(c["seed"])
    attrs = data.sample_attrs(rng, c["n"])
    t0 = time.time()
    zs = []
    with torch.no_grad():
        for i in range(0, c["n"], 250):
            sub = {k: val[i : i + 250] for k, val in attrs.items()}
            zs.append(ae.encoder(torch.from_numpy(data.to_tensor_range(data.render(sub))))[:, :LATENT])
    z = (torch.cat(zs) - v["shift"]) * v["scale"]  # what Pictor's VAE does before the transformer
    log(f"[encode] {c['n']} latents {tuple(z.shape[1:])} in {time.time() - t0:.0f}s; scaled mean "
        f"{z.mean().item():.3f} std {z.std().item():.3f}")
    torch.save({"z": z, "attrs": attrs}, os.path.join(work, "pool.pt"))


# ------------------------------------------------------------------------------------------ flow

class AuxHeads(torch.nn.Module):
    """Training-only probes: the stated fg / bg colour and shape (or 'unstated') from CLIP's pooled
    output, which carries the word order (T5's is order-free here). Pulls CLIP towards a code the
    transformer can read from the start; not exported."""

    def __init__(self, clip_dim):
        super().__init__()
        n_c, n_s = len(data.COLORS) + 1, len(data.SHAPES) + 1
        self.heads = torch.nn.ModuleList([torch.nn.Linear(clip_dim, k) for k in (n_c, n_c, n_s)])

    def forward(self, pooled, target):
        return sum(F.cross_entropy(head(pooled), target[:, k]) for k, head in enumerate(self.heads)) / 3


def draw_captions(rng, fg, bg, shape, r, drop):
    caps, tgt = [], []
    none = (len(data.COLORS), len(data.COLORS), len(data.SHAPES))
    for i in range(len(fg)):
        if rng.random() < drop:
            caps.append("")
            tgt.append(none)
        else:
            text, _, known = data.caption(rng, fg[i], bg[i], shape[i], r[i])
            caps.append(text)
            tgt.append(tuple(v if v >= 0 else nv for v, nv in zip(known, none)))
    return caps, torch.tensor(tgt, dtype=torch.long)


def encode_text(clip, t5, clip_tok, t5_tok, caps, image_tokens, fold=True):
    """CLIP's pooled output and T5's tokens; with `fold`, the padding folded (see folded_t5) and
    KEY_LOG_COUNT set for the transformer call that follows."""
    global KEY_LOG_COUNT
    _, pooled = clip(torch.from_numpy(clip_tok.batch(caps)))
    t5_ids = torch.from_numpy(t5_tok.batch(caps))
    if not fold:
        KEY_LOG_COUNT = None
        return pooled, t5(t5_ids)
    hidden, log_count = folded_t5(t5, t5_ids)
    KEY_LOG_COUNT = torch.cat([log_count, torch.zeros(image_tokens)])
    return pooled, hidden


def text_use_batch(z_all, attrs, n=96, seed=77):
    """A fixed probe set for `text_use`: pool latents, their eval-grammar prompts, noise."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(z_all.shape[0], generator=g)[:n]
    prompts = [f"{data._article(data.COLORS[f])} {data.COLORS[f]} {data.SHAPES[s]} on "
               f"{data._article(data.COLORS[b])} {data.COLORS[b]} background"
               for f, s, b in zip(attrs["fg"][idx.numpy()], attrs["shape"][idx.numpy()], attrs["bg"][idx.numpy()])]
    return z_all[idx], prompts, torch.randn(z_all[idx].shape, generator=g)


@torch.no_grad()
def text_use(models, clip_tok, t5_tok, probe, t=0.9):
    """v-MSE at noise level t with each latent's own prompt, with the prompts shuffled, and with
    the empty prompt. The first build failed here: at t=0.9 the three were equal (text unused)."""
    clip, t5, flux = models
    x0, prompts, noise = probe
    n, h, w = x0.shape[0], x0.shape[2], x0.shape[3]
    xt, target = (1 - t) * x0 + t * noise, pack(noise - x0)
    shuffled = prompts[1:] + prompts[:1]  # mostly other colours and shapes
    out = {}
    for label, caps in [("own", prompts), ("shuffled", shuffled), ("empty", [""] * n)]:
        pooled, txt = encode_text(clip, t5, clip_tok, t5_tok, caps, h * w // 4)
        pred = flux(img=pack(xt), img_ids=image_ids(n, h, w), txt=txt, txt_ids=torch.zeros(n, txt.shape[1], 3),
                    timesteps=torch.full((n,), t), y=pooled)
        out[label] = round((pred - target).pow(2).mean().item(), 4)
    return out


def train_flow(work, bfl, clip_tok, t5_tok):
    c = CFG["train"]
    torch.manual_seed(c["seed"])
    rng = np.random.default_rng(c["seed"])
    pool = torch.load(os.path.join(work, "pool.pt"))
    z_all, attrs = pool["z"], pool["attrs"]
    n, h, w = z_all.shape[0], z_all.shape[2], z_all.shape[3]
    clip, t5, flux = make_text_flux(bfl, len(clip_tok.vocab), len(t5_tok.pieces))
    before = {"step": 0, "seconds": 0.0}
    if c.get("resume"):  # continue from <work>/flow.pt's EMA weights (a second round, fresh schedule)
        ck = torch.load(os.path.join(work, "flow.pt"))
        before = {"step": ck["step"], "seconds": ck["seconds"]}
        for m, key in [(clip, "clip"), (t5, "t5"), (flux, "flux")]:
            m.load_state_dict(ck[key])
    log(f"[flow] clip {n_params(clip):,} params, t5 {n_params(t5):,}, transformer {n_params(flux):,}")
    aux = AuxHeads(CFG["clip"]["width"])
    models = [clip, t5, flux]
    params = [p for m in models for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params + list(aux.parameters()), lr=c["lr"], weight_decay=0.01)
    emas = [copy.deepcopy(m) for m in models]
    ema_params = [p for m in emas for p in m.parameters() if p.requires_grad]
    ids_img = image_ids(c["batch"], h, w)
    ids_txt = torch.zeros(c["batch"], CFG["t5"]["tokens"], 3)
    probe = text_use_batch(z_all, attrs)
    t0, run = time.time(), None
    step = 0
    while step < c["steps"]:
        if c.get("budget_s") and step == 30:
            # a wall-clock budget on a shared machine: the step count the first 30 steps' pace
            # allows, fixed before the warm-up ends so the cosine schedule runs its whole course
            # (logged: `--set train.steps=N` without a budget repeats the run)
            c["steps"] = min(c["steps"], max(31, int(c["budget_s"] / ((time.time() - t0) / 30))))
            log(f"[flow] budget {c['budget_s']}s: {c['steps']} steps")
        lr = c["lr"] * min(1.0, (step + 1) / c["warmup"]) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / c["steps"])))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, n, c["batch"])
        caps, tgt = draw_captions(rng, attrs["fg"][idx], attrs["bg"][idx], attrs["shape"][idx], attrs["r"][idx],
                                  c["drop_empty"])
        x0 = z_all[torch.from_numpy(idx)]
        # t: half logit-normal (SD3's), half uniform, so both the middle and the ends are learnt
        t = torch.where(torch.rand(c["batch"]) < 0.5, torch.sigmoid(torch.randn(c["batch"])), torch.rand(c["batch"]))
        noise = torch.randn_like(x0)
        tt = t[:, None, None, None]
        xt = (1 - tt) * x0 + tt * noise
        pooled, txt = encode_text(clip, t5, clip_tok, t5_tok, caps, ids_img.shape[1])
        pred = flux(img=pack(xt), img_ids=ids_img, txt=txt, txt_ids=ids_txt[:, : txt.shape[1]], timesteps=t, y=pooled)
        mse = (pred - pack(noise - x0)).pow(2).mean()
        loss = mse + c["aux"] * aux(pooled, tgt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        d = min(c["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(ema_params, params):
                pe.mul_(d).add_(p.detach(), alpha=1 - d)
        run = mse.item() if run is None else 0.98 * run + 0.02 * mse.item()
        if step % 25 == 0 or step == c["steps"] - 1:
            el = time.time() - t0
            log(f"[flow] step {step:5d} v-mse {run:.4f} lr {lr:.2e} {el:.0f}s, {el / (step + 1):.2f}s/step, "
                f"eta {el / (step + 1) * (c['steps'] - step - 1):.0f}s")
        if step % c["probe_every"] == c["probe_every"] - 1 or step == c["steps"] - 1:
            log(f"[flow] step {step:5d} text use at t=0.9 (EMA weights): {text_use(emas, clip_tok, t5_tok, probe)}")
        if step % 200 == 199 or step == c["steps"] - 1:
            torch.save({"clip": emas[0].state_dict(), "t5": emas[1].state_dict(), "flux": emas[2].state_dict(),
                        "step": before["step"] + step + 1, "seconds": before["seconds"] + time.time() - t0},
                       os.path.join(work, "flow.pt"))
        step += 1
    log(f"[flow] done in {time.time() - t0:.0f}s")


def load_text_flux(work, bfl, clip_tok, t5_tok, half=False):
    clip, t5, flux = make_text_flux(bfl, len(clip_tok.vocab), len(t5_tok.pieces))
    ck = torch.load(os.path.join(work, "flow.pt"))
    for m, key in [(clip, "clip"), (t5, "t5"), (flux, "flux")]:
        sd = ck[key]
        if half:  # what the exported F16 files hold
            sd = {k: v.half().float() if v.is_floating_point() else v for k, v in sd.items()}
        m.load_state_dict(sd)
    return clip.eval(), t5.eval(), flux.eval(), ck


# ---------------------------------------------------------------------------------------- export

def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def export(work, out, bfl, clip_tok, t5_tok):
    clip, t5, flux, ck = load_text_flux(work, bfl, clip_tok, t5_tok)
    ae = load_vae(work, bfl)
    half = lambda sd: {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
    f, c, t, v = CFG["flux"], CFG["clip"], CFG["t5"], CFG["vae"]
    save(f"{out}/transformer/diffusion_pytorch_model.safetensors",
         diffusers_transformer(half(flux.state_dict()), f["hidden"]))
    save(f"{out}/vae/diffusion_pytorch_model.safetensors", diffusers_vae(half(ae.state_dict())))
    save(f"{out}/text_encoder/model.safetensors", half(clip.state_dict()))
    save(f"{out}/text_encoder_2/model.safetensors", half(t5.state_dict()))
    write_json(f"{out}/tokenizer_2/tokenizer.json", t5_tok.json())
    configs = {
        "model_index.json": {
            "_class_name": "FluxPipeline", "_diffusers_version": "0.30.0",
            "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers", "T5EncoderModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "T5TokenizerFast"],
            "transformer": ["diffusers", "FluxTransformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]},
        "scheduler/scheduler_config.json": {
            "_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 1.0,
            "use_dynamic_shifting": False, "base_shift": 0.5, "max_shift": 1.15, "base_image_seq_len": 256,
            "max_image_seq_len": 4096},
        "transformer/config.json": {
            "_class_name": "FluxTransformer2DModel", "attention_head_dim": f["hidden"] // f["heads"],
            "axes_dims_rope": f["axes"], "guidance_embeds": False, "in_channels": 4 * LATENT,
            "joint_attention_dim": t["width"], "num_attention_heads": f["heads"], "num_layers": f["depth"],
            "num_single_layers": f["depth_single"], "patch_size": 1, "pooled_projection_dim": c["width"]},
        "text_encoder/config.json": {
            "architectures": ["CLIPTextModel"], "hidden_size": c["width"], "intermediate_size": 4 * c["width"],
            "num_attention_heads": c["heads"], "num_hidden_layers": c["layers"], "hidden_act": "quick_gelu",
            "max_position_embeddings": 77, "vocab_size": len(clip_tok.vocab)},
        "text_encoder_2/config.json": {
            "architectures": ["T5EncoderModel"], "d_model": t["width"], "num_heads": t["heads"], "d_kv": t["d_kv"],
            "d_ff": t["d_ff"], "num_layers": t["layers"], "feed_forward_proj": "gated-gelu",
            "vocab_size": len(t5_tok.pieces)},
        "vae/config.json": {
            "_class_name": "AutoencoderKL", "block_out_channels": [v["ch"] * m for m in v["ch_mult"]], "latent_channels": LATENT,
            "layers_per_block": 1, "scaling_factor": v["scale"], "shift_factor": v["shift"],
            "norm_num_groups": v["groups"], "use_quant_conv": False, "use_post_quant_conv": False,
            "sample_size": 64},
    }
    for name, value in configs.items():
        write_json(f"{out}/{name}", value)
    sizes = {}
    for root, _, files in os.walk(out):
        for name in files:
            if name.endswith(".safetensors"):
                sizes[os.path.relpath(os.path.join(root, name), out)] = os.path.getsize(os.path.join(root, name))
    log(f"[export] trained {ck['step']} steps; sizes {sizes}, total {sum(sizes.values()) / 1e6:.2f} MB")
    # token ids of a few prompts, for checking Pictor's tokenizers give the same
    prompts = ["a red circle on a blue background", "large yellow triangle, blurry jpeg", ""]
    write_json(os.path.join(work, "token-check.json"), {
        "prompts": prompts, "clip": clip_tok.batch(prompts).tolist(), "t5": t5_tok.batch(prompts).tolist()})


# ------------------------------------------------------------------------------------------ eval

@torch.no_grad()
def sample(models, ae, clip_tok, t5_tok, prompts, seeds, steps, fold=True):
    """FLUX.1-schnell sampling: sigmas linspace(1, 1/steps) then 0, Euler steps on the velocity."""
    clip, t5, flux = models
    n = len(prompts)
    pooled, hidden = encode_text(clip, t5, clip_tok, t5_tok, list(prompts), 16, fold)
    x = torch.stack([torch.randn(LATENT, 8, 8, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
    sig = list(np.linspace(1.0, 1.0 / steps, steps)) + [0.0]
    ids_img, ids_txt = image_ids(n, 8, 8), torch.zeros(n, hidden.shape[1], 3)
    for i in range(steps):
        t = torch.full((n,), float(sig[i]))
        v = flux(img=pack(x), img_ids=ids_img, txt=hidden, txt_ids=ids_txt, timesteps=t, y=pooled)
        x = x + (sig[i + 1] - sig[i]) * unpack(v, 8, 8)
    global KEY_LOG_COUNT
    KEY_LOG_COUNT = None
    img = ae.decoder(x / CFG["vae"]["scale"] + CFG["vae"]["shift"]).clamp(-1, 1)
    return ((img.numpy().transpose(0, 2, 3, 1) + 1) * 127.5).round().astype(np.uint8)


def check_folding(work, bfl, clip_tok, t5_tok):
    """The folded padding gives the images of the full 256-token sequence."""
    clip, t5, flux, _ = load_text_flux(work, bfl, clip_tok, t5_tok)
    ae = load_vae(work, bfl)
    prompts = ["a red circle on a blue background", "green square", "large white triangle on black"]
    a = sample((clip, t5, flux), ae, clip_tok, t5_tok, prompts, [1, 2, 3], 4, fold=True)
    b = sample((clip, t5, flux), ae, clip_tok, t5_tok, prompts, [1, 2, 3], 4, fold=False)
    diff = np.abs(a.astype(int) - b.astype(int)).max()
    log(f"[check] folded vs full 256-token text: max pixel difference {diff}")
    assert diff <= 1, diff


def score(imgs, fg, bg, shape):
    ok = {"fg": 0, "bg": 0, "shape": 0, "all": 0}
    for im, f, b, s in zip(imgs, fg, bg, shape):
        pf, pb, ps, _ = data.classify(im)
        r = (pf == data.COLORS[f], pb == data.COLORS[b], ps == data.SHAPES[s])
        ok["fg"] += r[0]
        ok["bg"] += r[1]
        ok["shape"] += r[2]
        ok["all"] += all(r)
    return {k: round(v / len(imgs), 4) for k, v in ok.items()}


def save_grid(imgs, path, cols=16):
    from PIL import Image

    rows = (len(imgs) + cols - 1) // cols
    canvas = np.full((rows * 66, cols * 66, 3), 128, np.uint8)
    for i, im in enumerate(imgs):
        r, c = divmod(i, cols)
        canvas[r * 66 + 1 : r * 66 + 65, c * 66 + 1 : c * 66 + 65] = im
    Image.fromarray(canvas).save(path)


def evaluate(work, out, bfl, clip_tok, t5_tok, batch=48):
    c = CFG["eval"]
    clip, t5, flux, ck = load_text_flux(work, bfl, clip_tok, t5_tok, half=True)
    ae = load_vae(work, bfl)
    ae.load_state_dict({k: v.half().float() for k, v in ae.state_dict().items()})
    models = (clip, t5, flux)
    grid = [(f, s, b, seed) for f in range(8) for s in range(3) for b in range(8) if b != f for seed in range(c["seeds"])]
    prompts = [f"{data._article(data.COLORS[f])} {data.COLORS[f]} {data.SHAPES[s]} on "
               f"{data._article(data.COLORS[b])} {data.COLORS[b]} background" for f, s, b, _ in grid]
    seeds = [1000 + i for i in range(len(grid))]
    fg, sh, bg = [g[0] for g in grid], [g[1] for g in grid], [g[2] for g in grid]
    t0 = time.time()
    imgs = np.concatenate([sample(models, ae, clip_tok, t5_tok, prompts[i : i + batch], seeds[i : i + batch], c["steps"])
                           for i in range(0, len(grid), batch)])
    main = score(imgs, fg, bg, sh)
    per_shape = {data.SHAPES[s]: score(*[[x for x, g in zip(v, grid) if g[1] == s] for v in (imgs, fg, bg, sh)])
                 for s in range(3)}
    log(f"[eval] {c['steps']}-step flow euler: {main} over {len(grid)} samples ({time.time() - t0:.0f}s)")
    log(f"[eval] per shape {per_shape}")
    save_grid(imgs[:: max(1, len(imgs) // 96)][:96], os.path.join(out, "samples.png"))
    sub = list(range(0, len(grid), 2))
    imgs4 = np.concatenate([sample(models, ae, clip_tok, t5_tok, [prompts[j] for j in sub[i : i + batch]],
                                   [seeds[j] for j in sub[i : i + batch]], c["fast_steps"])
                            for i in range(0, len(sub), batch)])
    fast = score(imgs4, [fg[j] for j in sub], [bg[j] for j in sub], [sh[j] for j in sub])
    log(f"[eval] {c['fast_steps']}-step flow euler: {fast} over {len(sub)} samples")
    res = {
        "sampler": "flow-matching Euler, FLUX.1-schnell sigmas (linspace(1, 1/steps), no shift), python reference",
        "weights": "the exported F16 weights",
        "trained_steps": ck["step"],
        "classifier": "scripts/tiny/data.py classify (as models/tiny/eval-python.json)",
        "grid": "8 fg colours x 3 shapes x 7 backgrounds x %d seeds, prompt 'a {fg} {shape} on a {bg} background'"
                % c["seeds"],
        "steps_%d" % c["steps"]: {"samples": len(grid), **main, "per_shape": per_shape},
        "steps_%d" % c["fast_steps"]: {"samples": len(sub), **fast},
        "seconds": round(time.time() - t0),
    }
    write_json(os.path.join(out, "eval-python.json"), res)


# ------------------------------------------------------------------------------------------ main

def main():
    global LOG_FILE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="folder with BFL's src/flux and einops/")
    ap.add_argument("--stage", default="all", choices=["all", "vae", "encode", "flow", "check", "export", "eval"])
    ap.add_argument("--work", default="/tmp/tiny_flux_build")
    ap.add_argument("--out", default=os.path.join(REPO, "models", "tiny-flux"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], help="override a setting: section.key=json")
    args = ap.parse_args()
    for item in args.set:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        CFG[section][name] = json.loads(value)
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    LOG_FILE = os.path.join(args.work, "train.log")
    bfl = load_bfl(args.src)
    log(f"=== tiny-flux build, stage {args.stage}, {time.strftime('%Y-%m-%d %H:%M:%S')}, torch {torch.__version__}")
    log(json.dumps(CFG))
    clip_tok, t5_tok = clip_tokenizer(args.work), T5Vocab(CFG["t5"]["tokens"])
    stages = ["vae", "encode", "flow", "check", "export", "eval"] if args.stage == "all" else [args.stage]
    times = {}
    for st in stages:
        t0 = time.time()
        if st == "vae":
            train_vae(args.work, bfl)
        elif st == "encode":
            encode_pool(args.work, bfl)
        elif st == "flow":
            train_flow(args.work, bfl, clip_tok, t5_tok)
        elif st == "check":
            check_folding(args.work, bfl, clip_tok, t5_tok)
        elif st == "export":
            export(args.work, args.out, bfl, clip_tok, t5_tok)
        elif st == "eval":
            evaluate(args.work, args.out, bfl, clip_tok, t5_tok)
        times[st] = round(time.time() - t0)
    log(f"=== stage times (s): {times}")


if __name__ == "__main__":
    main()
