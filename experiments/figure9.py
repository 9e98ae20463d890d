"""`make figure9`: Figure 9 of Chen, Fang, Ju (2016), style transfer with the fully connected
CVAE of Sec. 4.4, measured. Details and the choices the paper leaves open:
vaegan_tf/studies/figure8_9.py."""

import common_flags
from application_main import main_for

from vaegan_tf.studies.figure8_9 import ApplicationConfig

main = main_for(ApplicationConfig(name="figure9", condition="label"))

if __name__ == "__main__":
    common_flags.run(main)
