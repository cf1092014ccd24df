"""Time of one HFL-Net training step (forward + losses + backward + Adam update), median of repeats.

Usage: .venv/bin/python benchmarks/train_step.py [--device cpu|cuda] [--batches 1 8] [--repeats N] [--amp]
       [--model-config config/train_synthetic_smoke.yaml]
Prints one line per batch size: median and p90 seconds per step and images per second. The batch is a
fixed random one with every target present (so every loss term and every head is exercised).
"""

import argparse
import tempfile

import numpy as np
import torch

from hfl_ros.config import ModelConfig
from hfl_ros.constants import CROP_SIZE, NUM_CONTROL_POINTS, NUM_JOINTS, NUM_MANO_VERTICES, ROI_SIZE
from hfl_ros.data.sample import Sample, collate
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import procedural_mano_dir
from hfl_ros.model.hflnet import HFLNet
from hfl_ros.training.config import TrainConfig, load_train_config
from hfl_ros.training.losses import TOTAL, hflnet_losses
from timing import median_p90, time_calls


def random_sample(rng: np.random.Generator) -> Sample:
    """A Sample with random pixels and plausible targets of every kind."""
    return Sample(
        image=rng.random((3, CROP_SIZE, CROP_SIZE)),
        hand_box=np.array([40.0, 50.0, 170.0, 190.0]),
        object_box=np.array([100.0, 90.0, 230.0, 220.0]),
        joints_2d=rng.random((NUM_JOINTS, 2)),
        joints_3d=rng.normal(0, 0.03, (NUM_JOINTS, 3)),
        vertices_3d=rng.normal(0, 0.03, (NUM_MANO_VERTICES, 3)),
        mano_pose=rng.normal(0, 0.3, 48),
        mano_shape=rng.normal(0, 1, 10),
        object_points_2d=rng.random((NUM_CONTROL_POINTS, 2)),
        object_mask=(rng.random((ROI_SIZE, ROI_SIZE)) > 0.5),
        K_crop=np.array([[500.0, 0, 128], [0, 500.0, 128], [0, 0, 1]]),
        root_3d=np.array([0.0, 0.0, 0.5]),
        crop_affine=np.array([[1.0, 0, 0], [0, 1.0, 0]]),
        object_rotation=np.eye(3),
        object_translation=np.array([0.0, 0.0, 0.5]),
        object_control_points=rng.normal(0, 0.05, (NUM_CONTROL_POINTS, 3)),
        object_diameter=0.2,
        joints_valid=True, root_valid=True, mano_valid=True, vertices_valid=True, object_valid=True, mask_valid=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--amp", action="store_true", help="float16 autocast + gradient scaling (CUDA only)")
    parser.add_argument("--model-config", help="a training YAML whose `model` section to time (default: the full model)")
    args = parser.parse_args()
    device = torch.device(args.device)
    model_config = load_train_config(args.model_config).model if args.model_config else ModelConfig()
    weights = TrainConfig().loss_weights
    with tempfile.TemporaryDirectory() as tmp:
        mano = load_mano(procedural_mano_dir(tmp))
    torch.manual_seed(0)
    model = HFLNet(model_config, mano).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-4)
    amp = args.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} amp={amp} "
          f"model={model_config} parameters={parameters / 1e6:.1f}M")
    rng = np.random.default_rng(0)
    for batch_size in args.batches:
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                 for k, v in collate([random_sample(rng) for _ in range(batch_size)]).items()}

        def step() -> None:
            with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                output = model(batch["image"], batch["hand_box"], batch["object_box"])
            loss = hflnet_losses(output, batch, weights)[TOTAL]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

        median, p90 = median_p90(time_calls(step, args.repeats, args.warmup, device))
        print(f"train step batch={batch_size:2d} median={median:7.3f} s  p90={p90:7.3f} s  {batch_size / median:6.2f} img/s")


if __name__ == "__main__":
    main()
