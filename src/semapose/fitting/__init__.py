"""``semapose fit``'s work: the temporal module fitted on the user's own unlabeled video.

This package sits above :mod:`semapose.inference` (it tracks people with ``predict``'s
detector and tracker) and beside :mod:`semapose.engine`; nothing in ``data/``,
``models/``, ``inference/`` or ``engine/`` imports it (a test checks).

* :mod:`~semapose.fitting.tracks` -- person tracks of a video, and their JSON form;
* :mod:`~semapose.fitting.sources` -- person crops to encode: tracked people degraded
  over spans of frames (:mod:`semapose.data.crop_degradation`), synthetic video;
* :mod:`~semapose.fitting.build` -- every crop through the frozen backbone once, with
  the teacher's targets, into the feature store (read by
  :mod:`semapose.data.feature_store`, which the training side uses);
* :mod:`~semapose.fitting.work` -- the work folder of ``semapose fit``: the inputs'
  fingerprint, per-video tracks kept as each is done.

Submodules are imported on demand; this package import does no work.
"""
