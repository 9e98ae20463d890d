"""The networks of two course reports, as configs of the suite's GAN family (`models.gan`,
`models.networks`) and VAE (`models.vae`): no model of their own, only the readings of what the
reports wrote.

Hu (2018), "Project 4: Generative modeling":
- `HU_VAE`, Tables 1-2: encoder FC-512 elu, FC-512 tanh (each with dropout), linear heads for a
  20-d Gaussian ("FC 20x2"); decoder FC-512 tanh, FC-512 elu, FC-512 elu (each with dropout),
  FC-784 sigmoid (the Bernoulli means); the loss of his eq. (1), Kingma & Welling's eq. (10): the
  suite's negative ELBO. "dropout = 0.9" is read as the keep probability of the TF1
  `tf.nn.dropout(x, keep_prob)` of 2018, a rate of 0.1 here; `HU_VAE_DROPOUT_AS_RATE` is the other
  reading (Keras' rate 0.9, nine units in ten dropped). No batch norm (none listed). The report
  gives no optimizer: Adam 1e-3 (Kingma & Ba 2014).
- `HU_DCGAN`, Tables 3-4 with the non-saturating generator loss of his eq. (2) (G maximises
  log D(G(h))). Discriminator: 5x5 stride-2 convolutions of 64, 128, 256, 512 filters, batch norm
  from the second, LeakyReLU, then a linear output whose sigmoid is in the loss. The four stride-2
  convolutions compose on 28x28 with 'same' padding (28 -> 14 -> 7 -> 4 -> 2, a 2x2x512 map into
  the FC), the padding of the TensorFlow DCGAN code of the time (carpedm20/DCGAN-tensorflow's
  `conv2d`); 'valid' padding would end at 0x0. Generator: his FC-512 "512x1x1" is read as z
  projected to a 1x1x512 map (batch norm, ReLU), then transposed convolutions to 3x3x256, 7x7x128,
  14x14x64 and 28x28x1 (tanh), all stride 2, as his table lists. A 5x5 stride-2 transposed
  convolution cannot make 1 -> 3 or 3 -> 7 (it makes 2 or 5, and 6 or 9); the nearest working
  reading keeps every listed size and stride and takes 3x3 kernels with 'valid' padding for those
  two ((1 - 1) * 2 + 3 = 3, (3 - 1) * 2 + 3 = 7), 5x5 'same' for the last two. Noise z = 100,
  Adam 2e-4 with beta1 0.5 and N(0, 0.02) weights (Radford et al. 2016, Sec. 4, which he cites for
  the network); he gives none of them.

Gaikwad (2020), "GAN and VAE for MNIST", Tables 1-3: "all the layers except the Input() and
Reshape() layers are followed by Batch-Normalization layers" and "ReLu activation function is used
after every Batch Normalization layer" (Sec. 3.3). Read for a working model: batch norm and ReLU
after every hidden layer of both networks (the discriminator's first included, and ReLU, not
LeakyReLU, in the discriminator too), but not after the outputs: the generator ends in tanh for his
data in [-1, 1] (eq. 5), the discriminator in one logit, the VAE encoder in linear heads and its
decoder in Bernoulli logits. Every net: Adam at Keras' default betas; batch 128, 50 epochs
(Table 3). His GAN learning rates are "10^-5, 10^-6, 10^-4" (Table 3) without saying which model
took which: the presets take 1e-4 (his released code's), and the study runs each GAN at all three
(`GAIKWAD_GAN_LEARNING_RATES`). His released code swapped the discriminator's real and fake targets
and never ran its VAE; these configs are the report's intent (the suite's GAN and VAE losses).
- `GAIKWAD_DENSE_GAN`: G z -> 100 -> 300 -> 600 -> 784, D 784 -> 600 -> 300 -> 100 -> 1.
- `GAIKWAD_DENSE_GAN_DEEP`: G z -> 100 -> 200 -> ... -> 600 -> 784, D 784 -> 600 -> ... -> 100 -> 1.
- `GAIKWAD_CNN_GAN`: G z -> FC 7x7x128 -> deconv5 64 s2 (14x14) -> deconv5 32 s1 -> deconv5 1 s2
  (28x28, tanh); D conv5 32, 64, 128, stride 2 'same' (14, 7, 4) -> flatten -> FC 1.
- Noise: Table 1 gives DenseGAN-Deep an Input(392) and DenseGAN and CNNGAN Input(10); the text
  says "the GAN noise dimension used in DenseGAN is 392" and 10 "for the other two". The tables are
  the default (`GAIKWAD_DENSE_GAN` z = 10, `GAIKWAD_DENSE_GAN_DEEP` z = 392); the text's reading is
  `GAIKWAD_DENSE_GAN_TEXT` (z = 392) and `GAIKWAD_DENSE_GAN_DEEP_TEXT` (z = 10).
- `GAIKWAD_DENSE_VAE`: encoder 784 -> 600 -> 300 -> 100 -> 50 -> heads, decoder z -> 50 -> 100 ->
  300 -> 600 -> 784. Table 2's decoder takes Input(4): z = 4, the encoder's Dense(4) read as the
  width of each head. The text's "latent variable dimension of 2" is `GAIKWAD_DENSE_VAE_TEXT` (the
  encoder's Dense(4) then being both heads, 2 + 2, as in the TensorFlow CVAE tutorial he cites);
  Table 3's "VAE latent variable dimension 10" is `GAIKWAD_DENSE_VAE_TABLE3`.
- `GAIKWAD_CNN_VAE`: encoder conv5 32, 64, 128, stride 2 'same' -> flatten -> heads (Table 2's
  "Dense(1)" is the discriminator's row copied: read as the heads); decoder z -> FC 7x7x128 ->
  deconv5 64 s2 (14) -> deconv5 32 s1 -> deconv5 16 s2 (28) -> deconv5 1. Table 2 gives the last
  deconvolution stride 2 too, which makes 56x56 images; Table 3 says the CNN outputs are 7, 14 and
  28, so the last layer is read with stride 1 (the TensorFlow CVAE tutorial's last layer). The
  other working reading drops the 16-filter row as a duplicate (Table 2 lists two rows numbered
  CNNVAE-6) and mirrors the CNNGAN's generator: `GAIKWAD_CNN_VAE_GAN_MIRROR`. z = 10 (Table 2's
  Input(10) and Table 3); the text's 2 is `GAIKWAD_CNN_VAE_TEXT`. Learning rate 1e-4 (Table 3).
"""

from __future__ import annotations

import dataclasses

from vaegan_tf.models import gan, networks
from vaegan_tf.models.vae import VAEConfig

# Hu (2018)

HU_VAE = VAEConfig(
    hidden_units=(512, 512),  # Table 1
    activation="elu",
    encoder_activations=("elu", "tanh"),  # Table 1
    decoder_hidden_units=(512, 512, 512),  # Table 2
    decoder_activations=("tanh", "elu", "elu"),  # Table 2
    dropout=0.1,  # "dropout = 0.9": TF1's keep probability
    latent_dim=20,  # Table 1: "20x2", the mean and log-variance heads
    batch_norm=False,  # none listed
    learning_rate=1e-3,  # not given: Adam's default (Kingma & Ba 2014)
)
HU_VAE_DROPOUT_AS_RATE = dataclasses.replace(HU_VAE, dropout=0.9)

HU_DCGAN_NETWORKS = networks.NetworkConfig(
    "dcgan",
    generator_batch_norm=True,  # Table 4: BN on every layer but the output
    critic_batch_norm=True,  # Table 3: BN from the second layer
    dropout=0.0,
    init_stddev=0.02,  # Radford et al. Sec. 4
    generator_start=(1, 1, 512),  # Table 4: "FC, 512x1x1"
    generator_deconvs=((256, 3, 2, "valid"), (128, 3, 2, "valid"), (64, 5, 2, "same")),
    generator_output=(5, 2, "same"),  # 28x28x1, tanh
    critic_filters=(64, 128, 256, 512),  # Table 3, 5x5 stride 2, 'same'
)
_RADFORD_ADAM = gan.OptimizerConfig(learning_rate=2e-4, beta_1=0.5)  # Radford et al. Sec. 4
HU_DCGAN = gan.GANConfig(
    networks=HU_DCGAN_NETWORKS,
    latent_dim=100,  # not given: Radford et al.'s
    loss="non_saturating",  # eq. (2): G* = argmax_G E log D(G(h))
    generator_optimizer=_RADFORD_ADAM,
    critic_optimizer=_RADFORD_ADAM,
)

# Gaikwad (2020)

GAIKWAD_GAN_LEARNING_RATES = (1e-5, 1e-6, 1e-4)  # Table 3, in his order
_GAIKWAD_ADAM = gan.OptimizerConfig(learning_rate=1e-4)  # his released code's; Keras' betas


def _bn_relu_networks(architecture: str, **shapes) -> networks.NetworkConfig:
    """Batch norm and ReLU after every hidden layer of both networks (Sec. 3.3), no dropout."""
    return networks.NetworkConfig(
        architecture,
        generator_batch_norm=True,
        critic_batch_norm=True,
        critic_first_batch_norm=True,
        dropout=0.0,
        generator_activation="relu",
        critic_activation="relu",
        **shapes,
    )


def _gaikwad_gan(nets: networks.NetworkConfig, latent_dim: int) -> gan.GANConfig:
    return gan.GANConfig(
        networks=nets,
        latent_dim=latent_dim,
        # Sec. 2.1: "both losses can be computed as cross-entropy losses"; G's cross-entropy
        # against the "real" target is -log D(G(z)), the non-saturating loss
        loss="non_saturating",
        generator_optimizer=_GAIKWAD_ADAM,
        critic_optimizer=_GAIKWAD_ADAM,
    )


GAIKWAD_DENSE_GAN = _gaikwad_gan(
    _bn_relu_networks("fc", generator_units=(100, 300, 600), critic_units=(600, 300, 100)),
    latent_dim=10,  # Table 1: Input(10)
)
GAIKWAD_DENSE_GAN_TEXT = dataclasses.replace(GAIKWAD_DENSE_GAN, latent_dim=392)  # Sec. 3.4
GAIKWAD_DENSE_GAN_DEEP = _gaikwad_gan(
    _bn_relu_networks(
        "fc",
        generator_units=(100, 200, 300, 400, 500, 600),
        critic_units=(600, 500, 400, 300, 200, 100),
    ),
    latent_dim=392,  # Table 1: Input(392)
)
GAIKWAD_DENSE_GAN_DEEP_TEXT = dataclasses.replace(GAIKWAD_DENSE_GAN_DEEP, latent_dim=10)
GAIKWAD_CNN_GAN = _gaikwad_gan(
    _bn_relu_networks(
        "dcgan",
        generator_start=(7, 7, 128),
        generator_deconvs=((64, 5, 2, "same"), (32, 5, 1, "same")),
        generator_output=(5, 2, "same"),
        critic_filters=(32, 64, 128),
    ),
    latent_dim=10,  # Table 1: Input(10)
)

GAIKWAD_DENSE_VAE = VAEConfig(
    hidden_units=(600, 300, 100, 50),  # Table 2; the decoder mirrors it (50, 100, 300, 600)
    activation="relu",
    batch_norm=True,
    latent_dim=4,  # Table 2: the decoder's Input(4)
    learning_rate=1e-4,  # Table 3
)
GAIKWAD_DENSE_VAE_TEXT = dataclasses.replace(GAIKWAD_DENSE_VAE, latent_dim=2)  # Sec. 3.4
GAIKWAD_DENSE_VAE_TABLE3 = dataclasses.replace(GAIKWAD_DENSE_VAE, latent_dim=10)  # Table 3
GAIKWAD_CNN_VAE = VAEConfig(
    hidden_units=(),  # convolutions only, flattened into the heads
    activation="relu",
    batch_norm=True,
    latent_dim=10,  # Table 2: the decoder's Input(10); Table 3
    learning_rate=1e-4,  # Table 3
    encoder="conv",
    encoder_filters=(32, 64, 128),
    encoder_kernel_size=5,
    encoder_strides=2,
    decoder="deconv",
    deconv_filters=(64, 32, 16),
    deconv_strides=(2, 1, 2),
    deconv_output_stride=1,  # Table 2's stride 2 would make 56x56
)
GAIKWAD_CNN_VAE_TEXT = dataclasses.replace(GAIKWAD_CNN_VAE, latent_dim=2)  # Sec. 3.4
GAIKWAD_CNN_VAE_GAN_MIRROR = dataclasses.replace(
    GAIKWAD_CNN_VAE, deconv_filters=(64, 32), deconv_strides=(2, 1), deconv_output_stride=2
)

PRESETS = {
    "hu_vae": HU_VAE,
    "hu_vae_dropout_as_rate": HU_VAE_DROPOUT_AS_RATE,
    "hu_dcgan": HU_DCGAN,
    "gaikwad_dense_gan": GAIKWAD_DENSE_GAN,
    "gaikwad_dense_gan_text": GAIKWAD_DENSE_GAN_TEXT,
    "gaikwad_dense_gan_deep": GAIKWAD_DENSE_GAN_DEEP,
    "gaikwad_dense_gan_deep_text": GAIKWAD_DENSE_GAN_DEEP_TEXT,
    "gaikwad_cnn_gan": GAIKWAD_CNN_GAN,
    "gaikwad_dense_vae": GAIKWAD_DENSE_VAE,
    "gaikwad_dense_vae_text": GAIKWAD_DENSE_VAE_TEXT,
    "gaikwad_dense_vae_table3": GAIKWAD_DENSE_VAE_TABLE3,
    "gaikwad_cnn_vae": GAIKWAD_CNN_VAE,
    "gaikwad_cnn_vae_text": GAIKWAD_CNN_VAE_TEXT,
    "gaikwad_cnn_vae_gan_mirror": GAIKWAD_CNN_VAE_GAN_MIRROR,
}


def with_learning_rate(config: gan.GANConfig, learning_rate: float) -> gan.GANConfig:
    """A GAN config with both networks' Adam at `learning_rate` (Gaikwad's grid)."""
    optimizer = dataclasses.replace(config.generator_optimizer, learning_rate=learning_rate)
    return dataclasses.replace(config, generator_optimizer=optimizer, critic_optimizer=optimizer)
