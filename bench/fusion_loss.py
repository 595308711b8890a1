#!/usr/bin/python3
"""The release's fusion loss of fused images, averaged over a data set.

L1(F, max(vis, ir)) + 10 * L1(|Sobel F|, max(|Sobel vis|, |Sobel ir|)) with
|Sobel| = |Sobel-x| + |Sobel-y| (zero padding), as model/losses.cc computes
it in training, on 8-bit PNGs scaled to [0, 1]. Prints one line per folder.
usage: bench/fusion_loss.py IR_DIR VIS_DIR FUSED_DIR [FUSED_DIR ...]
"""
import os
import sys

import numpy as np
from PIL import Image
from scipy.signal import convolve2d

KX = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)


def sobel(x):
    # convolve2d flips the kernel; only magnitudes are used, so that is moot.
    return np.abs(convolve2d(x, KX, mode="same")) + np.abs(convolve2d(x, KX.T, mode="same"))


def grey(path):
    return np.asarray(Image.open(path).convert("L"), np.float64) / 255


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    ir_dir, vis_dir = sys.argv[1:3]
    names = sorted(os.listdir(ir_dir))
    for fused_dir in sys.argv[3:]:
        intensity, gradient = [], []
        for n in names:
            vis, ir, f = grey(os.path.join(vis_dir, n)), grey(os.path.join(ir_dir, n)), grey(os.path.join(fused_dir, n))
            intensity.append(np.abs(f - np.maximum(vis, ir)).mean())
            gradient.append(10 * np.abs(sobel(f) - np.maximum(sobel(vis), sobel(ir))).mean())
        i, g = np.mean(intensity), np.mean(gradient)
        print(f"{fused_dir}: fusion loss {i + g:.4f} (intensity {i:.4f} + 10 x gradient {g:.4f})")


if __name__ == "__main__":
    main()
