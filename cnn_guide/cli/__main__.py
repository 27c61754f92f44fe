"""``python -m cnn_guide.cli``: the ``cnn-guide`` command."""

import sys

from cnn_guide.cli import main

sys.exit(main())
