"""The exercise checks, one module per notebook; call a check from the module that owns it.

=========================  ================================================================
notebook                   module of ``course_lib.checks``
=========================  ================================================================
00 setup and data          ``setup_and_data``
01 classical inpainting    ``classical_inpainting``
02 copying                 ``copying``
03 measuring inpainting    ``measuring``
04 partial convolution     ``partial_convolution`` (the layer's reference: ``pconv_reference``)
05 vanilla U-Net           ``vanilla_unet``
06 PConv U-Net             ``pconv_unet``
07 comparison              ``comparison``
08 better losses           ``better_losses``
09 sharp or right          ``adversarial_losses``
10 beyond CIFAR-10         ``beyond_cifar``
=========================  ================================================================

A notebook imports its module as ``checks``, e.g. ``from course_lib.checks import measuring as checks``,
and calls ``checks.check_psnr(my_psnr)``.  The framework every check reports through (verdicts, the one
printed line, the library trap, :func:`~course_lib.checks.feedback.rel_error`) is ``feedback``;
``networks`` and ``training`` hold the machinery of the Keras checks of notebooks 05 and 06.
"""
