"""`make hw4_gan`: the FC GAN and the DCGAN of Srinivasan, Baur & Huber (2018): samples at matched
epochs with the Frechet distance after every epoch, loss curves, interpolation strips. Results in
results/hw4_gan/. Details: vaegan_tf/studies/hw4.py."""

import common_flags
import hw4_main

hw4_main.define_flags("gan")

if __name__ == "__main__":
    common_flags.run(hw4_main.main_for("gan"))
