"""Container health check: exit 0 when the server's ``/health`` answers 200, else 1.

The images' ``HEALTHCHECK`` runs it (the slim base has no curl). It asks the port in
``ICEGRT_PORT`` (default 8000) on the loopback address, so it follows the server's own setting.
Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 5


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('ICEGRT_PORT', '8000')}/health"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S):  # a status other than 2xx raises HTTPError
            return 0
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
