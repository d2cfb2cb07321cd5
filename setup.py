"""gantool: GAN training and image-to-image translation toolkit (CycleGAN, pix2pix, DCGAN, ...)."""
from setuptools import find_packages, setup

setup(
    name="gantool",
    version="0.1.0",
    description="Train GANs and translate images between domains, on a laptop CPU or a GPU",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["gantool", "gantool.*"]),
    # The small pretrained generators (gantool/pretrained/<name>/latest_net_G.pth + .json).
    package_data={"gantool": ["pretrained/*/*.pth", "pretrained/*/*.json", "metrics/weights/*.pth"]},
    install_requires=[
        # The pair must match: torchvision's compiled ops are built against one torch release.
        "torch==2.14.1",
        "torchvision==0.29.1",
        "pillow",
        "numpy",
        "dominate",
        "tqdm",
        "visdom",
        # tornado 6.6 answers 403 for visdom's page.
        "tornado<6.6",
    ],
    # The tests cover the ONNX export and the logging sinks too, so they install what those need.
    extras_require={"test": ["pytest", "onnx==1.23.2", "onnxscript==0.7.2", "tensorboard", "wandb"],
                    "onnx": ["onnx==1.23.2", "onnxscript==0.7.2"],
                    "tensorboard": ["tensorboard"],  # --use_tensorboard
                    "wandb": ["wandb"]},  # --use_wandb
    entry_points={"console_scripts": ["gantool=gantool.cli:main"]},
)
