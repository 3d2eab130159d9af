"""Model builders: forecasters (the original report's CNN and MLP, the residual forecaster), the
keyword-spotting DS-CNN (widths are parameters); and the forecasters' training metric, the
multi-output MAE."""

import numpy as np
import tensorflow as tf

layers = tf.keras.layers


def forecast_cnn(filters=16, units=24, input_steps=6, output_steps=6, features=2, kernel_size=3):
    """Conv1D -> Flatten -> Dense -> Dense(steps*features) -> Reshape(steps, features)."""
    return tf.keras.Sequential(
        [
            layers.Input((input_steps, features)),
            layers.Conv1D(filters, kernel_size, activation="relu"),
            layers.Flatten(),
            layers.Dense(units, activation="relu"),
            layers.Dense(output_steps * features),
            layers.Reshape((output_steps, features)),
        ]
    )


def forecast_mlp(units=(16, 24), input_steps=6, output_steps=6, features=2):
    """Flatten -> Dense... -> Dense(steps*features) -> Reshape(steps, features)."""
    hidden = [layers.Dense(u, activation="relu") for u in units]
    return tf.keras.Sequential(
        [
            layers.Input((input_steps, features)),
            layers.Flatten(),
            *hidden,
            layers.Dense(output_steps * features),
            layers.Reshape((output_steps, features)),
        ]
    )


def residual_forecaster(mean, std, linear=True, hidden=(), folded=False, steps=6, features=2):
    """Normalized inputs [B, 6, 2] -> forecasts [B, 6, 2] in °C and %, as the last observed
    step plus a predicted change: out = (last + change) * std + mean.

    The change is computed from the inputs as differences from the last step (its own row is
    0), so the model never sees the level: a model trained in summer forecasts winter as
    well. Paths, summed: `linear`, a Dense(12) of the differences (started at the
    least-squares solution, forecast.lstsq_init); `hidden` widths of a ReLU MLP on them,
    ending in a Dense(12) (no bias beside the linear path). `folded`: the same function with std and mean folded into
    the output Dense layers, out = change in °C/% + last * std: two ops fewer in the .tflite
    (forecast.fold_units fills it from a trained model).
    """
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    x = layers.Input((steps, features))
    last = layers.Lambda(lambda v: v[:, -1:, :], name="last")(x)
    diffs = layers.Subtract(name="diffs")([x, last])
    flat = layers.Flatten(name="flat")(diffs)
    parts = [layers.Dense(steps * features, name="linear")(flat)] if linear else []
    if hidden:
        z = flat
        for i, width in enumerate(hidden):
            z = layers.Dense(width, activation="relu", name=f"hidden{i}")(z)
        parts.append(layers.Dense(steps * features, use_bias=not linear, name="out")(z))
    change = parts[0] if len(parts) == 1 else layers.Add(name="sum")(parts)
    change = layers.Reshape((steps, features), name="change")(change)
    if folded:
        return tf.keras.Model(
            x,
            layers.Add(name="forecast")(
                [change, layers.Lambda(lambda v: v * std, name="level")(last)]
            ),
        )
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
    """DS-CNN: Conv2D(3x3, stride `first_stride` = [2,1]) - BN - ReLU, then `extra_depthwise` extra
    DepthwiseConv2D-BN-ReLU blocks, then for each further width a depthwise-separable block
    (DepthwiseConv2D 3x3 - Conv2D 1x1 - BN - ReLU each), GlobalAveragePooling, Dense(labels).

    `bn_momentum`: Keras' meaning, moving = momentum * moving + (1 - momentum) * batch; the
    course's code says 0.1 (PyTorch's meaning, there the weight of the batch), which in Keras
    leaves the moving statistics those of about the last batch. `padding`: of the depthwise
    convolutions ("same" keeps the feature map's size, so that more blocks fit)."""
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
    """[B, steps, features] -> mean over batch and steps -> [features] (forecast.mae_per_feature
    is its numpy twin for whole arrays).

    Accumulates the per-window sum and the window count, so the result over an epoch is the
    exact mean over all windows (a short last batch does not weigh more than its share)."""

    def __init__(self, name="mean_absolute_error", features=2, **kwargs):
        super().__init__(name=name, **kwargs)
        self.features = features
        self.total = self.add_weight(name="total", shape=(features,), initializer="zeros")
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        error = tf.abs(tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32))
        per_window = tf.reduce_mean(error, axis=1)  # [B, features]
        self.total.assign_add(tf.reduce_sum(per_window, axis=0))
        self.count.assign_add(tf.cast(tf.shape(per_window)[0], tf.float32))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(tf.zeros(self.features))
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "features": self.features}
