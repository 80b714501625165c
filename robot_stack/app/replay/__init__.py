"""`robot-stack replay`: a recorded episode's actions sent back to the followers at their timing."""
