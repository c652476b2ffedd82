"""Run by test_dist.py inside a fresh venv holding only the installed wheel and its extras.

Argument: a key entry printed by the installed ``cookiesess keygen``. Prints one JSON object.
"""

import importlib
import importlib.metadata
import json
import os
import sys
from pathlib import Path

import cookiesess
from cookiesess import Keyring, SessionEngine

KEYGEN_OUTPUT = sys.argv[1]
ADAPTERS = json.loads(sys.argv[2])

# The package under test is the installed wheel, not a source tree on sys.path.
location = Path(cookiesess.__file__).resolve()
assert location.is_relative_to(Path(sys.prefix).resolve()), location

os.environ["COOKIESESS_KEYS"] = KEYGEN_OUTPUT
engine = SessionEngine(Keyring.from_env(), cookie_name="__Host-session")
session = engine.load({})
session["user"] = "ada"
session["cart"] = [1, 2, 3]
set_cookies = engine.commit(session, {})
jar = dict(value.split(";", 1)[0].split("=", 1) for value in set_cookies)
reopened = engine.load(jar)

imported = {}
for extra, modules in ADAPTERS.items():
    if extra == "django":
        from django.conf import settings

        settings.configure(COOKIESESS={"keys": KEYGEN_OUTPUT})
    imported[extra] = [importlib.import_module(module).__name__ for module in modules]

print(
    json.dumps(
        {
            "file": str(location),
            "version": cookiesess.__version__,
            "dist_version": importlib.metadata.version("cookiesess"),
            "reopened": dict(reopened),
            "same_id": reopened.id == session.id,
            "set_cookie": set_cookies,
            "imported": imported,
            "py_typed": (location.parent / "py.typed").is_file(),
        }
    )
)
