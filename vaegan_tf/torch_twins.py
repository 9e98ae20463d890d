"""PyTorch twins of three of the suite's training steps, timed beside them by `make benchmark`.

A twin is the same training step written in PyTorch: the same layers (widths, kernels, strides,
padding, where batch norm goes, activations), the same losses, the same number of updates per step,
the same optimizer and learning rate, at the same batch. It is fed pre-generated batches of the
model's input shape and range (uniform random pixels, balanced labels) and timed as
`vaegan_tf.benchmark.time_fit_steps` times the suite's `fit` (the first step and `warmup` more
dropped, the median of the timed steps, stopping after `steps` of them or `seconds`, at least
`min_steps`), with as many intra-op threads as TensorFlow uses here. The ratio of the two speeds
says how the suite's TensorFlow step compares with a plain PyTorch implementation of the same work.

- `m2_fc` twins `vaegan_tf.models.m2.M2` (the FC network, Kingma et al.'s protocol, the config
  `benchmark._table1_model("fc", "kingma")` builds): trunk 784 -> 1024 -> 1024 (Dense without bias,
  batch norm, softplus), heads for q(y|x) and log sigma^2, the mean network [h, y] -> 1024 -> 50,
  the decoder [z, y] -> 1024 -> 1024 -> 784 logits; a labelled batch pays L(x, y) + alpha * CE,
  an unlabelled batch U(x), summed exactly over the 10 labels with one decoder pass over the
  10 x B pairs and the mean network's first layer shared across labels
  (`M2.posterior_for_every_label`: W_h h once per image plus the row W_y e_k per label); Adam at
  the config's rate.
- `cvae_conv` twins `vaegan_tf.models.cvae.CVAE` with Figure 6's config
  (`vaegan_tf.studies.figure6`): conv5-28, -56, -108 stride 2 (batch norm, ReLU), [features, y]
  -> a linear head for mu and log sigma^2, decoder [z, y] -> FC 7*7*128 (batch norm, ReLU) ->
  deconv5-64 s2 -> deconv5-32 s2 (batch norm, ReLU) -> deconv5 s1 to the image, logits
  (`vaegan_tf.models.layers.deconv_decoder_layers`); negative ELBO with a Bernoulli likelihood
  and the closed-form Gaussian KL; Adam at the config's rate.
- `dcgan` twins `vaegan_tf.models.gan.GANModel` with `gan.PRESETS["dcgan"]`
  (`vaegan_tf.models.networks` `dcgan_generator_body` and `dcgan_critic_body`): G z (100) ->
  FC 7*7*128 (batch norm, ReLU) -> deconv5-64 s2 (batch norm, ReLU) -> deconv5-1 s2, tanh; D
  conv5-64 s2 (LeakyReLU 0.2, no batch norm) -> conv5-128 s2 (batch norm, LeakyReLU) -> FC 1;
  weights N(0, 0.02). Per step `critic_steps` critic updates, each on real and fresh fake images
  batched as the config's `critic_batches` says (fakes made without a gradient to G, as outside
  the suite's tape), then one generator update on fresh fakes through the updated critic, batched
  the same way, gradients to G only; the
  non-saturating (or minimax) losses with D = sigmoid(score); Adam with the preset's rates and
  betas for each network.

Each twin reads its widths, latent size, classes, alpha, rates and betas from the suite's config,
and refuses a config with a feature it does not reproduce (another architecture, a conditional or
Wasserstein GAN, a learning-rate schedule...).

Where PyTorch differs and how the twins match it:
- Layout: PyTorch convolutions take NCHW, TensorFlow's NHWC. The twins use NCHW throughout, so a
  flatten before a dense layer orders the features differently: the same layer with its weights
  permuted, the same work.
- 'same' padding of a 5x5 stride-2 convolution: TensorFlow pads the odd total unevenly (one pixel
  before, two after for 28 -> 14); PyTorch pads evenly. Padding 2 on each side gives the same
  output sides (ceil(n / 2)) and multiply-adds; the sampling grid sits one pixel earlier. A
  transposed 'same' convolution with stride 2 is padding 2 with output_padding 1 (2n out of n,
  `transposed_padding`), likewise shifted by one pixel; the stride-1 5x5 ones are exact (padding 2).
- Batch norm: Keras' momentum 0.99 is PyTorch's 0.01 (the weight of the new statistics), epsilon
  1e-3 as Keras'; gamma and beta trainable, the moving statistics not, as in Keras.
- Initialisers: Glorot uniform kernels and zero biases (Keras' defaults) where the suite uses them,
  N(0, 0.02) kernels for the DCGAN; PyTorch's own defaults differ but cost the same.
- Adam: epsilon 1e-7 (Keras' default; PyTorch's is 1e-8). Keras adds epsilon to sqrt(v) before the
  bias correction of v, PyTorch after: the same update up to that epsilon's scale.
- Input: the suite's step includes its `tf.data` pipeline (decoding, shuffling, scaling); a twin's
  batches are tensors made beforehand, so the twin does slightly less work per step than the suite.
- Metrics: the suite's step also updates its loss trackers (a few means of [B] vectors); a twin
  returns its loss alone.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vaegan_tf.benchmark import StepTimes

KERAS_BN_MOMENTUM = 0.99  # Keras' weight of the moving statistics
KERAS_BN_EPSILON = 1e-3
KERAS_ADAM_EPSILON = 1e-7


def tensorflow_threads() -> int:
    """The intra-op threads TensorFlow uses here: TF_NUM_INTRAOP_THREADS if set, else one per
    CPU."""
    value = os.environ.get("TF_NUM_INTRAOP_THREADS", "").strip()
    if value and int(value) > 0:
        return int(value)
    return os.cpu_count() or 1


# -- layers as Keras builds them --------------------------------------------------------------------


def batch_norm(features: int, dims: int = 1) -> nn.Module:
    """Keras' BatchNormalization: momentum 0.99 is PyTorch's 0.01, epsilon 1e-3."""
    kind = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    return kind(features, eps=KERAS_BN_EPSILON, momentum=1.0 - KERAS_BN_MOMENTUM)


def hidden_layers(inputs: int, units, activation: Callable[[], nn.Module], bn: bool) -> list:
    """`vaegan_tf.models.layers.hidden_layers`: Linear (no bias under batch norm) -> batch norm ->
    activation, for each width."""
    layers = []
    for width in units:
        layers.append(nn.Linear(inputs, width, bias=not bn))
        if bn:
            layers.append(batch_norm(width))
        layers.append(activation())
        inputs = width
    return layers


def same_padding(kernel: int) -> int:
    """Symmetric padding of a 'same' convolution with an odd kernel: ceil(n / stride) out of n
    (TensorFlow puts an odd total's extra pixel after; module docstring)."""
    if kernel % 2 == 0:
        raise ValueError(f"the twins reproduce 'same' padding for odd kernels, not {kernel}")
    return (kernel - 1) // 2


def transposed_padding(kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """(padding, output_padding) of a PyTorch transposed convolution making the side Keras'
    Conv2DTranspose makes: n * stride ('same') or (n - 1) * stride + kernel ('valid')."""
    if padding == "valid":
        return 0, 0
    pad = math.ceil((kernel - stride) / 2)
    extra = 2 * pad + stride - kernel
    if pad < 0 or not 0 <= extra < stride:
        raise ValueError(f"no PyTorch padding makes a 'same' {kernel}x{kernel} stride-{stride} one")
    return pad, extra


def conv(inputs: int, filters: int, kernel: int, stride: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(inputs, filters, kernel, stride, padding=same_padding(kernel), bias=bias)


def deconv(inputs, filters, kernel, stride, bias, padding="same") -> nn.ConvTranspose2d:
    pad, extra = transposed_padding(kernel, stride, padding)
    return nn.ConvTranspose2d(
        inputs, filters, kernel, stride, padding=pad, output_padding=extra, bias=bias
    )


def keras_initialised(module: nn.Module, stddev: float | None = None) -> nn.Module:
    """Kernels Glorot uniform (Keras' default) or N(0, stddev), biases zero; batch norm gamma 1,
    beta 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            if stddev is None:
                nn.init.xavier_uniform_(layer.weight)
            else:
                nn.init.normal_(layer.weight, 0.0, stddev)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


def keras_adam(parameters, learning_rate: float, beta_1=0.9, beta_2=0.999) -> torch.optim.Adam:
    return torch.optim.Adam(
        parameters, lr=learning_rate, betas=(beta_1, beta_2), eps=KERAS_ADAM_EPSILON
    )


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) of independent Bernoulli pixels with these logits, summed per example: [B]."""
    per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return per_pixel.flatten(1).sum(-1)


def gaussian_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_variance)) || N(0, I)), closed form, per example: [B]."""
    return 0.5 * (mean.square() + log_variance.exp() - 1.0 - log_variance).sum(-1)


def pixel_count(image_shape) -> int:
    return math.prod(image_shape)


def channels_first(image_shape) -> tuple[int, int, int]:
    height, width, channels = image_shape
    return channels, height, width


class Twin(nn.Module):
    """A training step and the batches it takes: `make_batch(generator)` a tuple of tensors,
    `train_step(batch)` one step (every update of it), returning the loss."""

    images_per_step: int

    def make_batch(self, generator: torch.Generator) -> tuple:
        raise NotImplementedError

    optimizer: torch.optim.Optimizer

    def objective(self, *batch) -> torch.Tensor:
        raise NotImplementedError

    def train_step(self, batch) -> torch.Tensor:
        """One update of every weight on `objective(*batch)`; a model with several updates a step
        (a GAN) overrides it."""
        loss = self.objective(*batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def _unit_images(count, image_shape, generator) -> torch.Tensor:
    """Pixels uniform in [0, 1], NCHW: the suite's 'unit' preprocessing's range."""
    return torch.rand((count, *channels_first(image_shape)), generator=generator)


def _labels(count, classes) -> torch.Tensor:
    return torch.arange(count) % classes


# -- M2, FC ---------------------------------------------------------------------------------------


class M2Twin(Twin):
    """`vaegan_tf.models.m2.M2`, the FC network, Kingma et al.'s step: B labelled + B unlabelled
    images."""

    def __init__(self, config, batch_size: int = 100):
        super().__init__()
        if config.architecture != "fc" or config.learning_rate_decay:
            raise ValueError("the M2 twin reproduces the FC network at a constant learning rate")
        self.config, self.batch_size = config, batch_size
        self.images_per_step = 2 * batch_size
        units, latent, classes = config.hidden_units, config.latent_dim, config.num_classes
        bn, pixels = config.batch_norm, pixel_count(config.image_shape)
        self.trunk = nn.Sequential(
            nn.Flatten(), *hidden_layers(pixels, (units, units), nn.Softplus, bn)
        )
        self.class_head = nn.Linear(units, classes)
        self.log_variance_head = nn.Linear(units, latent)
        # the mean network [h, y] -> units -> latent, its first layer apart: it is shared
        self.mean_first = nn.Linear(units + classes, units, bias=not bn)
        self.mean_rest = nn.Sequential(
            *([batch_norm(units)] if bn else []), nn.Softplus(), nn.Linear(units, latent)
        )
        self.decoder = nn.Sequential(
            *hidden_layers(latent + classes, (units, units), nn.Softplus, bn),
            nn.Linear(units, pixels),
        )
        keras_initialised(self)
        self.optimizer = keras_adam(self.parameters(), config.learning_rate)

    def make_batch(self, generator):
        shape, count = self.config.image_shape, self.batch_size
        return (
            _unit_images(count, shape, generator),
            _labels(count, self.config.num_classes),
            _unit_images(count, shape, generator),
        )

    def _bounds(self, x, mean, log_variance, y_onehot):
        """L(x, y) = -log p(x|y,z) + KL + log K for one reparameterised z: [rows]."""
        z = mean + (0.5 * log_variance).exp() * torch.randn_like(mean)
        logits = self.decoder(torch.cat([z, y_onehot], -1))
        return (
            bernoulli_nll(logits, x.flatten(1))
            + gaussian_kl(mean, log_variance)
            + math.log(self.config.num_classes)
        )

    def bounds_for_every_label(self, x, h):
        """L(x, y) for each label, [B, K]: `M2.posterior_for_every_label`'s shared first layer,
        one decoder pass over the K * B pairs, label-major."""
        classes, batch, units = self.config.num_classes, x.shape[0], h.shape[-1]
        weight = self.mean_first.weight  # [units, units + classes]
        per_image = h @ weight[:, :units].T  # [B, units]
        per_label = weight[:, units:].T  # [K, units]
        hidden = (per_label[:, None, :] + per_image[None]).reshape(classes * batch, units)
        if self.mean_first.bias is not None:
            hidden = hidden + self.mean_first.bias
        mean = self.mean_rest(hidden)
        log_variance = self.log_variance_head(h).repeat(classes, 1)
        labels = F.one_hot(torch.arange(classes).repeat_interleave(batch), classes).float()
        tiled = x.repeat(classes, *[1] * (x.dim() - 1))
        bounds = self._bounds(tiled, mean, log_variance, labels)
        return bounds.reshape(classes, batch).T

    def objective(self, x_l, y_l, x_u) -> torch.Tensor:
        classes = self.config.num_classes
        h_l = self.trunk(x_l)
        logits_l = self.class_head(h_l)
        y_onehot = F.one_hot(y_l, classes).float()
        mean = self.mean_rest(self.mean_first(torch.cat([h_l, y_onehot], -1)))
        bound_l = self._bounds(x_l, mean, self.log_variance_head(h_l), y_onehot)
        cross_entropy = F.cross_entropy(logits_l, y_l, reduction="none")
        h_u = self.trunk(x_u)
        bounds = self.bounds_for_every_label(x_u, h_u)
        log_q = F.log_softmax(self.class_head(h_u), -1)
        q = log_q.exp()
        # U(x) = sum_y q(y|x) L(x, y) - H(q(y|x))
        bound_u = (q * bounds).sum(-1) + (q * log_q).sum(-1)
        return (bound_l + self.config.alpha * cross_entropy).mean() + bound_u.mean()


# -- the conv CVAE ---------------------------------------------------------------------------------


class CVAETwin(Twin):
    """`vaegan_tf.models.cvae.CVAE`, the conv network of Sec. 4.3, label-conditional."""

    def __init__(self, config, batch_size: int = 100):
        super().__init__()
        if config.architecture != "conv":
            raise ValueError("the CVAE twin reproduces the conv network")
        self.config, self.batch_size, self.images_per_step = config, batch_size, batch_size
        bn, scaled, latent = config.batch_norm, config.scaled, config.latent_dim
        height, width, channels = config.image_shape
        layers, inputs, side = [], channels, (height, width)
        for filters in (scaled(28), scaled(56), scaled(108)):
            layers += [conv(inputs, filters, 5, 2, bias=not bn)]
            layers += [batch_norm(filters, 2)] if bn else []
            layers.append(nn.ReLU())
            inputs, side = filters, tuple(math.ceil(s / 2) for s in side)
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.encoder_head = nn.Linear(inputs * side[0] * side[1] + config.condition_dim, 2 * latent)
        start = (scaled(128), height // 4, width // 4)
        decoder = [
            *hidden_layers(latent + config.condition_dim, (math.prod(start),), nn.ReLU, bn),
            nn.Unflatten(1, start),
        ]
        inputs = start[0]
        for filters in (scaled(64), scaled(32)):
            decoder += [deconv(inputs, filters, 5, 2, bias=not bn)]
            decoder += [batch_norm(filters, 2)] if bn else []
            decoder.append(nn.ReLU())
            inputs = filters
        decoder.append(deconv(inputs, channels, 5, 1, bias=True))
        self.decoder = nn.Sequential(*decoder)
        keras_initialised(self)
        self.optimizer = keras_adam(self.parameters(), config.learning_rate)

    def make_batch(self, generator):
        count = self.batch_size
        labels = _labels(count, self.config.condition_dim)
        return _unit_images(count, self.config.image_shape, generator), labels

    def objective(self, x, labels) -> torch.Tensor:
        y = F.one_hot(labels, self.config.condition_dim).float()
        mean, log_variance = self.encoder_head(torch.cat([self.features(x), y], -1)).chunk(2, -1)
        z = mean + (0.5 * log_variance).exp() * torch.randn_like(mean)
        logits = self.decoder(torch.cat([z, y], -1))
        return (bernoulli_nll(logits, x) + gaussian_kl(mean, log_variance)).mean()


# -- DCGAN -----------------------------------------------------------------------------------------


class DCGANTwin(Twin):
    """`vaegan_tf.models.gan.GANModel` with the DCGAN networks: `critic_steps` critic updates,
    then one generator update, per step."""

    def __init__(self, config, batch_size: int = 100):
        super().__init__()
        from vaegan_tf.models import networks

        nets = config.networks
        refused = {
            "a dcgan network": nets.architecture != "dcgan",
            "an unconditional GAN": config.num_classes is not None,
            "the minimax or non-saturating loss": config.loss == "wasserstein",
            "no dropout": bool(nets.dropout),
            "ReLU / LeakyReLU": bool(nets.generator_activation or nets.critic_activation),
            "no batch norm on the critic's first layer": nets.critic_first_batch_norm,
            "Adam": {config.generator_optimizer.name, config.critic_optimizer.name} != {"adam"},
        }
        if any(refused.values()):
            wanted = ", ".join(k for k, v in refused.items() if v)
            raise ValueError(f"the DCGAN twin reproduces {wanted} only")
        self.config, self.batch_size = config, batch_size
        self.images_per_step = config.critic_steps * batch_size
        height, width, channels = config.image_shape
        start, deconvs, (kernel, stride, padding) = networks.generator_plan(
            config.image_shape, nets
        )
        start = (start[2], start[0], start[1])  # channels first
        bn = nets.generator_batch_norm
        layers = [
            *hidden_layers(config.latent_dim, (math.prod(start),), nn.ReLU, bn),
            nn.Unflatten(1, start),
        ]
        inputs = start[0]
        for filters, size, step, pad in deconvs:
            layers += [deconv(inputs, filters, size, step, bias=not bn, padding=pad)]
            layers += [batch_norm(filters, 2)] if bn else []
            layers.append(nn.ReLU())
            inputs = filters
        layers += [deconv(inputs, channels, kernel, stride, bias=True, padding=padding), nn.Tanh()]
        self.generator = nn.Sequential(*layers)
        filters = nets.critic_filters or (64, 128)
        layers = [conv(channels, filters[0], 5, 2, bias=True), nn.LeakyReLU(0.2)]
        side = (math.ceil(height / 2), math.ceil(width / 2))
        for inputs, count in zip(filters[:-1], filters[1:], strict=True):
            layers += [conv(inputs, count, 5, 2, bias=not nets.critic_batch_norm)]
            layers += [batch_norm(count, 2)] if nets.critic_batch_norm else []
            layers.append(nn.LeakyReLU(0.2))
            side = tuple(math.ceil(s / 2) for s in side)
        layers += [nn.Flatten(), nn.Linear(filters[-1] * side[0] * side[1], 1)]
        self.critic = nn.Sequential(*layers)
        keras_initialised(self, nets.init_stddev)
        self.generator_optimizer = self._adam(self.generator, config.generator_optimizer)
        self.critic_optimizer = self._adam(self.critic, config.critic_optimizer)
        self.minimax = config.loss == "minimax"

    @staticmethod
    def _adam(network, settings):
        return keras_adam(
            network.parameters(), settings.learning_rate, settings.beta_1, settings.beta_2
        )

    def make_batch(self, generator):
        shape = channels_first(self.config.image_shape)
        return (2 * torch.rand((self.images_per_step, *shape), generator=generator) - 1,)

    def _noise(self, count):
        return torch.randn(count, self.config.latent_dim)

    def _scores(self, real, fake):
        """The critic's scores of real and fake, batched as the suite's `critic_batches` says."""
        if self.config.critic_batches == "joint":
            scores = self.critic(torch.cat([real, fake], 0)).squeeze(-1)
            return scores[: real.shape[0]], scores[real.shape[0] :]
        return self.critic(real).squeeze(-1), self.critic(fake).squeeze(-1)

    def train_step(self, batch):
        (images,) = batch
        steps = self.config.critic_steps
        for j in range(steps):  # critic step j takes rows j, j + k, ... (`interleaved_batches`)
            real = images[j::steps]
            count = real.shape[0]
            with torch.no_grad():  # the suite makes the fakes outside the critic's tape
                fake = self.generator(self._noise(count))
            real_scores, fake_scores = self._scores(real, fake)
            critic_loss = (F.softplus(-real_scores) + F.softplus(fake_scores)).mean()
            self.critic_optimizer.zero_grad(set_to_none=True)
            critic_loss.backward()
            self.critic_optimizer.step()
        scores = self._scores(real, self.generator(self._noise(count)))[1]
        generator_loss = (-F.softplus(scores) if self.minimax else F.softplus(-scores)).mean()
        self.generator_optimizer.zero_grad(set_to_none=True)
        # gradients to G alone: none for the critic's weights, as the suite's tape takes
        generator_loss.backward(inputs=list(self.generator.parameters()))
        self.generator_optimizer.step()
        return (critic_loss + generator_loss).detach()


# -- the suite's configs ----------------------------------------------------------------------------


def _m2_fc(batch_size: int) -> M2Twin:
    from vaegan_tf import benchmark
    from vaegan_tf.studies import table1

    config = table1.for_cell(
        table1.preset("fc", "kingma", benchmark.LABELS), benchmark.LABELS, 55_000, seed=0
    )
    return M2Twin(config, batch_size)


def _cvae_conv(batch_size: int) -> CVAETwin:
    from vaegan_tf.studies import figure6

    return CVAETwin(figure6.Figure6Config().model, batch_size)


def _dcgan(batch_size: int) -> DCGANTwin:
    from vaegan_tf.models import gan

    return DCGANTwin(gan.PRESETS["dcgan"], batch_size)


TWINS: dict[str, Callable[[int], Twin]] = {
    "m2_fc": _m2_fc,
    "cvae_conv": _cvae_conv,
    "dcgan": _dcgan,
}


def build_twin(name: str, batch_size: int = 100, seed: int = 0) -> Twin:
    """The twin of the registry's `name`, its weights drawn from `seed`, in training mode."""
    if name not in TWINS:
        raise ValueError(f"no PyTorch twin for {name}; twins: {', '.join(TWINS)}")
    torch.manual_seed(seed)
    return TWINS[name](batch_size).train()


def trainable_parameters(twin: nn.Module) -> int:
    return sum(p.numel() for p in twin.parameters() if p.requires_grad)


def time_steps(
    twin: Twin,
    batches: list,
    steps: int,
    warmup: int,
    seconds: float | None = None,
    min_steps: int = 3,
) -> StepTimes:
    """`benchmark.time_fit_steps` for a twin: step ends stamped one after another, the first step
    and `warmup` more dropped, up to `steps` timed, fewer once they took `seconds` (at least
    `min_steps`). `batches` are cycled."""
    min_steps = min(min_steps, steps)
    ends, finite = [], True
    started = time.perf_counter()
    for index in range(warmup + steps + 1):
        loss = twin.train_step(batches[index % len(batches)])
        finite = finite and math.isfinite(float(loss))  # float(): the loss, as `fit` logs it
        ends.append(time.perf_counter())
        timed = len(ends) - 1 - warmup
        if seconds is not None and timed >= min_steps and ends[-1] - ends[warmup] >= seconds:
            break
    return StepTimes(
        tuple(float(s) for s in np.diff(ends[warmup:])), ends[0] - started, bool(finite)
    )


def time_twin(
    name: str,
    *,
    steps: int = 30,
    warmup: int = 2,
    seconds: float = 5.0,
    min_steps: int = 3,
    seed: int = 0,
    batch_size: int = 100,
    distinct_batches: int = 4,
) -> dict:
    """Builds the twin of `name` and times its steps on `distinct_batches` pre-generated batches
    (cycled), with as many threads as TensorFlow uses (`tensorflow_threads`)."""
    threads = tensorflow_threads()
    torch.set_num_threads(threads)
    twin = build_twin(name, batch_size, seed)
    generator = torch.Generator().manual_seed(seed)
    batches = [twin.make_batch(generator) for _ in range(min(distinct_batches, warmup + steps + 1))]
    times = time_steps(twin, batches, steps, warmup, seconds, min_steps)
    return {
        "ms_per_step": round(1000 * times.median, 2),
        "images_per_second": round(twin.images_per_step / times.median, 1),
        "timed_steps": len(times.seconds),
        "first_step_seconds": round(times.first_step_seconds, 2),
        "finite": times.finite,
        "threads": threads,
    }
