"""Flask with cookiesess: a visit counter, login/logout and flashed messages.

Run:  python examples/flask_app.py            # then open http://127.0.0.1:5000/

Keys come from COOKIESESS_KEYS_FILE / COOKIESESS_KEYS; without them a throwaway
development key is generated (with a warning): sessions end when it restarts.
Options: --port N (default 5000).
"""

from __future__ import annotations

import argparse
import os
import sys

from flask import Flask, flash, get_flashed_messages, redirect, request, session, url_for

from cookiesess import Keyring
from cookiesess.flask import CookieSessionInterface


def dev_keys() -> None:
    """Put a throwaway key in the environment when none is configured."""
    if os.environ.get("COOKIESESS_KEYS_FILE") or os.environ.get("COOKIESESS_KEYS"):
        return
    print(
        "WARNING: no COOKIESESS_KEYS_FILE or COOKIESESS_KEYS: using a throwaway development "
        "key; sessions end on restart. Generate a real key with `cookiesess keygen`.",
        file=sys.stderr,
    )
    os.environ["COOKIESESS_KEYS"] = f"dev:{Keyring.generate('dev').primary.secret_b64()}"


def create_app() -> Flask:
    app = Flask(__name__)
    # secure="auto": Secure cookies over HTTPS, plain ones on http://127.0.0.1.
    CookieSessionInterface(secure="auto").init_app(app)

    @app.get("/")
    def index() -> dict[str, object]:
        session["visits"] = session.get("visits", 0) + 1
        return {
            "user": session.get("user"),
            "visits": session["visits"],
            "messages": get_flashed_messages(),
        }

    @app.post("/login")
    def login() -> object:
        session.regenerate()  # a new session id on privilege change
        session["user"] = request.form.get("user", "alice")
        session.permanent = request.form.get("remember") == "1"
        flash(f"welcome, {session['user']}")
        return redirect(url_for("index"))

    @app.post("/logout")
    def logout() -> object:
        session.clear()
        return redirect(url_for("index"))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    dev_keys()
    create_app().run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
