"""kerastricks.active: acquisition functions, uncertainty from ensembles and MC dropout,
and an active-learning loop whose labels survive a crash."""

from kerastricks.active.acquisition_registry import get_acquisition, needs_members
from kerastricks.active.active_learner import ActiveLearner
from kerastricks.active.batch_bald import batch_bald
from kerastricks.active.dense_acquisition import dense_acquisition
from kerastricks.active.disagreement import bald, mean_std, variation_ratio
from kerastricks.active.ensemble import Ensemble
from kerastricks.active.kcenter_greedy import kcenter_greedy
from kerastricks.active.learner_options import Acquisition, LabelPlan, RoundTraining
from kerastricks.active.mc_predict import mc_predict
from kerastricks.active.prompt_oracle import prompt_oracle
from kerastricks.active.representative_batch import representative_batch
from kerastricks.active.uncertainty import entropy, least_confidence, margin

__all__ = [
    "Acquisition",
    "ActiveLearner",
    "Ensemble",
    "LabelPlan",
    "RoundTraining",
    "bald",
    "batch_bald",
    "dense_acquisition",
    "entropy",
    "get_acquisition",
    "kcenter_greedy",
    "least_confidence",
    "margin",
    "mc_predict",
    "mean_std",
    "needs_members",
    "prompt_oracle",
    "representative_batch",
    "variation_ratio",
]
