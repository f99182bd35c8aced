"""Drawing poses, boxes and track ids on frames; side-by-side panels."""

from semapose.viz.draw import (
    draw_box,
    draw_label,
    draw_persons,
    draw_pose,
    side_by_side,
    track_color,
)

__all__ = ["draw_box", "draw_label", "draw_persons", "draw_pose", "side_by_side", "track_color"]
