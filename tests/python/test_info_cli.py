"""`spindle info`: machine description as text and JSON, errors, --help."""
import json

import spindle_cli


def run(*args):
    return spindle_cli.run("info", *args, timeout=60)


def test_spinn5_json_counts():
    r = run("--machine", "spinn5", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["machine"] == "spinn5"
    assert info["chips"] == 48
    assert info["application_cores"] == 816
    assert info["boards"] == 1
    assert (info["width"], info["height"]) == (8, 8)
    assert info["sdram_bytes"] == 48 * 128 * 1024 * 1024
    assert info["ethernet_chips"] == 1
    assert info["links"] > 0


def test_default_machine_is_spinn5_text():
    r = run()
    assert r.returncode == 0, r.stderr
    assert "spinn5" in r.stdout
    assert "48" in r.stdout and "816" in r.stdout


def test_triads_and_spinn1m():
    info = json.loads(run("--machine", "3boards", "--json").stdout)
    assert info["chips"] == 144 and info["ethernet_chips"] == 3
    assert sorted(info["ethernet"]) == [[0, 0], [4, 8], [8, 4]]
    info = json.loads(run("--machine", "spinn1m", "--json").stdout)
    assert info["chips"] == 57600 and info["boards"] == 1200


def test_faults_from_file_and_command_line(tmp_path):
    faults = tmp_path / "faults.txt"
    faults.write_text("# two dead parts\nchip 1 1\ncore 2 2 7\n")
    r = run("--machine", "spinn5", "--json", "--faults", str(faults), "--fault", "link 3 3 E")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["chips"] == 47
    assert info["application_cores"] == 816 - 17 - 1
    assert info["dead_chips"] == 1
    assert info["dead_links"] == 12 + 2


def test_bad_machine_name_fails_with_message():
    r = run("--machine", "spinn7")
    assert r.returncode != 0
    assert "spinn7" in r.stderr
    assert r.stdout == ""
    r = run("--machine", "4boards")
    assert r.returncode != 0 and "multiple of 3" in r.stderr


def test_bad_fault_file_names_the_line(tmp_path):
    faults = tmp_path / "faults.txt"
    faults.write_text("chip 1 1\ncore 2 x 7\n")
    r = run("--faults", str(faults))
    assert r.returncode != 0
    assert "line 2" in r.stderr and "core 2 x 7" in r.stderr
    r = run("--faults", str(tmp_path / "missing.txt"))
    assert r.returncode != 0 and "missing.txt" in r.stderr


def test_help_and_bad_options():
    r = run("--help")
    assert r.returncode == 0
    assert "--machine" in r.stdout and "--json" in r.stdout
    r = run("--frobnicate")
    assert r.returncode == 2 and "--frobnicate" in r.stderr
    r = run("--machine")
    assert r.returncode == 2 and "needs a value" in r.stderr
