"""Machines written as DOT and JSON and read back; the epsilon-machine of the even process against its closed form."""

import numpy as np
import pytest

from simplexity.analysis.plots import plot_machine
from simplexity.generative_processes import build_generalized_hidden_markov_model, build_hidden_markov_model
from simplexity.generative_processes.export import (
    Machine,
    epsilon_machine,
    from_dot,
    from_json,
    mixed_state_machine,
    presentation_machine,
    to_dot,
    to_json,
)


def machines() -> dict[str, Machine]:
    return {
        "even epsilon-machine": epsilon_machine(build_hidden_markov_model("even_ones")),
        "rrxor epsilon-machine": epsilon_machine(build_hidden_markov_model("rrxor")),
        "mr_name epsilon-machine": epsilon_machine(build_hidden_markov_model("mr_name")),
        "mess3 presentation": presentation_machine(build_hidden_markov_model("mess3", x=0.15, a=0.6)),
        "fanizza presentation": presentation_machine(build_generalized_hidden_markov_model("fanizza")),
        "even mixed states": mixed_state_machine(build_hidden_markov_model("even_ones")),
    }


@pytest.mark.parametrize("name", list(machines()))
@pytest.mark.parametrize(("write", "read"), [(to_dot, from_dot), (to_json, from_json)], ids=["dot", "json"])
def test_a_machine_read_back_has_the_same_matrices_labels_and_probabilities(name, write, read):
    machine = machines()[name]
    again = read(write(machine))
    np.testing.assert_array_equal(again.matrices, machine.matrices)
    assert again.labels == machine.labels and again.name == machine.name
    if machine.state_probabilities is None:
        assert again.state_probabilities is None
    else:
        np.testing.assert_array_equal(again.state_probabilities, machine.state_probabilities)


def test_the_even_process_epsilon_machine_is_its_closed_form():
    machine = epsilon_machine(build_hidden_markov_model("even_ones"))
    # A: after an odd block of ones, must emit 1 and go to B; B: emits 0 (stays) or 1 (to A), each 1/2.
    expected = np.zeros((2, 2, 2))
    expected[1, 0, 1] = 1.0
    expected[0, 1, 1] = 0.5
    expected[1, 1, 0] = 0.5
    order = [machine.labels.index("A"), machine.labels.index("B")]
    if machine.matrices[1, order[0], order[1]] != 1.0:  # the labels may come in either order
        order = order[::-1]
    np.testing.assert_allclose(machine.matrices[:, order][:, :, order], expected, atol=1e-12)
    assert machine.state_probabilities is not None
    np.testing.assert_allclose(machine.state_probabilities[order], [1 / 3, 2 / 3], atol=1e-12)
    assert ("s0 -> s1" in to_dot(machine)) and '"weight": 0.5' in to_json(machine)


def test_a_generalized_model_keeps_its_negative_weights():
    machine = presentation_machine(build_generalized_hidden_markov_model("fanizza"))
    assert machine.matrices.min() < 0 and machine.state_probabilities is None


def test_text_that_is_not_a_written_machine_is_refused():
    with pytest.raises(ValueError, match="not a machine written by to_dot"):
        from_dot("graph g { a -- b }")


def test_a_machine_is_drawn_without_any_system_binary(tmp_path):
    path = plot_machine(epsilon_machine(build_hidden_markov_model("rrxor")), tmp_path / "machine.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_mixed_states_to_a_depth_hold_every_belief_of_that_many_tokens():
    mess3 = build_hidden_markov_model("mess3", x=0.15, a=0.6)  # infinitely many mixed states
    machine = mixed_state_machine(mess3, max_depth=2)
    assert len(machine.labels) == 1 + 3 + 9  # mess3's beliefs after 0, 1 and 2 tokens are all distinct
    np.testing.assert_allclose(machine.matrices.sum(axis=(0, 2)), [1.0] * 4 + [0.0] * 9, atol=1e-12)
    # Reading two tokens through the machine gives each 2-word its probability under mess3.
    for first in range(3):
        for second in range(3):
            probability = (
                machine.matrices[first, 0].sum()
                * machine.matrices[second, int(np.argmax(machine.matrices[first, 0]))].sum()
            )
            expected = np.exp(mess3.log_probability(np.array([first, second])))
            assert probability == pytest.approx(float(expected), abs=1e-12)
    even = build_hidden_markov_model("even_ones")
    assert mixed_state_machine(even, max_depth=20).labels == mixed_state_machine(even).labels
