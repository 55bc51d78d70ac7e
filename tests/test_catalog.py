import simplexity


def test_list_models_names_every_built_in_model():
    assert {"gru_rnn", "lstm", "transformer", "gruformer", "penzai_transformer"} <= set(simplexity.list_models())


def test_list_processes_names_registered_processes_and_compositions():
    names = set(simplexity.list_processes())
    assert {"mess3", "even_ones", "fanizza", "mess3_bos"} <= names
