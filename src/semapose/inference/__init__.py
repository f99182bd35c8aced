"""Video inference: detectors, tracker, feature window, pipeline and the Python API.

Modules (nothing heavy is imported here):

* ``detectors/``, ``tracking/`` -- person boxes, tracks (the tracker's stages;
  ``tracker.py`` re-exports its names);
* ``pipeline.py`` -- :class:`TemporalRunner`, streaming clip inference over a
  feature window (``feature_window.py``) keyed by (frame, track id); ``crops.py`` the affine crops;
* ``job.py`` -- one video end to end with resumable partial state; ``outputs.py``
  the PoseTrack/COCO JSON and overlay frames; ``predictor.py`` model + options;
* ``loading.py`` -- the one loader (``load``): any weights value -> a model;
* ``api.py`` -- :class:`PoseEstimator`; ``export.py`` -- ONNX; ``demo.py`` -- the demo;
* ``distributed.py`` -- sharing a folder of videos among torchrun ranks.
"""
