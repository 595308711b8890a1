"""ctrlfuse-contact-sheet on folders made here with known answers: a mask
prompt that changed a 10x10 block by 4 grey levels in one scene (and nothing
in the other) is reported with those numbers and drawn as a visible,
labelled difference tile; box prompts whose masks are too small or off the
target are marked unusable instead of shown.
Usage: python contact_sheet_test.py BUILD_DIR   (the project's venv: numpy, PIL)
"""
import pathlib
import re
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

BUILD = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
W, H, TILE = 64, 48, 100


class ContactSheetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp())
        t = cls.tmp
        rng = np.random.default_rng(0)
        save = lambda rel, a: (t / rel).parent.mkdir(parents=True, exist_ok=True) or Image.fromarray(a).save(t / rel)
        target = np.zeros((H, W), np.uint8)
        target[20:30, 20:30] = 255
        for stem in ["a", "b"]:
            save(f"ir/{stem}.png", rng.integers(0, 255, (H, W), dtype=np.uint8))
            save(f"vi/{stem}.png", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
            none = np.full((H, W), 100, np.uint8)
            save(f"none/{stem}.png", none)
            save(f"truth/{stem}.png", target)
            prompted = none.copy()
            if stem == "a":
                prompted[20:30, 20:30] += 4  # the prompt's effect: 100 pixels, 4 grey levels
            save(f"mask/{stem}.png", prompted)
            save(f"mask/{stem}_prompt.png", target)
            save(f"box/{stem}.png", prompted)
        tiny = np.zeros((H, W), np.uint8)
        tiny[0, 0] = 255  # 1 pixel: 0.03% of the image
        save("box/a_prompt.png", tiny)
        off = np.zeros((H, W), np.uint8)
        off[0:10, 40:60] = 255  # a fair size, but off the target
        save("box/b_prompt.png", off)
        r = subprocess.run([BUILD / "tools/ctrlfuse-contact-sheet", "--ir_dir", t / "ir", "--vis_dir", t / "vi",
                            "--none_dir", t / "none", "--prompted", f"mask={t / 'mask'},box={t / 'box'}",
                            "--truth_dir", t / "truth", "--tile_width", str(TILE), "--out", t / "sheet.png"],
                           capture_output=True, text=True)
        cls.rc, cls.stdout, cls.stderr = r.returncode, r.stdout, r.stderr
        cls.sheet = np.asarray(Image.open(t / "sheet.png").convert("RGB")) if r.returncode == 0 else None

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", str(cls.tmp)])

    def tile(self, row, col):
        h = H * TILE // W
        return self.sheet[row * h:(row + 1) * h, col * TILE:(col + 1) * TILE]

    def test_reports_the_measured_change_and_the_usable_prompts(self):
        self.assertEqual(self.rc, 0, self.stderr)
        # 100 changed pixels of 2 x 64 x 48, by 4; gain: 255 / 4 (the 99th percentile).
        self.assertIn("(2 scenes; differences x64)", self.stdout)
        self.assertIn("prompt mask: usable in 2 of 2 scenes; it changed 1.6% of the fused pixels, by 4.0 grey levels "
                      "on average there and 4 at most", self.stdout)
        self.assertIn("prompt box: usable in 0 of 2 scenes", self.stdout)

    def test_the_sheet_has_a_row_per_scene_and_three_tiles_per_prompt(self):
        self.assertEqual(self.sheet.shape, (2 * (H * TILE // W), (3 + 3 * 2) * TILE, 3))

    def test_the_difference_is_visible_where_it_happened_and_nowhere_else(self):
        diff_a, diff_b = self.tile(0, 5), self.tile(1, 5)
        # Inferno at 4 x 64 = 255: a bright yellow block where the 10x10 block was.
        s = TILE / W
        block = diff_a[int(22 * s):int(28 * s), int(22 * s):int(28 * s)].astype(int)
        self.assertGreater(block[..., 0].mean(), 200)  # red channel of bright inferno
        self.assertGreater(block[..., 1].mean(), 180)
        corner = diff_a[int(40 * s):, int(50 * s):].astype(int)  # unchanged: the dimmed fused image (100 x 0.35)
        self.assertLess(np.abs(corner - 35).max(), 3)
        self.assertLess(np.abs(diff_b[int(40 * s):, :].astype(int) - 35).max(), 3)  # scene b: no change anywhere

    def test_unusable_prompts_are_placeholders_not_images(self):
        for row in range(2):
            for col in (6, 7, 8):
                t = self.tile(row, col).astype(int)
                lower = t[56:]  # below the three caption lines (16 px each)
                self.assertEqual(int(np.abs(lower - 60).max()), 0, (row, col))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]], verbosity=2)
