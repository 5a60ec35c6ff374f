"""``python -m backproplab`` = the ``backproplab`` command."""
import sys

from .cli import main

sys.exit(main())
