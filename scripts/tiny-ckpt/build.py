#!/usr/bin/python3
"""Builds `tiny-sd1-ckpt.safetensors`: the `tiny` world (scripts/tiny/data.py) learned by a model in
the standard SD 1.x architecture at narrow widths, saved as one single-file LDM checkpoint, the
layout of the checkpoints people download (CompVis key names, fp16).

    /usr/bin/python3 scripts/tiny-ckpt/build.py SRC_DIR [--stage all|vae|encode|unet|export|reference]
    /usr/bin/python3 scripts/tiny-ckpt/build.py SRC_DIR --stage more   # continue the committed file

`--stage more` (= load, pool, continue, export, reference) continues training from the committed
file instead of from scratch: `load` reads its weights back into the torch modules and checks that
they reproduce the committed reference outputs; `pool` encodes CFG["continue"]["pool"] images through
its VAE (kept as is, so the latents keep their meaning); `continue` trains the UNet + text encoder in
warm-restart rounds (CFG["continue"]["rounds"], `--round N` for one, `--resume` after an interruption)
and probes each round's EMA with scripts/tiny/train.py's classifier; `probe --ckpt FILE` probes one.

SRC_DIR holds `ldm/` (github CompVis/stable-diffusion) and `einops/` (github arogozhnikov/einops),
fetched into a scratch folder, never committed. Debian's torch 1.13; no network. CI never runs this.

Architecture (what Pictor's graph builders must read from the header, and its defaults assume):
  text encoder  CLIP-L's layout (clip_text.py): the real 49408-token vocabulary (Pictor's bundled
                CLIP tokenizer), 64 wide, one 64-wide head (CLIP-L's head width), 2 layers
  UNet          ldm UNetModel, SD 1.x's options (8 heads, conv proj_in, GEGLU, context = text width)
                at model_channels 64, channel_mult [1, 1, 1], one ResBlock per level, attention at the
                two lower levels (SD 1.x: the three upper)
  VAE           ldm AutoencoderKL Encoder/Decoder (ch 64, ch_mult [1, 1, 1]: a 4x VAE, 64x64 images
                <-> 16x16x4 latents), trained as a plain autoencoder on the mean; the log-variance
                half of quant_conv is a constant -20 (a deterministic encoder). Its latents are
                rescaled so that SD 1.x's fixed scaling factor 0.18215 gives them unit variance.
Cost (2026-12-07, 2 cores shared with six other builds, load average 11-19): the VAE stage took
~10 min; encoding the 6000-image pool did not finish in 28 min (~1 GFLOP per image through the
64-channel encoder at 64x64); the UNet at batch 24-32 measured 1.1-1.6 s per step with about one
core. On 2 quiet cores expect roughly VAE 4 min, encode 5 min, UNet 2400 steps 40-60 min: this has
not yet been run to the end.
Continued (2026-12-07, load average 11-21): pool of 6000 in 528 s; UNet 1.6-4.3 s per step at batch
32 (1,000 + 500 steps in about 65 min).
Round 2 (2026-12-07 late, load average 12-19; a niced process got ~10 % of a core): `--pool 1500
--threads 1` encoded in 2,233 s (0.1 CPU-s per image: encoding costs more per sample than a training
step, so a small pool reused is the cheaper data), then `--stage continue --round 2` 300 steps in
1,413 s (4.7-11.7 s per step). eval:tiny --quick at guidance 7.5: 79.8 / 71.4 / 80.4 % (committed
file: 81.0 / 72.6 / 72.6), at 14: 89.9 / 89.3 / 74.4 %; not committed (docs/checkpoint-graphs.md has
the guidance sweep and the 672-image numbers). `--stage continue --round 2` needs
<work>/unet_round1.pt: copy unet_loaded.pt there when round 1 is the committed file.
Round 3 (2026-12-08 01:26-02:39, one core at normal priority, load average 6-13; the committed file):
`--stage pool --pool 7000 --threads 2` in 337 s, then `--stage continue --round 3 --threads 1` from
the committed weights (not round 2's), batch 32, peak 5e-4, cosine, EMA 0.998, an EMA snapshot every
500 steps. The pace swung from 3.3 to 0.8 s per step with the machine's load (threads 2: 1.73 s per
step against 1.83 with 1, the other core busy), so the run was stopped at a saved state and resumed
with `--steps` (the cosine's length) 2700 -> 2100 -> 1700 -> 2400 -> 3000 -> 3800 -> 4300 to end
before the deadline. The committed file is the final EMA (`--stage export` and `--stage reference`
with `--ckpt unet_round3.pt`); full grid at SD 1.x's defaults (euler, guidance 7.5) 99.9 / 100.0 /
94.6 %, the snapshots' numbers in docs/checkpoint-graphs.md.
Training follows scripts/tiny/train.py: text-encoder warm-up on linear probes, then UNet + text
encoder jointly, epsilon objective on SD's scaled_linear schedule, min-SNR-5, caption dropout, EMA.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "tiny"))
sys.path.insert(0, os.path.join(REPO, "scripts", "python"))
import data  # noqa: E402
import train as tiny  # noqa: E402  (its world, captions, probes and scoring)
from clip_vocab import bytes_to_unicode  # noqa: E402
from clip_text import CLIPTextModel  # noqa: E402

SD1_SCALING_FACTOR = 0.18215

CFG = {
    "vae": {"ch": 64, "ch_mult": [1, 1, 1], "steps": 450, "batch": 12, "crop": 32, "lr": 1e-3, "seed": 1,
            "latent_noise": 0.1, "l2": 1e-4, "mean_penalty": 1e-2},
    "pool": {"n": 6000, "seed": 2},
    "text": {"width": 64, "heads": 1, "inner": 256, "layers": 2},
    "unet": {"model_channels": 64, "channel_mult": [1, 1, 1], "attention_resolutions": [2, 4],
             "num_heads": 8},
    "text_pretrain": {"steps": 200, "batch": 128, "lr": 2e-3},
    "train": {"steps": 2400, "batch": 32, "lr": 1e-3, "warmup": 100, "seed": 3, "ema": 0.998,
              "drop_empty": 0.10, "drop_filler": 0.03, "min_snr": 5.0, "aux": 0.05},
}
# Continued training from the committed file (--stage load, pool, continue): the first build had
# encoded only 1,500 images; the VAE stays as committed so the latents keep their meaning.
CFG["continue"] = {"pool": 6000, "pool_seed": 12, "batch": 32, "warmup": 50, "seed": 13, "ema": 0.998,
                   "save_every": 100, "probe_start": True,
                   # Warm restarts: each round a cosine from its own peak, starting at the last round's EMA.
                   # Round 2 as run on 2026-12-07 late (the niced process got ~10 % of a core): short, so
                   # a faster EMA, and saved every 50 steps so a partial round can be exported.
                   "rounds": [{"steps": 1000, "lr": 4e-4},
                              {"steps": 300, "lr": 3e-4, "ema": 0.99, "save_every": 50},
                              # Round 3 (2026-12-08, one quiet core): from the committed file again
                              # (round 2 was not committed), a longer cosine, an EMA snapshot kept
                              # every `snapshot_every` steps so the best one can be exported.
                              {"steps": 4000, "lr": 5e-4, "from": "unet_loaded.pt",
                               "snapshot_every": 500}]}
VOCAB = 49408
DTYPES = {"F16": torch.float16, "F32": torch.float32, "I64": torch.int64}
PREFIXES = {"te": "cond_stage_model.transformer.", "unet": "model.diffusion_model.", "vae": "first_stage_model."}


def log(*args):
    tiny.log(*args)


# ------------------------------------------------------------------------------ tokenizer

def clip_tokenizer(work):
    """Pictor's bundled CLIP tokenizer (models/clip-tokenizer, merges only) with the vocab.json its
    merges imply (as src/engine/text/clip-vocab-from-merges.ts builds it)."""
    folder = os.path.join(work, "clip-tokenizer")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(REPO, "models", "clip-tokenizer", "merges.txt"), encoding="utf-8") as f:
        text = f.read()
    merges = [l for l in text.split("\n")[1:] if l]
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    assert len(tokens) == VOCAB, len(tokens)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(tokens)}, f)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    return data.Tokenizer(folder)


# ------------------------------------------------------------------------------------ models

def make_vae():
    from ldm.modules.diffusionmodules.model import Decoder, Encoder

    c = CFG["vae"]
    ddconfig = dict(double_z=True, z_channels=4, resolution=64, in_channels=3, out_ch=3, ch=c["ch"],
                    ch_mult=c["ch_mult"], num_res_blocks=1, attn_resolutions=[], dropout=0.0)
    vae = nn.Module()
    vae.encoder, vae.decoder = Encoder(**ddconfig), Decoder(**ddconfig)
    vae.quant_conv, vae.post_quant_conv = nn.Conv2d(8, 8, 1), nn.Conv2d(4, 4, 1)
    return vae


def vae_mean(vae, x):
    return vae.quant_conv(vae.encoder(x))[:, :4]


def vae_decode(vae, z):
    return vae.decoder(vae.post_quant_conv(z))


def make_text_unet():
    from ldm.modules.diffusionmodules.openaimodel import UNetModel

    t, u = CFG["text"], CFG["unet"]
    te = CLIPTextModel(vocab=VOCAB, width=t["width"], heads=t["heads"], inner=t["inner"], layers=t["layers"])
    unet = UNetModel(image_size=16, in_channels=4, out_channels=4, model_channels=u["model_channels"],
                     attention_resolutions=u["attention_resolutions"], num_res_blocks=1,
                     channel_mult=u["channel_mult"], num_heads=u["num_heads"], use_spatial_transformer=True,
                     transformer_depth=1, context_dim=t["width"], use_checkpoint=False, legacy=False)
    return te, unet


def n_params(m):
    return sum(p.numel() for p in m.parameters())


# --------------------------------------------------------------------------------------- vae

def train_vae(work):
    c = CFG["vae"]
    torch.manual_seed(c["seed"])
    rng = np.random.default_rng(c["seed"])
    vae = make_vae()
    log(f"[vae] {n_params(vae):,} params")
    params = list(vae.parameters())
    opt = torch.optim.Adam(params, lr=c["lr"])
    t0, run = time.time(), 0.0
    for step in range(c["steps"]):
        lr = c["lr"] * min(1.0, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / c["steps"])))
        for g in opt.param_groups:
            g["lr"] = lr
        x = data.render(data.sample_attrs(rng, c["batch"]))
        k = c["crop"]  # crops: 4x cheaper; GroupNorm makes the VAE non-local, but flat scenes are alike
        oy, ox = rng.integers(0, (data.SIZE - k) // 4 + 1, (2, c["batch"])) * 4
        x = np.stack([im[y : y + k, xx : xx + k] for im, y, xx in zip(x, oy, ox)])
        x = torch.from_numpy(data.to_tensor_range(x))
        z = vae_mean(vae, x)
        rec = vae_decode(vae, z + c["latent_noise"] * z.detach().std() * torch.randn_like(z))
        mse = F.mse_loss(rec, x)
        loss = mse + c["l2"] * z.pow(2).mean() + c["mean_penalty"] * z.mean((0, 2, 3)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        run = 0.98 * run + 0.02 * mse.item() if step else mse.item()
        if step % 50 == 0 or step == c["steps"] - 1:
            el = time.time() - t0
            log(f"[vae] step {step:5d} mse {run:.5f} z.std {z.std().item():.3f} {el:.0f}s, "
                f"eta {el / (step + 1) * (c['steps'] - step - 1):.0f}s")
    vae.eval()
    rng = np.random.default_rng(1234)
    attrs = data.sample_attrs(rng, 128)
    x = torch.from_numpy(data.to_tensor_range(data.render(attrs)))
    with torch.no_grad():
        rec = vae_decode(vae, vae_mean(vae, x)).clamp(-1, 1)
    imgs = ((rec.numpy().transpose(0, 2, 3, 1) + 1) * 127.5).round().astype(np.uint8)
    acc = tiny.score(imgs, attrs["fg"], attrs["bg"], attrs["shape"])
    log(f"[vae] done in {time.time() - t0:.0f}s; held-out mse {F.mse_loss(rec, x).item():.5f}, "
        f"reconstruction classified: {acc}")
    torch.save(vae.state_dict(), os.path.join(work, "vae.pt"))
    tiny.save_grid(imgs[:16], os.path.join(work, "vae_recon.png"))


def load_vae(work):
    vae = make_vae()
    vae.load_state_dict(torch.load(os.path.join(work, "vae.pt")))
    return vae.eval()


def encode_pool(work):
    """Latents of a fixed image pool; the VAE's mean half is rescaled so that 0.18215 x latent has
    unit standard deviation (SD 1.x's scaling factor is fixed, not read from the checkpoint)."""
    c = CFG["pool"]
    vae = load_vae(work)
    rng = np.random.default_rng(c["seed"])
    attrs = data.sample_attrs(rng, c["n"])
    with torch.no_grad():
        z = torch.cat([vae_mean(vae, torch.from_numpy(data.to_tensor_range(data.render(
            {k: v[i : i + 500] for k, v in attrs.items()})))) for i in range(0, c["n"], 500)])
        gain = (1 / SD1_SCALING_FACTOR) / z.std().item()
        vae.quant_conv.weight[:4] *= gain
        vae.quant_conv.bias[:4] *= gain
        vae.quant_conv.weight[4:] = 0
        vae.quant_conv.bias[4:] = -20.0  # log-variance: a deterministic encoder
        vae.post_quant_conv.weight /= gain
    z = z * gain * SD1_SCALING_FACTOR
    log(f"[encode] {c['n']} latents, gain {gain:.4f}; scaled std {z.std().item():.4f}, channel means "
        f"{[round(v, 3) for v in z.mean((0, 2, 3)).tolist()]}")
    torch.save(vae.state_dict(), os.path.join(work, "vae_scaled.pt"))
    torch.save({"z": z, "attrs": attrs}, os.path.join(work, "pool.pt"))


# -------------------------------------------------------------------------------------- unet

def train_unet(work, tok):
    c = CFG["train"]
    torch.manual_seed(c["seed"])
    rng = np.random.default_rng(c["seed"])
    pool = torch.load(os.path.join(work, "pool.pt"))
    z_all, attrs = pool["z"], pool["attrs"]
    n = z_all.shape[0]
    te, unet = make_text_unet()
    log(f"[unet] text encoder {n_params(te):,} params, unet {n_params(unet):,} params")
    aux = tiny.AuxHeads(CFG["text"]["width"])
    tiny.CFG["text_pretrain"] = CFG["text_pretrain"]
    tiny.pretrain_text(te, aux, tok, rng)
    params = list(te.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params + list(aux.parameters()), lr=c["lr"], weight_decay=0.01)
    ema_te, ema_unet = copy.deepcopy(te), copy.deepcopy(unet)
    ema_params = list(ema_te.parameters()) + list(ema_unet.parameters())
    ac = tiny.alphas_cumprod()
    t0, run = time.time(), None
    for step in range(c["steps"]):
        lr = c["lr"] * min(1.0, (step + 1) / c["warmup"]) * 0.5 * (1 + math.cos(math.pi * step / c["steps"]))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, n, c["batch"])
        caps, tgt = tiny.draw_captions(rng, attrs["fg"][idx], attrs["bg"][idx], attrs["shape"][idx],
                                       attrs["r"][idx], c)
        ids = torch.from_numpy(tok.batch(caps))
        z0 = z_all[torch.from_numpy(idx)]
        t = torch.randint(0, 1000, (c["batch"],))
        a = ac[t][:, None, None, None]
        eps = torch.randn_like(z0)
        xt = a.sqrt() * z0 + (1 - a).sqrt() * eps
        hidden, pooled = te(ids)
        pred = unet(xt, timesteps=t, context=hidden)
        snr = a.flatten() / (1 - a.flatten())
        w = torch.clamp(snr, max=c["min_snr"]) / snr
        per = (pred - eps).pow(2).mean((1, 2, 3))
        loss = (w * per).mean() + c["aux"] * aux(hidden, pooled, tgt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        d = min(c["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, p in zip(ema_params, params):
                pe.mul_(d).add_(p.detach(), alpha=1 - d)
        run = per.mean().item() if run is None else 0.98 * run + 0.02 * per.mean().item()
        if step % 50 == 0 or step == c["steps"] - 1:
            el = time.time() - t0
            log(f"[unet] step {step:5d} eps-mse {run:.4f} lr {lr:.2e} {el:.0f}s, {el / (step + 1):.2f}s/step, "
                f"eta {el / (step + 1) * (c['steps'] - step - 1):.0f}s")
        if step % 300 == 299:
            torch.save({"te": ema_te.state_dict(), "unet": ema_unet.state_dict()}, os.path.join(work, "unet.pt"))
    log(f"[unet] done in {time.time() - t0:.0f}s")
    torch.save({"te": ema_te.state_dict(), "unet": ema_unet.state_dict()}, os.path.join(work, "unet.pt"))


# ------------------------------------------------------------------------------------ export

def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    names = {torch.float16: "F16", torch.float32: "F32", torch.int64: "I64"}
    for name, t in tensors.items():
        raw = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for blob in blobs:
            f.write(blob)


def export(work, out, ckpt="unet.pt"):
    te, unet = make_text_unet()
    ck = torch.load(os.path.join(work, ckpt))
    te.load_state_dict(ck["te"])
    unet.load_state_dict(ck["unet"])
    state = {}
    state.update({f"cond_stage_model.transformer.{k}": v for k, v in te.state_dict().items()})
    state.update({f"model.diffusion_model.{k}": v for k, v in unet.state_dict().items()})
    state.update({f"first_stage_model.{k}": v for k, v in torch.load(os.path.join(work, "vae_scaled.pt")).items()})
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    write_safetensors(out, state, {"pictor": "tiny-sd1-ckpt, scripts/tiny-ckpt/build.py", "config": json.dumps(CFG)})
    log(f"[export] {out}: {len(state)} tensors, {os.path.getsize(out):,} bytes")


def load_modules(work, ckpt="unet.pt"):
    te, unet = make_text_unet()
    ck = torch.load(os.path.join(work, ckpt))
    te.load_state_dict(ck["te"])
    unet.load_state_dict(ck["unet"])
    vae = make_vae()
    vae.load_state_dict(torch.load(os.path.join(work, "vae_scaled.pt")))
    return te.eval(), unet.eval(), vae.eval()


def reference_tensors(work, te, unet, vae):
    """Reference outputs of the torch modules at the stored (fp16) weights (modules changed in place)."""
    torch.manual_seed(7)
    refs = {}
    with torch.no_grad():
        for module in (te, unet, vae):
            module.eval()
            for p in module.parameters():
                p.copy_(p.half().float())
        tok = clip_tokenizer(work)
        ids = torch.from_numpy(tok.batch(["a red circle on a blue background", ""]))
        last, pooled = te(ids)
        refs.update({"text.input_ids": ids, "text.last_hidden_state": last, "text.pooler_output": pooled})
        sample = torch.randn(2, 4, 16, 16)
        timestep = torch.tensor([981.0, 1.0])
        refs.update({"unet.sample": sample, "unet.timestep": timestep, "unet.encoder_hidden_states": last,
                     "unet.out_sample": unet(sample, timesteps=timestep, context=last)})
        latent = torch.randn(1, 4, 16, 16)
        refs.update({"vae.latent_sample": latent, "vae.decoded": vae_decode(vae, latent)})
        attrs = data.sample_attrs(np.random.default_rng(5), 1)
        image = torch.from_numpy(data.to_tensor_range(data.render(attrs)))
        moments = vae.quant_conv(vae.encoder(image))
        refs.update({"vae.image": image, "vae.latent_mean": moments[:, :4], "vae.latent_parameters": moments})
    return {k: v.float().contiguous() if v.is_floating_point() else v for k, v in refs.items()}


def reference(work, out, ckpt="unet.pt"):
    """Reference outputs for the parity test of Pictor's graph builders at this architecture's widths
    and default head settings."""
    write_safetensors(out, reference_tensors(work, *load_modules(work, ckpt)),
                      {"pictor": "reference outputs of tiny-sd1-ckpt, scripts/tiny-ckpt/build.py"})
    log(f"[reference] {out}: {os.path.getsize(out):,} bytes")


# ------------------------------------------------------------------------- continued training

def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        blob = f.read()
    header.pop("__metadata__", None)
    return {k: torch.frombuffer(bytearray(blob[v["data_offsets"][0] : v["data_offsets"][1]]),
                                dtype=DTYPES[v["dtype"]]).reshape(v["shape"]) for k, v in header.items()}


def load_checkpoint(work, path, reference_path):
    """The committed file's weights back into the torch modules (same CompVis names, minus the
    prefixes), checked against the committed reference outputs: the round trip must reproduce them."""
    tensors = read_safetensors(path)
    parts = {}
    for part, prefix in PREFIXES.items():
        parts[part] = {k[len(prefix):]: (v.float() if v.is_floating_point() else v)
                       for k, v in tensors.items() if k.startswith(prefix)}
    assert sum(len(p) for p in parts.values()) == len(tensors), "tensors outside the three prefixes"
    for name in ("unet.pt", "unet_loaded.pt"):  # export's input, and continue's starting point
        torch.save({"te": parts["te"], "unet": parts["unet"]}, os.path.join(work, name))
    torch.save(parts["vae"], os.path.join(work, "vae_scaled.pt"))
    refs, committed = reference_tensors(work, *load_modules(work)), read_safetensors(reference_path)
    worst = 0.0
    for k, v in committed.items():
        d = (refs[k].double() - v.double()).abs().max().item() / max(v.double().abs().max().item(), 1e-12)
        worst = max(worst, d)
        assert d < 1e-5, f"round trip differs on {k}: {d:.2e} relative"
    log(f"[load] {path}: {len(tensors)} tensors; the reference outputs reproduce ({len(committed)} tensors, "
        f"worst {worst:.1e} relative)")


def encode_more(work):
    """A bigger pool through the committed VAE (its mean half already gives 1/0.18215-std latents)."""
    c = CFG["continue"]
    vae = load_modules(work)[2]
    attrs = data.sample_attrs(np.random.default_rng(c["pool_seed"]), c["pool"])
    t0, zs = time.time(), []
    with torch.no_grad():
        for i in range(0, c["pool"], 250):
            sub = {k: v[i : i + 250] for k, v in attrs.items()}
            zs.append(vae_mean(vae, torch.from_numpy(data.to_tensor_range(data.render(sub)))) * SD1_SCALING_FACTOR)
            if i % 1000 == 0:
                log(f"[pool] {i + 250}/{c['pool']} {time.time() - t0:.0f}s")
    z = torch.cat(zs)
    log(f"[pool] {len(z)} latents in {time.time() - t0:.0f}s; std {z.std().item():.4f}, channel means "
        f"{[round(v, 3) for v in z.mean((0, 2, 3)).tolist()]}")
    torch.save({"z": z, "attrs": attrs}, os.path.join(work, "pool_continue.pt"))


@torch.no_grad()
def probe(te, unet, vae, tok, every=2, steps=20, guidance=7.5, batch=42):
    """The Python-side score (scripts/tiny/train.py's classifier) over every `every`-th prompt of the
    8 x 3 x 7 grid, one seed each: euler, 20 steps, guidance 7.5, as `npm run eval:tiny -- --quick`."""
    grid = [(f, sh, b) for f in range(8) for sh in range(3) for b in range(8) if b != f][::every]
    prompts = [f"{data._article(data.COLORS[f])} {data.COLORS[f]} {data.SHAPES[sh]} on "
               f"{data._article(data.COLORS[b])} {data.COLORS[b]} background" for f, sh, b in grid]
    imgs = []
    for i in range(0, len(grid), batch):
        ps = prompts[i : i + batch]
        n = len(ps)
        ctx = te(torch.from_numpy(tok.batch(ps + [""] * n)))[0]

        def eps(x_in, t):
            e = unet(torch.cat([x_in, x_in]), timesteps=torch.full((2 * n,), t, dtype=torch.long), context=ctx)
            return e[n:] + guidance * (e[:n] - e[n:])

        noise = torch.stack([torch.randn(4, 16, 16, generator=torch.Generator().manual_seed(7000 + i + j))
                             for j in range(n)])
        x = tiny.samplers.sample("euler", eps, noise, steps)
        img = vae_decode(vae, x / SD1_SCALING_FACTOR).clamp(-1, 1)
        imgs.append(((img.numpy().transpose(0, 2, 3, 1) + 1) * 127.5).round().astype(np.uint8))
    imgs = np.concatenate(imgs)
    return tiny.score(imgs, [g[0] for g in grid], [g[2] for g in grid], [g[1] for g in grid]), imgs


def continue_unet(work, tok, resume, rnd):
    """More UNet + text-encoder training from the loaded weights on the bigger pool: a lower peak
    learning rate with cosine decay, EMA restarted at the loaded weights, the probes re-fitted to the
    frozen text encoder first (they are not in the file). A resumable state is saved every few
    minutes; each EMA snapshot that is probed is kept as a candidate."""
    c = {**CFG["continue"], **CFG["continue"]["rounds"][rnd - 1]}
    c["seed"] += 100 * (rnd - 1)
    pool = torch.load(os.path.join(work, "pool_continue.pt"))
    z_all, attrs = pool["z"], pool["attrs"]
    n = z_all.shape[0]
    start_file = c.get("from", "unet_loaded.pt" if rnd == 1 else f"unet_round{rnd - 1}.pt")
    te, unet, vae = load_modules(work, start_file)
    log(f"[continue] round {rnd} starts from {start_file}")
    te.train(), unet.train()
    aux = tiny.AuxHeads(CFG["text"]["width"])
    params = list(te.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params + list(aux.parameters()), lr=c["lr"], weight_decay=0.01)
    ema_te, ema_unet = copy.deepcopy(te).eval(), copy.deepcopy(unet).eval()
    ema_params = list(ema_te.parameters()) + list(ema_unet.parameters())
    state_path, start = os.path.join(work, f"continue_state_round{rnd}.pt"), 0
    if resume and os.path.exists(state_path):
        st = torch.load(state_path)
        for m, k in ((te, "te"), (unet, "unet"), (ema_te, "ema_te"), (ema_unet, "ema_unet"), (aux, "aux"),
                     (opt, "opt")):
            m.load_state_dict(st[k])
        start = st["step"]
        log(f"[continue] resumed at step {start}")
    else:
        torch.manual_seed(c["seed"])
        rng = np.random.default_rng(c["seed"])
        aux_opt = torch.optim.AdamW(aux.parameters(), lr=2e-3)
        for step in range(150):  # the probes, fitted to the text encoder as it is
            a = data.sample_attrs(rng, 128)
            caps, tgt = tiny.draw_captions(rng, a["fg"], a["bg"], a["shape"], a["r"], CFG["train"])
            with torch.no_grad():
                hidden, pooled = te(torch.from_numpy(tok.batch(caps)))
            loss = aux(hidden, pooled, tgt)
            aux_opt.zero_grad()
            loss.backward()
            aux_opt.step()
        log(f"[continue] probes fitted to the loaded text encoder: aux loss {loss.item():.4f}")
        if c["probe_start"] and rnd == 1:
            p0 = time.time()
            log(f"[continue] step 0 (the committed weights): probe {probe(ema_te, ema_unet, vae, tok)[0]} "
                f"({time.time() - p0:.0f}s)")
    torch.manual_seed(c["seed"] + start)
    rng = np.random.default_rng(c["seed"] + start)
    ac = tiny.alphas_cumprod()
    t0, run = time.time(), None
    for step in range(start, c["steps"]):
        lr = c["lr"] * min(1.0, (step + 1) / c["warmup"]) * 0.5 * (1 + math.cos(math.pi * step / c["steps"]))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, n, c["batch"])
        caps, tgt = tiny.draw_captions(rng, attrs["fg"][idx], attrs["bg"][idx], attrs["shape"][idx],
                                       attrs["r"][idx], CFG["train"])
        ids = torch.from_numpy(tok.batch(caps))
        z0 = z_all[torch.from_numpy(idx)]
        t = torch.randint(0, 1000, (c["batch"],))
        a = ac[t][:, None, None, None]
        eps = torch.randn_like(z0)
        xt = a.sqrt() * z0 + (1 - a).sqrt() * eps
        hidden, pooled = te(ids)
        pred = unet(xt, timesteps=t, context=hidden)
        snr = a.flatten() / (1 - a.flatten())
        w = torch.clamp(snr, max=CFG["train"]["min_snr"]) / snr
        per = (pred - eps).pow(2).mean((1, 2, 3))
        loss = (w * per).mean() + CFG["train"]["aux"] * aux(hidden, pooled, tgt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema_params, params):
                pe.mul_(c["ema"]).add_(p.detach(), alpha=1 - c["ema"])
        run = per.mean().item() if run is None else 0.98 * run + 0.02 * per.mean().item()
        done = step + 1
        if step % 50 == 0 or done == c["steps"]:
            el = time.time() - t0
            log(f"[continue] round {rnd} step {step:5d} eps-mse {run:.4f} lr {lr:.2e} {el:.0f}s, "
                f"{el / (done - start):.2f}s/step, eta {el / (done - start) * (c['steps'] - done):.0f}s")
        if "snapshot_every" in c and done % c["snapshot_every"] == 0:
            torch.save({"te": ema_te.state_dict(), "unet": ema_unet.state_dict()},
                       os.path.join(work, f"unet_round{rnd}_step{done}.pt"))
        if done % c["save_every"] == 0 or done == c["steps"]:
            torch.save({"te": te.state_dict(), "unet": unet.state_dict(), "ema_te": ema_te.state_dict(),
                        "ema_unet": ema_unet.state_dict(), "aux": aux.state_dict(), "opt": opt.state_dict(),
                        "step": done}, state_path + ".tmp")
            os.replace(state_path + ".tmp", state_path)
    log(f"[continue] round {rnd} done in {time.time() - t0:.0f}s")
    for name in (f"unet_round{rnd}.pt", "unet.pt"):  # the next round's start; export's input
        torch.save({"te": ema_te.state_dict(), "unet": ema_unet.state_dict()}, os.path.join(work, name))
    p0 = time.time()
    log(f"[continue] round {rnd}: EMA probe {probe(ema_te, ema_unet, vae, tok)[0]} ({time.time() - p0:.0f}s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("--stage", default="all", choices=["all", "vae", "encode", "unet", "export", "reference",
                                                       "load", "pool", "continue", "probe", "more"])
    ap.add_argument("--ckpt", default="unet.pt", help="the UNet + text encoder that export / reference / probe use")
    ap.add_argument("--resume", action="store_true", help="continue: from <work>/continue_state_roundN.pt")
    ap.add_argument("--round", type=int, default=0, help="continue: only this round (1-based; default all)")
    ap.add_argument("--steps", type=int, help="continue: the round's steps, the length of its cosine")
    ap.add_argument("--no-start-probe", action="store_true", help="continue: skip probing the loaded weights")
    ap.add_argument("--work", default="/tmp/tiny_ckpt_build")
    ap.add_argument("--out", default=os.path.join(REPO, "models", "tiny-sd1-ckpt", "tiny-sd1-ckpt.safetensors"))
    ap.add_argument("--reference", default=os.path.join(REPO, "test", "fixtures", "checkpoints",
                                                        "tiny-sd1-ckpt.reference.safetensors"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pool", type=int, help="pool: how many images to encode (default CFG['continue']['pool'])")
    args = ap.parse_args()
    if args.pool:
        CFG["continue"]["pool"] = args.pool
    sys.path.insert(0, os.path.abspath(args.src))
    torch.set_num_threads(args.threads)
    if args.steps:
        for rnd in [args.round] if args.round else range(1, len(CFG["continue"]["rounds"]) + 1):
            CFG["continue"]["rounds"][rnd - 1]["steps"] = args.steps
    if args.no_start_probe:
        CFG["continue"]["probe_start"] = False
    os.makedirs(args.work, exist_ok=True)
    tiny.LOG_FILE = os.path.join(args.work, "train.log")
    log(f"=== tiny-sd1-ckpt build, stage {args.stage}, {time.strftime('%Y-%m-%d %H:%M:%S')}, torch {torch.__version__}")
    log(json.dumps(CFG))
    tok = clip_tokenizer(args.work)
    stages = {"all": ["vae", "encode", "unet", "export", "reference"],
              "more": ["load", "pool", "continue", "export", "reference"]}.get(args.stage, [args.stage])
    times = {}
    for st in stages:
        t0 = time.time()
        if st == "vae":
            train_vae(args.work)
        elif st == "encode":
            encode_pool(args.work)
        elif st == "unet":
            train_unet(args.work, tok)
        elif st == "export":
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
            export(args.work, args.out, args.ckpt)
        elif st == "reference":
            reference(args.work, args.reference, args.ckpt)
        elif st == "load":
            load_checkpoint(args.work, args.out, args.reference)
        elif st == "pool":
            encode_more(args.work)
        elif st == "continue":
            for rnd in [args.round] if args.round else range(1, len(CFG["continue"]["rounds"]) + 1):
                continue_unet(args.work, tok, args.resume, rnd)
        elif st == "probe":
            acc, imgs = probe(*load_modules(args.work, args.ckpt)[:2], load_modules(args.work)[2], tok)
            log(f"[probe] {args.ckpt}: {acc}")
            tiny.save_grid(imgs, os.path.join(args.work, "probe.png"), cols=12)
        times[st] = round(time.time() - t0)
    log(f"=== stage times (s): {times}")


if __name__ == "__main__":
    main()
