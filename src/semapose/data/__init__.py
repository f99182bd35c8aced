"""Datasets, clips, transforms, the heatmap codec, crop degradations and fit's feature store.

Submodules are imported on demand (``from semapose.data.codec import HeatmapCodec``);
this package import does no work and pulls in neither torch nor cv2.
"""
