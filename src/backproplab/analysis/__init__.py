"""backproplab.analysis: gradient checks, counting, receptive fields, gradient norms, saliency."""
from .gradcheck import check_module_grads, numerical_grad, rel_error
from .summary import format_summary, print_summary, summary
from .torch_compare import compare_with_torch
