#!/usr/bin/env python3
"""Reads a ctrlfuse-serve checkpoint with Python's torch.load and prints
format, config, the number of tensors and the sum of all of them, so the C++
test can check that files it writes are standard torch.save files."""
import sys

import torch

ck = torch.load(sys.argv[1])
total = sum(v.double().sum().item() for v in ck["model"].values())
print(ck["format"], ck["config"], len(ck["model"]), repr(total))
