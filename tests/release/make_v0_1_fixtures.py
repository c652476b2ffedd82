"""Write tests/release/v0_1/: cookies, a key file and a SQLite store made by cookiesess 0.1.0.

Run once with the 0.1.0 code (commit 0602280), from the repository root:
``python -m tests.release.make_v0_1_fixtures``. test_upgrade.py checks that the current
version opens what it wrote; running this with a later version would prove nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cookiesess import Keyring, SessionEngine, __version__
from cookiesess.stores import SQLiteStore
from tests.release.upgrade_data import CASES, COOKIE_NAME, SEALED_AT

OUT = Path(__file__).resolve().parent / "v0_1"


def main() -> None:
    assert __version__ == "0.1.0", f"run this with cookiesess 0.1.0, not {__version__}"
    OUT.mkdir(exist_ok=True)
    keys = OUT / "keys.toml"
    for _ in range(2):  # the CLI's key file: a primary, then a decrypt-only key added later
        subprocess.run(
            [sys.executable, "-m", "cookiesess", "keys", "add", "--file", str(keys)], check=True
        )
    store = SQLiteStore(OUT / "store.sqlite3", clock=lambda: SEALED_AT)
    engine = SessionEngine(Keyring.from_file(keys), cookie_name=COOKIE_NAME, store=store)
    cookies = {}
    for case, data in CASES.items():
        session = engine.load({}, now=SEALED_AT)
        session.update(data)
        set_cookies = engine.commit(session, {}, now=SEALED_AT)
        cookies[case] = dict(line.split(";", 1)[0].split("=", 1) for line in set_cookies)
    store.close()
    (OUT / "cookies.json").write_text(json.dumps(cookies, indent=2) + "\n")


if __name__ == "__main__":
    main()
