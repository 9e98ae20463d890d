"""`make gaikwad`: DenseGAN, DenseGAN-Deep and CNNGAN (each at his three learning rates) and
DenseVAE and CNNVAE of Gaikwad (2020), "GAN and VAE for MNIST", trained and measured: samples, loss
curves, VAE outputs beside their inputs, one table of FD, KID, IS, digit coverage, sharpness,
likelihoods, and a verdict on each of his conclusions, in results/gaikwad/. Networks and readings:
vaegan_tf/models/course_reports.py; the study: vaegan_tf/studies/course_reports.py."""

import common_flags
import course_reports_main

course_reports_main.define_flags("gaikwad")

if __name__ == "__main__":
    common_flags.run(course_reports_main.main_for("gaikwad"))
