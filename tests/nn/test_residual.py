"""ResidualBlock against a PyTorch twin of the same block (forward and every gradient, relative error
< 1e-6), and the generic Residual wrapper by float64 central differences with a random dy."""
import numpy as np
import pytest

from backproplab import nn
from backproplab.analysis import check_module_grads

TOL = 1e-6
H = 1e-4


def torch_block(torch, cin, cout, stride, downsample):
    """conv-bn-relu-conv-bn plus the (projected) shortcut, then relu: the block in PyTorch."""
    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(cout)
            self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = torch.nn.BatchNorm2d(cout)
            self.downsample = (torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                   torch.nn.BatchNorm2d(cout)) if downsample else None)

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    return TorchBlock()


@pytest.mark.parametrize("cin,cout,stride", [(3, 3, 1), (3, 5, 2)])
def test_residual_block_matches_torch(torch, matches_torch, cin, cout, stride):
    rng = np.random.default_rng(10)
    m = nn.ResidualBlock(cin, cout, stride, rng=rng).double()
    t = torch_block(torch, cin, cout, stride, m.downsample).double()
    t.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in m.state_dict().items()})
    matches_torch(m, t, rng.standard_normal((2, cin, 6, 5)), rng, TOL)


def test_generic_residual_gradcheck():
    rng = np.random.default_rng(11)
    body = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, rng=rng), nn.Tanh())
    for block in (nn.Residual(body), nn.Residual(body, nn.Conv2d(2, 2, 1, rng=rng))):
        block.double()
        errors = check_module_grads(block, rng.standard_normal((2, 2, 4, 4)), rng, h=H)
        assert max(errors.values()) < TOL, errors
