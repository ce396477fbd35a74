"""The package's own Keras layers, registered where they are defined.

A saved model holds them by their registered names
(``sklearn_vision>TokenPooling``); :func:`custom_objects` is what the loader
passes to :func:`keras.saving.load_model`. They need Keras alone, not KerasHub.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="sklearn_vision")
class TokenPooling(keras.layers.Layer):
    """Pool a transformer's token sequence ``(n, tokens, dim)`` to one vector per image.

    ``"cls_mean"``: the class token and the mean of the patch tokens,
    concatenated (DINOv2's linear evaluation); ``"cls"``: the class token (ViT);
    ``"pooled"``: the input already is one vector (SigLIP's attention pooling).
    ``n_prefix`` tokens (the class token and any registers) precede the patches.
    """

    def __init__(self, mode="cls_mean", n_prefix=1, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode
        self.n_prefix = n_prefix

    def call(self, tokens):
        if self.mode == "pooled":
            return tokens
        cls = tokens[:, 0]
        if self.mode == "cls":
            return cls
        return ops.concatenate([cls, ops.mean(tokens[:, self.n_prefix :], axis=1)], axis=-1)

    def compute_output_shape(self, input_shape):
        if self.mode == "pooled":
            return input_shape
        dim = input_shape[-1]
        return (input_shape[0], dim if self.mode == "cls" else 2 * dim)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "n_prefix": self.n_prefix}


def custom_objects():
    """The package's layers by their registered names, as ``load_model`` takes them."""
    return {keras.saving.get_registered_name(layer): layer for layer in (TokenPooling,)}
