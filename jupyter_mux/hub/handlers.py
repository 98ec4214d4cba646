"""The Hub service's own routes (API.md section 6): what a user may use and has left
(`/mux/api/me`), and the admin's policies, members and usage across users
(`/mux/api/admin/...`, Hub admins only). Thin: parse, ask the guard, write."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import MuxError
from ..handlers import api
from ..handlers.base import TENANTS_KEY, ManagementHandler
from ..models import PriceIn, ProviderCreate, parse
from ..service import MuxService
from .guard import Guard, Identity
from .models import AdminUsageQuery, Policy, misplaced

GROUP_OR_USER = r"(?P<scope>group|user)s/(?P<name>[^/]+)"


class HubHandler(ManagementHandler):
    @property
    def guard(self) -> Guard:
        return self.settings[TENANTS_KEY].guard

    @property
    def who(self) -> Identity:
        return Identity.of(self.current_user)


class MeHandler(HubHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.guard.me(self.who))


class AdminHandler(HubHandler):
    """Only for the Hub's admins (the `admin` flag of their Hub user): everybody else gets
    a 403 that says so."""

    admins_only = True  # hub/auth.py: the users' own-providers policy is not the admin's

    async def prepare(self) -> None:
        await super().prepare()
        if self.current_user and not self.who.admin:
            raise MuxError(
                "Only the Hub's admins can use /mux/api/admin/.", status=403, code="forbidden"
            )


class PoliciesHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(self.guard.policies())


class PolicyHandler(AdminHandler):
    def _scope(self, scope: str | None, name: str | None) -> tuple[str, str]:
        return (scope, name) if scope and name else ("default", "")

    @web.authenticated
    @authorized
    async def put(self, scope: str | None = None, name: str | None = None) -> None:
        policy = parse(Policy, self.json_body())
        scope, name = self._scope(scope, name)
        wrong = misplaced(scope, policy)
        if wrong:
            raise MuxError(wrong + ".", status=400, code="invalid_request")
        self.write_json(await self.guard.put_policy(scope, name, policy))

    @web.authenticated
    @authorized
    async def delete(self, scope: str | None = None, name: str | None = None) -> None:
        await self.guard.delete_policy(*self._scope(scope, name))
        self.set_status(204)
        self.finish()


class _ThenSync:
    """The admin's service (owner ""), each call of which is followed by every tenant's
    sync before the answer goes out: a shared workspace changed here routes every user's
    next request (other replicas' at their next sync)."""

    def __init__(self, tenants: Any) -> None:
        self._tenants = tenants

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._tenants.base, name)

        async def then_sync(*args: Any, **kwargs: Any) -> Any:
            result = await call(*args, **kwargs)
            await self._tenants.sync()
            return result

        return then_sync


class SharedWorkspaces(AdminHandler):
    """The management API's workspace routes, on the admin's workspaces, which every user
    sees as shared."""

    @property
    def service(self) -> MuxService:  # type: ignore[override]
        return _ThenSync(self.settings[TENANTS_KEY])  # type: ignore[return-value]


class SharedProvidersHandler(SharedWorkspaces, api.ProvidersHandler):
    """The admin's providers (owner ""): the configuration's, and those shared here."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = parse(ProviderCreate, self.json_body())
        await self.service.create_provider(body)
        self.write_json(await self.service.share_provider(body.name), status=201)


class SharedProviderHandler(SharedWorkspaces, api.ProviderHandler):
    """A provider the admin shared here: changed or deleted for every user at once (one
    from the configuration file answers 403: change it there)."""


class SharedWorkspacesHandler(SharedWorkspaces, api.WorkspacesHandler):
    pass


class SharedWorkspaceHandler(SharedWorkspaces, api.WorkspaceHandler):
    pass


class SharedRulesHandler(SharedWorkspaces, api.RulesHandler):
    pass


class MembersHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.guard.members())


class SharedPricesHandler(AdminHandler):
    """Prices of a shared provider's models: every user's costs, so the admin's to set."""

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        body = parse(PriceIn, self.json_body())
        # Every user's routing and costs here at once.
        self.write_json(await _ThenSync(self.settings[TENANTS_KEY]).set_price(name, body))


class AdminUsageHandler(AdminHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = parse(AdminUsageQuery, self.query_fields())
        self.write_json(await self.guard.usage(query))


HANDLERS: list[tuple[str, Any]] = [
    (r"/mux/api/me", MeHandler),
    (r"/mux/api/admin/policies", PoliciesHandler),
    (r"/mux/api/admin/policies/default", PolicyHandler),
    (rf"/mux/api/admin/policies/{GROUP_OR_USER}", PolicyHandler),
    (r"/mux/api/admin/members", MembersHandler),
    (r"/mux/api/admin/workspaces", SharedWorkspacesHandler),
    (rf"/mux/api/admin/workspaces/{api.NAME}", SharedWorkspaceHandler),
    (rf"/mux/api/admin/workspaces/{api.NAME}/rules", SharedRulesHandler),
    (r"/mux/api/admin/providers", SharedProvidersHandler),
    (rf"/mux/api/admin/providers/{api.NAME}", SharedProviderHandler),
    (r"/mux/api/admin/providers/(?P<name>[^/]+)/prices", SharedPricesHandler),
    (r"/mux/api/admin/usage", AdminUsageHandler),
]
