"""The management API (API.md section 2): parse, call the service, write."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..models import (
    ActiveIn,
    ActiveOut,
    KeyCreate,
    PriceIn,
    ProviderCreate,
    ProviderUpdate,
    UsageQuery,
    WorkspaceCreate,
    WorkspaceExport,
    WorkspaceUpdate,
    parse,
    parse_rules,
)
from ..openapi import build_spec
from ..probe import probe_provider
from .base import ManagementHandler

NAME = r"(?P<name>[^/]+)"


class OpenAPIHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(build_spec())


class ProviderTypesHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(self.service.provider_types())


class ProvidersHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.service.list_providers())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = parse(ProviderCreate, self.json_body())
        self.write_json(await self.service.create_provider(body), status=201)


class ProviderProbeHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = parse(ProviderCreate, self.json_body())
        service = self.service
        self.write_json(await probe_provider(body, service.client, service.discovery_timeout))


class ProviderHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.service.get_provider(name))

    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        body = parse(ProviderUpdate, self.json_body())
        self.write_json(await self.service.update_provider(name, body))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.service.delete_provider(name)
        self.set_status(204)
        self.finish()


class ProviderModelsHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.service.provider_models(name))


class ProviderPricesHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        body = parse(PriceIn, self.json_body())
        self.write_json(await self.service.set_price(name, body))


class ProviderRefreshHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.write_json(await self.service.refresh_provider(name))


class WorkspacesHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.service.list_workspaces())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = parse(WorkspaceCreate, self.json_body())
        self.write_json(await self.service.create_workspace(body), status=201)


class WorkspaceHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.service.get_workspace(name))

    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        body = parse(WorkspaceUpdate, self.json_body())
        self.write_json(await self.service.update_workspace(name, body))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.service.delete_workspace(name)
        self.set_status(204)
        self.finish()


class RulesHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.service.get_rules(name))

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        rules = parse_rules(self.json_body())
        self.write_json(await self.service.set_rules(name, rules))


class ExportHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        export = await self.service.export_workspace(name)
        self.set_header("Content-Disposition", f'attachment; filename="{name}.mux.json"')
        self.write_json(export)


class ImportHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = parse(WorkspaceExport, self.json_body())
        self.write_json(await self.service.import_workspace(body), status=201)


class UsageHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = parse(UsageQuery, self.query_fields())
        self.write_json(await self.service.usage(query))


class KeysHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.service.list_keys())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = parse(KeyCreate, self.json_body())
        self.write_json(await self.service.create_key(body), status=201)


class KeyHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def delete(self, key_id: str) -> None:
        await self.service.revoke_key(key_id)
        self.set_status(204)
        self.finish()


class ActiveHandler(ManagementHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(ActiveOut(name=await self.service.get_active()))

    @web.authenticated
    @authorized
    async def put(self) -> None:
        body = parse(ActiveIn, self.json_body())
        self.write_json(ActiveOut(name=await self.service.set_active(body.name)))


HANDLERS = [
    (r"/mux/api/openapi.json", OpenAPIHandler),
    (r"/mux/api/provider-types", ProviderTypesHandler),
    (r"/mux/api/providers", ProvidersHandler),
    # Before the {name} route: "provider-probe" is not a provider.
    (r"/mux/api/provider-probe", ProviderProbeHandler),
    (rf"/mux/api/providers/{NAME}", ProviderHandler),
    (rf"/mux/api/providers/{NAME}/models", ProviderModelsHandler),
    (rf"/mux/api/providers/{NAME}/refresh", ProviderRefreshHandler),
    (rf"/mux/api/providers/{NAME}/prices", ProviderPricesHandler),
    (r"/mux/api/workspaces", WorkspacesHandler),
    # Before the {name} route: "import" is a reserved workspace name.
    (r"/mux/api/workspaces/import", ImportHandler),
    (rf"/mux/api/workspaces/{NAME}", WorkspaceHandler),
    (rf"/mux/api/workspaces/{NAME}/rules", RulesHandler),
    (rf"/mux/api/workspaces/{NAME}/export", ExportHandler),
    (r"/mux/api/active", ActiveHandler),
    (r"/mux/api/usage", UsageHandler),
    (r"/mux/api/keys", KeysHandler),
    (r"/mux/api/keys/(?P<key_id>[^/]+)", KeyHandler),
]
