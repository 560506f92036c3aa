"""Every numeric flag of every `spindle` command is range-checked: a bad
value exits 2 with one line naming the flag, the value and the allowed range
with its maximum. Also --version, --test-limit, --machine on the reference
backend, convert --weights-only where it cannot apply, and the warnings of
map and info when faults cut the host off from chips."""
import json
import re

import pytest

from spindle_cli import LENET, MLP, SOURCE, run, write_quadrant_dataset

U32 = "4294967295"
U64 = "18446744073709551615"
BIG = "99999999999999999999"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_quadrant_dataset(tmp_path_factory.mktemp("flags"), 3, 48, 20)


# (flag, value, the message after "FLAG 'VALUE': ")
TRAIN_BAD = [
    ("--epochs", "0", "expected a whole number of epochs from 1 to 1000000"),
    ("--epochs", "-1", "expected a whole number of epochs from 1 to 1000000"),
    ("--epochs", "abc", "expected a whole number of epochs from 1 to 1000000"),
    ("--epochs", "1000001", "expected a whole number of epochs from 1 to 1000000"),
    ("--epochs", "2.5", "expected a whole number of epochs from 1 to 1000000"),
    ("--epochs", BIG, "expected a whole number of epochs from 1 to 1000000"),
    ("--batch-size", "0", "expected a batch size from 1 to 16777216"),
    ("--batch-size", "16777217", "expected a batch size from 1 to 16777216"),
    ("--limit", "0", f"expected a number of samples from 1 to {U32}"),
    ("--limit", BIG, f"expected a number of samples from 1 to {U32}"),
    ("--limit", "4294967296", f"expected a number of samples from 1 to {U32}"),
    ("--test-limit", "0", f"expected a number of test samples from 1 to {U32}"),
    ("--test-limit", "-5", f"expected a number of test samples from 1 to {U32}"),
    ("--seed", "-1", f"expected a seed from 0 to {U64}"),
    ("--seed", BIG, f"expected a seed from 0 to {U64}"),
    ("--seed", "1e3", f"expected a seed from 0 to {U64}"),
    ("--in-flight", "0", "expected a number of samples in flight, a power of two, from 1 to 64"),
    ("--in-flight", "3", "expected a number of samples in flight, a power of two, from 1 to 64"),
    ("--in-flight", "128", "expected a number of samples in flight, a power of two, from 1 to 64"),
    ("--decay-steps", "0", "expected a whole number of steps from 1 to 1099511627776"),
    ("--decay-steps", BIG, "expected a whole number of steps from 1 to 1099511627776"),
    ("--lr", "nan", "expected a learning rate in (0, 1000]"),
    ("--lr", "inf", "expected a learning rate in (0, 1000]"),
    ("--lr", "-1", "expected a learning rate in (0, 1000]"),
    ("--lr", "0", "expected a learning rate in (0, 1000]"),
    ("--lr", "1e400", "expected a learning rate in (0, 1000]"),
    ("--lr", "fast", "expected a learning rate in (0, 1000]"),
    ("--learning-rate", "1001", "expected a learning rate in (0, 1000]"),
    ("--momentum", "1", "expected a momentum in [0, 1)"),
    ("--momentum", "-0.1", "expected a momentum in [0, 1)"),
    ("--momentum", "nan", "expected a momentum in [0, 1)"),
    ("--decay-rate", "0", "expected a decay rate in (0, 1000]"),
    ("--decay-rate", "inf", "expected a decay rate in (0, 1000]"),
    ("--alpha", "1.5", "expected alpha (the final fraction of the rate) in [0, 1]"),
    ("--alpha", "-inf", "expected alpha (the final fraction of the rate) in [0, 1]"),
    ("--validation-split", "1", "expected a validation fraction in [0, 1)"),
    ("--validation-split", "-0.5", "expected a validation fraction in [0, 1)"),
]


@pytest.mark.parametrize("flag,value,why", TRAIN_BAD,
                         ids=[f"{f}={v}" for f, v, _ in TRAIN_BAD])
def test_train_numeric_flag_out_of_range(tiny_data, flag, value, why):
    r = run("train", MLP, "--data", tiny_data, flag, value)
    assert r.returncode == 2
    assert r.stderr == f"spindle train: {flag} '{value}': {why}\n"
    assert r.stdout == ""


def test_value_after_equals_sign_is_checked_too(tiny_data):
    r = run("train", MLP, "--data", tiny_data, "--epochs=0")
    assert r.returncode == 2
    assert r.stderr == "spindle train: --epochs '0': expected a whole number of epochs from 1 to 1000000\n"


@pytest.mark.parametrize("cmd", ["evaluate", "predict"])
@pytest.mark.parametrize("flag,value,why", [
    ("--batch-size", "0", "expected a batch size from 1 to 16777216"),
    ("--limit", BIG, f"expected a number of samples from 1 to {U32}"),
    ("--test-limit", "0", f"expected a number of test samples from 1 to {U32}"),
    ("--seed", "-3", f"expected a seed from 0 to {U64}"),
    ("--in-flight", "6", "expected a number of samples in flight, a power of two, from 1 to 64"),
])
def test_evaluate_and_predict_numeric_flags(tiny_data, tmp_path, cmd, flag, value, why):
    r = run(cmd, MLP, "--data", tiny_data, "--output", str(tmp_path / "p.npy"), flag, value) \
        if cmd == "predict" else run(cmd, MLP, "--data", tiny_data, flag, value)
    assert r.returncode == 2
    assert r.stderr == f"spindle {cmd}: {flag} '{value}': {why}\n"


def test_training_flags_are_not_evaluate_flags(tiny_data):
    r = run("evaluate", MLP, "--data", tiny_data, "--epochs", "2")
    assert r.returncode == 2 and "--epochs" in r.stderr and "unknown option" in r.stderr


MAP_BAD = [
    ("--batch-size", "0", "expected a batch size from 1 to 16777216"),
    ("--batch-size", BIG, "expected a batch size from 1 to 16777216"),
    ("--in-flight", "0", "expected a number of samples in flight, a power of two, from 1 to 64"),
    ("--in-flight", "65", "expected a number of samples in flight, a power of two, from 1 to 64"),
    ("--in-flight", "12", "expected a number of samples in flight, a power of two, from 1 to 64"),
    ("--samples", "-1", "expected a number of samples from 0 to 1073741824"),
    ("--samples", "lots", "expected a number of samples from 0 to 1073741824"),
    ("--max-cores", "0", "expected a number of cores from 1 to 1073741824"),
    ("--max-cores", BIG, "expected a number of cores from 1 to 1073741824"),
    ("--slack", "-1", "expected a percentage from 0 to 1000"),
    ("--slack", "1001", "expected a percentage from 0 to 1000"),
    ("--slack", " 5", "expected a percentage from 0 to 1000"),
]


@pytest.mark.parametrize("flag,value,why", MAP_BAD, ids=[f"{f}={v}" for f, v, _ in MAP_BAD])
def test_map_numeric_flag_out_of_range(flag, value, why):
    r = run("map", MLP, flag, value)
    assert r.returncode == 2
    assert r.stderr == f"spindle map: {flag} '{value}': {why}\n"


def api_version():
    """The one version: the public header's, which is also the shared
    library's and pyproject.toml's."""
    text = open(f"{SOURCE}/include/spindle/api.h").read()
    return re.search(r'#define SPINDLE_VERSION_STRING "([0-9.]+)"', text).group(1)


def test_versions_agree():
    pyproject = open(f"{SOURCE}/pyproject.toml").read()
    assert re.search(r'^version = "([0-9.]+)"', pyproject, re.M).group(1) == api_version()


@pytest.mark.parametrize("args", [["--version"], ["train", "--version"],
                                  ["map", MLP, "--version"], ["info", "--version"]])
def test_version(args):
    r = run(*args)
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout == f"spindle {api_version()}\n"


def test_version_is_listed_in_help():
    assert "--version" in run("--help").stdout


def test_help_documents_test_limit():
    for cmd in ("train", "evaluate", "predict"):
        assert "--test-limit N" in run(cmd, "--help").stdout


def test_train_test_limit_in_summary_and_report(tiny_data, tmp_path):
    report = tmp_path / "r.json"
    r = run("train", MLP, "--data", tiny_data, "--backend", "reference", "--limit", "16",
            "--test-limit", "7", "--report", str(report))
    assert r.returncode == 0, r.stderr
    assert re.search(r"^test_loss: \S+ - test_accuracy: \S+ - test_samples: 7$", r.stdout, re.M)
    got = json.loads(report.read_text())
    assert got["test_samples"] == 7 and got["samples"] == 16


def test_train_without_test_limit_uses_every_test_sample(tiny_data, tmp_path):
    report = tmp_path / "r.json"
    r = run("train", MLP, "--data", tiny_data, "--backend", "reference", "--limit", "16",
            "--report", str(report))
    assert r.returncode == 0, r.stderr
    assert "test_samples: 20" in r.stdout
    assert json.loads(report.read_text())["test_samples"] == 20


def test_evaluate_test_limit(tiny_data, tmp_path):
    report = tmp_path / "e.json"
    r = run("evaluate", MLP, "--data", tiny_data, "--backend", "reference", "--test-limit", "9",
            "--report", str(report))
    assert r.returncode == 0, r.stderr
    assert "test_samples: 9" in r.stdout
    assert json.loads(report.read_text())["test_samples"] == 9


def test_evaluate_limit_and_test_limit_must_agree(tiny_data):
    r = run("evaluate", MLP, "--data", tiny_data, "--limit", "5", "--test-limit", "6")
    assert r.returncode == 2
    assert r.stderr == ("spindle evaluate: --limit 5 and --test-limit 6 both count the test "
                        "samples here; give one\n")


@pytest.mark.parametrize("cmd", ["train", "evaluate"])
def test_bogus_machine_refused_on_the_reference_backend(tiny_data, cmd):
    r = run(cmd, MLP, "--data", tiny_data, "--backend", "reference", "--machine", "bogus")
    assert r.returncode == 2
    assert r.stderr.startswith(f"spindle {cmd}: --machine: unknown machine 'bogus'")
    assert r.stderr.count("\n") == 1 and r.stdout == ""


def test_bogus_machine_refused_on_the_machine_backend(tiny_data):
    r = run("evaluate", MLP, "--data", tiny_data, "--machine", "0x0")
    assert r.returncode == 2
    assert r.stderr.startswith("spindle evaluate: --machine: machine '0x0'")


def test_in_flight_refused_on_the_reference_backend(tiny_data):
    r = run("train", MLP, "--data", tiny_data, "--backend", "reference", "--in-flight", "4")
    assert r.returncode == 2
    assert r.stderr == ("spindle train: --in-flight applies to --backend machine only (the "
                        "reference backend has no pipeline)\n")


def test_valid_machine_with_reference_backend_still_runs(tiny_data):
    r = run("evaluate", MLP, "--data", tiny_data, "--backend", "reference", "--machine", "spinn3",
            "--test-limit", "4")
    assert r.returncode == 0, r.stderr
    assert "test_samples: 4" in r.stdout


@pytest.mark.parametrize("out", ["m.keras", "m.json"])
def test_convert_weights_only_refused_where_it_cannot_apply(tmp_path, out):
    full = tmp_path / "full.keras"
    made = run("train", MLP, "--data", write_quadrant_dataset(tmp_path, 1, 8, 4),
               "--backend", "reference", "--save", str(full))
    assert made.returncode == 0, made.stderr
    r = run("convert", str(full), str(tmp_path / out), "--weights-only")
    assert r.returncode == 2
    assert r.stderr.startswith(f"spindle convert: --weights-only: '{tmp_path / out}' is ")
    assert "write .h5 or .weights.h5 for weights only" in r.stderr
    assert not (tmp_path / out).exists()


def test_convert_weights_only_to_weights_h5_does_what_it_says(tmp_path):
    full = tmp_path / "full.keras"
    made = run("train", MLP, "--data", write_quadrant_dataset(tmp_path, 1, 8, 4),
               "--backend", "reference", "--save", str(full))
    assert made.returncode == 0, made.stderr
    out = tmp_path / "w.weights.h5"
    r = run("convert", str(full), str(out), "--weights-only")
    assert r.returncode == 0, r.stderr
    # weights only: loading it needs the architecture
    assert run("summary", str(out)).returncode != 0
    assert run("summary", MLP, "--weights", str(out)).returncode == 0


def test_map_refuses_a_board_whose_only_ethernet_chip_is_dead(tmp_path):
    faults = tmp_path / "eth.txt"
    faults.write_text("chip 0 0\n")
    r = run("map", MLP, "--faults", str(faults))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == ("spindle map: the faults kill the Ethernet chip (0,0) of machine "
                        "'spinn5', the host's only way in: nothing can reach its 47 live chips\n")


def test_map_warns_when_a_board_loses_its_ethernet_chip(tmp_path):
    faults = tmp_path / "eth.txt"
    faults.write_text("chip 4 8\n")
    r = run("map", MLP, "--machine", "3boards", "--faults", str(faults))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("spindle map: warning: the faults kill the Ethernet chip (4,8); the host "
                        "reaches its board's chips only through another board's Ethernet chip\n")
    assert "routing:" in r.stdout


def test_map_warns_about_chips_cut_off_by_dead_links(tmp_path):
    faults = tmp_path / "links.txt"
    faults.write_text("link 0 0 E\nlink 0 0 N\nlink 0 0 NE\n")
    r = run("map", MLP, "--faults", str(faults))
    assert "warning: 47 live chips are cut off from every Ethernet chip" in r.stderr


def test_info_warns_but_still_describes(tmp_path):
    r = run("info", "--fault", "chip 0 0")
    assert r.returncode == 0
    assert r.stderr.startswith("spindle info: warning: the faults kill the Ethernet chip (0,0)")
    assert "dead            1 chips" in r.stdout


def test_faults_sparing_the_ethernet_chip_say_nothing(tmp_path):
    faults = tmp_path / "ok.txt"
    faults.write_text("chip 3 3\ncore 1 1 5\n")
    r = run("map", MLP, "--faults", str(faults))
    assert r.returncode == 0 and r.stderr == ""


def test_too_few_cores_message_reads_as_a_sentence():
    r = run("map", MLP, "--machine", "spinn3", "--max-cores", "5")
    assert r.returncode == 1
    assert "than it" not in r.stderr
    assert r.stderr.startswith("spindle map: model needs more application cores, but may use 5 "
                               "(max_cores) of the 68 of machine 'spinn3': layer 'dense'")


def test_lenet_on_one_chip_names_the_machine():
    r = run("map", LENET, "--machine", "1x1")
    assert r.returncode == 1
    assert "machine '1x1'" in r.stderr and "than it" not in r.stderr
