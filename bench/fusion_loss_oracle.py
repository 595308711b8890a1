#!/usr/bin/python3
"""The image the fusion loss asks for, solved directly, for each scene pair.

The release's fusion loss wants the intensity of max(vis, ir) and, ten times
as strongly, the larger of the two sources' gradients at every pixel. This
solves that least-squares problem exactly per image (screened Poisson:
min |grad F - G|^2 + lam |F - max(vis, ir)|^2, G taking at each pixel and
direction the source difference of larger magnitude) and writes F as PNG,
so ctrlfuse-eval can score the best any network trained on that loss alone
could do. usage: bench/fusion_loss_oracle.py IR_DIR VIS_DIR OUT_DIR [LAMBDA]
"""
import os
import sys

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl
from PIL import Image


def difference(n):
    return sp.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    ir_dir, vis_dir, out_dir = sys.argv[1:4]
    lam = float(sys.argv[4]) if len(sys.argv) > 4 else 0.01
    os.makedirs(out_dir, exist_ok=True)
    solvers = {}
    for name in sorted(os.listdir(ir_dir)):
        vis = np.asarray(Image.open(os.path.join(vis_dir, name)).convert("L"), np.float64) / 255
        ir = np.asarray(Image.open(os.path.join(ir_dir, name)).convert("L"), np.float64) / 255
        h, w = ir.shape
        if (h, w) not in solvers:
            dx = sp.kron(sp.eye(h), difference(w))
            dy = sp.kron(difference(h), sp.eye(w))
            a = (dx.T @ dx + dy.T @ dy + lam * sp.eye(h * w)).tocsc()
            solvers[(h, w)] = (dx, dy, spl.factorized(a))
        dx, dy, solve = solvers[(h, w)]

        def larger(a, b):
            return np.where(np.abs(a) > np.abs(b), a, b)

        gx = larger(dx @ vis.ravel(), dx @ ir.ravel())
        gy = larger(dy @ vis.ravel(), dy @ ir.ravel())
        f = solve(dx.T @ gx + dy.T @ gy + lam * np.maximum(vis, ir).ravel()).reshape(h, w)
        Image.fromarray((np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8)).save(os.path.join(out_dir, name))


if __name__ == "__main__":
    main()
