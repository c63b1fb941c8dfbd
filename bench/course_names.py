"""The course's own code for lesson 13 (name → country), in plain PyTorch, as the course writes
it: the baseline of lesson 13 in bench/threads.py.

    python bench/course_names.py [--epochs 100] [--batches N] [--test-batches M]

It prints the course's lines and, last, {"accuracy", "train_s"} as JSON. The one change from
the course: the rows are read from ``$LESSONS_DATA_DIR`` through the project's reader
(``datamodules.names.read_names``, which drops accents: "Müller" → "Muller"), because the
course's ``Embedding(128, …)`` cannot read a code above 127; each name goes back to a string,
which the course's ``name2list`` turns into codes. ``--batches`` and ``--test-batches`` cut an
epoch short, as bench/course_cnn.py's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from datamodules.files import fetch  # noqa: E402
from datamodules.names import NAMES_TEST, NAMES_TRAIN, read_names  # noqa: E402

HIDDEN_SIZE = 100
BATCH_SIZE = 256
N_LAYER = 2
N_CHARS = 128


class NameDataset(Dataset):
    def __init__(self, is_train_set=True):
        rows = read_names(fetch(NAMES_TRAIN if is_train_set else NAMES_TEST, None))
        self.names = ["".join(map(chr, codes)) for codes, _ in rows]
        self.len = len(self.names)
        self.countries = [country for _, country in rows]
        self.country_list = sorted(set(self.countries))
        self.country_dict = {name: idx for idx, name in enumerate(self.country_list)}
        self.country_num = len(self.country_list)

    def __getitem__(self, index):
        return self.names[index], self.country_dict[self.countries[index]]

    def __len__(self):
        return self.len


class RNNClassifier(torch.nn.Module):
    def __init__(self, input_size, hidden_size, output_size, n_layers=1, bidirectional=True):
        super().__init__()
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_directions = 2 if bidirectional else 1
        self.embedding = torch.nn.Embedding(input_size, hidden_size)
        self.gru = torch.nn.GRU(hidden_size, hidden_size, n_layers, bidirectional=bidirectional)
        self.fc = torch.nn.Linear(hidden_size * self.n_directions, output_size)

    def _init_hidden(self, batch_size):
        return torch.zeros(self.n_layers * self.n_directions, batch_size, self.hidden_size)

    def forward(self, input, seq_lengths):
        input = input.t()  # B x S -> S x B
        batch_size = input.size(1)
        hidden = self._init_hidden(batch_size)
        embedding = self.embedding(input)
        gru_input = pack_padded_sequence(embedding, seq_lengths)
        output, hidden = self.gru(gru_input, hidden)
        if self.n_directions == 2:
            hidden_cat = torch.cat([hidden[-1], hidden[-2]], dim=1)
        else:
            hidden_cat = hidden[-1]
        return self.fc(hidden_cat)


def name2list(name):
    arr = [ord(c) for c in name]
    return arr, len(arr)


def make_tensors(names, countries):
    sequences_and_lengths = [name2list(name) for name in names]
    name_sequences = [sl[0] for sl in sequences_and_lengths]
    seq_lengths = torch.LongTensor([sl[1] for sl in sequences_and_lengths])
    countries = countries.long()
    seq_tensor = torch.zeros(len(name_sequences), seq_lengths.max()).long()
    for idx, (seq, seq_len) in enumerate(zip(name_sequences, seq_lengths), 0):
        seq_tensor[idx, :seq_len] = torch.LongTensor(seq)
    seq_lengths, perm_idx = seq_lengths.sort(dim=0, descending=True)
    return seq_tensor[perm_idx], seq_lengths, countries[perm_idx]


def time_since(since):
    s = time.time() - since
    m = math.floor(s / 60)
    s -= m * 60
    return "%dm %ds" % (m, s)  # noqa: UP031


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batches", type=int, default=0, help="train only the first N batches")
    parser.add_argument("--test-batches", type=int, default=0, help="test on the first N batches")
    args = parser.parse_args()

    trainset = NameDataset(is_train_set=True)
    trainloader = DataLoader(trainset, batch_size=BATCH_SIZE, shuffle=True)
    testset = NameDataset(is_train_set=False)
    testloader = DataLoader(testset, batch_size=BATCH_SIZE, shuffle=False)
    classifier = RNNClassifier(N_CHARS, HIDDEN_SIZE, trainset.country_num, N_LAYER)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=0.001)

    def trainModel():  # noqa: N802 (the course's names)
        total_loss = 0
        for i, (names, countries) in enumerate(trainloader, 1):
            if i > args.batches > 0:
                break  # not in the course: a short run (--batches)
            inputs, seq_lengths, target = make_tensors(names, countries)
            output = classifier(inputs, seq_lengths)
            loss = criterion(output, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
            if i % 10 == 0:
                print(f"[{time_since(start)}] Epoch {epoch} ", end="")
                print(f"[{i * len(inputs)}/{len(trainset)}] ", end="")
                print(f"loss={total_loss / (i * len(inputs))}")
        return total_loss

    def testModel():  # noqa: N802
        correct = 0
        total = 0
        print("evaluating trained model ...")
        with torch.no_grad():
            for i, (names, countries) in enumerate(testloader, 1):
                if i > args.test_batches > 0:
                    break  # not in the course: a short run (--test-batches)
                inputs, seq_lengths, target = make_tensors(names, countries)
                output = classifier(inputs, seq_lengths)
                pred = output.max(dim=1, keepdim=True)[1]
                correct += pred.eq(target.view_as(pred)).sum().item()
                total += len(target)  # the course: len(testset), all of it
        percent = "%.2f" % (100 * correct / total)  # noqa: UP031
        print(f"Test set: Accuracy {correct}/{total} {percent}%")
        return correct / total

    start = time.time()
    print("Training for %d epochs..." % args.epochs)  # noqa: UP031
    acc_list = []
    for epoch in range(1, args.epochs + 1):  # noqa: B007 (trainModel prints it)
        trainModel()
        acc_list.append(testModel())
    summary = {"accuracy": acc_list[-1], "train_s": time.time() - start}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
