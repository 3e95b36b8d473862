"""How hard is the embedded set? Training error vs steps for plain-20, plain-56, ResNet-20 and a
linear classifier on raw pixels (He et al. 2016 recipe: BN, He init, SGD lr 0.1, momentum 0.9,
weight decay 1e-4, batch 128, pad-4 crop + flip augmentation).

    python bench/embedded_difficulty.py [--steps 600] [--nets plain20,plain56,resnet20,linear]

Training error is measured in eval mode on a fixed sample of training images every
``--eval-every`` steps (the running error of the training batches is printed too). On 2 CPU
threads a step takes about 0.2-0.3 s for 20 layers and 0.5-0.8 s for 56 (more when the CPU is
shared). Uses ``resnet_viz.models`` when it is importable, else a small CIFAR net defined here.

Results (seed 0, 600 steps; train error in eval mode on 2,000 fixed training images)::

    step   resnet-20  plain-20  plain-32  plain-56  resnet-56  linear
      50     0.694      0.703     0.892     0.888     0.898     0.881
     100     0.743      0.564     0.891     0.890     0.889     0.901
     200     0.454      0.555     0.917     0.913     0.893     0.890
     300     0.239      0.391     0.916     0.912     0.821     0.882
     400     0.081      0.352       -       0.905     0.771     0.894
     500     0.088      0.175       -       0.889     0.716     0.890
     600     0.059      0.085       -       0.892     0.661     0.889

plain-32 was stopped after 350 steps (still 0.888). plain-56's training loss stayed at 2.30 for
950 steps at lr 0.1 and for 200 steps at lr 0.01.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_viz.config import DataConfig
from resnet_viz.data import DeviceDataset, load_dataset


# ---- a throwaway CIFAR-style net, used only if resnet_viz.models is not available ----------------
class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.residual = residual
        self.stride, self.extra = stride, cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        if self.residual:  # option A: subsample + zero-pad channels
            sc = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
            if self.extra:
                sc = F.pad(sc, (0, 0, 0, 0, 0, self.extra))
            out = out + sc
        return F.relu(out)


class _Net(nn.Module):
    def __init__(self, depth: int, residual: bool, width: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        layers, cin = [], width
        for stage, w in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                layers.append(_Block(cin, w, 2 if (stage > 0 and i == 0) else 1, residual))
                cin = w
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(self.stem(x)).mean(dim=(2, 3)))


def make_net(name: str) -> nn.Module:
    if name == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    arch, depth = ("resnet", int(name[6:])) if name.startswith("resnet") else ("plain", int(name[5:]))
    try:
        from resnet_viz.config import InitConfig, ModelConfig
        from resnet_viz.models import build_model, init_weights  # type: ignore[attr-defined]

        mcfg = ModelConfig(arch=arch, depth=depth).resolved()
        model = build_model(mcfg, in_channels=3, image_size=32, num_classes=10)
        init_weights(model, InitConfig(), mcfg)
        print(f"{name}: resnet_viz.models.build_model ({sum(p.numel() for p in model.parameters())} parameters)")
        return model
    except ImportError:
        print(f"{name}: resnet_viz.models not available, using the bench's own CIFAR net")
        return _Net(depth, arch == "resnet")


@torch.no_grad()
def error(model: nn.Module, data: DeviceDataset, split: str) -> float:
    model.eval()
    wrong = total = 0
    for x, y in data.eval_batches(split, 500):
        wrong += int((model(x).argmax(1) != y).sum())
        total += y.numel()
    model.train()
    return wrong / total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--eval-samples", type=int, default=2000)
    p.add_argument("--nets", default="plain20,plain56,resnet20,linear")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    splits = load_dataset(DataConfig(embedded_seed=args.data_seed))
    print(f"{splits.description}: loaded in {time.perf_counter() - t0:.2f} s", flush=True)
    table: dict[str, dict[int, float]] = {}
    nets = args.nets.split(",")
    for name in nets:
        table[name] = {}
        torch.manual_seed(args.seed)
        model = make_net(name)
        data = DeviceDataset(
            splits,
            torch.device("cpu"),
            128,
            augment=True,
            normalize=True,
            seed=args.seed,
            eval_train_samples=args.eval_samples,
        )
        lr = args.lr if name != "linear" else 0.01
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
        run_wrong = run_n = 0
        t = time.perf_counter()
        print(f"{name}: step train_err(eval) running_batch_err test_err  s/step", flush=True)
        for step in range(1, args.steps + 1):
            x, y = data.next_batch()
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run_wrong += int((out.argmax(1) != y).sum())
            run_n += y.numel()
            if step % args.eval_every == 0 or step == args.steps:
                tr = error(model, data, "train_sample")
                te = error(model, data, "test")
                dt = (time.perf_counter() - t) / step
                print(f"{name}: {step:4d} {tr:6.3f} {run_wrong / run_n:6.3f} {te:6.3f}  {dt:.2f}", flush=True)
                run_wrong = run_n = 0
                table[name][step] = tr

    print("\ntraining error (eval mode, fixed training sample) vs steps")
    print("step  " + "".join(f"{n:>10s}" for n in nets))
    for step in sorted(table[nets[0]]):
        print(f"{step:4d}  " + "".join(f"{table[n].get(step, float('nan')):10.3f}" for n in nets))


if __name__ == "__main__":
    main()
