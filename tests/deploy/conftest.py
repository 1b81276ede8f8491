import sys
from pathlib import Path

# The checks share one helper module next to them (pytest runs with --import-mode=importlib,
# which does not put test directories on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parent))
