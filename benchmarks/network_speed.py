"""Forward time of HFL-Net (median of repeats) for batch 1 and 8, beside a plain ResNet-50 baseline.

Usage: .venv/bin/python benchmarks/network_speed.py [--device cpu|cuda] [--repeats N] [--fp16]
Prints one line per (model, batch): median and p90 milliseconds, and images per second.
"""

import argparse
import tempfile

import torch
from torchvision.models import resnet50

from hfl_ros.config import ModelConfig
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import procedural_mano_dir
from hfl_ros.model.hflnet import HFLNet
from timing import median_p90, time_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--fp16", action="store_true", help="autocast to float16 (CUDA only)")
    args = parser.parse_args()
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        mano = load_mano(procedural_mano_dir(tmp))
    models = {
        "hflnet": HFLNet(ModelConfig(), mano).to(device).eval(),
        "resnet50-baseline": resnet50(weights=None).to(device).eval(),
    }
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} fp16={args.fp16}")
    autocast = torch.autocast(device.type, dtype=torch.float16, enabled=args.fp16 and device.type == "cuda")
    for batch in args.batches:
        images = torch.rand(batch, 3, 256, 256, device=device)
        hand = torch.tensor([[40.0, 50.0, 170.0, 190.0]], device=device).repeat(batch, 1)
        obj = torch.tensor([[100.0, 90.0, 230.0, 220.0]], device=device).repeat(batch, 1)
        calls = {"hflnet": lambda: models["hflnet"](images, hand, obj),
                 "resnet50-baseline": lambda: models["resnet50-baseline"](images)}
        for name, call in calls.items():
            with torch.inference_mode(), autocast:
                median, p90 = median_p90(time_calls(call, args.repeats, args.warmup, device))
            print(f"{name:18s} batch={batch:2d} median={median * 1e3:8.1f} ms  p90={p90 * 1e3:8.1f} ms  "
                  f"{batch / median:7.1f} img/s")


if __name__ == "__main__":
    main()
