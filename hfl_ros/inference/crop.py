"""The network's input crop cut from a full image, on the CPU (OpenCV) or on the image's torch device.

Both cut the same crop: `affine` (2, 3) maps image px to crop px (pixel centres at integer coordinates,
OpenCV's convention), bilinear sampling, black outside the image, values rounded to uint8 levels.
"""

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from hfl_ros.constants import CROP_SIZE


def crop_cv2(image: np.ndarray, affine: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """image: (H, W, 3) uint8; affine: (2, 3) image px -> crop px. Returns the (size, size, 3) uint8 crop."""
    return cv2.warpAffine(image, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(0, 0, 0))


def _pixel_to_normalised(length: int) -> np.ndarray:
    """(3, 3) map of pixel coordinates (centres at integers) along axes of `length` to [-1, 1]
    (grid_sample's align_corners=False convention); length: (W, H)."""
    width, height = length
    return np.array([[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, 2.0 / height, 1.0 / height - 1.0], [0.0, 0.0, 1.0]])


def crop_theta(affine: np.ndarray, image_size, size: int = CROP_SIZE) -> np.ndarray:
    """The (2, 3) `F.affine_grid` matrix (normalised crop -> normalised image coordinates) of `affine`
    (2, 3) image px -> crop px, for an image of `image_size` (W, H) and a (size, size) crop."""
    crop_from_image = np.vstack((np.asarray(affine, dtype=np.float64), [0.0, 0.0, 1.0]))
    image_from_crop = np.linalg.inv(crop_from_image)
    theta = _pixel_to_normalised(image_size) @ image_from_crop @ np.linalg.inv(_pixel_to_normalised((size, size)))
    return theta[:2]


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU `tensor` on `device`; to CUDA through pinned memory without blocking the host (a copy from
    pageable memory would wait for the device's queued work: a host synchronisation per copy)."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def crop_torch(image: torch.Tensor, affine: np.ndarray, size: int = CROP_SIZE) -> torch.Tensor:
    """image: (H, W, 3) uint8 tensor on any device; affine: (2, 3) image px -> crop px.

    Returns the network input (1, 3, size, size) float32 in [0, 1] on the image's device: the crop
    `crop_cv2` cuts, up to OpenCV's 1/32-px fixed-point interpolation weights.
    """
    height, width = image.shape[:2]
    theta = to_device(torch.as_tensor(crop_theta(affine, (width, height), size), dtype=torch.float32), image.device)
    grid = F.affine_grid(theta[None], [1, 3, size, size], align_corners=False)
    pixels = image.permute(2, 0, 1)[None].to(torch.float32)
    crop = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return crop.round_() / 255.0
