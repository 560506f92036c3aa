"""`spindle board` and `--board`: an emulated machine served over UDP as a
SpiNNaker board's Ethernet chip (docs/board-protocol.md). An independent
client, building the bytes from the protocol document with struct and a
socket, gets a correct CMD_VER reply and the right return codes for bad
requests; a repeated request is answered, not executed, again; training
through the board equals the in-process run, with and without 1% of the
datagrams lost on both ends, down to every kernel's provenance read back
from its SDRAM region."""
import json
import select
import socket
import struct
import subprocess

import pytest

from spindle_cli import MLP, SPINDLE, run

RC_OK, RC_LEN, RC_CMD, RC_ARG, RC_ROUTE, RC_CPU = 0x80, 0x81, 0x83, 0x84, 0x87, 0x88
CMD_VER, CMD_READ, CMD_WRITE, CMD_ALLOC = 0, 2, 3, 28


class Board:
    """`spindle board` on a free loopback port, stopped with SIGTERM."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([SPINDLE, "board", "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line + self.proc.stderr.read()
        self.port = int(line.split(":")[1].split()[0])

    def stop(self):
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return out, err


@pytest.fixture
def board():
    b = Board("--machine", "spinn3")
    yield b
    b.stop()


def sdp_scp(cmd, seq, args=(), data=b"", x=0, y=0, cpu=0, port=0):
    """Two padding bytes, the SDP header (flags 0x87: reply expected, tag
    0xFF, destination port<<5|cpu, source port 7 cpu 31, destination y x,
    source y x), then SCP: cmd_rc, seq (16-bit little-endian), the
    arguments (32-bit little-endian) and the data."""
    head = bytes([0, 0, 0x87, 0xFF, port << 5 | cpu, 0xFF, y, x, 0, 0])
    return head + struct.pack("<HH", cmd, seq) + b"".join(struct.pack("<I", a) for a in args) + data


def ask(port, packet, timeout=5.0):
    """Send one datagram; the reply's (flags, cmd_rc, seq, body) or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(packet, ("127.0.0.1", port))
        ready, _, _ = select.select([s], [], [], timeout)
        if not ready:
            return None
        reply = s.recv(2048)
    rc, seq = struct.unpack_from("<HH", reply, 10)
    return reply[2], rc, seq, reply[14:]


def test_independent_cmd_ver(board):
    flags, rc, seq, body = ask(board.port, sdp_scp(CMD_VER, 0x1234))
    assert rc == RC_OK and seq == 0x1234
    assert flags == 0x07  # a reply expects none
    # SpiNNMan's VersionInfo: "<BxBB2xHI" then the text "name/hardware\0"
    p, y, x, version, build = struct.unpack_from("<BxBB2xHI", body)
    assert (p, x, y) == (0, 0, 0)
    assert body[12:].rstrip(b"\0").decode() == "spindle/spinn3"


def test_bad_requests_get_their_return_codes(board):
    port = board.port
    assert ask(port, b"\0\0\x87", timeout=0.5) is None         # no sequence number: no reply
    assert ask(port, sdp_scp(77, 1))[1] == RC_CMD              # no such command
    assert ask(port, sdp_scp(CMD_VER, 2, x=9, y=9))[1] == RC_ROUTE  # no chip (9,9) on a SpiNN-3
    assert ask(port, sdp_scp(CMD_READ, 3, (0x60000000, 16, 0)))[1] == RC_ARG  # nothing allocated
    assert ask(port, sdp_scp(CMD_READ, 4, (0x60000000,)))[1] == RC_LEN  # arguments missing
    assert ask(port, sdp_scp(CMD_READ, 5, (0x60000000, 300, 0)))[1] == RC_ARG  # over 256 bytes
    assert ask(port, sdp_scp(CMD_VER, 6, cpu=20))[1] == RC_CPU
    assert ask(port, sdp_scp(CMD_WRITE, 7, (0x60000000, 8, 0), b"1234"))[1] == RC_LEN
    flags, rc, seq, body = ask(port, sdp_scp(CMD_VER, 8))       # and the board is still there
    assert rc == RC_OK and seq == 8


def test_a_repeated_request_is_answered_not_executed_again(board):
    alloc = sdp_scp(CMD_ALLOC, 40, (16 << 8 | 0, 1024, 0))
    first = ask(board.port, alloc)
    again = ask(board.port, alloc)  # as a client that lost the first reply
    other = ask(board.port, sdp_scp(CMD_ALLOC, 41, (16 << 8 | 0, 1024, 0)))
    a, b, c = (struct.unpack_from("<I", r[3])[0] for r in (first, again, other))
    assert first[1] == again[1] == other[1] == RC_OK
    assert a == b != 0 and c == a + 1024  # the repeat allocated nothing
    data = bytes(range(256))
    assert ask(board.port, sdp_scp(CMD_WRITE, 42, (a, 256, 2), data))[1] == RC_OK
    assert ask(board.port, sdp_scp(CMD_READ, 43, (a, 256, 2)))[3] == data


def test_listening_on_every_interface_warns():
    proc = subprocess.Popen([SPINDLE, "board", "--machine", "spinn3", "--listen", "0.0.0.0:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("listening on 0.0.0.0:")
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert "warning" in err and "0.0.0.0" in err


def test_bad_board_options():
    r = run("board", "--listen", "localhost:99999")
    assert r.returncode == 2 and "--listen" in r.stderr and len(r.stderr.splitlines()) == 1
    r = run("board", "--udp-loss", "1")
    assert r.returncode == 2 and "--udp-loss" in r.stderr
    r = run("train", MLP, "--data", "fashion-mnist", "--udp-loss", "0.1")
    assert r.returncode == 2 and "--board" in r.stderr
    for flags in (["--validation-split", "0.2"], ["--inject-drops", "0.01"],
                  ["--kill-core", "0,0,3@10"],
                  ["--backend", "reference"]):
        r = run("train", MLP, "--data", "fashion-mnist", "--board", "127.0.0.1:9", *flags)
        assert r.returncode == 2 and "--board" in r.stderr, flags
        assert len(r.stderr.splitlines()) == 1


def test_another_machine_is_refused(board):
    r = run("evaluate", MLP, "--data", "fashion-mnist", "--machine", "spinn5", "--limit", "8",
            "--board", f"127.0.0.1:{board.port}")
    assert r.returncode == 1
    assert "spinn3" in r.stderr and "spinn5" in r.stderr


TRAIN = ["train", MLP, "--machine", "spinn3", "--numeric", "fixed", "--data", "fashion-mnist",
         "--epochs", "1", "--limit", "256"]
SAME = ("test_loss", "test_accuracy", "train_loss", "train_accuracy")
PACKETS = ("packets_sent", "packets_dropped", "packets_reinjected", "packets_lost",
           "packets_resent", "simulated_seconds", "energy_joules", "chips_used", "cores_used")


def train(tmp_path, name, *extra):
    report = tmp_path / f"{name}.json"
    r = run(*TRAIN, *extra, "--report", str(report), timeout=1800)
    assert r.returncode == 0, r.stderr
    return json.loads(report.read_text())


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    return train(tmp_path_factory.mktemp("in_process"), "in_process")


def check_same(rep, ref):
    for key in SAME:
        assert rep[key] == ref[key], key
    for key in PACKETS:
        assert rep[key] == ref[key], key
    # The kernels' provenance, read back from their SDRAM regions with
    # CMD_READ over UDP, is the in-process run's core for core; and what
    # the kernels counted sending is what the machine counted sent.
    assert rep["provenance"] == ref["provenance"]
    totals = rep["provenance"]["totals"]
    assert totals["packets_out"] == rep["packets_sent"]
    assert totals["cores"] == totals["cores_final"] == rep["cores_used"]
    assert len(rep["provenance"]["cores"]) == rep["cores_used"]


def test_train_over_udp_equals_in_process(in_process, board, tmp_path):
    rep = train(tmp_path, "udp", "--board", f"127.0.0.1:{board.port}")
    check_same(rep, in_process)
    out, _ = board.stop()
    board.proc.returncode = 0
    assert "requests" in out


def test_one_percent_loss_gives_identical_results(in_process, tmp_path):
    b = Board("--machine", "spinn3", "--udp-loss", "0.01", "--seed", "7")
    try:
        rep = train(tmp_path, "lossy", "--board", f"127.0.0.1:{b.port}", "--udp-loss", "0.01")
    finally:
        out, _ = b.stop()
    check_same(rep, in_process)
    again = int(out.split(" requests, ")[1].split()[0])
    lost = int(out.split(" answered again, ")[1].split()[0])
    assert lost > 0 and again > 0  # datagrams were lost and requests asked again
