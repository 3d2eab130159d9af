"""Model builders: forecasting CNN and MLP, keyword-spotting DS-CNN. Widths are parameters."""
import tensorflow as tf

layers = tf.keras.layers


def forecast_cnn(filters=16, units=24, input_steps=6, output_steps=6, features=2, kernel_size=3):
    """Conv1D -> Flatten -> Dense -> Dense(steps*features) -> Reshape(steps, features)."""
    return tf.keras.Sequential([
        layers.Input((input_steps, features)),
        layers.Conv1D(filters, kernel_size, activation="relu"),
        layers.Flatten(),
        layers.Dense(units, activation="relu"),
        layers.Dense(output_steps * features),
        layers.Reshape((output_steps, features)),
    ])


def forecast_mlp(units=(16, 24), input_steps=6, output_steps=6, features=2):
    """Flatten -> Dense... -> Dense(steps*features) -> Reshape(steps, features)."""
    hidden = [layers.Dense(u, activation="relu") for u in units]
    return tf.keras.Sequential([
        layers.Input((input_steps, features)),
        layers.Flatten(),
        *hidden,
        layers.Dense(output_steps * features),
        layers.Reshape((output_steps, features)),
    ])


def ds_cnn(input_shape, filters=(96, 64, 64), extra_depthwise=0, num_labels=8, dropout=0.0,
           first_stride=(2, 1)):
    """DS-CNN: Conv2D(3x3, stride `first_stride` = [2,1]) - BN - ReLU, then `extra_depthwise` extra
    DepthwiseConv2D-BN-ReLU blocks, then for each further width a depthwise-separable block
    (DepthwiseConv2D 3x3 - Conv2D 1x1 - BN - ReLU each), GlobalAveragePooling, Dense(labels)."""
    x = inputs = layers.Input(input_shape)
    x = layers.Conv2D(filters[0], (3, 3), strides=first_stride, use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization(momentum=0.1)(x))
    for _ in range(extra_depthwise):
        x = layers.DepthwiseConv2D((3, 3), use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.1)(x))
    for width in filters[1:]:
        x = layers.DepthwiseConv2D((3, 3), use_bias=False)(x)
        x = layers.Conv2D(width, (1, 1), use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.1)(x))
    x = layers.GlobalAveragePooling2D()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return tf.keras.Model(inputs, layers.Dense(num_labels)(x))
