import pytest

from omicsformer.errors import ConfigError
from omicsformer.models.options import split_options


def test_options_go_to_the_named_model_or_to_every_model_that_has_them():
    assert split_options(["logreg", "mlp"], {"logreg.C": 1, "mlp.dropout": 0.2}) == {
        "logreg": {"C": 1},
        "mlp": {"dropout": 0.2},
    }
    both = split_options(["mlp", "attomics", "logreg"], {"dropout": 0.1})
    assert both == {"mlp": {"dropout": 0.1}, "attomics": {"dropout": 0.1}, "logreg": {}}
    with pytest.raises(ConfigError, match="none of logreg, rf has it"):
        split_options(["logreg", "rf"], {"dropout": 0.1})
    with pytest.raises(ConfigError, match="'svm' is not one of --models"):
        split_options(["logreg"], {"svm.C": 1})
