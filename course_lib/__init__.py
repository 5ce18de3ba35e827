"""course_lib: the library behind the image-inpainting course.

Conventions used everywhere (see CONTRIBUTING.md):

* images are float32 in [0, 1], NHWC, shape ``(N, H, W, 3)``;
* masks are float32, one channel, shape ``(N, H, W, 1)``, **1 = valid pixel, 0 = hole**
  (the partial-convolution convention).  Libraries with the opposite convention
  (OpenCV, scikit-image: nonzero = hole) are wrapped once, in ``course_lib.fill_common``;
* every random thing takes a ``seed``;
* the run profile (``COURSE_PROFILE`` = ci | cpu | full) is read in one place,
  ``course_lib.config``.

Modules, in the order an image travels through them: ``config``, ``names``, ``data``, ``photographs``
(images that are not CIFAR-10), ``masks``, ``metrics``, ``classical`` (the smoothing methods), ``fill_common``
(what every classical method shares), ``patch_inpainting``, ``database_inpainting`` (the methods that copy),
``layers``, ``hybrid_layers``, ``models``, ``pretrained`` (the
shipped weights), ``losses``, ``recipes``, ``pipeline``, ``step``, ``train``, ``runs`` (a run's files),
``notebook_runs`` (pretrained or trained, for a notebook), ``evaluate``, ``reporting``, ``environment``
(the machine and versions a result records), ``loss_study``, ``viz``, ``interactive`` (the explorer widget),
``checks`` (the exercises' feedback, a package with one module per notebook),
``handoff`` (a class written in one notebook, loaded in a later one), ``grade`` (runs students'
notebooks and tabulates the verdicts their checks record), and ``console`` (TensorFlow's start-up
lines off the console).  ``config``, ``names``, ``data``, ``photographs``, ``masks``, ``metrics``, ``classical``,
``fill_common``, ``patch_inpainting``, ``database_inpainting``, ``recipes``, ``reporting``, ``environment``, ``viz``,
``interactive``, ``handoff``, ``grade`` and ``console`` (and
``python -m course_lib --help``) do not import TensorFlow.  Import the one you need, for example
``from course_lib import masks``.
"""

import os as _os

# Silence TensorFlow's C++ INFO and WARNING logs unless the user chose a level.  The lines it writes while it
# is imported, before its logging is set up (oneDNN, CUDA probing), ignore this setting: the command line
# hides them itself (course_lib.console).
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
