"""One validator for every enum-like setting: an unknown value names every valid one."""

import pytest

from vaegan_tf import data
from vaegan_tf.choices import check_choice
from vaegan_tf.models.gan import GANConfig
from vaegan_tf.models.m2 import M2Config
from vaegan_tf.models.vae import VAEConfig
from vaegan_tf.studies.common import RunSettings


def test_check_choice_returns_a_valid_value_and_lists_the_choices_otherwise():
    assert check_choice("b", ("a", "b"), "letter") == "b"
    with pytest.raises(ValueError, match=r"^unknown letter 'c'; choose one of a, b$"):
        check_choice("c", ("a", "b"), "letter")
    with pytest.raises(KeyError, match="see the docs"):
        check_choice("c", ["a"], "letter", error=KeyError, hint=" (see the docs)")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: VAEConfig(decoder="lstm"), "unknown VAE decoder 'lstm'; choose one of dense"),
        (lambda: GANConfig(loss="hinge"), "unknown GAN loss 'hinge'; choose one of minimax"),
        (lambda: M2Config(protocol="paper"), "the authors' code is vaegan_tf.models.m2_authors"),
        (lambda: RunSettings(strategy="tpu"), "unknown strategy 'tpu'; choose one of auto"),
    ],
)
def test_configs_refuse_unknown_settings_through_it(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_data_errors_keep_their_type():
    with pytest.raises(data.DataError, match="unknown dataset 'emnist'; choose one of mnist"):
        data.load("emnist")
