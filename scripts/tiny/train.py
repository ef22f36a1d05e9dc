"""Builds Pictor's bundled `tiny` text-to-image model end to end.

    /usr/bin/python3 scripts/tiny/train.py                 # everything, ~29 min on 2 shared CPU cores
    /usr/bin/python3 scripts/tiny/train.py --stage eval    # re-run one stage from the /tmp checkpoints

Stages (each one's result is checkpointed under --work, default /tmp/tiny_build):
  1. vae     train a 4x autoencoder (64x64x3 <-> 16x16x4) on synthetic flat-colour shapes (32x32 crops;
             the VAE has no normalisation layers, so it is local)
  2. encode  encode a fixed pool of synthetic images; scaling_factor = 1 / std(latents)
  3. unet    warm up the causal text encoder on linear probes (stated colours / shape), then train the
             UNet + text encoder jointly with the DDPM epsilon objective on SD's noise schedule
             (scaled_linear 0.00085 -> 0.012, 1000 steps, min-SNR-5 weights), 10% caption dropout to
             the empty prompt (+3% quality-word-only prompts), EMA weights
  4. export  write models/tiny/ in the diffusers ONNX layout (opset 17, dynamic batch/spatial axes),
             tokenizer (scripts/python/clip_vocab.py), configs, pictor.json, reference tensors for
             an onnxruntime check under <work>/ref
  5. eval    sample a colour x shape x background x 4-seed grid with a 20-step Euler sampler at
             guidance 7.5 (plus 4 steps, other phrasings, a negative prompt and every other sampler),
             classify each image, write models/tiny/eval-python.json and models/tiny/samples.png

Files: data.py (world, captions, tokenizer, classifier), models.py (VAE, text encoder, UNet),
samplers.py (reference euler / euler_a / ddim / dpmpp_2m / lms / pndm).
Requirements: Debian's torch 1.13 and onnx 1.12 (no network, no diffusers / transformers).
Deterministic: fixed numpy / torch seeds. Progress and timings go to stdout and <work>/train.log.
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
sys.path.insert(0, HERE)
import data  # noqa: E402
import samplers  # noqa: E402
from models import TextEncoder, UNet, VAEDecoder, VAEEncoder, n_params  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

CFG = {
    "vae": {"chs": [16, 32, 64], "latent": 4, "steps": 1200, "batch": 48, "crop": 32, "lr": 2e-3, "seed": 1,
            "latent_noise": 0.1, "l2": 1e-4, "mean_penalty": 1e-2},
    "pool": {"n": 20000, "seed": 2},
    "text": {"dim": 64, "layers": 2, "heads": 4},
    "unet": {"chs": [32, 64, 64], "attn": ["none", "full", "full"], "layers": 1, "head_dim": 32},
    "text_pretrain": {"steps": 200, "batch": 128, "lr": 2e-3},
    "train": {"steps": 3400, "batch": 32, "lr": 1e-3, "warmup": 100, "seed": 3, "ema": 0.999,
              "drop_empty": 0.10, "drop_filler": 0.03, "min_snr": 5.0, "aux": 0.05},
    "eval": {"steps": 20, "guidance": 7.5, "seeds": 4, "fast_steps": 4},
}

LOG_FILE = None


def log(*args):
    msg = " ".join(str(a) for a in args)
    print(msg, flush=True)
    if LOG_FILE:
        with open(LOG_FILE, "a") as f:
            f.write(msg + "\n")


# ------------------------------------------------------------------------------------ schedule

def alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


# ---------------------------------------------------------------------------------------- vae

def train_vae(work):
    c = CFG["vae"]
    torch.manual_seed(c["seed"])
    rng = np.random.default_rng(c["seed"])
    enc, dec = VAEEncoder(c["chs"], c["latent"]), VAEDecoder(c["chs"], c["latent"])
    log(f"[vae] encoder {n_params(enc):,} params, decoder {n_params(dec):,} params")
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=c["lr"])
    t0 = time.time()
    run = 0.0
    for step in range(c["steps"]):
        lr = c["lr"] * min(1.0, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / c["steps"])))
        for g in opt.param_groups:
            g["lr"] = lr
        x = data.render(data.sample_attrs(rng, c["batch"]))
        if c["crop"] < data.SIZE:  # the VAE has no normalisation layers, so it is local: train on crops
            k = c["crop"]
            oy, ox = rng.integers(0, (data.SIZE - k) // 4 + 1, (2, c["batch"])) * 4
            x = np.stack([im[y : y + k, xx : xx + k] for im, y, xx in zip(x, oy, ox)])
        x = torch.from_numpy(data.to_tensor_range(x))
        z = enc(x)
        zn = z + c["latent_noise"] * z.detach().std() * torch.randn_like(z)
        rec = dec(zn)
        mse = F.mse_loss(rec, x)
        loss = mse + c["l2"] * z.pow(2).mean() + c["mean_penalty"] * z.mean((0, 2, 3)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        run = 0.98 * run + 0.02 * mse.item() if step else mse.item()
        if step % 100 == 0 or step == c["steps"] - 1:
            el = time.time() - t0
            log(f"[vae] step {step:5d} mse {run:.5f} z.std {z.std().item():.3f} lr {lr:.2e} "
                f"{el:.0f}s elapsed, eta {el / (step + 1) * (c['steps'] - step - 1):.0f}s")
    # held-out check
    enc.eval(), dec.eval()
    rng = np.random.default_rng(1234)
    attrs = data.sample_attrs(rng, 256)
    x = torch.from_numpy(data.to_tensor_range(data.render(attrs)))
    with torch.no_grad():
        rec = dec(enc(x)).clamp(-1, 1)
    imgs = ((rec.numpy().transpose(0, 2, 3, 1) + 1) * 127.5).round().astype(np.uint8)
    acc = score(imgs, attrs["fg"], attrs["bg"], attrs["shape"])
    mse = F.mse_loss(rec, x).item()
    log(f"[vae] done in {time.time() - t0:.0f}s; held-out mse {mse:.5f}, reconstruction classified: {acc}")
    torch.save({"enc": enc.state_dict(), "dec": dec.state_dict(), "mse": mse, "acc": acc,
                "seconds": time.time() - t0}, os.path.join(work, "vae.pt"))
    save_grid(imgs[:16], os.path.join(work, "vae_recon.png"))


def load_vae(work):
    c = CFG["vae"]
    ck = torch.load(os.path.join(work, "vae.pt"))
    enc, dec = VAEEncoder(c["chs"], c["latent"]), VAEDecoder(c["chs"], c["latent"])
    enc.load_state_dict(ck["enc"])
    dec.load_state_dict(ck["dec"])
    return enc.eval(), dec.eval(), ck


# ------------------------------------------------------------------------------------- encode

def encode_pool(work):
    c = CFG["pool"]
    enc, _, _ = load_vae(work)
    rng = np.random.default_rng(c["seed"])
    attrs = data.sample_attrs(rng, c["n"])
    t0 = time.time()
    zs = []
    with torch.no_grad():
        for i in range(0, c["n"], 500):
            sub = {k: v[i : i + 500] for k, v in attrs.items()}
            zs.append(enc(torch.from_numpy(data.to_tensor_range(data.render(sub)))))
    z = torch.cat(zs)
    std = z.std().item()
    sf = 1.0 / std  # as SD's 0.18215
    log(f"[encode] {c['n']} latents {tuple(z.shape[1:])} in {time.time() - t0:.0f}s; std {std:.4f} -> "
        f"scaling_factor {sf:.5f}; channel means {[round(v, 3) for v in z.mean((0, 2, 3)).tolist()]}, "
        f"channel stds {[round(v, 3) for v in z.std((0, 2, 3)).tolist()]}")
    torch.save({"z": z * sf, "attrs": attrs, "scaling_factor": sf}, os.path.join(work, "pool.pt"))


# --------------------------------------------------------------------------------------- unet

def make_text_unet(vocab_size):
    t, u = CFG["text"], CFG["unet"]
    te = TextEncoder(vocab_size, t["dim"], t["layers"], t["heads"])
    unet = UNet(4, tuple(u["chs"]), t["dim"], u["head_dim"], u["layers"], tuple(u["attn"]))
    return te, unet


class AuxHeads(torch.nn.Module):
    """Training-only probes: predict the stated fg / bg colour and shape (or 'unstated') from the
    text encoder's pooled output and its last position. Pulls the text encoder towards a code the
    UNet can read from the start; not exported."""

    def __init__(self, dim):
        super().__init__()
        n_c, n_s = len(data.COLORS) + 1, len(data.SHAPES) + 1
        self.heads = torch.nn.ModuleList([torch.nn.Linear(dim, k) for k in (n_c, n_c, n_s) for _ in range(2)])

    def forward(self, hidden, pooled, target):
        loss = 0.0
        for j, feat in enumerate((pooled, hidden[:, -1])):
            for k in range(3):
                loss = loss + F.cross_entropy(self.heads[2 * k + j](feat), target[:, k])
        return loss / 6


def draw_captions(rng, fg, bg, shape, r, c):
    """Captions for a batch (with caption dropout) and the aux targets (stated fg, bg, shape)."""
    caps, tgt = [], []
    none = (len(data.COLORS), len(data.COLORS), len(data.SHAPES))
    for i in range(len(fg)):
        u = rng.random()
        if u < c["drop_empty"]:
            caps.append("")
            tgt.append(none)
        elif u < c["drop_empty"] + c["drop_filler"]:
            caps.append(data.filler_caption(rng))
            tgt.append(none)
        else:
            text, _, known = data.caption(rng, fg[i], bg[i], shape[i], r[i])
            caps.append(text)
            tgt.append(tuple(v if v >= 0 else nv for v, nv in zip(known, none)))
    return caps, torch.tensor(tgt, dtype=torch.long)


def pretrain_text(te, aux, tok, rng):
    c, ct = CFG["text_pretrain"], CFG["train"]
    params = list(te.parameters()) + list(aux.parameters())
    opt = torch.optim.AdamW(params, lr=c["lr"], weight_decay=0.01)
    t0 = time.time()
    for step in range(c["steps"]):
        a = data.sample_attrs(rng, c["batch"])
        caps, tgt = draw_captions(rng, a["fg"], a["bg"], a["shape"], a["r"], ct)
        hidden, pooled = te(torch.from_numpy(tok.batch(caps)))
        loss = aux(hidden, pooled, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == c["steps"] - 1:
            log(f"[text] step {step:4d} aux loss {loss.item():.4f} {time.time() - t0:.0f}s")


def train_unet(work, tok):
    c = CFG["train"]
    torch.manual_seed(c["seed"])
    rng = np.random.default_rng(c["seed"])
    pool = torch.load(os.path.join(work, "pool.pt"))
    z_all, attrs = pool["z"], pool["attrs"]
    n = z_all.shape[0]
    te, unet = make_text_unet(len(tok.vocab))
    log(f"[unet] text encoder {n_params(te):,} params, unet {n_params(unet):,} params")
    aux = AuxHeads(CFG["text"]["dim"])
    pretrain_text(te, aux, tok, rng)
    params = list(te.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params + list(aux.parameters()), lr=c["lr"], weight_decay=0.01)
    ema_te, ema_unet = copy.deepcopy(te), copy.deepcopy(unet)
    ema_params = list(ema_te.parameters()) + list(ema_unet.parameters())
    ac = alphas_cumprod()
    t0 = time.time()
    run = None
    for step in range(c["steps"]):
        lr = c["lr"] * min(1.0, (step + 1) / c["warmup"]) * 0.5 * (1 + math.cos(math.pi * step / c["steps"]))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, n, c["batch"])
        caps, tgt = draw_captions(rng, attrs["fg"][idx], attrs["bg"][idx], attrs["shape"][idx], attrs["r"][idx], c)
        ids = torch.from_numpy(tok.batch(caps))
        z0 = z_all[torch.from_numpy(idx)]
        t = torch.randint(0, 1000, (c["batch"],))
        a = ac[t][:, None, None, None]
        eps = torch.randn_like(z0)
        xt = a.sqrt() * z0 + (1 - a).sqrt() * eps
        hidden, pooled = te(ids)
        pred = unet(xt, t, hidden)
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
            log(f"[unet] step {step:5d} eps-mse {run:.4f} lr {lr:.2e} {el:.0f}s elapsed, "
                f"{el / (step + 1):.2f}s/step, eta {el / (step + 1) * (c['steps'] - step - 1):.0f}s")
        if step % 300 == 299:
            torch.save({"te": ema_te.state_dict(), "unet": ema_unet.state_dict()}, os.path.join(work, "unet_partial.pt"))
    secs = time.time() - t0
    log(f"[unet] done in {secs:.0f}s")
    torch.save({"te": ema_te.state_dict(), "unet": ema_unet.state_dict(), "seconds": secs,
                "raw_te": te.state_dict(), "raw_unet": unet.state_dict()}, os.path.join(work, "unet.pt"))


def load_text_unet(work, tok):
    te, unet = make_text_unet(len(tok.vocab))
    ck = torch.load(os.path.join(work, "unet.pt"))
    te.load_state_dict(ck["te"])
    unet.load_state_dict(ck["unet"])
    return te.eval(), unet.eval(), ck


# ------------------------------------------------------------------------------------- export

def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def export(work, out, tok):
    enc, dec, _ = load_vae(work)
    te, unet, _ = load_text_unet(work, tok)
    sf = torch.load(os.path.join(work, "pool.pt"))["scaling_factor"]
    t0 = time.time()
    D = CFG["text"]["dim"]
    kw = {"opset_version": 17, "do_constant_folding": True}
    with torch.no_grad():
        ids = torch.from_numpy(tok.batch(["a red circle on a blue background", ""])).int()
        os.makedirs(f"{out}/text_encoder", exist_ok=True)
        torch.onnx.export(te, (ids,), f"{out}/text_encoder/model.onnx", input_names=["input_ids"],
                          output_names=["last_hidden_state", "pooler_output"],
                          dynamic_axes={"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"},
                                        "pooler_output": {0: "batch"}}, **kw)
        os.makedirs(f"{out}/unet", exist_ok=True)
        torch.onnx.export(unet, (torch.randn(2, 4, 16, 16), torch.tensor([999, 1]), torch.randn(2, 77, D)),
                          f"{out}/unet/model.onnx",
                          input_names=["sample", "timestep", "encoder_hidden_states"], output_names=["out_sample"],
                          dynamic_axes={"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "batch"},
                                        "encoder_hidden_states": {0: "batch"},
                                        "out_sample": {0: "batch", 2: "height", 3: "width"}}, **kw)
        os.makedirs(f"{out}/vae_encoder", exist_ok=True)
        torch.onnx.export(enc, (torch.randn(2, 3, 64, 64),), f"{out}/vae_encoder/model.onnx",
                          input_names=["sample"], output_names=["latent_sample"],
                          dynamic_axes={"sample": {0: "batch", 2: "height", 3: "width"},
                                        "latent_sample": {0: "batch", 2: "height", 3: "width"}}, **kw)
        os.makedirs(f"{out}/vae_decoder", exist_ok=True)
        torch.onnx.export(dec, (torch.randn(2, 4, 16, 16),), f"{out}/vae_decoder/model.onnx",
                          input_names=["latent_sample"], output_names=["sample"],
                          dynamic_axes={"latent_sample": {0: "batch", 2: "height", 3: "width"},
                                        "sample": {0: "batch", 2: "height", 3: "width"}}, **kw)
    import onnx

    for sub in ["text_encoder", "unet", "vae_encoder", "vae_decoder"]:
        onnx.checker.check_model(onnx.load(f"{out}/{sub}/model.onnx"))
    data.build_tokenizer(f"{out}/tokenizer")
    write_json(f"{out}/model_index.json", {
        "_class_name": "OnnxStableDiffusionPipeline",
        "_diffusers_version": "0.30.0",
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": ["diffusers", "OnnxRuntimeModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "OnnxRuntimeModel"],
        "vae_decoder": ["diffusers", "OnnxRuntimeModel"],
        "vae_encoder": ["diffusers", "OnnxRuntimeModel"],
    })
    write_json(f"{out}/scheduler/scheduler_config.json", {
        "_class_name": "EulerDiscreteScheduler",
        "_diffusers_version": "0.30.0",
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "interpolation_type": "linear",
        "num_train_timesteps": 1000,
        "prediction_type": "epsilon",
        "steps_offset": 1,
        "timestep_spacing": "leading",
        "trained_betas": None,
        "use_karras_sigmas": False,
        # What SD 1.x ships for the other scheduler classes, so ddim / pndm work unchanged.
        "clip_sample": False,
        "set_alpha_to_one": False,
        "skip_prk_steps": True,
    })
    u, v = CFG["unet"], CFG["vae"]
    write_json(f"{out}/unet/config.json", {
        "_class_name": "UNet2DConditionModel",
        "sample_size": 16,
        "in_channels": 4,
        "out_channels": 4,
        "cross_attention_dim": D,
        "block_out_channels": u["chs"],
        "layers_per_block": u["layers"],
        "attention_head_dim": u["head_dim"],
        "flip_sin_to_cos": True,
        "freq_shift": 0,
    })
    for sub in ["vae_encoder", "vae_decoder"]:
        write_json(f"{out}/{sub}/config.json", {
            "_class_name": "AutoencoderKL",
            "in_channels": 3,
            "out_channels": 3,
            "latent_channels": 4,
            "block_out_channels": v["chs"],
            "sample_size": 64,
            "scaling_factor": round(sf, 6),
        })
    write_json(f"{out}/text_encoder/config.json", {
        "_class_name": "CLIPTextModel",
        "architectures": ["CLIPTextModel"],
        "model_type": "clip_text_model",
        "hidden_size": D,
        "intermediate_size": 4 * D,
        "num_attention_heads": CFG["text"]["heads"],
        "num_hidden_layers": CFG["text"]["layers"],
        "max_position_embeddings": 77,
        "vocab_size": len(tok.vocab),
        "bos_token_id": tok.bos,
        "eos_token_id": tok.eos,
        "pad_token_id": tok.eos,
        "hidden_act": "gelu",
    })
    # pictor.json: keep keys others added, refresh ours and the step-preview projection (scaled
    # latent -> RGB in [-1, 1] per latent cell, least squares over the training pool, as
    # scripts/fit-latent-preview.ts fits it).
    pool = torch.load(os.path.join(work, "pool.pt"))
    m = 4000
    sub = {k: v[:m] for k, v in pool["attrs"].items()}
    rgb = torch.from_numpy(data.to_tensor_range(data.render(sub)))
    target = F.avg_pool2d(rgb, 4).permute(0, 2, 3, 1).reshape(-1, 3).double()
    lat = pool["z"][:m].permute(0, 2, 3, 1).reshape(-1, 4).double()
    design = torch.cat([lat, torch.ones(len(lat), 1, dtype=torch.float64)], 1)
    sol = torch.linalg.lstsq(design, target).solution
    pj = f"{out}/pictor.json"
    current = json.load(open(pj)) if os.path.exists(pj) else {}
    write_json(pj, {
        **current,
        "defaults": {"width": 64, "height": 64, "steps": 20, "guidanceScale": 4.5, "scheduler": "euler"},
        "limits": {"minSize": 32, "maxSize": 512},
        "latentRgbFactors": [[round(v, 4) for v in row] for row in sol[:4].tolist()],
        "latentRgbBias": [round(v, 4) for v in sol[4].tolist()],
    })
    sizes = {sub: os.path.getsize(f"{out}/{sub}/model.onnx") for sub in
             ["text_encoder", "unet", "vae_encoder", "vae_decoder"]}
    log(f"[export] done in {time.time() - t0:.0f}s; sizes {sizes}, total {sum(sizes.values()) / 1e6:.2f} MB")
    # reference inputs/outputs for the onnxruntime-node probe
    ref = os.path.join(work, "ref")
    os.makedirs(ref, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        ids = torch.from_numpy(tok.batch(["a red circle on a blue background", "yellow triangle"])).int()
        hs, pooled = te(ids)
        sample = torch.randn(2, 4, 16, 16, generator=g)
        tstep = torch.tensor([951, 401])
        eps = unet(sample, tstep, hs)
        img = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
        lat = enc(img)
        rec = dec(sample / sf)
    for name, tns in [("input_ids", ids), ("last_hidden_state", hs), ("pooler_output", pooled),
                      ("sample", sample), ("timestep", tstep), ("out_sample", eps), ("image", img),
                      ("latent_sample", lat), ("decoded", rec)]:
        arr = tns.numpy()
        arr.tofile(os.path.join(ref, name + ".bin"))
    write_json(os.path.join(ref, "meta.json"), {"scaling_factor": sf})
    return sizes


# --------------------------------------------------------------------------------------- eval

@torch.no_grad()
def sample(te, unet, dec, sf, tok, prompts, seeds, steps, guidance, neg="", sampler="euler"):
    """Text-to-image with classifier-free guidance; per-image noise from its own seed."""
    n = len(prompts)
    ctx = te(torch.from_numpy(tok.batch(list(prompts) + [neg] * n)))[0]

    def eps(x_in, t):
        e = unet(torch.cat([x_in, x_in]), torch.full((2 * n,), t, dtype=torch.long), ctx)
        return e[n:] + guidance * (e[:n] - e[n:])

    noise = torch.stack([torch.randn(4, 16, 16, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
    x = samplers.sample(sampler, eps, noise, steps, torch.Generator().manual_seed(int(seeds[0])))
    img = dec(x / sf).clamp(-1, 1)
    return ((img.numpy().transpose(0, 2, 3, 1) + 1) * 127.5).round().astype(np.uint8)


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


def evaluate(work, out, tok, batch=48):
    c = CFG["eval"]
    _, dec, _ = load_vae(work)
    te, unet, _ = load_text_unet(work, tok)
    sf = torch.load(os.path.join(work, "pool.pt"))["scaling_factor"]
    grid = [(f, s, b, seed) for f in range(8) for s in range(3) for b in range(8) if b != f
            for seed in range(c["seeds"])]
    prompts = [f"{data._article(data.COLORS[f])} {data.COLORS[f]} {data.SHAPES[s]} on "
               f"{data._article(data.COLORS[b])} {data.COLORS[b]} background" for f, s, b, _ in grid]
    seeds = [1000 + i for i in range(len(grid))]
    t0 = time.time()
    imgs = []
    for i in range(0, len(grid), batch):
        imgs.append(sample(te, unet, dec, sf, tok, prompts[i : i + batch], seeds[i : i + batch], c["steps"], c["guidance"]))
        if i % (batch * 4) == 0:
            log(f"[eval] {i + batch}/{len(grid)} {time.time() - t0:.0f}s")
    imgs = np.concatenate(imgs)
    fg, sh, bg = [g[0] for g in grid], [g[1] for g in grid], [g[2] for g in grid]
    main = score(imgs, fg, bg, sh)
    per_shape = {data.SHAPES[s]: score(imgs[[i for i, g in enumerate(grid) if g[1] == s]],
                                       *[[x for x, g in zip(v, grid) if g[1] == s] for v in (fg, bg, sh)])
                 for s in range(3)}
    per_color = {data.COLORS[f]: score(imgs[[i for i, g in enumerate(grid) if g[0] == f]],
                                       *[[x for x, g in zip(v, grid) if g[0] == f] for v in (fg, bg, sh)])
                 for f in range(8)}
    t20 = time.time() - t0
    log(f"[eval] 20-step euler, cfg {c['guidance']}: {main} over {len(grid)} samples ({t20:.0f}s)")
    log(f"[eval] per shape {per_shape}")
    log(f"[eval] per fg colour {per_color}")
    save_grid(imgs[:: max(1, len(imgs) // 96)][:96], os.path.join(out, "samples.png"))
    # 4 steps on a subset
    sub = list(range(0, len(grid), 3))
    imgs4 = np.concatenate([sample(te, unet, dec, sf, tok, [prompts[j] for j in sub[i : i + batch]],
                                   [seeds[j] for j in sub[i : i + batch]], c["fast_steps"], c["guidance"])
                            for i in range(0, len(sub), batch)])
    fast = score(imgs4, [fg[j] for j in sub], [bg[j] for j in sub], [sh[j] for j in sub])
    log(f"[eval] {c['fast_steps']}-step euler: {fast} over {len(sub)} samples")
    # other phrasings (background unspecified, other templates)
    rng = np.random.default_rng(99)
    attrs = data.sample_attrs(rng, 192)
    caps = [data.caption(rng, attrs["fg"][i], attrs["bg"][i], attrs["shape"][i], attrs["r"][i]) for i in range(192)]
    keep = [i for i, (_, k, _) in enumerate(caps) if k in ("full", "nobg")]
    imgsp = np.concatenate([sample(te, unet, dec, sf, tok, [caps[j][0] for j in keep[i : i + batch]],
                                   [5000 + j for j in keep[i : i + batch]], c["steps"], c["guidance"])
                            for i in range(0, len(keep), batch)])
    full = [j for j, i in enumerate(keep) if caps[i][1] == "full"]
    phr = score(imgsp[full], [attrs["fg"][keep[j]] for j in full], [attrs["bg"][keep[j]] for j in full],
                [attrs["shape"][keep[j]] for j in full])
    nobg = [j for j, i in enumerate(keep) if caps[i][1] == "nobg"]
    nb = score(imgsp[nobg], [attrs["fg"][keep[j]] for j in nobg], [attrs["bg"][keep[j]] for j in nobg],
               [attrs["shape"][keep[j]] for j in nobg])
    log(f"[eval] random phrasings (full): {phr} over {len(full)}; background unspecified: fg {nb['fg']} "
        f"shape {nb['shape']} over {len(nobg)}")
    # a typical negative prompt instead of the empty one
    sub_n = list(range(1, len(grid), 7))
    neg = "blurry, low quality, text, watermark"
    imgsn = np.concatenate([sample(te, unet, dec, sf, tok, [prompts[j] for j in sub_n[i : i + batch]],
                                   [seeds[j] for j in sub_n[i : i + batch]], c["steps"], c["guidance"], neg)
                            for i in range(0, len(sub_n), batch)])
    negs = score(imgsn, [fg[j] for j in sub_n], [bg[j] for j in sub_n], [sh[j] for j in sub_n])
    log(f"[eval] negative prompt '{neg}': {negs} over {len(sub_n)} samples")
    # every sampler Pictor ships, one seed per colour x shape x background combination
    combos = list(range(0, len(grid), c["seeds"]))
    per_sampler = {}
    for kind, steps in [("euler_a", 20), ("ddim", 20), ("dpmpp_2m", 20), ("lms", 20), ("pndm", 20),
                        ("lms", 40), ("pndm", 40)]:
        ims = np.concatenate([sample(te, unet, dec, sf, tok, [prompts[j] for j in combos[i : i + batch]],
                                     [seeds[j] for j in combos[i : i + batch]], steps, c["guidance"], sampler=kind)
                              for i in range(0, len(combos), batch)])
        per_sampler[f"{kind}_{steps}"] = {"samples": len(combos), **score(
            ims, [fg[j] for j in combos], [bg[j] for j in combos], [sh[j] for j in combos])}
        log(f"[eval] sampler {kind}, {steps} steps: {per_sampler[f'{kind}_{steps}']}")
    res = {
        "sampler": "euler (EulerDiscreteScheduler, leading spacing), python reference implementation",
        "guidance_scale": c["guidance"],
        "classifier": "bg = palette colour nearest the median of the 4 corner 4x4 patches; fg = most common "
                      "non-bg palette colour among pixels > 60 RGB units from bg; shape from fill ratio of the "
                      "fg bounding box (>0.9 square, >0.64 circle, else triangle)",
        "grid": "8 fg colours x 3 shapes x 7 backgrounds x %d seeds, prompt 'a {fg} {shape} on a {bg} background'" % c["seeds"],
        "steps_20": {"samples": len(grid), **main, "per_shape": per_shape, "per_fg_colour": per_color},
        "steps_%d" % c["fast_steps"]: {"samples": len(sub), **fast},
        "random_phrasings_20_steps": {"samples": len(full), **phr},
        "background_unspecified_20_steps": {"samples": len(nobg), "fg": nb["fg"], "shape": nb["shape"]},
        "negative_prompt_20_steps": {"negative_prompt": neg, "samples": len(sub_n), **negs},
        "other_samplers_guidance_7.5": per_sampler,
        "seconds": round(time.time() - t0),
    }
    write_json(os.path.join(out, "eval-python.json"), res)
    return res


# --------------------------------------------------------------------------------------- main

def main():
    global LOG_FILE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="all", choices=["all", "vae", "encode", "unet", "export", "eval"])
    ap.add_argument("--work", default="/tmp/tiny_build")
    ap.add_argument("--out", default=os.path.join(REPO, "models", "tiny"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    LOG_FILE = os.path.join(args.work, "train.log")
    log(f"=== tiny build, stage {args.stage}, {time.strftime('%Y-%m-%d %H:%M:%S')}, torch {torch.__version__}, "
        f"{args.threads} threads")
    log(json.dumps(CFG))
    tok = data.build_tokenizer(os.path.join(args.work, "tokenizer"))
    log(f"vocab {len(tok.vocab)} tokens, {len(data.WORDS)} whole words")
    times = {}
    stages = ["vae", "encode", "unet", "export", "eval"] if args.stage == "all" else [args.stage]
    t_all = time.time()
    for st in stages:
        t0 = time.time()
        if st == "vae":
            train_vae(args.work)
        elif st == "encode":
            encode_pool(args.work)
        elif st == "unet":
            train_unet(args.work, tok)
        elif st == "export":
            export(args.work, args.out, tok)
        elif st == "eval":
            evaluate(args.work, args.out, tok)
        times[st] = round(time.time() - t0)
    log(f"=== stage times (s): {times}; total {time.time() - t_all:.0f}s")
    if args.stage == "all":
        write_json(os.path.join(args.work, "times.json"), times)


if __name__ == "__main__":
    main()
