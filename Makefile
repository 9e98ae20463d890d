# Every target creates the virtual environment and installs the suite on first use (a stamp file makes
# the second call instant). Results of experiments go to results/<name>/, scratch to work/ (ignored).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN := $(BIN)/python
ARGS ?=
# oneDNN's CPU kernels on every machine: TensorFlow turns them on by itself only on CPUs with AVX-512
# VNNI, BF16 or AMX, and elsewhere falls back to Eigen's, whose transposed convolutions are the
# slowest part of the conv models' steps. TensorFlow reads this once, when it is imported.
export TF_ENABLE_ONEDNN_OPTS ?= 1

PHONY_EXTRA := test-fast lint format
.PHONY: $(PHONY_EXTRA) test smoke data evaluator vae benchmark table1 figure6 figure7 figure8 figure9 vaegan dfcvae gan hu gaikwad course_table precision_table clean-work help

help:
	@echo "make test       lint, then every test (what CI runs)"
	@echo "make test-fast  the tests without the slow real-MNIST ones, for the edit loop"
	@echo "make lint       ruff: lint and format check; make format rewrites the files"
	@echo "make smoke      one-minute real run: VAE on real MNIST, sample grid in results/smoke/"
	@echo "make data       fetch, verify and cache the offline MNIST mirror"
	@echo "make evaluator  train and cache the evaluator classifier, results/evaluator/"
	@echo "make vae        the plain VAE of Chen et al. (2016) Sec. 2.1, measured, results/vae_mnist/"
	@echo "make table1     Table 1, semi-supervised M2 (days on 2 CPU cores; finished cells kept); QUICK=1: short"
	@echo "make figure6    Figure 6: CVAE samples per digit, measured, results/figure6/"
	@echo "make figure7    Figure 7: CVAE-GAN vs CVAE from the same z, measured per digit, results/figure7/"
	@echo "make figure8    Figure 8: completion from the left half (FC CVAE), results/figure8/"
	@echo "make figure9    Figure 9: style transfer (FC CVAE), results/figure9/"
	@echo "make vaegan     VAE-GAN (Sec. 3.1) vs the plain VAE, measured, results/vaegan/"
	@echo "make dfcvae     deep-feature-consistent VAE (poster) vs the plain VAE, results/dfcvae/"
	@echo "make benchmark  every model's training step: ms, images/s, FLOPs, bf16, XLA, PyTorch twins (~40 min)"
	@echo "make precision_table  float32 vs bf16 runs of a study over seeds: quality inside the seed spread? results/precision/"
	@echo "make gan        one GAN-family model measured, results/gan_<preset>/: ARGS=--preset=wgan_gp"
	@echo "make hw4_vae    Srinivasan et al. (2018): VAEs with/without BN, conv, CVAE, results/hw4_vae/"
	@echo "make hw4_gan    GAN vs DCGAN: samples and FD per epoch, interpolations, results/hw4_gan/"
	@echo "make hw4_cgan   CGAN and CDCGAN samples per digit, conditional accuracy, results/hw4_cgan/"
	@echo "make hw4_wgan   WGAN clip and GP, with and without BN in the critic, results/hw4_wgan/"
	@echo "make hw4_table  the one table over every hw4 model and each claim's verdict, results/hw4/"
	@echo "make hw4        the four hw4 groups, then the table (hours on a CPU)"
	@echo "make hu         Hu (2018): his VAE and DCGAN, samples by epoch, real vs outputs, verdicts, results/hu/"
	@echo "make gaikwad    Gaikwad (2020): 3 GANs x 3 learning rates, 2 VAEs, one table, verdicts, results/gaikwad/"
	@echo "make course_table  Hu's and Gaikwad's models in one table with both reports' verdicts, results/course_reports/"
	@echo "make figure10   Figure 10: DRAW, conditional DRAW, sequences, the bound, results/figure10/"
	@echo "make figure11   Figure 11: DRAW-GAN vs DRAW from the same z, measured, results/figure11/"
	@echo "extra flags:    make vae ARGS='--epochs=10 --strategy=cpu'"

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# one pytest process per core (at most TEST_PROCESSES=2), sharing out the test files: tests/parallel.py
test: lint
	$(RUN) tests/parallel.py -q tests

test-fast: $(STAMP)
	$(RUN) tests/parallel.py -q -m "not slow" tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

smoke: $(STAMP)
	$(RUN) experiments/vae_mnist.py --smoke $(ARGS)

data: $(STAMP)
	$(RUN) -m vaegan_tf.mnist_mirror

evaluator: $(STAMP)
	$(RUN) experiments/evaluator.py $(ARGS)

vae: $(STAMP)
	$(RUN) experiments/vae_mnist.py $(ARGS)

table1: $(STAMP)
	$(RUN) experiments/table1.py $(if $(QUICK),--quick) $(ARGS)

figure6: $(STAMP)
	$(RUN) experiments/figure6.py $(ARGS)

figure7: $(STAMP)
	$(RUN) experiments/figure7.py $(ARGS)

vaegan: $(STAMP)
	$(RUN) experiments/vaegan.py $(ARGS)

dfcvae: $(STAMP)
	$(RUN) experiments/dfcvae.py $(ARGS)

figure8 figure9: $(STAMP)
	$(RUN) experiments/$@.py $(ARGS)

benchmark: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(RUN) experiments/benchmark.py $(ARGS)

clean-work:
	rm -rf work

# Srinivasan, Baur & Huber (2018), one target per figure group, then the table over all of them
.PHONY: hw4 hw4_vae hw4_gan hw4_cgan hw4_wgan hw4_table
hw4_vae hw4_gan hw4_cgan hw4_wgan hw4_table: $(STAMP)
	$(RUN) experiments/$@.py $(ARGS)

gan: $(STAMP)
	$(RUN) experiments/gan.py $(ARGS)

hu: $(STAMP)
	$(RUN) experiments/hu.py $(ARGS)

gaikwad: $(STAMP)
	$(RUN) experiments/gaikwad.py $(ARGS)

course_table: $(STAMP)
	$(RUN) experiments/course_table.py $(ARGS)

precision_table: $(STAMP)
	$(RUN) experiments/precision_table.py $(ARGS)

hw4: hw4_vae hw4_gan hw4_cgan hw4_wgan
	$(MAKE) hw4_table ARGS=

.PHONY: figure10 figure11

figure10 figure11: $(STAMP)
	$(RUN) experiments/$@.py $(ARGS)
