"""`make hu`: the VAE and DCGAN of Hu (2018), "Project 4: Generative modeling", trained and
measured: samples over the epochs, real digits beside reconstructions and samples, one table of
FD, KID, IS, digit coverage, sharpness, likelihoods, and a verdict on each of his conclusions, in
results/hu/. Networks and readings: vaegan_tf/models/course_reports.py; the study:
vaegan_tf/studies/course_reports.py."""

import common_flags
import course_reports_main

course_reports_main.define_flags("hu")

if __name__ == "__main__":
    common_flags.run(course_reports_main.main_for("hu"))
