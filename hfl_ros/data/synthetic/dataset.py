"""`SyntheticDataset`: synthetic Samples rendered deterministically per index, and the demo frame."""

from typing import Dict, Optional, Tuple

import numpy as np
from torch.utils.data import Dataset

from hfl_ros.data.augment import AugmentConfig, draw_augmentation
from hfl_ros.data.sample import FrameAnnotation, Sample
from hfl_ros.data.synthetic.assets import SceneAssets, default_assets
from hfl_ros.data.synthetic.sampling import SyntheticScene, render_frame
from hfl_ros.data.transforms import build_sample
from hfl_ros.objects import ObjectModel

#: Seed of the bundled demo frame.
DEMO_SEED = 7


class SyntheticDataset(Dataset):
    """`n` synthetic Samples; sample i depends only on (seed, i) (and the augmentation config).

    scene: scene ranges; augment: optional crop/colour augmentation on top of the random scene;
    assets: shared SceneAssets (None = the procedural hand).
    """

    def __init__(
        self,
        n: int,
        seed: int = 0,
        scene: Optional[SyntheticScene] = None,
        augment: Optional[AugmentConfig] = None,
        assets: Optional[SceneAssets] = None,
    ) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = int(n)
        self.seed = int(seed)
        self.scene = scene or SyntheticScene()
        self.augment = augment
        self.assets = assets or default_assets()

    def __len__(self) -> int:
        return self.n

    def object_model(self, name: str) -> ObjectModel:
        """The model of scene object `name` (object frame, m) its poses refer to."""
        return self.assets.object_model(name)

    def frame(self, index: int) -> Tuple[np.ndarray, FrameAnnotation, Dict[str, np.ndarray]]:
        """The full rendered frame of sample `index`: (image, annotation, masks)."""
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} samples")
        rng = np.random.default_rng((self.seed, index))
        return render_frame(rng, self.scene, self.assets, frame_id=f"synthetic/{self.seed}/{index:06d}")

    def __getitem__(self, index: int) -> Sample:
        image, annotation, _ = self.frame(index)
        params = None
        if self.augment is not None:
            params = draw_augmentation(np.random.default_rng((self.seed, index, 1)), self.augment)
        return build_sample(annotation, params, image=image)


def bundled_sample(seed: int = DEMO_SEED, image_size: Tuple[int, int] = (640, 480)) -> Tuple[np.ndarray, FrameAnnotation, Dict[str, np.ndarray]]:
    """The demo frame: a fixed synthetic scene (procedural hand) as (image, annotation, masks)."""
    scene = SyntheticScene(image_size=image_size)
    return render_frame(np.random.default_rng(seed), scene, default_assets(), frame_id=f"demo/{seed}")
