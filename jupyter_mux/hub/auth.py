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
  Hub user can never run code in the process that can decrypt every key;
- unless the admin's policy allows it (`user_providers`, by default
  `c.HubServiceApp.allow_user_providers`), users do not add,
  change, refresh or probe providers: a provider is a URL the service connects to from wherever it
  runs (inside the Hub's network), with discovery errors quoting what answered.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import Authorizer
from jupyterhub.singleuser.extension import JupyterHubIdentityProvider
from tornado import web

from ..handlers import api
from ..handlers.base import AUTH_RESOURCE, TENANTS_KEY
from .guard import Identity

# The management routes whose writes make the service connect to a URL a user chose, or
# rewrite a provider (a refresh of a shared one would rebuild every user's routing table).
PROVIDER_WRITES = (
    api.ProvidersHandler,
    api.ProviderHandler,
    api.ProviderProbeHandler,
    api.ProviderPricesHandler,
    api.ProviderRefreshHandler,
)


class HubServiceIdentityProvider(JupyterHubIdentityProvider):
    @property
    def token(self) -> str:  # type: ignore[override]
        return ""


class HubServiceAuthorizer(Authorizer):
    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if resource != AUTH_RESOURCE:
            return False
        hub_auth = self.identity_provider.hub_auth  # type: ignore[attr-defined]
        if not hub_auth.check_scopes(hub_auth.access_scopes, user.hub_user):
            return False
        if (
            action == "write"
            and isinstance(handler, PROVIDER_WRITES)
            and not getattr(handler, "admins_only", False)  # the admin's own providers
            and not handler.settings[TENANTS_KEY].guard.effective(Identity.of(user)).user_providers
        ):
            raise web.HTTPError(
                403,
                "The administrator of this mux service does not let users add or change "
                "providers; use the shared ones.",
            )
        return True
