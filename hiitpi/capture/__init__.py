"""Frame sources behind one small interface, a latest-frame buffer and a watchdog.

- `FrameSource` (base.py): open / read / close, a context manager.
- `PiCameraSource` (picam.py), `OpenCVSource` (opencv.py: V4L2 or RTSP), `VideoFileSource` (video.py).
- `create_source_factory` (select.py): 'auto', 'picamera', a device, a URL or a file, from settings.
- `LatestFrameBuffer` (buffer.py): capture never waits for inference; dropped frames are counted.
- `CaptureRunner` (runner.py): the capture thread plus the watchdog that restarts a stalled source.
"""

from hiitpi.capture.base import EndOfStream, Frame, FrameSource, SourceError, SourceOpenError

__all__ = ["EndOfStream", "Frame", "FrameSource", "SourceError", "SourceOpenError"]
