"""Multi-output MAE: one value per feature, averaged over every window and step (the Keras
metric of training; forecast.mae_per_feature is its numpy twin for whole arrays)."""
import tensorflow as tf


class MultiOutputMAE(tf.keras.metrics.Metric):
    """[B, steps, features] -> mean over batch and steps -> [features].

    Accumulates the per-window sum and the window count, so the result over an epoch is the
    exact mean over all windows (a short last batch does not weigh more than its share).

    `scale` (per feature) multiplies the errors: with labels normalized by the train std,
    scale=std reports the MAE in the original units.
    """

    def __init__(self, name="mean_absolute_error", features=2, scale=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.features = features
        self.scale = None if scale is None else [float(s) for s in scale]
        self.total = self.add_weight(name="total", shape=(features,), initializer="zeros")
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        error = tf.abs(tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32))
        if self.scale is not None:
            error = error * self.scale
        per_window = tf.reduce_mean(error, axis=1)  # [B, features]
        self.total.assign_add(tf.reduce_sum(per_window, axis=0))
        self.count.assign_add(tf.cast(tf.shape(per_window)[0], tf.float32))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(tf.zeros(self.features))
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "features": self.features, "scale": self.scale}
