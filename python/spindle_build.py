"""The PEP 517 build backend of pyproject.toml: `pip install .` builds the
package with CMake (the target spindle_python, as `make` builds it into
build/python) and packs build/python/spindle into a wheel. Only the
standard library is used, so pip needs no package index."""
import base64
import hashlib
import os
import subprocess
import sys
import sysconfig
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "spindle"


def _version():
    """The one version: include/spindle/api.h's (pyproject.toml repeats it;
    a test checks they agree)."""
    with open(os.path.join(ROOT, "include", "spindle", "api.h")) as f:
        for line in f:
            if line.startswith("#define SPINDLE_VERSION_STRING"):
                return line.split('"')[1]
    raise RuntimeError("include/spindle/api.h has no SPINDLE_VERSION_STRING")


VERSION = _version()


def _tag():
    impl = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{impl}-{impl}-{plat}"


def _build():
    build = os.environ.get("SPINDLE_BUILD_DIR", os.path.join(ROOT, "build"))
    subprocess.run(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                   check=True, stdout=sys.stderr)
    subprocess.run(["cmake", "--build", build, "--target", "spindle_python", "-j",
                    os.environ.get("JOBS", "2")], check=True, stdout=sys.stderr)
    return os.path.join(build, "python", NAME)


def get_requires_for_build_wheel(config_settings=None):
    return []


def _metadata():
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
            "Summary: Deep learning on an emulated SpiNNaker machine, with a tf.keras-style "
            "API\nRequires-Python: >=3.9\n")


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = os.path.join(metadata_directory, f"{NAME}-{VERSION}.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write(_metadata())
    return os.path.basename(info)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    package = _build()
    tag = _tag()
    wheel = os.path.join(wheel_directory, f"{NAME}-{VERSION}-{tag}.whl")
    info = f"{NAME}-{VERSION}.dist-info"
    records = []

    def add(z, arcname, data):
        z.writestr(arcname, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        records.append(f"{arcname},sha256={digest.decode()},{len(data)}")

    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for folder, _, files in sorted(os.walk(package)):
            for name in sorted(files):
                if name.endswith((".pyc",)):
                    continue
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    add(z, os.path.join(NAME, os.path.relpath(path, package)), f.read())
        add(z, f"{info}/METADATA", _metadata().encode())
        add(z, f"{info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: spindle_build\n"
                                 f"Root-Is-Purelib: false\nTag: {tag}\n").encode())
        records.append(f"{info}/RECORD,,")
        z.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return os.path.basename(wheel)
