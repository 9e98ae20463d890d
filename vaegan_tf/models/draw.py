"""DRAW (Gregor et al. 2015), as reviewed and used in Chen, Fang, Ju (2016), Secs. 2.4 and 4.6, with
its conditional variant (Sec. 2.4, the poster's per-digit sequences) and DRAW-GAN (Sec. 3.4, Figure
11: `DRAWGAN`, whose docstring gives its two readings).

A recurrent VAE that draws on a canvas over T steps. With sigma the logistic sigmoid, for t = 1..T:
    x^_t = x - sigma(c_{t-1})                               (error image)
    r_t = read(x, x^_t, h^dec_{t-1})
    h^enc_t = LSTM^enc(h^enc_{t-1}, [r_t, h^dec_{t-1}])
    z_t ~ Q(Z_t | h^enc_t) = N(mu_t, diag sigma_t^2),  mu_t, log sigma_t linear in h^enc_t
    h^dec_t = LSTM^dec(h^dec_{t-1}, z_t)
    c_t = c_{t-1} + write(h^dec_t)
and p(x | c_T) is Bernoulli with means sigma(c_T). The loss is the negative variational bound
    L = L^x + L^z,  L^x = -log p(x | c_T),  L^z = sum_t KL(Q(Z_t | h^enc_t) || N(0, I))
with a fresh reparameterised draw of every z_t (Gregor et al. eqs. 3-12; Chen et al. Sec. 2.4, whose
closed form "- T/2" is right only when T equals the code size: the KL here comes from TFP's
Normals). Generation runs the decoder alone from z_t ~ N(0, I) (Gregor et al. eqs. 13-15).

Reading and writing: with attention (`read_glimpse`, `write_glimpse` = N), an N x N grid of Gaussian
filters placed by a linear map of the decoder state (`vaegan_tf.models.attention`, eqs. 19-29): read
gives gamma [F_Y x F_X^T, F_Y x^ F_X^T], write adds 1 / gamma F_Y^T w_t F_X with w_t an N x N patch
linear in h^dec_t. Without attention (`None`), read is [x, x^] whole and write a full-size linear
canvas update (eqs. 17-18). Conditional DRAW (`num_classes`) concatenates the one-hot label to the
encoder input [r_t, h^dec_{t-1}, y] and to the decoder input [z_t, y], as the authors'
DRAW/cdraw.py.

Presets: `AUTHORS_CODE` is the authors' DRAW/draw.py and main.py (T = 10, read and write 5x5, z = 10
per step, LSTMs 256/256, Adam lr 1e-3 with beta1 0.5, each gradient tensor clipped to norm 5; batch
256 on grey images in the study), which drew Figure 10; `AUTHORS_CODE_CONDITIONAL` is DRAW/cdraw.py
(the same with the label, lr 1e-4; batch 100). `DRAW_PAPER` is Gregor et al.'s MNIST likelihood
setting (T = 64, read 2x2, write 5x5, z = 100, LSTMs 256; Table 3) with the optimiser of the public
reproduction jbornschein/draw (Adam lr 3e-4, total gradient norm clipped to 10, batch 100), and
`DRAW_PAPER_NO_ATTENTION` its model without attention. The authors' code is followed, not its bugs:
the filterbank exponent, the off-centre grid (see `attention`) and its selection of the write
operation by the read flag.

Readings of what the papers leave open:
- c_0, h^enc_0, h^dec_0 (and the LSTM cell states) start at zero, as in the authors' code and the
  public reproductions.
- Grey images (the authors' data) are scored with the Bernoulli log-probability of their grey
  levels, the cross-entropy their code minimised; the likelihood presets train on dynamically
  binarised images.
- Gradient clipping acts on the gradient of the global batch: under `tf.distribute` the replicas'
  gradients are summed before they are clipped (Keras' `clipnorm` would clip each replica's share).
- The T-step loop of the training and test steps is unrolled when the step is traced (`unroll`):
  faster per step on a CPU than a `tf.while_loop`, at the price of a longer trace. Sampling,
  reconstruction, the traces and the importance weights run a `tf.while_loop`, cheap to trace for
  every batch shape they meet.

The variational bound is what the DRAW paper reports; `importance_weighted_log_likelihood` tightens
it with k draws of the whole sequence z_{1:T} from Q (Burda et al. 2015). The posterior of step t
depends on the draws before it, so Q is no distribution of x alone that could be sampled and scored
apart (what `vaegan_tf.evaluate`'s estimator takes); the weights log p(x | z) + log p(z) - log q(z |
x) are summed along one pass of the loop instead.

What DRAW and DRAW-GAN measured: `make figure10` and `make figure11` (results/figure10/,
results/figure11/); what the loop's speed choices measured: results/benchmark/HISTORY.md.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from vaegan_tf import losses, optimizers
from vaegan_tf.choices import check_choice
from vaegan_tf.models import attention, gan
from vaegan_tf.models.adversarial import AdversarialModel
from vaegan_tf.models.discriminator import Discriminator, DiscriminatorConfig
from vaegan_tf.models.interface import labels_or_uniform, refuse_labels
from vaegan_tf.models.latent import bernoulli_pixels, diagonal_normal, standard_normal
from vaegan_tf.models.layers import BatchNormalization, Network

tfd = tfp.distributions
# The steps hold no Python control flow on tensors (the loop is a tf.while_loop or unrolled), so
# AutoGraph has nothing to convert; converting them anyway only lengthens every trace.
no_autograph = tf.autograph.experimental.do_not_convert


@dataclasses.dataclass(frozen=True)
class DRAWConfig:
    image_shape: tuple[int, int, int] = (28, 28, 1)
    steps: int = 10  # T; the authors' DRAW/main.py
    read_glimpse: int | None = 5  # N of the read grid (authors' 5x5); None: read x and x^ whole
    write_glimpse: int | None = 5  # N of the write patch; None: write a full canvas update
    code_size: int = 10  # z_t per step (authors' z_size)
    encoder_units: int = 256  # Chen et al. Sec. 4.6
    decoder_units: int = 256  # Sec. 4.6
    num_classes: int | None = None  # conditional DRAW: the one-hot label joins both LSTMs' inputs
    learning_rate: float = 1e-3  # the authors' checkpoint name draw_checkpoint_0.001_50000
    adam_beta1: float = 0.5  # DRAW/draw.py
    gradient_clip: float | None = 5.0  # DRAW/draw.py: clip_by_norm(g, 5)
    clip_each_tensor: bool = (
        True  # True: each gradient tensor apart (authors); False: the total norm
    )
    seed: int = 0
    unroll: bool = True  # the training steps' loop unrolled at trace time; False: tf.while_loop

    def __post_init__(self):
        for name in ("read_glimpse", "write_glimpse"):
            glimpse = getattr(self, name)
            if glimpse is not None and glimpse < 2:
                raise ValueError(f"{name} must be None (no attention) or at least 2; got {glimpse}")
        if self.steps < 1:
            raise ValueError(f"DRAW needs at least one step; got steps={self.steps}")
        if self.num_classes is not None and self.num_classes < 2:
            raise ValueError(
                f"num_classes must be None (unconditional) or at least 2; got {self.num_classes}"
            )

    @property
    def latent_dim(self) -> int:
        return self.steps * self.code_size


AUTHORS_CODE = DRAWConfig()
AUTHORS_CODE_CONDITIONAL = dataclasses.replace(
    AUTHORS_CODE, num_classes=10, learning_rate=1e-4
)  # cdraw
DRAW_PAPER = DRAWConfig(
    steps=64,
    read_glimpse=2,
    write_glimpse=5,
    code_size=100,
    learning_rate=3e-4,
    adam_beta1=0.9,
    gradient_clip=10.0,
    clip_each_tensor=False,
)
DRAW_PAPER_NO_ATTENTION = dataclasses.replace(DRAW_PAPER, read_glimpse=None, write_glimpse=None)


class Trace(NamedTuple):
    """What the loop did at each step, for the figures: canvases sigma(c_t) [T, B, H, W, C] and the
    attention windows (`attention.Window` with fields [T, B]; None without attention)."""

    canvases: tf.Tensor
    read_windows: attention.Window | None
    write_windows: attention.Window | None


class Inference(NamedTuple):
    """One pass of the inference loop: the final canvas logits c_T, the summed KL [B], and sum_t log
    p(z_t) - log q(z_t | h^enc_t) at the drawn z [B]."""

    logits: tf.Tensor
    kl: tf.Tensor
    log_prior_ratio: tf.Tensor
    trace: Trace | None


def run_steps(step, carry, steps: int, unroll: bool):
    """carry <- step(t, carry) for t = 0..steps-1: a `tf.while_loop`, or unrolled at trace time."""
    if unroll:
        for t in range(steps):
            carry = step(tf.constant(t), carry)
        return carry
    _, carry = tf.while_loop(
        lambda t, _: t < steps,
        lambda t, state: (t + 1, step(t, state)),
        (tf.constant(0), carry),
        maximum_iterations=steps,
    )
    return carry


def clip_gradients(gradients, clip_norm: float, each_tensor: bool):
    """Clips the gradient of the global batch, from inside a replica's train step. Keras sums the
    replicas' gradients inside `optimizer.apply`, after its own `clipnorm` has clipped each
    replica's share; here the sum is taken first, clipped, and handed back divided by the replica
    count so that the optimizer's sum restores it (exactly: the count is a power of two in practice,
    and the division is exact for any count up to rounding)."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        gradients = tf.distribute.get_replica_context().all_reduce("sum", gradients)
    if each_tensor:
        clipped = [tf.clip_by_norm(g, clip_norm) for g in gradients]
    else:
        clipped, _ = tf.clip_by_global_norm(gradients, clip_norm)
    return [g / replicas for g in clipped] if replicas > 1 else clipped


def lstm_step(cell: keras.layers.LSTMCell, inputs, state):
    """One step of `cell`: (h, [h, c]) in float32 under any dtype policy. They are a loop's carry
    and meet float32 glimpses, codes and labels; under `mixed_bfloat16` the cell's matmuls still
    run in bfloat16."""
    output, state = cell(inputs, state)
    return keras.tree.map_structure(lambda t: tf.cast(t, tf.float32), (output, state))


def lstm_step_projected(cell: keras.layers.LSTMCell, projected, state):
    """`lstm_step` given the input projection `inputs @ cell.kernel` [B, 4 units] instead of the
    inputs, in the cell's compute dtype, so that a caller can compute its loop-invariant part once.
    The gates are Keras' `LSTMCell` (implementation 2, no dropout): with [i, f, g, o] = projected
    + h W_h + b, c' = sigma(f) c + sigma(i) tanh(g) and h' = sigma(o) tanh(c')."""
    dtype = cell.compute_dtype
    h, c = (tf.cast(t, dtype) for t in state)
    gates = projected + tf.matmul(h, tf.cast(cell.recurrent_kernel, dtype))
    if cell.use_bias:
        gates += tf.cast(cell.bias, dtype)
    i, f, g, o = tf.split(gates, 4, axis=-1)
    c = cell.recurrent_activation(f) * c + cell.recurrent_activation(i) * cell.activation(g)
    h = cell.recurrent_activation(o) * cell.activation(c)
    h, c = tf.cast(h, tf.float32), tf.cast(c, tf.float32)
    return h, [h, c]


class DRAW(keras.Model):
    """DRAW and conditional DRAW (module docstring). Implements the suite's generative interface
    (`vaegan_tf.models.interface`) with the codes of all steps as one vector z = [z_1, ..., z_T]."""

    def __init__(
        self, config: DRAWConfig = AUTHORS_CODE, hoist_image_projection: bool = True, **kwargs
    ):
        super().__init__(**kwargs)
        self.config = config
        # without attention, the encoder's projection of x is computed once, not at every step
        # (`_whole_image_projection`); False multiplies [x, x^_t, h_dec, y] by the whole kernel
        self.hoist_image_projection = hoist_image_projection
        self.latent_dim = config.latent_dim
        self.num_classes = config.num_classes
        self.noise = keras.random.SeedGenerator(config.seed)
        height, width, channels = config.image_shape
        self.encoder_cell = keras.layers.LSTMCell(config.encoder_units, name="encoder")
        self.decoder_cell = keras.layers.LSTMCell(config.decoder_units, name="decoder")
        # the heads' outputs are float32 under a mixed policy (`Network`)
        self.posterior_head = Network(
            [keras.layers.Dense(2 * config.code_size)], name="posterior"
        )  # mu, log sigma
        if config.read_glimpse is not None:
            self.read_window = Network(
                [keras.layers.Dense(attention.WINDOW_PARAMETERS)], name="read_window"
            )
        write_size = (
            config.write_glimpse**2 if config.write_glimpse else height * width
        ) * channels
        self.write_head = Network([keras.layers.Dense(write_size)], name="write")
        if config.write_glimpse is not None:
            self.write_window = Network(
                [keras.layers.Dense(attention.WINDOW_PARAMETERS)], name="write_window"
            )
        self.trackers = {
            name: keras.metrics.Mean(name) for name in ("loss", "reconstruction", "kl")
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    def build_for_training(self) -> DRAW:
        """Creates every weight (and the optimizer's slots, so a backup restores them)."""
        labels = None if self.num_classes is None else tf.zeros((1,), tf.int32)
        self.infer(
            tf.zeros((1, *self.config.image_shape)), labels
        )  # eagerly: layers build on first call
        if getattr(self, "optimizer", None) is not None:  # uncompiled inside a DRAW-GAN
            self.optimizer.build(self.trainable_variables)
        self.built = True
        return self

    # -- the two loops -------------------------------------------------------------------------

    def condition(self, labels, count) -> list[tf.Tensor]:
        """[one-hot y] for a conditional model, [] otherwise; refuses labels it cannot take."""
        if self.num_classes is None:
            refuse_labels("this DRAW", labels)
            return []
        if labels is None:
            raise ValueError("conditional DRAW needs labels: pass integer labels [B]")
        labels = tf.convert_to_tensor(labels)
        return [tf.one_hot(tf.cast(tf.reshape(labels, [count]), tf.int32), self.num_classes)]

    def prior_step(self) -> tfd.Distribution:
        """p(z_t) = N(0, I) over one step's code."""
        return standard_normal(self.config.code_size)

    def _read(self, x, error, h_dec):
        if self.config.read_glimpse is None:
            batch = tf.shape(x)[0]
            return tf.concat([tf.reshape(x, [batch, -1]), tf.reshape(error, [batch, -1])], -1), None
        height, width, _ = self.config.image_shape
        window = attention.window_from_parameters(
            self.read_window(h_dec), self.config.read_glimpse, height, width
        )
        glimpses = [attention.read(image, window, self.config.read_glimpse) for image in (x, error)]
        batch = tf.shape(x)[0]
        return tf.concat([tf.reshape(g, [batch, -1]) for g in glimpses], -1), window

    def _whole_image_projection(self, x, condition):
        """Without attention the encoder reads [x, x^_t] with x^_t = x - sigma(c_{t-1}), so the
        projection of its input [x, x^_t, h^dec_{t-1}, y] by the kernel [W_x; W_x^; W_h; W_y] is
            (W_x + W_x^) x + W_y y  -  W_x^ sigma(c_{t-1}) + W_h h^dec_{t-1},
        whose first part is the same at every step. This returns (canvas, h_dec) -> the whole
        projection with that part computed once per batch, the loop multiplying only
        [sigma(c_{t-1}), h^dec_{t-1}] (about 40% fewer encoder FLOPs at the DRAW paper's T = 64);
        or None when attention reads (the glimpse depends on h^dec_{t-1}) or hoisting is off."""
        if self.config.read_glimpse is not None or not self.hoist_image_projection:
            return None
        size = math.prod(self.config.image_shape)
        batch = tf.shape(x)[0]
        pixels = tf.reshape(x, [batch, size])
        cell = self.encoder_cell
        if not cell.built:  # its kernel is read before the loop that would build it
            cell.build((None, 2 * size + self.config.decoder_units + (self.num_classes or 0)))
        kernel = tf.convert_to_tensor(cell.kernel)  # float32 rows [W_x; W_x^; W_h; W_y]
        image_kernel, error_kernel = kernel[:size], kernel[size : 2 * size]
        state_kernel = kernel[2 * size : 2 * size + self.config.decoder_units]
        dtype = cell.compute_dtype
        hoisted = tf.matmul(tf.cast(pixels, dtype), tf.cast(image_kernel + error_kernel, dtype))
        for label in condition:
            label_kernel = kernel[2 * size + self.config.decoder_units :]
            hoisted += tf.matmul(tf.cast(label, dtype), tf.cast(label_kernel, dtype))
        step_kernel = tf.cast(tf.concat([-error_kernel, state_kernel], 0), dtype)

        def projection(canvas, h_dec):
            varying = tf.concat([tf.reshape(tf.sigmoid(canvas), [batch, size]), h_dec], -1)
            return hoisted + tf.matmul(tf.cast(varying, dtype), step_kernel)

        return projection

    def _write(self, h_dec):
        height, width, channels = self.config.image_shape
        update = self.write_head(h_dec)
        batch = tf.shape(h_dec)[0]
        if self.config.write_glimpse is None:
            return tf.reshape(update, [batch, height, width, channels]), None
        glimpse = self.config.write_glimpse
        window = attention.window_from_parameters(self.write_window(h_dec), glimpse, height, width)
        patch = tf.reshape(update, [batch, glimpse, glimpse, channels])
        return attention.write(patch, window, height, width), window

    def _zero_states(self, batch):
        return (
            [tf.zeros([batch, self.config.encoder_units])] * 2,
            [tf.zeros([batch, self.config.decoder_units])] * 2,
        )

    def _new_trace_arrays(self, reads: bool):
        steps = self.config.steps
        arrays = {"canvases": tf.TensorArray(tf.float32, steps)}
        names = (["read"] if reads and self.config.read_glimpse else []) + (
            ["write"] if self.config.write_glimpse else []
        )
        for name in names:
            arrays[name] = tf.TensorArray(tf.float32, steps)
        return arrays

    def _record_step(self, arrays, t, canvas, read_window, write_window):
        arrays = dict(arrays)
        arrays["canvases"] = arrays["canvases"].write(t, tf.sigmoid(canvas))
        for name, window in (("read", read_window), ("write", write_window)):
            if name in arrays:
                arrays[name] = arrays[name].write(t, tf.stack(list(window), axis=0))
        return arrays

    def _trace(self, arrays) -> Trace:
        windows = {
            name: attention.Window(
                *tf.unstack(arrays[name].stack(), attention.WINDOW_PARAMETERS, axis=1)
            )
            for name in ("read", "write")
            if name in arrays
        }
        return Trace(arrays["canvases"].stack(), windows.get("read"), windows.get("write"))

    def infer(
        self, x, labels=None, noise=None, record: bool = False, unroll: bool = False
    ) -> Inference:
        """The inference loop over x [B, H, W, C] with posterior noise [T, B, code_size] (fresh
        draws by default; zeros give the posterior means); `unroll`: unrolled at trace time."""
        x = tf.convert_to_tensor(x, tf.float32)
        batch = tf.shape(x)[0]
        condition = self.condition(labels, batch)
        if noise is None:
            noise = self.draw_noise(tf.stack([self.config.steps, batch, self.config.code_size]))
        prior = self.prior_step()
        encoder_state, decoder_state = self._zero_states(batch)
        zeros = tf.zeros([batch])
        arrays = self._new_trace_arrays(reads=True) if record else {}
        whole_image_projection = self._whole_image_projection(x, condition)

        def step(t, carry):
            canvas, encoder_state, decoder_state, kl, log_ratio, arrays = carry
            h_dec = decoder_state[0]
            if whole_image_projection is None:
                glimpse, read_window = self._read(x, x - tf.sigmoid(canvas), h_dec)
                h_enc, encoder_state = lstm_step(
                    self.encoder_cell, tf.concat([glimpse, h_dec, *condition], -1), encoder_state
                )
            else:  # the same step, with the projection of x computed once before the loop
                projected = whole_image_projection(canvas, h_dec)
                h_enc, encoder_state = lstm_step_projected(
                    self.encoder_cell, projected, encoder_state
                )
                read_window = None
            mean, log_scale = tf.split(self.posterior_head(h_enc), 2, axis=-1)
            posterior = diagonal_normal(mean, tf.exp(log_scale))
            z = mean + tf.exp(log_scale) * noise[t]
            h_dec, decoder_state = lstm_step(
                self.decoder_cell, tf.concat([z, *condition], -1), decoder_state
            )
            update, write_window = self._write(h_dec)
            canvas = canvas + update
            kl = kl + tfd.kl_divergence(posterior, prior)
            log_ratio = log_ratio + prior.log_prob(z) - posterior.log_prob(z)
            if record:
                arrays = self._record_step(arrays, t, canvas, read_window, write_window)
            return canvas, encoder_state, decoder_state, kl, log_ratio, arrays

        canvas, _, _, kl, log_ratio, arrays = run_steps(
            step,
            (tf.zeros_like(x), encoder_state, decoder_state, zeros, zeros, arrays),
            self.config.steps,
            unroll,
        )
        return Inference(canvas, kl, log_ratio, self._trace(arrays) if record else None)

    def generate(
        self, z, labels=None, record: bool = False, unroll: bool = False
    ) -> tuple[tf.Tensor, Trace | None]:
        """The generative loop: (c_T logits, trace) for codes z [B, T * code_size] (step t's code is
        z[:, t * code_size:(t + 1) * code_size])."""
        z = tf.convert_to_tensor(z, tf.float32)
        if z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"DRAW codes have {self.latent_dim} = T * code_size entries; got shape {z.shape}"
            )
        batch = tf.shape(z)[0]
        codes = tf.transpose(
            tf.reshape(z, [batch, self.config.steps, self.config.code_size]), [1, 0, 2]
        )
        condition = self.condition(labels, batch)
        _, decoder_state = self._zero_states(batch)
        arrays = self._new_trace_arrays(reads=False) if record else {}

        def step(t, carry):
            canvas, decoder_state, arrays = carry
            h_dec, decoder_state = lstm_step(
                self.decoder_cell, tf.concat([codes[t], *condition], -1), decoder_state
            )
            update, write_window = self._write(h_dec)
            canvas = canvas + update
            if record:
                arrays = self._record_step(arrays, t, canvas, None, write_window)
            return canvas, decoder_state, arrays

        canvas0 = tf.zeros(tf.concat([[batch], self.config.image_shape], 0))
        canvas, _, arrays = run_steps(
            step, (canvas0, decoder_state, arrays), self.config.steps, unroll
        )
        return canvas, (self._trace(arrays) if record else None)

    # -- training ------------------------------------------------------------------------------

    def draw_noise(self, shape) -> tf.Tensor:
        return keras.random.normal(shape, seed=self.noise)

    def canvas_likelihood(self, logits) -> tfd.Distribution:
        """p(x | c_T): independent Bernoulli pixels with logits c_T."""
        return bernoulli_pixels(logits)

    def per_example_terms(self, x, labels=None, noise=None, unroll: bool | None = None):
        """(L^x [B], L^z [B]) for one fresh draw of z_1..z_T per example."""
        inference = self.infer(
            x, labels, noise, unroll=self.config.unroll if unroll is None else unroll
        )
        return losses.reconstruction_nll(x, self.canvas_likelihood(inference.logits)), inference.kl

    def _labels(self, data):
        return data[1] if self.num_classes is not None else None

    @no_autograph
    def train_step(self, data):
        x = data[0]
        with tf.GradientTape() as tape:
            reconstruction, kl = self.per_example_terms(x, self._labels(data))
            loss = tf.nn.compute_average_loss(losses.negative_elbo(reconstruction, kl))
        gradients = tape.gradient(loss, self.trainable_variables)
        if self.config.gradient_clip is not None:
            gradients = clip_gradients(
                gradients, self.config.gradient_clip, self.config.clip_each_tensor
            )
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._record(reconstruction, kl)

    @no_autograph
    def test_step(self, data):
        """The bound with one draw of z_1..z_T per image (what Gregor et al. report)."""
        return self._record(*self.per_example_terms(data[0], self._labels(data)))

    def _record(self, reconstruction, kl):
        self.trackers["loss"].update_state(losses.negative_elbo(reconstruction, kl))
        self.trackers["reconstruction"].update_state(reconstruction)
        self.trackers["kl"].update_state(kl)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def call(self, x, training=False):
        """Reconstruction means sigma(c_T) of x through one posterior draw (unconditional)."""
        return tf.sigmoid(self.infer(x).logits)

    # -- the suite's generative interface ------------------------------------------------------

    def sample(self, count: int, labels=None) -> tf.Tensor:
        """Images sigma(c_T) for fresh z_t ~ N(0, I); a conditional model given no labels draws them
        uniformly."""
        labels = labels_or_uniform(labels, count, self.num_classes, self.noise)
        return self.decode(self.draw_noise((count, self.latent_dim)), labels)

    @tf.function(reduce_retracing=True, autograph=False)
    def _decode(self, z, labels):
        return tf.sigmoid(self.generate(z, labels)[0])

    def decode(self, z, labels=None) -> tf.Tensor:
        """Images sigma(c_T) for codes z [B, T * code_size], deterministically."""
        return self._decode(tf.convert_to_tensor(z, tf.float32), self._labels_tensor(labels))

    @tf.function(reduce_retracing=True, autograph=False)
    def _reconstruct(self, x, labels):
        noise = tf.zeros([self.config.steps, tf.shape(x)[0], self.config.code_size])
        return tf.sigmoid(self.infer(x, labels, noise).logits)

    def reconstruct(self, x, labels=None) -> tf.Tensor:
        """Images sigma(c_T) through the loop with every z_t at its posterior mean."""
        return self._reconstruct(tf.convert_to_tensor(x, tf.float32), self._labels_tensor(labels))

    def _labels_tensor(self, labels):
        return None if labels is None else tf.convert_to_tensor(np.asarray(labels), tf.int32)

    def trace_generation(self, z, labels=None) -> Trace:
        """Canvases sigma(c_t) [T, B, H, W, C] and write windows of the generative loop for z."""
        return self.generate(z, self._labels_tensor(labels), record=True)[1]

    def trace_reconstruction(self, x, labels=None) -> Trace:
        """Canvases and read / write windows of the inference loop with every z_t at its posterior
        mean."""
        x = tf.convert_to_tensor(x, tf.float32)
        noise = tf.zeros([self.config.steps, tf.shape(x)[0], self.config.code_size])
        return self.infer(x, self._labels_tensor(labels), noise, record=True).trace

    # -- likelihood ----------------------------------------------------------------------------

    @tf.function(reduce_retracing=True, autograph=False)
    def log_importance_weights(self, x, labels, count):
        """log p(x | z) + log p(z) - log q(z | x) for `count` draws of z_{1:T} per image: [count,
        B]."""
        batch = tf.shape(x)[0]
        repeated = tf.reshape(
            tf.repeat(x[None], count, axis=0), tf.concat([[-1], tf.shape(x)[1:]], 0)
        )
        if labels is not None:
            labels = tf.reshape(tf.repeat(labels[None], count, axis=0), [-1])
        inference = self.infer(repeated, labels)
        log_weights = (
            self.canvas_likelihood(inference.logits).log_prob(repeated) + inference.log_prior_ratio
        )
        return tf.reshape(log_weights, [count, batch])

    def importance_weighted_log_likelihood(
        self, x, num_samples: int, labels=None, chunk: int = 50
    ) -> np.ndarray:
        """log p(x) estimates [B] from `num_samples` importance draws (Burda et al. 2015, eq. 8);
        one draw is a stochastic estimate of the variational bound."""
        if num_samples < 1:
            raise ValueError("num_samples must be at least 1")
        x, labels = tf.convert_to_tensor(x, tf.float32), self._labels_tensor(labels)
        parts = []
        for start in range(0, num_samples, chunk):
            count = tf.constant(min(chunk, num_samples - start))
            parts.append(tf.reduce_logsumexp(self.log_importance_weights(x, labels, count), axis=0))
        return (tf.reduce_logsumexp(tf.stack(parts), axis=0) - math.log(num_samples)).numpy()


def build_draw(config: DRAWConfig = AUTHORS_CODE) -> DRAW:
    """A built DRAW with its Adam (the config's learning rate and beta1); call inside
    `strategy.scope()`."""
    model = DRAW(config)
    model.compile(optimizer=optimizers.Adam(config.learning_rate, beta_1=config.adam_beta1))
    return model.build_for_training()


# -- DRAW-GAN --------------------------------------------------------------------------------------

GENERATOR_LOSSES = ("non_saturating", "minimax")
RECONSTRUCTIONS = ("bernoulli", "squared_error")
DISCRIMINATORS = ("cvae", "authors")


@dataclasses.dataclass(frozen=True)
class DRAWGANConfig:
    """DRAW-GAN (Chen et al. Sec. 3.4); see `DRAWGAN` for the two readings and `PAPER_TEXT_GAN`,
    `AUTHORS_CODE_GAN` for their settings."""

    # Sec. 4: Adam with TensorFlow's defaults, lr 1e-4 for VAEs with GANs; no clipping
    draw: DRAWConfig = dataclasses.replace(
        AUTHORS_CODE, learning_rate=1e-4, adam_beta1=0.9, gradient_clip=None
    )
    discriminator: str = "cvae"  # DISCRIMINATORS: Sec. 4.6 "the same discriminator as CVAE"
    reconstruction: str = "bernoulli"  # Sec. 4.6: "the L2 or cross-entropy loss"
    reconstruction_weight: float = 1.0
    gan_on_reconstructions: bool = True  # eqs. 2-3 judge Dec(Enc(x)) too; the authors' code did not
    # GENERATOR_LOSSES: eq. 2's -log D(Dec(z)); the authors' code: log(1 - D(Dec(z)))
    generator_loss: str = "non_saturating"
    gan_weight: float = 1.0  # the authors' code: 5
    judge_batches_apart: bool = False  # True: D sees real and generated images in separate calls
    discriminator_learning_rate: float = 1e-4  # Sec. 4

    def __post_init__(self):
        for field, choices in (
            ("discriminator", DISCRIMINATORS),
            ("reconstruction", RECONSTRUCTIONS),
            ("generator_loss", GENERATOR_LOSSES),
        ):
            check_choice(getattr(self, field), choices, f"DRAW-GAN {field}")
        if self.draw.num_classes is not None:
            raise ValueError(
                "DRAW-GAN is unconditional (Sec. 3.4): use a DRAWConfig with num_classes=None"
            )


PAPER_TEXT_GAN = DRAWGANConfig()
AUTHORS_BATCH = 256  # DRAW/main_drawgan.py
AUTHORS_CODE_GAN = DRAWGANConfig(
    draw=dataclasses.replace(AUTHORS_CODE, learning_rate=1e-3, adam_beta1=0.9, gradient_clip=None),
    discriminator="authors",
    reconstruction="squared_error",
    reconstruction_weight=float(AUTHORS_BATCH),  # a sum over the batch beside batch means
    gan_on_reconstructions=False,
    generator_loss="minimax",
    gan_weight=5.0,
    judge_batches_apart=True,
    discriminator_learning_rate=1e-3,  # their checkpoint draw_gan_checkpoint_0.001_50000
)


class AuthorsDiscriminator(keras.Model):
    """The authors' DRAW-GAN discriminator (DRAW/networks.py, Discriminator_v3): conv5-28, -56,
    -112, -224, each stride 2 'same' with batch norm and ReLU, then FC-500 with ReLU (their
    lth_layer) and one logit (their sigmoid lives in the loss). x -> (logit [B], FC-500 features [B,
    500])."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        layers = []
        for filters in (28, 56, 112, 224):
            layers += [
                keras.layers.Conv2D(filters, 5, strides=2, padding="same", use_bias=False),
                BatchNormalization(),
                keras.layers.ReLU(),
            ]
        self.trunk = Network(
            [*layers, keras.layers.Flatten(), keras.layers.Dense(500, activation="relu")],
            name="trunk",
        )
        self.head = Network([keras.layers.Dense(1)], name="logit")

    def call(self, x, training=False):
        features = self.trunk(x, training=training)
        return self.head(features)[:, 0], features


class RealFakeLogit(keras.Model):
    """A two-class (real, fake) discriminator seen as one logit s = l_real - l_fake, so that
    sigmoid(s) = softmax(l)_real = D(x): the CVAE-GAN's discriminator with k = 1."""

    def __init__(self, discriminator: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.discriminator = discriminator

    def call(self, x, training=False):
        logits, features = self.discriminator(x, training=training)
        return logits[:, 0] - logits[:, 1], features


def build_discriminator(kind: str) -> keras.Model:
    """`authors`: their DRAW-GAN network; `cvae`: Sec. 4.3's, real vs fake, as one logit."""
    if kind == "authors":
        return AuthorsDiscriminator(name="discriminator")
    return RealFakeLogit(Discriminator(DiscriminatorConfig(num_classes=1)), name="discriminator")


class DRAWGAN(AdversarialModel):
    """DRAW-GAN (Chen, Fang, Ju 2016, Sec. 3.4, Figure 11): DRAW as a black-box generator, its final
    canvas judged by a discriminator, "exactly the same as VAE-GAN" (Sec. 3.4).

    The paper's text (`PAPER_TEXT_GAN`, the default): eqs. 2-3 with DRAW's encoder and decoder and,
    as Sec. 4.6 says, the pixel reconstruction loss in place of the learned similarity; per example,
    with x~ = sigma(c_T) of the inference loop and x_p = sigma(c_T) of the generative loop from z ~
    N(0, I),
        L_G = L^z + L^x - log D(x_p) - log D(x~)
        L_D = -log D(x) - log(1 - D(x_p)) - log(1 - D(x~))
    L^x the Bernoulli cross-entropy, D Sec. 4.3's discriminator (conv3-16-32-64 stride 2, FC-512,
    FC-500, two classes) "the same discriminator as CVAE" (Sec. 4.6); Adam lr 1e-4 for both players,
    TF's default betas, batch 100 (Sec. 4). One L_G trains encoder and decoder together: the paper
    splits no gradient here (its VAE-GAN's split follows Larsen et al.'s learned similarity, absent
    here).

    The authors' code (`AUTHORS_CODE_GAN`, DRAW/drawgan.py and main_drawgan.py):
        L_G = sum over the batch of ||x - x~||^2 + mean L^z - 5 mean(-log(1 - D(x_p)))
        L_D = mean[-log D(x) - log(1 - D(x_p))]
    i.e. squared-error reconstruction (their cross-entropy is computed but unused), the GAN term on
    prior samples only and in the saturating minimax form (G minimises 5 log(1 - D(x_p))), their own
    discriminator (`AuthorsDiscriminator`) called on each batch apart, two Adams at lr 1e-3, batch
    256. Per example the batch sum is a weight of 256 on the squared error.

    Each step updates the generator (DRAW), then the discriminator on real images and on images of
    the updated generator with fresh noise, as the authors' two session runs do. Losses come from
    the GAN family's per-example functions (`vaegan_tf.models.gan`)."""

    def __init__(self, config: DRAWGANConfig = PAPER_TEXT_GAN, **kwargs):
        super().__init__(
            (
                "generator_loss",
                "discriminator_loss",
                "reconstruction",
                "kl",
                "gan",
                "real_accuracy",
                "fake_accuracy",
            ),
            **kwargs,
        )
        self.config = config
        self.draw = DRAW(config.draw)
        self.discriminator = build_discriminator(config.discriminator)
        self.generator_gan_loss = {
            "non_saturating": gan.non_saturating_generator_loss,
            "minimax": gan.minimax_generator_loss,
        }[config.generator_loss]

    def build_for_training(self) -> DRAWGAN:
        return self.build_networks(self.draw, self.discriminator, self.config.draw.image_shape)

    # the suite's generative interface: DRAW's
    @property
    def latent_dim(self) -> int:
        return self.draw.latent_dim

    def sample(self, count: int, labels=None) -> tf.Tensor:
        return self.draw.sample(count, labels)

    def decode(self, z, labels=None) -> tf.Tensor:
        return self.draw.decode(z, labels)

    def reconstruct(self, x, labels=None) -> tf.Tensor:
        return self.draw.reconstruct(x, labels)

    def call(self, x, training=False):
        return self.draw(x, training=training)

    def scores(self, *images, training: bool) -> list[tf.Tensor]:
        """D's logit for each batch of images: from one call on all of them (batch norm then sees
        real and generated images together), or from a call per batch (`judge_batches_apart`)."""
        if self.config.judge_batches_apart:
            return [self.discriminator(batch, training=training)[0] for batch in images]
        return [logits for logits, _ in self.judge(*images, training=training)]

    def _images(self, x):
        """(c_T logits of x's reconstruction x~, a prior sample x_p per example, L^z [B])."""
        unroll = self.config.draw.unroll
        inference = self.draw.infer(x, unroll=unroll)
        z = self.draw.draw_noise(tf.stack([tf.shape(x)[0], self.draw.latent_dim]))
        return inference.logits, tf.sigmoid(self.draw.generate(z, unroll=unroll)[0]), inference.kl

    def _fake_scores(self, x, rebuilt, generated, training: bool):
        """(D's logit for x, [for x_p, and for x~ if judged])."""
        fakes = (generated, rebuilt) if self.config.gan_on_reconstructions else (generated,)
        real, *fake = self.scores(x, *fakes, training=training)
        return real, fake

    def reconstruction_terms(self, x, rebuilt_logits) -> tf.Tensor:
        """L^x per example: Bernoulli cross-entropy, or the summed squared error of sigma(c_T)."""
        if self.config.reconstruction == "bernoulli":
            return losses.reconstruction_nll(x, self.draw.canvas_likelihood(rebuilt_logits))
        return tf.reduce_sum(tf.square(x - tf.sigmoid(rebuilt_logits)), axis=[1, 2, 3])

    def generator_terms(self, x, training: bool):
        """Per example: (L_G, L^x, L^z, the GAN term). D judges x too, unless batches are judged
        apart, so that batch norm normalises with the statistics of D's own step; its score is not
        used."""
        rebuilt_logits, generated, kl = self._images(x)
        rebuilt = tf.sigmoid(rebuilt_logits)
        if self.config.judge_batches_apart:
            fakes = (generated, rebuilt) if self.config.gan_on_reconstructions else (generated,)
            fake_scores = self.scores(*fakes, training=training)
        else:
            _, fake_scores = self._fake_scores(x, rebuilt, generated, training)
        gan_term = tf.add_n([self.generator_gan_loss(score) for score in fake_scores])
        reconstruction = self.reconstruction_terms(x, rebuilt_logits)
        total = (
            kl
            + self.config.reconstruction_weight * reconstruction
            + self.config.gan_weight * gan_term
        )
        return total, reconstruction, kl, gan_term

    def discriminator_terms(self, x, training: bool):
        """Per example: (L_D, D calls x real, D calls x_p fake), for images of the current
        generator."""
        rebuilt_logits, generated, _ = self._images(x)
        real_score, fake_scores = self._fake_scores(
            x, tf.sigmoid(rebuilt_logits), generated, training
        )
        loss = gan.discriminator_real_term(real_score) + tf.add_n(
            [gan.discriminator_fake_term(score) for score in fake_scores]
        )
        return loss, tf.cast(real_score > 0, tf.float32), tf.cast(fake_scores[0] < 0, tf.float32)

    @no_autograph
    def train_step(self, data):
        x = data[0]
        generator = self.draw.trainable_variables
        with tf.GradientTape() as tape:
            g_loss, reconstruction, kl, gan_term = self.generator_terms(x, training=True)
            g_mean = tf.nn.compute_average_loss(g_loss)
        gradients = tape.gradient(g_mean, generator)
        if self.config.draw.gradient_clip is not None:
            gradients = clip_gradients(
                gradients, self.config.draw.gradient_clip, self.config.draw.clip_each_tensor
            )
        self.generator_optimizer.apply(gradients, generator)
        critic = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            d_loss, real_correct, fake_correct = self.discriminator_terms(x, training=True)
            d_mean = tf.nn.compute_average_loss(d_loss)
        self.discriminator_optimizer.apply(tape.gradient(d_mean, critic), critic)
        return self.record(
            generator_loss=g_loss,
            discriminator_loss=d_loss,
            reconstruction=reconstruction,
            kl=kl,
            gan=gan_term,
            real_accuracy=real_correct,
            fake_accuracy=fake_correct,
        )

    @no_autograph
    def test_step(self, data):
        x = data[0]
        g_loss, reconstruction, kl, gan_term = self.generator_terms(x, training=False)
        d_loss, real_correct, fake_correct = self.discriminator_terms(x, training=False)
        return self.record(
            generator_loss=g_loss,
            discriminator_loss=d_loss,
            reconstruction=reconstruction,
            kl=kl,
            gan=gan_term,
            real_accuracy=real_correct,
            fake_accuracy=fake_correct,
        )


def build_draw_gan(config: DRAWGANConfig = PAPER_TEXT_GAN) -> DRAWGAN:
    """A built DRAW-GAN with one Adam per player; call inside `strategy.scope()`."""
    model = DRAWGAN(config)
    model.compile(
        generator_optimizer=optimizers.Adam(
            config.draw.learning_rate, beta_1=config.draw.adam_beta1
        ),
        discriminator_optimizer=optimizers.Adam(config.discriminator_learning_rate),
    )
    return model.build_for_training()
