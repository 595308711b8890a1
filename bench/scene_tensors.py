#!/usr/bin/env python3
"""Turns a ctrlfuse-scenes folder (vi/, ir/, mask/ PNGs) into the tensors the
engine would feed the network, for `model_bench` (CTRLFUSE_BENCH_INPUTS), so
the model-only and the served throughput run on the same scenes: visible grey
as OpenCV's COLOR_BGR2GRAY rounds it, / 255; infrared / 255; mask / 255.

usage: scene_tensors.py SCENES_DIR OUT.pth   (writes {'vis','ir','mask'}: [N,1,H,W] float32)
"""
import os
import sys

import numpy as np
import torch
from PIL import Image

root, out = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(os.path.join(root, "vi")))


def grey(path):
    a = np.asarray(Image.open(path)).astype(np.int64)
    if a.ndim == 3:  # PIL gives RGB: OpenCV's fixed point on B, G, R
        a = (3735 * a[..., 2] + 19235 * a[..., 1] + 9798 * a[..., 0] + 16384) >> 15
    return torch.from_numpy(a.astype(np.float32) / 255.0)[None]


stack = lambda sub: torch.stack([grey(os.path.join(root, sub, n)) for n in names])
torch.save({"vis": stack("vi"), "ir": stack("ir"), "mask": stack("mask")}, out)
print("wrote", out, len(names), "pairs")
