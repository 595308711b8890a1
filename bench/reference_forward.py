#!/usr/bin/env python3
"""Times the release-built CtrlFuse forward in Python (tests/parity/
ctrlfuse_reference.py: the network as the release builds it, with Meta's
official segment-anything package for SAM) on random weights: the "official
code" side of docs/performance.md's ratios. Same torch as our LibTorch (the
venv's wheel), fp32, warm, median of REPEATS.

usage: reference_forward.py CONFIG WIDTH HEIGHT THREADS [REPEATS]   (CONFIG: vit_b, vit_h, tiny)
prints: | CONFIG | WxH | threads | forward s |
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "parity"))
import torch  # noqa: E402

import ctrlfuse_reference as ref  # noqa: E402

SAM = {
    "vit_b": dict(embed_dim=768, depth=12, heads=12, window=14, img_size=1024, patch=16, out_chans=256,
                  mask_in_chans=16, decoder_depth=2, decoder_heads=8, decoder_mlp_dim=2048, iou_head_depth=3,
                  iou_head_hidden=256),
    "vit_h": dict(embed_dim=1280, depth=32, heads=16, window=14, img_size=1024, patch=16, out_chans=256,
                  mask_in_chans=16, decoder_depth=2, decoder_heads=8, decoder_mlp_dim=2048, iou_head_depth=3,
                  iou_head_hidden=256),
    "tiny": dict(embed_dim=64, depth=2, heads=2, window=8, img_size=512, patch=16, out_chans=32, mask_in_chans=16,
                 decoder_depth=2, decoder_heads=2, decoder_mlp_dim=128, iou_head_depth=3, iou_head_hidden=32),
}
GLOBAL = {"vit_b": "2,5,8,11", "vit_h": "7,15,23,31", "tiny": "1"}
NET = {
    "release": dict(extractor="16,32,64,128", feature_dim=256, decoder="128,64,32,16", queries=50, rpe_heads=4,
                    psfm_heads=8, psfm_groups=8, token_rows=5, token_cols=10),
    "tiny": dict(extractor="8,16,16,32", feature_dim=32, decoder="16,16,8,8", queries=8, rpe_heads=4, psfm_heads=4,
                 psfm_groups=8, token_rows=2, token_cols=4),
}

name, w, h, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
torch.set_num_threads(threads)
cfg = {k: str(v) for k, v in {**SAM[name], **NET["tiny" if name == "tiny" else "release"]}.items()}
cfg.update({"global": GLOBAL[name], "batch": "1", "height": str(h), "width": str(w)})
net = ref.make(cfg)
vis, ir, mask = ref.inputs(cfg, 0)
times = []
with torch.no_grad():
    net(vis, ir, mask)  # warm-up
    for _ in range(repeats):
        t0 = time.perf_counter()
        net(vis, ir, mask)
        times.append(time.perf_counter() - t0)
print(f"| {name} | {w}x{h} | {threads} | {sorted(times)[len(times) // 2]:.3f} |")
