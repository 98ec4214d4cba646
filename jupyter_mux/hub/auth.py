"""JupyterHub's service auth for the mux handlers: who a request is (a Hub API token in
`Authorization: token|Bearer`, or `x-api-key`, which the mux handlers turn into the same
header; or the cookie the Hub's OAuth left in a browser), and what they may do here.

JupyterHub's own identity provider for Jupyter servers does the OAuth work (login redirect
with PKCE state, callback, cookie, XSRF). Two things differ for a service that holds an
organisation's keys:

- its own Hub API token is never the Jupyter server's token (which Jupyter would write into
  its runtime files and log lines);
- nothing but the mux is reachable: the authorizer grants the `jupyter_mux` resource, and no
  other (contents, kernels, terminals, ...), to users with the service's access scope, so a
  Hub user can never run code in the process that can decrypt every key.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import Authorizer
from jupyterhub.singleuser.extension import JupyterHubIdentityProvider

from ..handlers.base import AUTH_RESOURCE


class HubServiceIdentityProvider(JupyterHubIdentityProvider):
    @property
    def token(self) -> str:  # type: ignore[override]
        return ""


class HubServiceAuthorizer(Authorizer):
    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if resource != AUTH_RESOURCE:
            return False
        hub_auth = self.identity_provider.hub_auth  # type: ignore[attr-defined]
        return bool(hub_auth.check_scopes(hub_auth.access_scopes, user.hub_user))
