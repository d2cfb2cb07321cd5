"""Visual output: image conversion, HTML result pages, the loss log and the visdom dashboard.

Exports only; visdom and dominate are imported where they are used, never here.
"""

from .html import HTMLPage
from ..io.files import atomic_write
from .images import make_grid_image, save_image, tensor2im
from .loss_log import LossLog
from .visualizer import TrainingVisualizer

__all__ = ["HTMLPage", "LossLog", "TrainingVisualizer", "atomic_write", "make_grid_image", "save_image", "tensor2im"]
