"""segdemo: semantic-segmentation models from the lecture behind one `predict()`.

    >>> import segdemo
    >>> result = segdemo.predict("image.png", "unet", 0.5)
    >>> result.labels, result.scores, result.overlay, result.class_fractions

Importing segdemo is cheap: TensorFlow and the models load on first use.
"""

from segdemo.predict import Prediction, predict
from segdemo.registry import REGISTRY, ModelSpec

MODEL_KEYS = tuple(REGISTRY)

__all__ = ["MODEL_KEYS", "REGISTRY", "ModelSpec", "Prediction", "predict"]
