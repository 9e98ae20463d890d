"""`make vaegan`: the VAE-GAN of Chen, Fang, Ju (2016), Sec. 3.1 (learned-similarity loss, GAN
terms, the GAN gradient kept out of the encoder) against the plain VAE of `make vae`, samples from
the same z, reconstructions, and one table of FD, KID, Inception-score analogue, sharpness and
reconstruction error. Details and open choices: vaegan_tf/studies/vaegan_dfcvae.py."""

import common_flags
import variant_main


def main(_):
    variant_main.run("vaegan")


if __name__ == "__main__":
    common_flags.run(main)
