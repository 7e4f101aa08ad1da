"""Metric-learning and self-supervised losses under one name: the TensorFlow Addons family
reborn for Keras 3 (`tfa.losses.metric_learning`), plus NT-Xent and supervised contrastive.

A re-export of their modules, by family: `triplet` (triplet and
lifted-structured losses, mined in the batch, and the distance matrices),
`contrastive` (pair distances and N-pairs similarity matrices) and
`self_supervised` (NT-Xent, SupCon).
"""

from keras_lossopt.losses.contrastive import (
    ContrastiveLoss,
    NpairsLoss,
    NpairsMultilabelLoss,
    contrastive_loss,
    npairs_loss,
    npairs_multilabel_loss,
)
from keras_lossopt.losses.self_supervised import (
    NTXent,
    SupervisedContrastive,
    nt_xent_loss,
    supervised_contrastive_loss,
)
from keras_lossopt.losses.triplet import (
    LiftedStructLoss,
    TripletHardLoss,
    TripletSemiHardLoss,
    angular_distance,
    lifted_struct_loss,
    pairwise_distance,
    triplet_hard_loss,
    triplet_semihard_loss,
)

__all__ = [
    "pairwise_distance", "angular_distance",
    "contrastive_loss", "ContrastiveLoss", "npairs_loss", "NpairsLoss",
    "npairs_multilabel_loss", "NpairsMultilabelLoss",
    "triplet_semihard_loss", "TripletSemiHardLoss", "triplet_hard_loss", "TripletHardLoss",
    "lifted_struct_loss", "LiftedStructLoss",
    "nt_xent_loss", "NTXent", "supervised_contrastive_loss", "SupervisedContrastive",
]
