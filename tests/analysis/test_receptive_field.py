"""analysis.receptive_field: extents, jumps and the taps actually seen, by hand (Yu & Koltun's 3, 7, 15)
and against the pixels PyTorch's autograd finds an output unit depends on."""
from backproplab.analysis.receptive_field import receptive_field, receptive_field_size


def test_receptive_field_dilated_stack_3_7_15():
    # Yu & Koltun 2016: 3x3 convs with dilation 1, 2, 4 -> 3, 7, 15, every pixel covered
    rows = receptive_field([3, 3, 3], dilations=[1, 2, 4])
    assert [r.extent for r in rows] == [3, 7, 15]
    assert [r.seen for r in rows] == [3, 7, 15]


def test_receptive_field_with_strides():
    # k=3,s=2 then k=3,s=2 then k=3,s=1: R = 1+2·1 = 3; 3+2·2 = 7; 7+2·4 = 15; jumps 2, 4, 4
    rows = receptive_field([3, 3, 3], strides=[2, 2, 1])
    assert [(r.extent, r.jump) for r in rows] == [(3, 2), (7, 4), (15, 4)]
    # VGG-style: three 3x3 stride-1 convs = one 7x7: 1 + 2 + 2 + 2 = 7
    assert receptive_field_size([3, 3, 3]) == 7


def test_receptive_field_matches_gradient_footprint_in_torch(torch):
    """The pixels an output unit depends on, found by autograd, equal the formula's 'seen' and extent."""
    for ks, ss, ds in [([3, 3, 3], [1, 1, 1], [1, 2, 4]), ([3, 3], [1, 1], [2, 2]), ([3, 2, 3], [2, 1, 1], [1, 1, 2]),
                       ([5, 3], [2, 2], [1, 3])]:
        layers = []
        for k, s, d in zip(ks, ss, ds):
            c = torch.nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False).double()
            torch.nn.init.constant_(c.weight, 1.0)  # positive weights: no accidental cancellation
            layers.append(c)
        net = torch.nn.Sequential(*layers)
        x = torch.zeros(1, 1, 64, 64, dtype=torch.float64, requires_grad=True)
        net(x)[0, 0, 0, 0].backward()
        footprint = (x.grad[0, 0, 0] != 0).nonzero().flatten().tolist()  # columns touched, row 0
        rows = receptive_field(ks, ss, ds)
        assert len(footprint) == rows[-1].seen
        assert footprint[-1] - footprint[0] + 1 == rows[-1].extent
