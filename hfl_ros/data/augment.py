"""Training augmentation (HFL-Net's): crop scale and centre jitter, in-plane rotation, colour jitter, blur.

`AugmentConfig` holds the ranges; `draw_augmentation(rng, config)` draws one `AugmentParams`, which
`hfl_ros.data.transforms.build_sample` applies consistently to pixels, 2D and 3D targets.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

ROTATION_DISTRIBUTIONS = ("uniform", "normal")


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random augmentation.

    scale_jitter: crop side multiplier ~ 1 + scale_jitter * N(0, 1), clipped to 1 +- scale_jitter.
    centre_jitter: crop centre shift ~ U(-1, 1) * centre_jitter * crop side, per axis.
    rotation_range: rad. "uniform": angle ~ U(-range, range); "normal": angle ~ N(0, range / 2)
        clipped to +-range. Applied with probability rotation_probability, else 0.
    brightness, contrast, saturation: factor ~ U(max(0, 1 - v), 1 + v) (torchvision ColorJitter).
    hue: shift ~ U(-hue, hue) of a full turn, hue <= 0.5.
    blur_sigma: Gaussian blur sigma ~ U(0, blur_sigma) crop px.
    """

    scale_jitter: float = 0.2
    centre_jitter: float = 0.1
    rotation_range: float = math.pi
    rotation_distribution: str = "uniform"
    rotation_probability: float = 1.0
    brightness: float = 0.5
    contrast: float = 0.5
    saturation: float = 0.5
    hue: float = 0.15
    blur_sigma: float = 0.5

    def __post_init__(self) -> None:
        for name in ("scale_jitter", "centre_jitter", "rotation_range", "brightness", "contrast", "saturation", "hue", "blur_sigma"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"AugmentConfig.{name} must be a finite number >= 0, got {value}")
        if self.scale_jitter >= 1:
            raise ValueError(f"AugmentConfig.scale_jitter must be < 1, got {self.scale_jitter}")
        if self.hue > 0.5:
            raise ValueError(f"AugmentConfig.hue must be <= 0.5, got {self.hue}")
        if not 0 <= self.rotation_probability <= 1:
            raise ValueError(f"AugmentConfig.rotation_probability must be in [0, 1], got {self.rotation_probability}")
        if self.rotation_distribution not in ROTATION_DISTRIBUTIONS:
            raise ValueError(
                f"AugmentConfig.rotation_distribution must be one of {ROTATION_DISTRIBUTIONS}, got {self.rotation_distribution!r}"
            )


def ho3d_augmentation() -> AugmentConfig:
    """The published HO3D training ranges: rotation uniform in +-pi, always applied."""
    return AugmentConfig()


def dexycb_augmentation() -> AugmentConfig:
    """The published DexYCB training ranges: rotation N(0, 30 deg) clipped to +-60 deg, with probability 0.6."""
    return AugmentConfig(rotation_range=math.radians(60.0), rotation_distribution="normal", rotation_probability=0.6)


@dataclass(frozen=True)
class AugmentParams:
    """One draw of the augmentation. The defaults are the identity (evaluation crop).

    rotation: rad, in-plane image rotation = rotation of the camera about its optical (z) axis;
        positive turns image x towards image y.
    scale: crop side multiplier (> 1 zooms out). centre_shift: (dx, dy) in units of the crop side.
    brightness, contrast, saturation: multiplicative factors (1 = unchanged); hue: fraction of a turn.
    blur_sigma: crop px (0 = no blur).
    """

    rotation: float = 0.0
    scale: float = 1.0
    centre_shift: tuple = (0.0, 0.0)
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue: float = 0.0
    blur_sigma: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.scale) or self.scale <= 0:
            raise ValueError(f"AugmentParams.scale must be positive, got {self.scale}")
        if len(self.centre_shift) != 2:
            raise ValueError(f"AugmentParams.centre_shift must be (dx, dy), got {self.centre_shift}")


def draw_augmentation(rng: np.random.Generator, config: AugmentConfig) -> AugmentParams:
    """Draw one augmentation from `config` with `rng` (deterministic for a seeded generator)."""
    scale = float(np.clip(1 + config.scale_jitter * rng.standard_normal(), 1 - config.scale_jitter, 1 + config.scale_jitter))
    shift = tuple(float(v) for v in rng.uniform(-1, 1, size=2) * config.centre_jitter)
    if config.rotation_distribution == "uniform":
        angle = rng.uniform(-config.rotation_range, config.rotation_range)
    else:
        angle = np.clip(rng.standard_normal() * config.rotation_range / 2, -config.rotation_range, config.rotation_range)
    rotation = float(angle) if rng.uniform() < config.rotation_probability else 0.0

    def factor(amount: float) -> float:
        return float(rng.uniform(max(0.0, 1 - amount), 1 + amount))

    return AugmentParams(
        rotation=rotation,
        scale=scale,
        centre_shift=shift,
        brightness=factor(config.brightness),
        contrast=factor(config.contrast),
        saturation=factor(config.saturation),
        hue=float(rng.uniform(-config.hue, config.hue)),
        blur_sigma=float(rng.uniform(0, config.blur_sigma)),
    )


def _grey(image: np.ndarray) -> np.ndarray:
    return image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def apply_photometric(image: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Colour jitter (brightness, contrast, saturation, hue, in that order) and blur.

    image: (H, W, 3) float32 RGB in [0, 1]. Returns the same shape, clipped to [0, 1].
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    out = image.astype(np.float32, copy=True)
    if params.brightness != 1.0:
        out = np.clip(out * params.brightness, 0, 1)
    if params.contrast != 1.0:
        out = np.clip(params.contrast * out + (1 - params.contrast) * _grey(out).mean(), 0, 1)
    if params.saturation != 1.0:
        out = np.clip(params.saturation * out + (1 - params.saturation) * _grey(out)[..., None], 0, 1)
    if params.hue != 0.0:
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = np.mod(hsv[..., 0] + 360.0 * params.hue, 360.0)
        out = np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), 0, 1)
    if params.blur_sigma > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), params.blur_sigma)
    return out
