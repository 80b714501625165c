"""`robot-stack record`: teleop + cameras + an episode writer that never blocks the loop.

session.py (episode state machine), take.py (one take's hand-offs), frames.py (cameras → writer),
scene.py (reset between takes; sim re-randomisation), keys.py, quality.py, panel.py, workflow.py.
"""
