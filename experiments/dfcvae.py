"""`make dfcvae`: the poster's deep-feature-consistent VAE (feature perceptual loss on a fixed,
separately pre-trained network) against the plain VAE of `make vae`, samples from the same z,
reconstructions, and one table of FD, KID, Inception-score analogue, sharpness and reconstruction
error. Details and open choices: vaegan_tf/studies/vaegan_dfcvae.py."""

import common_flags
import variant_main


def main(_):
    variant_main.run("dfcvae")


if __name__ == "__main__":
    common_flags.run(main)
