"""Adversarial fine-tuning: a discriminator that judges patches, and the two-player training step.

A pixel loss rewards the *average* of the fills that could be right, and an average is blurry.
A Context-Encoder-style joint loss (Pathak et al. 2016) adds a second player, the
**discriminator** ``D``, a small convolutional network that looks at a picture (and its mask)
and scores every patch: high = "this looks real", low = "this looks inpainted".  The inpainting
network (the **generator** ``G``) is then trained on

    L_G = L_pixel(G(x), y) + lambda * L_adv(D(G(x)))

so it is paid for fills that ``D`` cannot tell from real pictures, while ``D`` is trained to tell
them apart.  ``lambda`` (:data:`course_lib.recipes.Recipe.adversarial_weight`) sets the trade:
0 is plain pixel-loss training; larger values buy sharpness with hole PSNR.

The losses (hinge form, Lim & Ye 2017, as in SAGAN/BigGAN; logits ``r = D(real)``, ``f = D(fake)``,
averaged over images and over the patches that hold hole pixels, :func:`patch_weights`)::

    L_D   = mean(relu(1 - r)) + mean(relu(1 + f))
    L_adv = -mean(f)

and the non-saturating form of Goodfellow et al. 2014 (``GAN_LOSSES``)::

    L_D   = mean(softplus(-r)) + mean(softplus(f))
    L_adv = mean(softplus(-f))

The discriminator's convolutions are spectrally normalised (Miyato et al. 2018): each weight
matrix is divided by its largest singular value, so ``D`` cannot become arbitrarily steep, the
usual cure for an unstable two-player game.

:class:`AdversarialTrainer` holds ``G``, ``D`` and one Adam optimiser each; its ``train_step``
does one step of each per batch.  ``course_lib.train.train("adversarial", ...)`` uses it: the
generator starts from the shipped ``"improved"`` network's weights.

Images: float32 in [0, 1], (N, H, W, 3); masks (N, H, W, 1), 1 = valid, 0 = hole.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from course_lib import losses

#: The adversarial losses :func:`discriminator_loss` and :func:`generator_adversarial_loss` know.
GAN_LOSSES = ("hinge", "non_saturating")

#: The discriminator's convolutions: (filters, kernel, stride).  With the last 3 x 3 convolution to
#: one channel, each logit sees a 26 x 26 patch; at 32 x 32 the output is an 8 x 8 grid of scores.
DISCRIMINATOR_LAYERS = ((64, 4, 2), (128, 4, 2), (256, 3, 1))

#: Adam for both players: the generator's step size comes from the recipe; the
#: discriminator's is this multiple of it (the two time-scale rule of Heusel et al. 2017).
DISCRIMINATOR_LR_FACTOR = 4.0
ADAM_BETA_1 = 0.5


def _check_gan_loss(kind):
    if kind not in GAN_LOSSES:
        raise ValueError(f"Unknown adversarial loss {kind!r}: choose one of {GAN_LOSSES}.")


def _weighted_mean(values, weights):
    if weights is None:
        return ops.mean(values)
    weights = ops.cast(weights, "float32")
    return ops.sum(values * weights) / ops.maximum(ops.sum(weights), 1.0)


def patch_weights(masks, logits):
    """1 for each patch score whose cell of the image holds hole pixels, else 0: (N, h, w, 1).

    A patch without a hole is the same in the real and the inpainted picture, so its scores
    teach nothing; left in, they would dilute both losses (the hinge loss of a patch ``D`` cannot
    tell apart is 2 whatever ``D`` does).  ``masks``: (N, H, W, 1), 1 = valid, 0 = hole;
    ``logits``: ``D``'s (N, h, w, 1) scores, ``H`` a multiple of ``h``.
    """
    factor = ops.shape(masks)[1] // ops.shape(logits)[1]
    holes = 1.0 - ops.cast(masks, "float32")
    fraction = ops.average_pool(holes, pool_size=factor, strides=factor, padding="valid")
    return ops.cast(fraction > 0, "float32")


def discriminator_loss(real_logits, fake_logits, kind="hinge", weights=None):
    """The discriminator's loss, a scalar: low when real patches score high and fakes low.

    Args:
        real_logits, fake_logits: ``D``'s patch scores of real and of inpainted pictures, the
            same shape.
        kind: ``"hinge"`` or ``"non_saturating"`` (module docstring).
        weights: optional 0/1 weights of the patches, the shape of the logits
            (:func:`patch_weights`); the means are over the patches of weight 1.
    """
    _check_gan_loss(kind)
    real_logits = ops.cast(real_logits, "float32")
    fake_logits = ops.cast(fake_logits, "float32")
    if kind == "hinge":
        real_term, fake_term = ops.relu(1.0 - real_logits), ops.relu(1.0 + fake_logits)
    else:
        real_term, fake_term = ops.softplus(-real_logits), ops.softplus(fake_logits)
    return _weighted_mean(real_term, weights) + _weighted_mean(fake_term, weights)


def generator_adversarial_loss(fake_logits, kind="hinge", weights=None):
    """The generator's adversarial loss, a scalar: low when ``D`` scores its fills as real
    (``weights`` as in :func:`discriminator_loss`)."""
    _check_gan_loss(kind)
    fake_logits = ops.cast(fake_logits, "float32")
    term = -fake_logits if kind == "hinge" else ops.softplus(-fake_logits)
    return _weighted_mean(term, weights)


def joint_generator_loss(pixel_loss, adversarial_loss, adversarial_weight):
    """``pixel_loss + adversarial_weight * adversarial_loss`` (both scalars)."""
    return pixel_loss + adversarial_weight * adversarial_loss


def build_discriminator(input_shape=(32, 32, 3)):
    """A PatchGAN discriminator: ``[image (N, H, W, 3), mask (N, H, W, 1)]`` -> (N, H/4, W/4, 1) logits.

    It sees the mask too, so it knows where to look.  Spectrally normalised 4x4 and 3x3
    convolutions with LeakyReLU(0.2) (:data:`DISCRIMINATOR_LAYERS`), then a 3x3 convolution to one
    logit per patch.
    """
    image = keras.Input(input_shape, name="image")
    mask = keras.Input((*input_shape[:2], 1), name="mask")
    x = layers.Concatenate(name="image_and_mask")([image, mask])
    for i, (filters, kernel, stride) in enumerate(DISCRIMINATOR_LAYERS):
        conv = layers.Conv2D(filters, kernel, strides=stride, padding="same", name=f"d_conv{i}")
        x = layers.SpectralNormalization(conv, name=f"d_sn{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"d_lrelu{i}")(x)
    conv = layers.Conv2D(1, 3, padding="same", name="d_patch_logits")
    logits = layers.SpectralNormalization(conv, name="d_sn_out", dtype="float32")(x)
    return keras.Model([image, mask], logits, name="patch_discriminator")


class AdversarialTrainer(keras.Model):
    """Trains an inpainting network (``generator``) against a ``discriminator``.

    ``fit`` takes the same data as any course network: ``(inputs, y_true)`` with ``inputs`` from
    :func:`course_lib.models.prepare_inputs` and ``y_true = concat([image, mask], -1)``.
    Each ``train_step``: one forward pass of ``G``; ``D`` scores the real images and ``G``'s
    outputs; one Adam step of ``D`` on :func:`discriminator_loss` and one of ``G`` on
    :func:`joint_generator_loss` (both from the same scores: a simultaneous update).

    Logged per epoch: ``loss`` (the generator's joint loss), ``pixel_loss``,
    ``adversarial_loss``, ``discriminator_loss``, ``d_real`` and ``d_fake`` (mean scores of the
    patches with holes),
    and the course's training metrics (``batch_psnr``, ``batch_hole_l1``).  Validation (``test_step``) scores ``G``
    alone: ``val_loss`` is its pixel loss, comparable with a pixel-loss run's.

    Saving: ``save(path)`` saves the **generator** (an ordinary course network, what one uses
    afterwards), so ``best.keras`` and ``final.keras`` of a run load like any other network's;
    ``save_weights`` (the resumable backup) keeps both networks and both optimisers.
    """

    def __init__(self, generator, discriminator, *, adversarial_weight, pixel_loss="liu",
                 gan_loss="hinge", **kwargs):
        super().__init__(**kwargs)
        _check_gan_loss(gan_loss)
        self.generator = generator
        self.discriminator = discriminator
        self.adversarial_weight = float(adversarial_weight)
        self.pixel_loss_fn = losses.get_loss(pixel_loss)
        self.gan_loss = gan_loss
        self.trackers = {name: keras.metrics.Mean(name=name) for name in (
            "loss", "pixel_loss", "adversarial_loss", "discriminator_loss", "d_real", "d_fake",
            *[m.__name__ for m in losses.METRICS])}

    def compile(self, generator_optimizer, discriminator_optimizer):
        # Keras' own bookkeeping (step count, backups) follows the generator's optimiser.
        super().compile(optimizer=generator_optimizer)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def build(self, input_shape=None):
        for optimizer, network in ((self.generator_optimizer, self.generator),
                                   (self.discriminator_optimizer, self.discriminator)):
            optimizer.build(network.trainable_variables)
        self.built = True

    def _update(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def _course_metrics(self, y_true, fake):
        return {m.__name__: ops.mean(m(y_true, fake)) for m in losses.METRICS}

    def train_step(self, data):
        import tensorflow as tf  # the step is TensorFlow's: GradientTape (the course's backend)

        inputs, y_true, _ = keras.utils.unpack_x_y_sample_weight(data)
        images, masks = y_true[..., :3], y_true[..., 3:]
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(inputs, training=True)
            real_logits = self.discriminator([images, masks], training=True)
            fake_logits = self.discriminator([fake, masks], training=True)
            weights = patch_weights(masks, fake_logits)
            d_loss = discriminator_loss(real_logits, fake_logits, self.gan_loss, weights)
            pixel = ops.mean(self.pixel_loss_fn(y_true, fake))
            adversarial = generator_adversarial_loss(fake_logits, self.gan_loss, weights)
            g_loss = joint_generator_loss(pixel, adversarial, self.adversarial_weight)
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        self.discriminator_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
        self.generator_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
        return self._update({
            "loss": g_loss, "pixel_loss": pixel, "adversarial_loss": adversarial,
            "discriminator_loss": d_loss, "d_real": _weighted_mean(real_logits, weights),
            "d_fake": _weighted_mean(fake_logits, weights), **self._course_metrics(y_true, fake),
        })

    def test_step(self, data):
        inputs, y_true, _ = keras.utils.unpack_x_y_sample_weight(data)
        fake = self.generator(inputs, training=False)
        pixel = ops.mean(self.pixel_loss_fn(y_true, fake))
        values = {"loss": pixel, **self._course_metrics(y_true, fake)}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}

    def save(self, filepath, *args, **kwargs):
        return self.generator.save(filepath, *args, **kwargs)


def make_trainer(generator, *, adversarial_weight, learning_rate, peak_learning_rate=None,
                 pixel_loss="liu", gan_loss="hinge", clipnorm=None, input_shape=(32, 32, 3)):
    """An :class:`AdversarialTrainer` of ``generator`` and a fresh discriminator, compiled.

    The generator's Adam has step size ``learning_rate`` (a float or a Keras schedule; and
    ``global_clipnorm=clipnorm``), the discriminator's a constant ``DISCRIMINATOR_LR_FACTOR``
    times ``peak_learning_rate`` (default: ``learning_rate``); both ``beta_1 = 0.5``.
    """
    peak_learning_rate = learning_rate if peak_learning_rate is None else peak_learning_rate
    trainer = AdversarialTrainer(
        generator, build_discriminator(input_shape), adversarial_weight=adversarial_weight,
        pixel_loss=pixel_loss, gan_loss=gan_loss, name="adversarial_trainer")
    trainer.compile(
        generator_optimizer=keras.optimizers.Adam(learning_rate, beta_1=ADAM_BETA_1,
                                                  global_clipnorm=clipnorm),
        discriminator_optimizer=keras.optimizers.Adam(
            peak_learning_rate * DISCRIMINATOR_LR_FACTOR, beta_1=ADAM_BETA_1),
    )
    trainer.build()
    return trainer
