"""``python -m bpviz`` runs the command line."""
from .cli import main

main()
