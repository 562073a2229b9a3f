"""Pure chart functions: records / Run frames -> plotly.graph_objects.Figure.

No Streamlit and no TensorFlow here; every function takes plain record dicts (as streamed by
the engine or the backend service) and returns a Figure sized to fill its container's width.
"""

from vgrad.charts._common import column_edges, layer_labels, pow10_label, stat_matrix
from vgrad.charts.activations import activation_health
from vgrad.charts.boundary import decision_boundary
from vgrad.charts.curves import loss_accuracy
from vgrad.charts.flow import gradient_flow, ratio_text
from vgrad.charts.headline import Headline, attenuation_text, divergence_banner, headline
from vgrad.charts.heatmap import gradient_heatmap, log_range, log_stat_grid
from vgrad.charts.snapshot import find_snapshot, kernel_gradient, snapshot_steps

__all__ = [
    "Headline", "activation_health", "attenuation_text", "column_edges", "decision_boundary",
    "divergence_banner", "find_snapshot", "gradient_flow", "gradient_heatmap", "headline",
    "kernel_gradient", "layer_labels", "log_range", "log_stat_grid", "loss_accuracy", "pow10_label", "ratio_text",
    "snapshot_steps", "stat_matrix",
]
