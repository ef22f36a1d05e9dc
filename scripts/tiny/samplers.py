"""Reference samplers (diffusers semantics, SD schedule, 'leading' spacing, steps_offset 1) used by the
Python-side evaluation. They mirror the schedulers Pictor ships: euler, euler_a, ddim, dpmpp_2m, lms,
pndm (PLMS with skip_prk_steps). `eps(x_in, t)` returns the (guided) noise prediction for a UNet input
x_in at integer timestep t.
"""

import math

import numpy as np
import torch
from numpy.polynomial import polynomial as npoly

SIGMA_SPACE = ("euler", "euler_a", "dpmpp_2m", "lms")
ALPHA_SPACE = ("ddim", "pndm")


def alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0)


def leading_timesteps(steps):
    ratio = 1000 // steps
    return (np.arange(0, steps) * ratio)[::-1].astype(np.int64) + 1


def sigmas_for(steps, ac):
    ts = leading_timesteps(steps)
    all_sig = np.sqrt((1 - ac.numpy()) / ac.numpy())
    sig = np.interp(ts.astype(np.float64), np.arange(1000), all_sig)
    return ts, np.concatenate([sig, [0.0]])


@torch.no_grad()
def sample(kind, eps, noise, steps, generator=None):
    """noise: standard normal [B,4,h,w]. Returns the final (scaled) latents."""
    ac = alphas_cumprod()
    x = noise.double()
    if kind in SIGMA_SPACE:
        ts, sig = sigmas_for(steps, ac)
        x = x * math.sqrt(sig[0] ** 2 + 1)  # init_noise_sigma for 'leading' spacing
        ev = lambda i: eps((x / math.sqrt(sig[i] ** 2 + 1)).float(), int(ts[i])).double()  # noqa: E731
        old, ds = None, []
        for i in range(steps):
            s, sn = sig[i], sig[i + 1]
            e = ev(i)
            if kind == "euler":
                x = x + e * (sn - s)
            elif kind == "euler_a":
                su = math.sqrt(sn ** 2 * (s ** 2 - sn ** 2) / s ** 2)
                sd = math.sqrt(sn ** 2 - su ** 2)
                x = x + e * (sd - s) + torch.randn(x.shape, generator=generator).double() * su
            elif kind == "dpmpp_2m":
                den = x - s * e
                if sn == 0:
                    x = den
                else:
                    h = math.log(s) - math.log(sn)
                    if old is None:
                        x = (sn / s) * x - math.expm1(-h) * den
                    else:
                        r = (math.log(sig[i - 1]) - math.log(s)) / h
                        x = (sn / s) * x - math.expm1(-h) * ((1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old)
                old = den
            elif kind == "lms":
                ds = (ds + [e])[-4:]
                order = min(i + 1, 4)

                def coeff(cur):
                    p = np.array([1.0])
                    for k in range(order):
                        if k != cur:
                            p = npoly.polymul(p, np.array([-sig[i - k], 1.0]) / (sig[i - cur] - sig[i - k]))
                    ip = npoly.polyint(p)
                    return npoly.polyval(sig[i + 1], ip) - npoly.polyval(sig[i], ip)

                x = x + sum(coeff(c) * d for c, d in enumerate(reversed(ds)))
        return x.float()
    if kind == "ddim":
        ts = leading_timesteps(steps)
        for i, t in enumerate(ts):
            a = ac[t]
            ap = ac[ts[i + 1]] if i + 1 < steps else ac[0]  # set_alpha_to_one = False
            e = eps(x.float(), int(t)).double()
            x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
            x = ap.sqrt() * x0 + (1 - ap).sqrt() * e
        return x.float()
    if kind == "pndm":
        ratio = 1000 // steps
        base = np.arange(0, steps) * ratio + 1
        plms = np.concatenate([base[:-1], base[-2:-1], base[-1:]])[::-1]
        ets, cur, counter = [], None, 0
        for t in plms:
            mo = eps(x.float(), int(t)).double()
            timestep, prev = int(t), int(t) - ratio
            if counter != 1:
                ets = ets[-3:] + [mo]
            else:
                prev, timestep = timestep, timestep + ratio
            if len(ets) == 1 and counter == 0:
                cur = x
            elif len(ets) == 1 and counter == 1:
                mo, x, cur = (mo + ets[-1]) / 2, cur, None
            elif len(ets) == 2:
                mo = (3 * ets[-1] - ets[-2]) / 2
            elif len(ets) == 3:
                mo = (23 * ets[-1] - 16 * ets[-2] + 5 * ets[-3]) / 12
            else:
                mo = (55 * ets[-1] - 59 * ets[-2] + 37 * ets[-3] - 9 * ets[-4]) / 24
            a = ac[timestep]
            ap = ac[prev] if prev >= 0 else ac[0]
            den = a * (1 - ap).sqrt() + (a * (1 - a) * ap).sqrt()
            x = (ap / a).sqrt() * x - (ap - a) * mo / den
            counter += 1
        return x.float()
    raise ValueError(kind)
