"""Writes the 100x75 synthetic RGB PPM the fixtures are encoded from (odd, non-MCU-aligned size)."""

import sys

import numpy as np

h, w = 75, 100
yy, xx = np.mgrid[0:h, 0:w]
blue = 128 + 90 * np.sin(xx / 13.0) * np.cos(yy / 17.0)
rgb = np.stack([xx * 255 / (w - 1), yy * 255 / (h - 1), blue], -1).astype(np.uint8)
rgb[20:50, 30:70] = (200, 40, 90)
with open(sys.argv[1], "wb") as f:
    f.write(b"P6\n%d %d\n255\n" % (w, h))
    f.write(rgb.tobytes())
