"""The lessons do the course's maths: its own plain code, from the same initial weights and on
the same data in the same order, gives the same losses and weights.

- Lesson 12 ("hello" → "ohlol"): the course's three scripts (RNNCell, RNN, Embedding), written
  as the course writes them; same losses every epoch and same final weights, to 1e-6.
- Lesson 9 (MNIST): the course's net, ``train()`` loop and optimizer, fed the batches of the
  course's torchvision way (``ToTensor`` + ``Normalize`` per image) in the lesson's order; the
  lesson trains on the fast way; the first 100 steps' losses agree to 1e-5.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from helpers import PLAIN_TRAINER

from datamodules.hello import HelloDataModule
from datamodules.mnist import MNISTDataModule
from lessons.rnn_basics import HelloEmbedding, HelloRNN, HelloRNNCell
from lessons.softmax import SoftmaxClassifier

# --- lesson 12: the course's code ---

input_size = 4
hidden_size = 4
batch_size = 1
idx2char = ["e", "h", "l", "o"]
x_data = [1, 0, 2, 2, 3]  # hello
y_data = [3, 1, 2, 3, 2]  # ohlol
one_hot_lookup = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


class CourseRNNCellModel(torch.nn.Module):
    def __init__(self, input_size, hidden_size, batch_size):
        super().__init__()
        self.batch_size = batch_size
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.rnncell = torch.nn.RNNCell(input_size=self.input_size, hidden_size=self.hidden_size)

    def forward(self, input, hidden):
        hidden = self.rnncell(input, hidden)
        return hidden

    def init_hidden(self):
        return torch.zeros(self.batch_size, self.hidden_size)


def course_rnn_cell(net: CourseRNNCellModel, epochs: int, lr: float) -> list[float]:
    x_one_hot = [one_hot_lookup[x] for x in x_data]
    inputs = torch.Tensor(x_one_hot).view(-1, batch_size, input_size)
    labels = torch.LongTensor(y_data).view(-1, 1)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for _epoch in range(epochs):
        loss = 0
        optimizer.zero_grad()
        hidden = net.init_hidden()
        for input, label in zip(inputs, labels):
            hidden = net(input, hidden)
            loss += criterion(hidden, label)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


class CourseRNNModel(torch.nn.Module):
    def __init__(self, input_size, hidden_size, batch_size, num_layers=1):
        super().__init__()
        self.num_layers = num_layers
        self.batch_size = batch_size
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.rnn = torch.nn.RNN(
            input_size=self.input_size, hidden_size=self.hidden_size, num_layers=num_layers
        )

    def forward(self, input):
        hidden = torch.zeros(self.num_layers, self.batch_size, self.hidden_size)
        out, _ = self.rnn(input, hidden)
        return out.view(-1, self.hidden_size)


num_class = 4
embedding_size = 10
num_layers = 2


class CourseEmbeddingModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(input_size, embedding_size)
        self.rnn = torch.nn.RNN(
            input_size=embedding_size, hidden_size=8, num_layers=num_layers, batch_first=True
        )
        self.fc = torch.nn.Linear(8, num_class)

    def forward(self, x):
        hidden = torch.zeros(num_layers, x.size(0), 8)
        x = self.emb(x)
        x, _ = self.rnn(x, hidden)
        x = self.fc(x)
        return x.view(-1, num_class)


def course_sequence(net: torch.nn.Module, inputs: torch.Tensor, epochs: int, lr: float):
    """The course's loop of the RNN and Embedding scripts."""
    labels = torch.LongTensor(y_data)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for _epoch in range(epochs):
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def course_run(lesson: L.LightningModule, epochs: int, lr: float):
    """The course's script of ``lesson``'s kind, from the lesson's initial weights."""
    if isinstance(lesson, HelloRNNCell):
        net = CourseRNNCellModel(input_size, hidden_size, batch_size)
        net.load_state_dict(lesson.state_dict())
        return net, course_rnn_cell(net, epochs, lr)
    if isinstance(lesson, HelloRNN):
        net = CourseRNNModel(input_size, hidden_size, batch_size)
        net.load_state_dict(lesson.state_dict())
        x_one_hot = [one_hot_lookup[x] for x in x_data]
        inputs = torch.Tensor(x_one_hot).view(len(x_data), batch_size, input_size)
        return net, course_sequence(net, inputs, epochs, lr)
    net = CourseEmbeddingModel()
    net.load_state_dict(lesson.state_dict())
    return net, course_sequence(net, torch.LongTensor([x_data]), epochs, lr)


@pytest.mark.parametrize(
    ("lesson_class", "lr"), [(HelloRNNCell, 0.1), (HelloRNN, 0.05), (HelloEmbedding, 0.05)]
)
def test_lesson_12_gives_the_course_scripts_losses_and_weights(lesson_class, lr):
    torch.manual_seed(0)
    optimizer = lambda params: torch.optim.Adam(params, lr=lr)  # noqa: E731
    lesson = lesson_class(optimizer=optimizer, course_steps_per_batch=5, print_every=0)
    net, course_losses = course_run(lesson, epochs=15, lr=lr)  # the course's 15 epochs
    L.Trainer(max_epochs=3, **PLAIN_TRAINER).fit(lesson, HelloDataModule())  # 3 × 5 course epochs
    torch.testing.assert_close(
        torch.tensor(lesson.loss_history), torch.tensor(course_losses), rtol=0, atol=1e-6
    )
    for name, value in net.state_dict().items():
        torch.testing.assert_close(lesson.state_dict()[name], value, rtol=0, atol=1e-6)


# --- lesson 9: the course's code ---


class CourseNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(784, 512)
        self.l2 = torch.nn.Linear(512, 256)
        self.l3 = torch.nn.Linear(256, 128)
        self.l4 = torch.nn.Linear(128, 64)
        self.l5 = torch.nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, 784)
        x = F.relu(self.l1(x))
        x = F.relu(self.l2(x))
        x = F.relu(self.l3(x))
        x = F.relu(self.l4(x))
        return self.l5(x)


class StepLosses(L.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(outputs["loss"].item())  # the mini-batch's loss


def test_lesson_9_first_100_steps_give_the_course_loops_losses():
    steps = 100
    torch.manual_seed(0)
    lesson = SoftmaxClassifier(
        optimizer=lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.5), print_every=0
    )
    model = CourseNet()
    linears = [layer for layer in lesson.net if isinstance(layer, torch.nn.Linear)]
    for course_layer, layer in zip([model.l1, model.l2, model.l3, model.l4, model.l5], linears):
        course_layer.load_state_dict(layer.state_dict())

    # The course's train(), on the course's per-image transforms, in the lesson's order.
    course_data = MNISTDataModule(loader="torchvision", val_fraction=0)
    course_data.prepare_data()
    course_data.setup("fit")
    train_loader = course_data.train_dataloader()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    course_losses = []
    for batch_idx, data in enumerate(train_loader, 0):
        if batch_idx == steps:
            break
        inputs, target = data
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, target)
        loss.backward()
        optimizer.step()
        course_losses.append(loss.item())

    recorder = StepLosses()
    trainer = L.Trainer(max_steps=steps, limit_val_batches=0, callbacks=[recorder], **PLAIN_TRAINER)
    trainer.fit(lesson, MNISTDataModule(loader="fast", val_fraction=0))
    assert len(recorder.losses) == steps
    torch.testing.assert_close(
        torch.tensor(recorder.losses), torch.tensor(course_losses), rtol=0, atol=1e-5
    )
