"""Build ``course_lib/data/eval_masks.npz``, the fixed evaluation masks of the course (package data).

Usage (from the repository root)::

    python scripts/make_eval_masks.py            # (re)write course_lib/data/eval_masks.npz, print its checksum
    python scripts/make_eval_masks.py --check    # rebuild in memory, compare with the committed file
    python scripts/make_eval_masks.py --out other.npz

The masks come from :func:`course_lib.masks.build_eval_masks` (fixed seeds): 200 irregular
masks in each hole-ratio bin of ``EVAL_BINS`` and 200 stroke masks, 32 x 32.  Each group is
stored as ``np.packbits`` of its 0/1 masks (1 = valid, 0 = hole) along the last axis, in a
compressed ``.npz`` whose zip entries carry a fixed timestamp, so the same numpy, OpenCV and
zlib versions write the same bytes.  If the printed checksum differs from
``course_lib.masks.EVAL_MASKS_SHA256``, the masks changed and results computed on the old
ones are no longer comparable: that calls for a deliberate decision, not a quiet update.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile

import numpy as np

from course_lib import masks

# Zip entries record a modification time; a fixed one makes the file reproducible.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def pack(group: np.ndarray) -> np.ndarray:
    """float32 ``(K, H, W, 1)`` of 0/1 -> uint8 ``(K, H, ceil(W / 8))`` bits."""
    return np.packbits(group[..., 0].astype(np.uint8), axis=-1)


def write_npz(path, arrays: dict) -> None:
    """Like ``np.savez_compressed``, but with fixed zip timestamps (byte-reproducible)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, buffer.getvalue())


def check(path) -> int:
    """0 if the file at ``path`` holds exactly the masks the recipe builds, else 1."""
    built = masks.build_eval_masks()
    stored = masks.load_eval_masks(path, verify=False)
    same = list(built) == list(stored) and all(np.array_equal(built[k], stored[k]) for k in built)
    print(f"{path}: {'matches' if same else 'DIFFERS FROM'} the recipe in course_lib.masks.build_eval_masks")
    print(f"checksum of the file: {masks.eval_masks_checksum(stored)}")
    print(f"EVAL_MASKS_SHA256:    {masks.EVAL_MASKS_SHA256}")
    return 0 if same and masks.eval_masks_checksum(stored) == masks.EVAL_MASKS_SHA256 else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=masks.EVAL_MASKS_PATH, help="where to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="compare the file with a fresh build instead")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.out)

    built = masks.build_eval_masks()
    write_npz(args.out, {name: pack(group) for name, group in built.items()})
    checksum = masks.eval_masks_checksum(built)
    for name, group in built.items():
        ratios = masks.hole_ratio(group)
        print(f"{name:>9}: {len(group)} masks, hole ratio {ratios.min():.3f}..{ratios.max():.3f}")
    print(f"wrote {args.out}\nsha256 of the masks: {checksum}")
    if checksum != masks.EVAL_MASKS_SHA256:
        print("This differs from course_lib.masks.EVAL_MASKS_SHA256 (see this script's docstring).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
