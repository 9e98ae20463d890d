"""`make hw4_cgan`: the CGAN and CDCGAN of Srinivasan, Baur & Huber (2018): samples per digit and
their conditional accuracy. Results in results/hw4_cgan/. Details: vaegan_tf/studies/hw4.py."""

import common_flags
import hw4_main

hw4_main.define_flags("cgan")

if __name__ == "__main__":
    common_flags.run(hw4_main.main_for("cgan"))
