"""Video files: uint8 conversion, MP4/GIF/PNG-grid writers with JSON sidecars, PyAV reader."""

from cinediff.io.video import (
    VideoDecodeError,
    from_uint8_frames,
    make_grid,
    probe_video,
    read_video,
    to_uint8_frames,
    write_frame_grid_png,
    write_gif,
    write_mp4,
    write_video,
    write_video_and_gif,
)

__all__ = [
    "VideoDecodeError",
    "from_uint8_frames",
    "make_grid",
    "probe_video",
    "read_video",
    "to_uint8_frames",
    "write_frame_grid_png",
    "write_gif",
    "write_mp4",
    "write_video",
    "write_video_and_gif",
]
