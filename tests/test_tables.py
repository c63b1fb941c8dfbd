"""The pieces the table datamodules share (datamodules/tables.py): the stratified hold-out
keeps every class's share in every part and is drawn from the seed alone; the baseline's
class is the training split's commonest."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import Subset

from datamodules.tables import TableDataModule, stratified_split

#: Three classes of 500, 300 and 200 rows, interleaved as a file would give them.
LABELS = torch.tensor([0, 1, 0, 2, 0, 1, 0, 1, 0, 2] * 100)
FRACTIONS = {"val_fraction": 0.2, "test_fraction": 0.1}


def test_the_stratified_hold_out_keeps_each_classs_share_in_each_part():
    parts = stratified_split(LABELS, FRACTIONS, seed=0)
    assert sorted(sum(parts, [])) == list(range(len(LABELS)))  # disjoint and complete
    for part, share in zip(parts, (0.7, 0.2, 0.1), strict=True):
        counts = LABELS[part].bincount().tolist()
        assert counts == [round(share * 500), round(share * 300), round(share * 200)]


def test_the_stratified_hold_out_is_drawn_from_the_seed_alone():
    torch.manual_seed(1)  # the global random state plays no part
    first = stratified_split(LABELS, FRACTIONS, seed=0)
    torch.manual_seed(2)
    assert stratified_split(LABELS, FRACTIONS, seed=0) == first
    assert stratified_split(LABELS, FRACTIONS, seed=1)[1] != first[1]


def test_a_fraction_that_holds_out_no_row_is_refused():
    with pytest.raises(ValueError, match="val_fraction 0.01 of 10 rows is an empty split"):
        stratified_split(LABELS[:10], {"val_fraction": 0.01}, seed=0)


@pytest.mark.parametrize("labels, majority", [([0, 2, 2, 1], 2), ([1, 0, 0, 1], 1), ([0, 0, 1], 0)])
def test_the_majority_class_is_the_commonest_training_label_the_larger_on_a_tie(labels, majority):
    data = TableDataModule()
    data.splits["train"] = [(torch.zeros(1), label) for label in labels]
    assert data.majority_class == majority


def test_the_majority_class_of_a_subset_counts_only_the_subsets_rows():
    dataset = SimpleNamespace(y=torch.tensor([[1.0], [1.0], [1.0], [0.0], [0.0]]))
    data = TableDataModule()
    data.splits["train"] = Subset(dataset, [2, 3, 4])  # as diabetes and Titanic hold theirs
    assert data.majority_class == 0
