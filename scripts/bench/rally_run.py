"""Runs esrally (installed in the venv whose python runs this file) with one change made at run time.

The stack's Elasticsearch is the integ-test-zip distribution, which has no `rest-root` module, so
`GET /` answers 405. Rally's synchronous client sends `GET /` once, as a product check, before its
first request and stops with "ApiError(405 ... Incorrect HTTP method for uri [/] and method [GET],
allowed: [DELETE])". This wrapper marks that client as already verified (what Rally's own async client,
which sends the bulk requests, does anyway), then runs Rally's unmodified `main()`. Pass
`--distribution-version` as well: Rally otherwise reads the version from `GET /` too.
"""
import sys

from esrally.client import synchronous

_init = synchronous.RallySyncElasticsearch.__init__


def _verified_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self._verified_elasticsearch = True


synchronous.RallySyncElasticsearch.__init__ = _verified_init

from esrally.rally import main  # noqa: E402  (after the patch, so every client Rally builds has it)

if __name__ == "__main__":
    sys.exit(main())
