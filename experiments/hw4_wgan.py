"""`make hw4_wgan`: WGAN with weight clipping and with the gradient penalty, each with and without
batch norm in the critic (Srinivasan, Baur & Huber 2018): loss terms, gradient histograms, mode
collapse measured. Results in results/hw4_wgan/. Details: vaegan_tf/studies/hw4.py."""

import common_flags
import hw4_main

hw4_main.define_flags("wgan")

if __name__ == "__main__":
    common_flags.run(hw4_main.main_for("wgan"))
