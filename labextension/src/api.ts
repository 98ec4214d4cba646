/**
 * A typed client of the jupyter-mux management API, one function per route.
 *
 * Requests go through ServerConnection so the token / cookie and XSRF header are handled
 * exactly like JupyterLab's own calls.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { editableRules } from './helpers/rules';
import type {
  IActive,
  IAdminUsageQuery,
  IMe,
  IModelInfo,
  IProbe,
  IProvider,
  IProviderCreate,
  IProviderType,
  IProviderUpdate,
  IRule,
  IUsage,
  IUsageQuery,
  IKey,
  IKeyCreate,
  IKeyCreated,
  IWorkspace,
  IWorkspaceCreate,
  IWorkspaceUpdate
} from './types';

/** An error answered by the API, with Jupyter's `{message, reason}` message. */
export class MuxApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
    this.name = 'MuxApiError';
  }
}

/** Pull a readable message out of an error body (Jupyter's or OpenAI's shape). */
export function errorMessage(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, any>;
    if (typeof b.message === 'string' && b.message) {
      return b.message;
    }
    if (b.error && typeof b.error.message === 'string') {
      return b.error.message;
    }
    if (typeof b.reason === 'string' && b.reason) {
      return b.reason;
    }
  }
  return `HTTP ${status}`;
}

let settings: ServerConnection.ISettings | undefined;

/** Use these server settings (tests and custom deployments); default: makeSettings(). */
export function setServerSettings(value: ServerConnection.ISettings): void {
  settings = value;
}

function serverSettings(): ServerConnection.ISettings {
  if (!settings) {
    settings = ServerConnection.makeSettings();
  }
  return settings;
}

const seg = encodeURIComponent;

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  query?: URLSearchParams
): Promise<T> {
  const s = serverSettings();
  let url = URLExt.join(s.baseUrl, 'mux', 'api', path);
  const qs = query?.toString();
  if (qs) {
    url += `?${qs}`;
  }
  const init: RequestInit = { method };
  if (qs) {
    // ServerConnection's cache buster (for 'no-store') would add an unknown query
    // parameter, which the usage API refuses; 'no-cache' still revalidates every time.
    init.cache = 'no-cache';
  }
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, s);
  } catch (error) {
    throw new MuxApiError(0, `Cannot reach the server: ${String(error)}`);
  }
  const text = await response.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    throw new MuxApiError(response.status, errorMessage(response.status, data));
  }
  return data as T;
}

export const listProviderTypes = (): Promise<IProviderType[]> =>
  request('GET', 'provider-types');

export const listProviders = (): Promise<IProvider[]> => request('GET', 'providers');

export const createProvider = (body: IProviderCreate): Promise<IProvider> =>
  request('POST', 'providers', body);

/** Try a provider's settings without saving them: does it answer its model list? */
export const probeProvider = (body: IProviderCreate): Promise<IProbe> =>
  request('POST', 'provider-probe', body);

export const getProvider = (name: string): Promise<IProvider> =>
  request('GET', `providers/${seg(name)}`);

export const updateProvider = (name: string, body: IProviderUpdate): Promise<IProvider> =>
  request('PATCH', `providers/${seg(name)}`, body);

export const deleteProvider = (name: string): Promise<void> =>
  request('DELETE', `providers/${seg(name)}`);

export const listProviderModels = (name: string): Promise<IModelInfo[]> =>
  request('GET', `providers/${seg(name)}/models`);

export const refreshProvider = (name: string): Promise<IProvider> =>
  request('POST', `providers/${seg(name)}/refresh`);

export const listWorkspaces = (): Promise<IWorkspace[]> => request('GET', 'workspaces');

export const createWorkspace = (body: IWorkspaceCreate): Promise<IWorkspace> =>
  request('POST', 'workspaces', body);

export const getWorkspace = (name: string): Promise<IWorkspace> =>
  request('GET', `workspaces/${seg(name)}`);

export const updateWorkspace = (name: string, body: IWorkspaceUpdate): Promise<IWorkspace> =>
  request('PATCH', `workspaces/${seg(name)}`, body);

export const deleteWorkspace = (name: string): Promise<void> =>
  request('DELETE', `workspaces/${seg(name)}`);

export const getActive = (): Promise<IActive> => request('GET', 'active');

export const setActive = (name: string): Promise<IActive> => request('PUT', 'active', { name });

/** A workspace's routing rules, in priority order (the catch-all last). */
export const getRules = (workspace: string): Promise<IRule[]> =>
  request('GET', `workspaces/${seg(workspace)}/rules`);

/** Replace a workspace's rules atomically; a 400 names the bad rule. */
export const putRules = (workspace: string, rules: IRule[]): Promise<IRule[]> =>
  request(
    'PUT',
    `workspaces/${seg(workspace)}/rules`,
    editableRules(rules)
  );

/** The set fields of a query, as URL parameters. */
function queryParams(query: Record<string, string | undefined>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v) {
      params.set(k, v);
    }
  }
  return params;
}

/** Usage totals grouped by workspace, provider, model or day. */
export const getUsage = (query: IUsageQuery = {}): Promise<IUsage> =>
  request('GET', 'usage', undefined, queryParams(query));

/**
 * Who the user is to the JupyterHub service: admin or not, their groups, policy and
 * budgets. A plain (non-Hub) server answers 404.
 */
export const getMe = (): Promise<IMe> => request('GET', 'me');

/** Usage of every user of the JupyterHub service, grouped (Hub admins only; else 403). */
export const getAdminUsage = (query: IAdminUsageQuery = {}): Promise<IUsage> =>
  request('GET', 'admin/usage', undefined, queryParams(query));

/** The scoped mux keys (never their secrets). */
export const listKeys = (): Promise<IKey[]> => request('GET', 'keys');

/** Make a key: the answer carries its secret, which no other answer ever does. */
export const createKey = (body: IKeyCreate): Promise<IKeyCreated> =>
  request('POST', 'keys', body);

/** Revoke a key: it stops working on the next request. */
export const revokeKey = (id: string): Promise<void> => request('DELETE', `keys/${seg(id)}`);
