"""`make hw4_vae`: the VAEs of Srinivasan, Baur & Huber (2018) (FC with and without batch norm,
conv, CVAE; latent 2, binarized MNIST): loss curves, samples, the latent scatter and grid, CVAE
samples per digit, ELBO and NLL. Results in results/hw4_vae/. Details: vaegan_tf/studies/hw4.py."""

import common_flags
import hw4_main

hw4_main.define_flags("vae")

if __name__ == "__main__":
    common_flags.run(hw4_main.main_for("vae"))
