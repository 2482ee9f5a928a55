import sys

from isla_nnunet.cli import main

sys.exit(main())
