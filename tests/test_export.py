"""Export: the nets of lessons 5-13 leave Lightning as TorchScript (script and trace), as a
torch.export program and as an ONNX file, each giving the lesson's own outputs.

Every case builds a lesson with seed 0, exports it the way a Lightning user would
(``model.to_torchscript``, ``torch.export.export``, ``model.to_onnx``), runs what was
exported on the input it was exported with, and compares with ``model(x)``. torch.export and
ONNX declare the first dimension a batch of any size (``BATCH``) and are run at two other
batch sizes too (lecture 12's nets read one sequence, with no batch to declare). ONNX files are
run by onnx's reference evaluator (no runtime beyond the ``export`` extra), whose GRU ignores
the sequence lengths: lesson 13's ONNX file is checked on names of one length (its
TorchScript on names of several). The default tier runs one lesson per way; ``-m slow`` all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from datamodules.names import encode
from lessons.advanced_cnn import InceptionNet, ResidualNet
from lessons.cnn import CNN
from lessons.diabetes import DiabetesClassifier
from lessons.linear_regression import LinearRegression
from lessons.logistic_regression import LogisticRegression
from lessons.name_classifier import EXPORT_REFUSAL, NameClassifier
from lessons.rnn_basics import HelloEmbedding, HelloRNN, HelloRNNCell
from lessons.softmax import SoftmaxClassifier
from lessons.speedrun import SpeedrunNet


def names(*surnames: str) -> torch.Tensor:
    """Lesson 13's input: ASCII codes [B, T], padded with 0, longest first (as its batches)."""
    rows = sorted((torch.tensor(encode(name)) for name in surnames), key=len, reverse=True)
    return pad_sequence(rows, batch_first=True)


def images() -> torch.Tensor:
    return torch.rand(3, 1, 28, 28)


def hello(lesson: type[L.LightningModule]) -> Callable[[], tuple[L.LightningModule, torch.Tensor]]:
    def build() -> tuple[L.LightningModule, torch.Tensor]:
        model = lesson()
        return model, model.encode("hello")

    return build


#: Each lesson's net and an input of its own kind, built after seeding.
LESSONS: dict[str, Callable[[], tuple[L.LightningModule, torch.Tensor]]] = {
    "linear_regression": lambda: (LinearRegression(), torch.tensor([[1.0], [2.0], [4.0]])),
    "logistic_regression": lambda: (LogisticRegression(), torch.tensor([[1.0], [2.5], [4.0]])),
    "diabetes": lambda: (DiabetesClassifier(), torch.rand(5, 8) * 2 - 1),
    "diabetes_stack": lambda: (
        DiabetesClassifier(hidden_sizes=[16, 8], activation="relu"),
        torch.rand(5, 8) * 2 - 1,
    ),
    "softmax": lambda: (SoftmaxClassifier(), images()),
    "cnn": lambda: (CNN(), images()),
    "inception": lambda: (InceptionNet(), images()),
    "residual": lambda: (ResidualNet(), images()),
    "speedrun": lambda: (SpeedrunNet(), images()),
    "hello_rnn_cell": hello(HelloRNNCell),
    "hello_rnn": hello(HelloRNN),
    "hello_embedding": hello(HelloEmbedding),
    "names": lambda: (NameClassifier(), names("Nakamura", "Smith", "Li")),
}


#: Lecture 12's nets read one sequence, "hello", with no batch dimension.
ONE_SEQUENCE = ("hello_rnn_cell", "hello_rnn", "hello_embedding")
#: torch.export's and ONNX's ``dynamic_shapes``: the input's first dimension is the batch,
#: any size, instead of the example's size, which the program would otherwise require.
BATCH = ({0: torch.export.Dim("batch")},)
#: The batch sizes an exported net is run at besides its example's.
OTHER_BATCH_SIZES = (1, 8)


#: The nets whose input is a batch; lesson 13's (names) refuses torch.export.
BATCHED = tuple(name for name in LESSONS if name not in ("names", *ONE_SEQUENCE))


def lessons(default: str, *, without: tuple[str, ...] = ()) -> list:
    """The lessons as test cases: ``default`` in the default tier, the others under slow."""
    return [
        pytest.param(name, marks=() if name == default else pytest.mark.slow, id=name)
        for name in LESSONS
        if name not in without
    ]


def build(name: str) -> tuple[L.LightningModule, torch.Tensor, torch.Tensor]:
    """The lesson in eval mode, its input and its own output on it."""
    torch.manual_seed(0)
    model, x = LESSONS[name]()
    model.eval()
    with torch.no_grad():
        return model, x, model(x)


@pytest.mark.parametrize("name", lessons("hello_rnn_cell"))
def test_torchscript_script_gives_the_lessons_outputs(tmp_path: Path, name: str) -> None:
    model, x, expected = build(name)
    model.to_torchscript(tmp_path / "model.pt")  # method="script", Lightning's default
    scripted = torch.jit.load(tmp_path / "model.pt")
    torch.testing.assert_close(scripted(x), expected)


@pytest.mark.parametrize("name", lessons("names"))
def test_torchscript_trace_gives_the_lessons_outputs(name: str) -> None:
    model, x, expected = build(name)
    traced = model.to_torchscript(method="trace", example_inputs=x)
    torch.testing.assert_close(traced(x), expected)


def test_torchscript_of_lesson13_reads_each_names_length() -> None:
    """Other names than those it was made from, of other lengths: the packing is in the
    program, not the lengths of the example."""
    model, x, _ = build("names")
    other = names("Zhang", "Schumacher", "O'Neil", "Ng")
    for method in ("script", "trace"):
        exported = model.to_torchscript(method=method, example_inputs=x)
        with torch.no_grad():
            torch.testing.assert_close(exported(other), model(other))


def other_batches(
    model: L.LightningModule, x: torch.Tensor
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Inputs like ``x`` of the other batch sizes, and the lesson's outputs on them."""
    torch.manual_seed(1)
    inputs = [torch.rand(size, *x.shape[1:]) * 2 - 1 for size in OTHER_BATCH_SIZES]
    with torch.no_grad():
        return [(other, model(other)) for other in inputs]


@pytest.mark.parametrize("name", lessons("cnn", without=("names", *ONE_SEQUENCE)))
def test_torch_export_with_a_dynamic_batch_gives_the_lessons_outputs(name: str) -> None:
    model, x, expected = build(name)
    program = torch.export.export(model, (x,), dynamic_shapes=BATCH)
    torch.testing.assert_close(program.module()(x), expected)
    for other, other_expected in other_batches(model, x):
        torch.testing.assert_close(program.module()(other), other_expected)


@pytest.mark.parametrize("name", lessons("hello_rnn", without=("names", *BATCHED)))
def test_torch_export_of_one_sequence_gives_the_lessons_outputs(name: str) -> None:
    model, x, expected = build(name)
    program = torch.export.export(model, (x,))
    torch.testing.assert_close(program.module()(x), expected)


def test_torch_export_of_lesson13_refuses_in_one_line_naming_the_alternatives() -> None:
    model, x, _ = build("names")
    with pytest.raises(NotImplementedError) as refusal:
        torch.export.export(model, (x,))
    assert str(refusal.value) == EXPORT_REFUSAL
    assert "\n" not in EXPORT_REFUSAL and "to_torchscript()" in EXPORT_REFUSAL


def run_onnx(path: Path, x: torch.Tensor) -> torch.Tensor:
    """The ONNX file's output on ``x``, computed by onnx's reference evaluator."""
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    proto = onnx.load(path)
    (output,) = ReferenceEvaluator(proto).run(None, {proto.graph.input[0].name: x.numpy()})
    return torch.from_numpy(output)


@pytest.mark.parametrize("name", lessons("cnn", without=("names", *ONE_SEQUENCE)))
def test_onnx_with_a_dynamic_batch_gives_the_lessons_outputs(tmp_path: Path, name: str) -> None:
    pytest.importorskip("onnxscript")  # torch's default exporter, through torch.export
    onnx = pytest.importorskip("onnx")
    model, x, expected = build(name)
    path = tmp_path / "model.onnx"
    model.to_onnx(path, x, dynamic_shapes=BATCH)
    graph = onnx.load(path).graph
    for declared in (graph.input[0], graph.output[0]):  # a named axis, not the example's size
        assert declared.type.tensor_type.shape.dim[0].dim_param == "batch"
    torch.testing.assert_close(run_onnx(path, x), expected)
    for other, other_expected in other_batches(model, x):
        torch.testing.assert_close(run_onnx(path, other), other_expected)


@pytest.mark.parametrize("name", lessons("hello_rnn", without=("names", *BATCHED)))
def test_onnx_of_one_sequence_gives_the_lessons_outputs(tmp_path: Path, name: str) -> None:
    pytest.importorskip("onnxscript")
    model, x, expected = build(name)
    model.to_onnx(tmp_path / "model.onnx", x)
    torch.testing.assert_close(run_onnx(tmp_path / "model.onnx", x), expected)


def test_onnx_of_lesson13_gives_its_outputs(tmp_path: Path) -> None:
    """Names of one length: the reference evaluator's GRU ignores ONNX's sequence lengths."""
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    model = NameClassifier().eval()
    x = names("Smith", "Jones", "Zhang")
    model.to_onnx(tmp_path / "names.onnx", x)
    with torch.no_grad():
        torch.testing.assert_close(run_onnx(tmp_path / "names.onnx", x), model(x))
