"""Machines as data: states and labelled transitions, written as DOT text or JSON and read back.

A presentation, its mixed-state presentation or its epsilon-machine becomes a `Machine`: `matrices[x, i, j]`, the
weight of emitting token `x` while moving from state `i` to `j` (a probability for a hidden Markov model or an
epsilon-machine, any real number for a generalized model), the states' labels and, where known, their stationary
probabilities. DOT is Graphviz's graph language (any Graphviz tool draws it); the JSON lists the same states and
transitions. Both carry every weight in full precision (`repr` of the float), so reading either back gives the same
matrices.
"""

import json
import re
from dataclasses import dataclass

import numpy as np

from simplexity.generative_processes.causal_states import causal_states
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.mixed_state_presentation import mixed_state_graph


@dataclass(frozen=True)
class Machine:
    """States and weighted, token-labelled transitions.

    Arguments:
        name: what the machine presents (a process's name and which machine).
        matrices: `T[x, i, j]`, shape `(vocab, states, states)`.
        labels: one label per state.
        state_probabilities: the long-run probability of each state, or None where not defined.
    """

    name: str
    matrices: np.ndarray
    labels: tuple[str, ...]
    state_probabilities: np.ndarray | None = None

    @property
    def transitions(self) -> list[tuple[int, int, int, float]]:
        """Every transition of non-zero weight as `(source, token, target, weight)`, by source, token, target."""
        tokens, sources, targets = np.nonzero(self.matrices)
        order = np.lexsort((targets, tokens, sources))
        return [
            (int(sources[k]), int(tokens[k]), int(targets[k]), float(self.matrices[tokens[k], sources[k], targets[k]]))
            for k in order
        ]


def presentation_machine(process: GenerativeProcess) -> Machine:
    """Returns the process's own presentation (its hidden states, or a generalized model's state basis)."""
    presentation = process.presentation
    num_states = presentation.num_states
    probabilities = presentation.initial_state if presentation.is_hidden_markov_model else None
    return Machine(
        name=f"{process.name} presentation",
        matrices=np.array(presentation.transition_matrices),
        labels=tuple(f"s{state}" for state in range(num_states)),
        state_probabilities=None if probabilities is None else np.array(probabilities),
    )


def transition_tensor(token_probabilities: np.ndarray, successors: np.ndarray) -> np.ndarray:
    """Returns `T[x, i, j]` of a unifilar machine: `P(x | i)` where `successors[i, x] = j` (-1: no transition)."""
    num_states, vocab = token_probabilities.shape
    matrices = np.zeros((vocab, num_states, num_states))
    for state in range(num_states):
        for token in range(vocab):
            if successors[state, token] >= 0:
                matrices[token, state, successors[state, token]] += token_probabilities[state, token]
    return matrices


def epsilon_machine(process: GenerativeProcess, max_states: int = 10_000) -> Machine:
    """Returns the process's epsilon-machine: its recurrent causal states, labelled `A`, `B`, ... (`c27` beyond Z).

    Raises:
        UnboundedMixedStatesError: when the mixed-state presentation has more than `max_states` states.
    """
    machine = causal_states(process, max_states=max_states)
    count = len(machine.probabilities)
    labels = tuple(chr(ord("A") + state) if count <= 26 else f"c{state}" for state in range(count))
    return Machine(
        name=f"{process.name} epsilon-machine",
        matrices=transition_tensor(machine.token_probabilities, machine.successors),
        labels=labels,
        state_probabilities=machine.probabilities,
    )


def mixed_state_machine(
    process: GenerativeProcess, max_depth: int | None = None, max_states: int = 10_000, decimals: int = 4
) -> Machine:
    """Returns the mixed-state presentation: every belief reached from the start, labelled by its value.

    Arguments:
        process: any process with a presentation.
        max_depth: the most tokens read from the start; None for the complete presentation (which must be
            finite). With a depth, the beliefs first reached after `max_depth` tokens are the last states, whose
            transitions are left out.
        max_states: the most beliefs kept.
        decimals: significant digits of the labels.

    Raises:
        UnboundedMixedStatesError: when more than `max_states` beliefs are reached (an infinite presentation).
    """
    graph = mixed_state_graph(process, max_states=max_states, max_depth=max_depth)
    labels = tuple("(" + ", ".join(f"{value:.{decimals}g}" for value in belief) + ")" for belief in graph.beliefs)
    return Machine(
        name=f"{process.name} mixed-state presentation" + ("" if max_depth is None else f" to depth {max_depth}"),
        matrices=transition_tensor(graph.token_probabilities, graph.successors),
        labels=labels,
    )


def to_json(machine: Machine) -> str:
    """Returns the machine as JSON: its name, vocabulary size, states (label, probability) and transitions."""
    probabilities = machine.state_probabilities
    return json.dumps(
        {
            "name": machine.name,
            "vocab_size": int(machine.matrices.shape[0]),
            "states": [
                {"label": label, "probability": None if probabilities is None else float(probabilities[state])}
                for state, label in enumerate(machine.labels)
            ],
            "transitions": [
                {"from": source, "token": token, "to": target, "weight": weight}
                for source, token, target, weight in machine.transitions
            ],
        },
        indent=2,
    )


def from_json(text: str) -> Machine:
    """Returns the machine `to_json` wrote."""
    data = json.loads(text)
    num_states = len(data["states"])
    matrices = np.zeros((data["vocab_size"], num_states, num_states))
    for transition in data["transitions"]:
        matrices[transition["token"], transition["from"], transition["to"]] = transition["weight"]
    probabilities = [state["probability"] for state in data["states"]]
    return Machine(
        name=data["name"],
        matrices=matrices,
        labels=tuple(state["label"] for state in data["states"]),
        state_probabilities=None if None in probabilities else np.array(probabilities, dtype=np.float64),
    )


def _quoted(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, line breaks as DOT's escaped newline."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def to_dot(machine: Machine, precision: int = 3) -> str:
    """Returns the machine as a Graphviz digraph.

    Each state is a node `sI` with its label (and probability, where known); each transition an edge labelled
    `token:weight` (the weight rounded to `precision` digits for display), carrying the exact `token` and
    `weight` as attributes, so that `from_dot` reads the same matrices back.
    """
    lines = [f"digraph {_quoted(machine.name)} {{", "  rankdir=LR;", f"  vocab_size={machine.matrices.shape[0]};"]
    for state, label in enumerate(machine.labels):
        shown = label
        probability = ""
        if machine.state_probabilities is not None:
            probability = f", probability={float(machine.state_probabilities[state])!r}"
            shown = f"{label}\n{float(machine.state_probabilities[state]):.{precision}g}"
        lines.append(f"  s{state} [label={_quoted(shown)}, name={_quoted(label)}{probability}];")
    for source, token, target, weight in machine.transitions:
        lines.append(
            f"  s{source} -> s{target} [label={_quoted(f'{token}:{weight:.{precision}g}')}, token={token}, "
            f"weight={weight!r}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


_NODE = re.compile(r'^\s*s(\d+) \[label="(?:[^"\\]|\\.)*", name="((?:[^"\\]|\\.)*)"(?:, probability=([^\]]+))?\];$')
_EDGE = re.compile(r'^\s*s(\d+) -> s(\d+) \[label="(?:[^"\\]|\\.)*", token=(\d+), weight=([^\]]+)\];$')


def from_dot(text: str) -> Machine:
    """Returns the machine `to_dot` wrote.

    Raises:
        ValueError: for text that is not a digraph `to_dot` wrote.
    """
    header = re.match(r'^digraph "((?:[^"\\]|\\.)*)" \{', text)
    vocab = re.search(r"^\s*vocab_size=(\d+);$", text, re.MULTILINE)
    if header is None or vocab is None:
        raise ValueError("not a machine written by to_dot: no digraph header or vocab_size")
    labels: dict[int, str] = {}
    probabilities: dict[int, float] = {}
    edges = []
    for line in text.splitlines():
        if node := _NODE.match(line):
            state = int(node.group(1))
            labels[state] = node.group(2).replace('\\"', '"').replace("\\\\", "\\")
            if node.group(3) is not None:
                probabilities[state] = float(node.group(3))
        elif edge := _EDGE.match(line):
            edges.append((int(edge.group(1)), int(edge.group(2)), int(edge.group(3)), float(edge.group(4))))
    num_states = len(labels)
    matrices = np.zeros((int(vocab.group(1)), num_states, num_states))
    for source, target, token, weight in edges:
        matrices[token, source, target] = weight
    return Machine(
        name=header.group(1).replace('\\"', '"').replace("\\\\", "\\"),
        matrices=matrices,
        labels=tuple(labels[state] for state in range(num_states)),
        state_probabilities=np.array([probabilities[state] for state in range(num_states)])
        if len(probabilities) == num_states
        else None,
    )
