"""Model builders (the original report's forecasters, the residual forecaster, the DS-CNN) and
the forecasters' training metric."""

import numpy as np
import tensorflow as tf

layers = tf.keras.layers
STEPS, FEATURES = 6, 2  # the forecasters' input and output: 6 steps of T and RH


def _forecaster(body):
    """Input -> `body` layers -> Dense(steps*features) -> Reshape(steps, features)."""
    head = [layers.Dense(STEPS * FEATURES), layers.Reshape((STEPS, FEATURES))]
    return tf.keras.Sequential([layers.Input((STEPS, FEATURES)), *body, *head])


def forecast_cnn(filters=16, units=24):
    """The original report's CNN: Conv1D(k=3) -> Flatten -> Dense -> the output Dense."""
    conv = layers.Conv1D(filters, 3, activation="relu")
    return _forecaster([conv, layers.Flatten(), layers.Dense(units, activation="relu")])


def forecast_mlp(units=(16, 24)):
    """The original report's MLP: Flatten -> Dense... -> the output Dense."""
    return _forecaster([layers.Flatten(), *(layers.Dense(u, activation="relu") for u in units)])


def residual_forecaster(mean, std, hidden=(), folded=False):
    """Normalized inputs [B, 6, 2] -> °C and %: (last step + change) * std + mean, the change
    from the differences to the last step only (never the level: trained in summer, it
    forecasts winter), summed over a "linear" Dense(12) and a ReLU MLP of `hidden` widths.
    `folded`: std and mean folded in, out = change in °C/% + last * std (two ops fewer)."""
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    x = layers.Input((STEPS, FEATURES))
    last = layers.Lambda(lambda v: v[:, -1:, :], name="last")(x)
    diffs = layers.Subtract(name="diffs")([x, last])
    flat = layers.Flatten(name="flat")(diffs)
    change = layers.Dense(STEPS * FEATURES, name="linear")(flat)
    if hidden:
        z = flat
        for i, width in enumerate(hidden):
            z = layers.Dense(width, activation="relu", name=f"hidden{i}")(z)
        out = layers.Dense(STEPS * FEATURES, use_bias=False, name="out")(z)
        change = layers.Add(name="sum")([change, out])
    change = layers.Reshape((STEPS, FEATURES), name="change")(change)
    if folded:
        level = layers.Lambda(lambda v: v * std, name="level")(last)
        return tf.keras.Model(x, layers.Add(name="forecast")([change, level]))
    y = layers.Add(name="forecast")([last, change])
    return tf.keras.Model(x, layers.Lambda(lambda v: v * std + mean, name="units")(y))


def ds_cnn(
    input_shape,
    filters=(96, 64, 64),
    extra_depthwise=0,
    num_labels=8,
    dropout=0.0,
    first_stride=(2, 1),
    bn_momentum=0.99,
    padding="valid",
):
    """DS-CNN: Conv2D-BN-ReLU, `extra_depthwise` DepthwiseConv2D-BN-ReLU, then per width a
    DepthwiseConv2D-Conv2D 1x1-BN-ReLU, pooling, Dense. `bn_momentum` in Keras' meaning: the
    course's 0.1 (PyTorch's meaning) would keep about the last batch's statistics."""
    x = inputs = layers.Input(input_shape)
    x = layers.Conv2D(filters[0], (3, 3), strides=first_stride, use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization(momentum=bn_momentum)(x))
    for _ in range(extra_depthwise):
        x = layers.DepthwiseConv2D((3, 3), padding=padding, use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=bn_momentum)(x))
    for width in filters[1:]:
        x = layers.DepthwiseConv2D((3, 3), padding=padding, use_bias=False)(x)
        x = layers.Conv2D(width, (1, 1), use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=bn_momentum)(x))
    x = layers.GlobalAveragePooling2D()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return tf.keras.Model(inputs, layers.Dense(num_labels)(x))


class MultiOutputMAE(tf.keras.metrics.Metric):
    """MAE of [B, steps, T and RH] per feature, the exact mean over all windows of an epoch (a
    short last batch weighs its share); forecast.mae_per_feature is its numpy twin."""

    def __init__(self, name="mean_absolute_error", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_weight(name="total", shape=(FEATURES,), initializer="zeros")
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        error = tf.abs(tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32))
        per_window = tf.reduce_mean(error, axis=1)  # [B, features]
        self.total.assign_add(tf.reduce_sum(per_window, axis=0))
        self.count.assign_add(tf.cast(tf.shape(per_window)[0], tf.float32))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def reset_state(self):  # tf_keras' default assigns a scalar 0
        self.total.assign(tf.zeros(FEATURES))
        self.count.assign(0.0)
