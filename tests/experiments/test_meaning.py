"""meaning: the one registry of what each sweep asks, and every reader's table agrees with it."""

import pandas as pd
import pytest

from mrkit.experiments import meaning
from mrkit.experiments.report import markdown, plots
from mrkit.experiments.sweeps import sweep_config


def test_every_question_has_its_sentences_and_figures_that_exist():
    assert set(markdown.SENTENCES) == set(meaning.QUESTIONS)
    for name, question in meaning.QUESTIONS.items():
        assert set(question.figures) <= set(plots.FIGURES), name


@pytest.mark.parametrize("name", sorted(meaning.SWEEPS))
def test_every_registered_sweep_is_a_sweep_file_and_asks_a_known_question(name):
    about = meaning.SWEEPS[name]
    assert sweep_config.load_sweep(name).name == name
    assert about.question is None or about.question in meaning.QUESTIONS
    assert about.section == "question" or not about.checked  # special sections are no correctness case


def test_a_sweep_the_registry_does_not_list_answers_what_its_runs_vary():
    pairs = pd.DataFrame({"n_map": [1, 2, 1, 2], "n_reduce": [1, 1, 2, 2], "workers": [2, 2, 2, 2]})
    assert meaning.sweep_meaning("my_own") == meaning.Sweep()
    assert meaning.question_of("my_own", pairs) == "pairs"
    assert meaning.question_of("map_sweep", pairs) == "map_sweep"  # the registry wins over what varies
