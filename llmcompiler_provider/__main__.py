import sys

from llmcompiler_provider.cli import main

sys.exit(main())
