#!/usr/bin/python3
"""Export torchvision's own network definitions to ONNX, with seeded random
weights, a seeded input and PyTorch's output, as peer test cases.

A copy of shared/peer-tests/torchvision/make_models.py (the peer folder's
README) so a plain clone runs tests/python/test_onnx_torchvision.py; the one
addition is --samples N, which also writes N more seeded inputs and
PyTorch's outputs for them (inputs.npy, outputs.npy) for the fixed-point
top-1 check. The files are large: generated in the test run, never kept.

The architectures (and their ONNX export) are torchvision's and PyTorch's
work, not spindle's: a backend passes a case when its output for input.npy
matches output.npy (logits, before any softmax) within rtol 1e-3, atol 1e-5.

Needs Debian's python3-torchvision (and python3-onnx to inspect the files).
Usage: torchvision_models.py OUT_DIR [--models resnet18,resnet50,...] [--seed S]
       [--size PIXELS] [--opset N] [--samples N]
Writes OUT_DIR/<model>/{model.onnx,input.npy,output.npy,meta.json}.
"""
import argparse
import json
import os

import numpy as np
import torch
import torchvision

MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "resnet50": lambda: torchvision.models.resnet50(),
    "vgg11": lambda: torchvision.models.vgg11(),
    "alexnet": lambda: torchvision.models.alexnet(),
    "squeezenet1_1": lambda: torchvision.models.squeezenet1_1(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
}


def randomise_batchnorm(model, gen):
    """Eval-mode BatchNorm with non-trivial statistics, so BN is really tested."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) * 1.0 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.3 + 0.2)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--models", default="resnet18,resnet50,vgg11,alexnet,squeezenet1_1,mobilenet_v2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--samples", type=int, default=0)
    a = ap.parse_args()
    for name in a.models.split(","):
        torch.manual_seed(a.seed)
        gen = torch.Generator().manual_seed(a.seed + 1)
        model = MODELS[name]().eval()
        randomise_batchnorm(model, gen)
        x = torch.randn(1, 3, a.size, a.size, generator=gen)
        with torch.no_grad():
            y = model(x)
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        # PRESERVE keeps BatchNormalization nodes (EVAL would fold them into the convs).
        torch.onnx.export(model, x, os.path.join(d, "model.onnx"), opset_version=a.opset,
                          input_names=["input"], output_names=["logits"],
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        np.save(os.path.join(d, "input.npy"), x.numpy())
        np.save(os.path.join(d, "output.npy"), y.numpy())
        if a.samples:
            xs = torch.randn(a.samples, 3, a.size, a.size, generator=gen)
            with torch.no_grad():
                ys = torch.cat([model(xs[i:i + 10]) for i in range(0, a.samples, 10)])
            np.save(os.path.join(d, "inputs.npy"), xs.numpy())
            np.save(os.path.join(d, "outputs.npy"), ys.numpy())
        meta = {"model": name, "torchvision": torchvision.__version__, "torch": torch.__version__,
                "seed": a.seed, "size": a.size, "opset": a.opset,
                "params": sum(p.numel() for p in model.parameters()),
                "rtol": 1e-3, "atol": 1e-5, "layout": "NCHW input; output is logits"}
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(name, meta["params"], "params ->", d)


if __name__ == "__main__":
    main()
