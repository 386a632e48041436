"""`python -m relayops.cli`, the same as the `relayops` script."""

import sys

from relayops.cli.main import main

sys.exit(main())
