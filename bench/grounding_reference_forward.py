"""The official GroundingDINO (groundingdino-py's code, built as
tests/grounding/groundingdino_reference.py builds it, random weights) timed
on this machine, for the side-by-side in docs/benchmarks.md.

    grounding_reference_forward.py CONFIG H W [REPEATS] [THREADS]
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "grounding"))
import groundingdino_reference as ref  # noqa: E402
import torch  # noqa: E402
from groundingdino.util.misc import nested_tensor_from_tensor_list  # noqa: E402


def main():
    case, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 2)
    model = ref.build(case)
    ref.randomize(model)
    model.eval()
    images = nested_tensor_from_tensor_list([torch.randn(3, h, w)])
    caption = ["person . car . bicycle ."]
    times = []
    with torch.no_grad():
        model(images, captions=caption)  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            model(images, captions=caption)
            times.append(time.perf_counter() - t)
    print(f"official config={case} input={h}x{w} threads={torch.get_num_threads()} "
          f"median_s={statistics.median(times):.3f} (text included)")


if __name__ == "__main__":
    main()
