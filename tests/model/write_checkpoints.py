#!/usr/bin/env python3
"""Writes checkpoint fixtures with the venv's torch (the version whose LibTorch
the project links; scripts/requirements.txt), in the layouts the
official releases use, for the C++ loader tests.

usage: write_checkpoints.py MANIFEST.tsv OUT_DIR

MANIFEST lists name<TAB>shape<TAB>dtype of the C++ model (shape AxB or
'scalar'). Writes into OUT_DIR:
  official.pth        {'model': OrderedDict state_dict, 'optimizer', 'lr_schedule', 'epoch'}
                      as the CtrlFuse release's torch.save writes it (zip format)
  sam.pth             the SAM part alone, keys without 'sam_model.' (official SAM layout)
  truncated.pth       official.pth cut in half
  wrong_shape.pth     one tensor with a transposed shape
  missing_key.pth     one key removed
  unexpected_key.pth  one key added
  legacy.pth          the pre-zip torch.save format
  expected.tsv        name<TAB>sum<TAB>first element, for value checks
"""
import collections
import sys

import torch

manifest, out = sys.argv[1], sys.argv[2]
torch.manual_seed(1234)
state = collections.OrderedDict()
with open(manifest) as f:
    next(f)
    for line in f:
        name, shape, dtype = line.rstrip("\n").split("\t")
        dims = [] if shape == "scalar" else [int(d) for d in shape.split("x")]
        if dtype == "int64":
            state[name] = torch.tensor(17, dtype=torch.int64).reshape(dims)
        else:
            state[name] = torch.randn(dims, dtype=torch.float32)
# A real state_dict carries a _metadata attribute (pickled with BUILD).
state._metadata = collections.OrderedDict({"": {"version": 1}})

# Optimizer and scheduler state as the release's training loop saves them.
params = [torch.nn.Parameter(t.clone()) for t in state.values() if t.is_floating_point()][:4]
opt = torch.optim.Adam(params, lr=1e-4, weight_decay=1e-6)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.5)
sum(p.sum() for p in params).backward()
opt.step()
sched.step()
torch.save({"model": state, "optimizer": opt.state_dict(), "lr_schedule": sched.state_dict(), "epoch": 7},
           f"{out}/official.pth")

sam = collections.OrderedDict((k[len("sam_model."):], v) for k, v in state.items() if k.startswith("sam_model."))
torch.save(sam, f"{out}/sam.pth")

data = open(f"{out}/official.pth", "rb").read()
open(f"{out}/truncated.pth", "wb").write(data[: len(data) // 2])


def variant(path, edit):
    s = collections.OrderedDict(state)
    edit(s)
    torch.save({"model": s, "optimizer": {}, "lr_schedule": {}, "epoch": 0}, path)


first_matrix = next(k for k, v in state.items() if v.dim() == 2 and v.shape[0] != v.shape[1])
variant(f"{out}/wrong_shape.pth", lambda s: s.__setitem__(first_matrix, s[first_matrix].t().contiguous()))
variant(f"{out}/missing_key.pth", lambda s: s.pop("merge_2c.0.weight"))
variant(f"{out}/unexpected_key.pth", lambda s: s.__setitem__("extra.head.weight", torch.zeros(3)))
torch.save({"model": state}, f"{out}/legacy.pth", _use_new_zipfile_serialization=False)

with open(f"{out}/expected.tsv", "w") as f:
    for k, v in state.items():
        f.write(f"{k}\t{v.double().sum().item()!r}\t{v.flatten()[0].item()!r}\n")
with open(f"{out}/wrong_shape_key.txt", "w") as f:
    f.write(first_matrix)
