"""Evaluation of trained policies on the simulated rig (lockstep time, real driver stack).

report = evaluate("runs/act", rig, EvalSettings(task="transfer_cube", episodes=50), "runs/act/eval")
"""

from robot_stack.app.evaluation.rollout import EpisodeResult, run_episode
from robot_stack.app.evaluation.run import EvalReport, EvalSettings, evaluate
from robot_stack.app.evaluation.stats import wilson_interval

__all__ = ["EpisodeResult", "EvalReport", "EvalSettings", "evaluate", "run_episode", "wilson_interval"]
