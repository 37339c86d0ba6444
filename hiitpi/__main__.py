import sys

from hiitpi.cli import main

sys.exit(main())
