"""Adam as the suite's models train with it: Keras' `keras.optimizers.Adam`, its update of each
weight done by TensorFlow's own fused Adam kernel (`tf.raw_ops.ResourceApplyAdam`, the kernel
tf.keras 2 used) instead of Keras 3's chain of element-wise ops.

The equations are Keras' (Kingma & Ba 2015, Algorithm 1 with epsilon outside the square root of
the bias-corrected v, "epsilon hat"):

    m <- m + (1 - beta_1) (g - m)
    v <- v + (1 - beta_2) (g^2 - v)
    w <- w - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

Keras 3 writes them as about twelve separate ops per weight, each a pass over memory with its own
temporary; the fused kernel does one pass. On a CPU that is most of an FC model's optimizer time
(make benchmark). Everything around the update (learning-rate schedules, clipping, weight decay,
`tf.distribute`'s per-replica update, the variables a checkpoint holds) is Keras', unchanged: a
checkpoint of `keras.optimizers.Adam` resumes here and back. AMSGrad, sparse gradients and
backends other than TensorFlow take Keras' own update.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="vaegan_tf")
class Adam(keras.optimizers.Adam):
    """`keras.optimizers.Adam`, each weight updated by one fused kernel (module docstring)."""

    def update_step(self, gradient, variable, learning_rate):
        if (
            self.amsgrad
            or keras.backend.backend() != "tensorflow"
            or isinstance(gradient, tf.IndexedSlices)
        ):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)

        def scalar(value):
            return tf.cast(value, dtype)

        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=tf.pow(scalar(self.beta_1), step),
            beta2_power=tf.pow(scalar(self.beta_2), step),
            lr=scalar(learning_rate),
            beta1=scalar(self.beta_1),
            beta2=scalar(self.beta_2),
            epsilon=scalar(self.epsilon),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )
