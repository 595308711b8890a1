# Filled by setup.py at build time (generated from proto/).
