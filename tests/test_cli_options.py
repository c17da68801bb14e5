"""`pepita train`'s flags come from TrainConfig's fields; a rule's own options from --set."""

import json

import pytest

from pepita_lib.cli import _config_from, build_parser, main
from pepita_lib.config import TrainConfig, run_id
from pepita_lib.rules import RULES, make_rule
from pepita_lib.rules.ff import FF_DEFAULTS


def _cfg(*flags: str) -> TrainConfig:
    return _config_from(build_parser().parse_args(["train", *flags]))


def test_no_flags_is_the_default_config():
    assert run_id(_cfg()) == run_id(TrainConfig())


def test_flags_of_every_kind_reach_the_config():
    flags = "--hidden 64 --hidden 32 --decay-epochs --wm-layer-lr 0.1 0.2 0.3 --wm-hold-gain"
    cfg = _cfg(*flags.split(), "--train-subset", "500", "--act-norm", "batch")
    assert cfg.hidden == (64, 32) and cfg.decay_epochs == () and cfg.wm_layer_lr == (0.1, 0.2, 0.3)
    assert cfg.wm_hold_gain and cfg.train_subset == 500 and cfg.act_norm == "batch"


def test_set_is_typed_by_the_rule_and_sorted():
    cfg = _cfg("--rule", "ff", "--set", "ff_readout=false", "--set", "ff_threshold=10")
    assert cfg.extra == (("ff_readout", False), ("ff_threshold", 10.0))
    opts = make_rule(cfg).opts
    assert opts["ff_threshold"] == 10.0 and opts["ff_readout"] is False
    assert opts["ff_label_value"] == FF_DEFAULTS["ff_label_value"]


@pytest.mark.parametrize(
    "rule, item, said",
    [
        ("ff", "ff_thresold=10", "rule 'ff' has no option 'ff_thresold'"),
        ("ff", "ff_threshold=ten", "ff_threshold must be a float, got 'ten'"),
        ("ff", "ff_negatives=easy", "ff_negatives must be one of"),
        ("pepita", "ff_threshold=1", "rule 'pepita' has no option 'ff_threshold'; options: none"),
        ("ff", "ff_threshold", "--set expects key=value"),
    ],
)
def test_bad_options_are_one_clear_line(rule, item, said, capsys):
    assert main(["train", "--rule", rule, "--set", item, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert said in err and err.strip().count("\n") == 0


def test_every_rule_s_options_have_defaults_they_accept():
    for cls in RULES.values():
        assert cls.read_options(()) == {o.name: o.value(o.default) for o in cls.options}


def test_derivative_rules_refuse_activation_normalisation():
    needs = {name for name, cls in RULES.items() if cls.needs_derivative}
    assert needs == {"bp", "fa", "dfa", "drtp", "afa"}
    for name in RULES:
        cfg = TrainConfig(rule=name, act_norm="batch")
        if name in needs:
            with pytest.raises(ValueError, match="sigma'"):
                make_rule(cfg)
        else:
            make_rule(cfg)


def test_train_with_an_ff_threshold_records_it(tmp_path, mnist):
    out = tmp_path / "ff.json"
    code = main(["train", "--rule", "ff", "--set", "ff_threshold=10", "--hidden", "50",
                 "--lr", "1", "--batch-size", "100", "--dropout", "0", "--train-subset", "300",
                 "--test-subset", "200", "--epochs", "1", "--device", "cpu", "--quiet",
                 "--out", str(out)])  # fmt: skip
    rec = json.loads(out.read_text())
    assert code == 0 and rec["config"]["extra"] == [["ff_threshold", 10.0]]
    assert (
        rec["run_id"]
        == run_id(TrainConfig.from_dict(rec["config"]))
        != run_id(TrainConfig.from_dict({**rec["config"], "extra": []}))
    )
