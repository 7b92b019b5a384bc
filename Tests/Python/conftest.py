"""A `dera serve` process for the client tests: SmolLM2 with its committed adapter, the lexical checker and a
three-document store indexed here, on a free loopback port. Stopped with SIGTERM at the end; a clean exit is
part of the test."""
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

DOCUMENTS = {
    "kilimanjaro.md": "# Mount Kilimanjaro\n\nMount Kilimanjaro is a dormant volcano in Tanzania. It is 5,895 metres high.",
    "baikal.md": "# Lake Baikal\n\nLake Baikal is a rift lake in Siberia, Russia. It is the deepest lake in the world.",
    "saturn.md": "# Saturn\n\nSaturn is the sixth planet from the Sun and has a prominent ring system.",
}


def dera_binary():
    path = pathlib.Path(os.environ.get("DERA_BIN", ROOT / ".build" / "debug" / "dera"))
    if not path.exists():
        pytest.fail(f"{path} not found: build with `swift build --product dera` (or set DERA_BIN)")
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    if not MODEL.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{MODEL} missing (scripts/setup fetches it)")
        pytest.skip(f"needs {MODEL} (scripts/setup)")
    dera = dera_binary()
    folder = tmp_path_factory.mktemp("corpus")
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text)
    store = folder / "tiny.sqlite"
    subprocess.run([dera, "index", folder, "--db", store, "--no-embed"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    log = open(folder / "serve.log", "w")
    process = subprocess.Popen(
        [dera, "serve", "--port", "0", "--db", store, "--model", MODEL, "--checker", "lexical", "--mode", "bm25",
         "-k", "2", "--default-max-tokens", "48", "--batch-window", "200", "--log-format", "json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    url = None
    lines = []

    def read():
        nonlocal url
        for line in process.stdout:
            lines.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                url = match.group(1)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=120)
    if url is None:
        process.kill()
        pytest.fail("dera serve did not start: " + "".join(lines) + (folder / "serve.log").read_text())
    yield {"url": url, "store": store.name, "log": folder / "serve.log"}
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("dera serve did not stop within 60 s of SIGTERM")
    log.close()
    assert code == 0, f"dera serve exited with {code}:\n" + (folder / "serve.log").read_text()[-4000:]
