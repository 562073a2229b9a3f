"""Pure chart functions: typed records / Runs -> plotly.graph_objects.Figure.

No Streamlit and no TensorFlow here; every function takes vgrad.records' records (as streamed by
the engine or the training service) and returns a Figure sized to fill its container's width.
User text (layer and run names) is escaped before it reaches a label.
"""

from vgrad.charts._common import column_edges, layer_labels, pow10_label, stat_matrix
from vgrad.charts.activations import activation_health
from vgrad.charts.boundary import decision_boundary
from vgrad.charts.confusion import confusion_matrix
from vgrad.charts.curves import loss_accuracy
from vgrad.charts.flow import gradient_flow, ratio_text
from vgrad.charts.heatmap import gradient_heatmap, log_range, log_stat_grid
from vgrad.charts.snapshot import find_snapshot, kernel_gradient, snapshot_steps

__all__ = [
    "activation_health", "column_edges", "confusion_matrix", "decision_boundary", "find_snapshot", "gradient_flow",
    "gradient_heatmap", "kernel_gradient", "layer_labels", "log_range", "log_stat_grid", "loss_accuracy",
    "pow10_label", "ratio_text", "snapshot_steps", "stat_matrix",
]
