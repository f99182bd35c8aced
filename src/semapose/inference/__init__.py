"""Video inference: detectors, tracker, feature cache, pipeline and the Python API."""
