"""`spindle map MODEL --svg FILE` draws the mapping: one square per chip of
the machine, every core coloured by the layer it holds (as many coloured
cores as the placement uses), the links that carry packets, a legend of the
layers; the file is written atomically, and an unwritable path fails with
a message."""
import xml.etree.ElementTree as ET

from spindle_cli import LENET, MLP, run

NS = "{http://www.w3.org/2000/svg}"


def titles(root, tag):
    return [e.find(NS + "title").text for e in root.iter(NS + tag)
            if e.find(NS + "title") is not None]


def test_svg_shows_chips_cores_and_links(tmp_path):
    svg = tmp_path / "board.svg"
    r = run("map", MLP, "--machine", "spinn5", "--svg", str(svg))
    assert r.returncode == 0, r.stderr
    assert f"picture: {svg}" in r.stdout
    cores_used = int(r.stdout.split("placement (locality): ")[1].split(" cores")[0])
    root = ET.parse(svg).getroot()
    rects = titles(root, "rect")
    chips = [t for t in rects if t.startswith("chip ")]
    assert len(chips) == 48 and sum("Ethernet" in t for t in chips) == 1
    cores = [t for t in rects if t.startswith("(")]
    assert len(cores) == 48 * 18
    layer_cores = [t for t in cores if not t.endswith(("idle", "monitor", "dead"))]
    assert len(layer_cores) == cores_used
    assert {t.split(") ")[1] for t in layer_cores} >= {"dense", "dense_1", "dense_2"}
    links = titles(root, "line")
    assert links and all("keys per sample" in t for t in links)
    legend = " ".join(e.text or "" for e in root.iter(NS + "text"))
    assert "dense_1 (Dense)" in legend and "on 'spinn5'" in legend
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_svg_of_a_convnet_on_spinn3_and_a_bad_path(tmp_path):
    svg = tmp_path / "lenet.svg"
    r = run("map", LENET, "--machine", "spinn3", "--inference", "--svg", str(svg))
    # LeNet-5 may not fit 4 chips for training; inference does
    assert r.returncode == 0, r.stderr
    root = ET.parse(svg).getroot()
    assert len([t for t in titles(root, "rect") if t.startswith("chip ")]) == 4
    r = run("map", MLP, "--svg", str(tmp_path / "no" / "such" / "folder.svg"))
    assert r.returncode == 1
    assert "folder.svg" in r.stderr
