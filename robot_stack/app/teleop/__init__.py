"""Leader-follower teleoperation: the 50 Hz loop (`loop.py`) and its live panel (`panel.py`)."""
