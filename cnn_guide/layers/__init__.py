"""Reusable, serializable blocks the architectures are built from.

Every block is a ``keras.layers.Layer`` registered with
``keras.saving.register_keras_serializable(package="cnn_guide")``, so a model
that uses it saves to ``.keras`` and loads back with the default
``safe_mode=True``.
"""

__all__: list[str] = []
