/** Shapes of the jupyter-mux management API (see docs/api.md). */

export type AuthType = 'none' | 'api_key';

export interface IProviderType {
  type: string;
  label: string;
  default_endpoint: string;
  default_auth: AuthType;
  auth_types: AuthType[];
}

export interface IProvider {
  name: string;
  type: string;
  endpoint: string;
  description: string;
  auth_type: AuthType;
  has_api_key: boolean;
  predefined: boolean;
  models: string[];
  status: 'ok' | 'error';
  error: string | null;
  models_refreshed_at: string | null;
  used_by: string[];
}

export interface IProviderCreate {
  name: string;
  type: string;
  endpoint?: string | null;
  description?: string;
  auth_type?: AuthType | null;
  api_key?: string | null;
}

export type IProviderUpdate = Partial<Omit<IProviderCreate, 'type'>>;

export interface ITarget {
  provider: string;
  model: string;
}

export interface IWorkspace {
  name: string;
  description: string;
  is_active: boolean;
  preferred: ITarget | null;
  preferred_ok: boolean;
  problem: string | null;
}

export interface IWorkspaceCreate {
  name: string;
  description?: string;
  preferred?: ITarget | null;
}

export type IWorkspaceUpdate = Partial<IWorkspaceCreate>;

export interface IModelInfo {
  id: string;
  [key: string]: unknown;
}

export interface IActive {
  name: string;
}

/** How a routing rule matches a request (docs/api.md, "Routing rules"). */
export type RuleKind = 'catch_all' | 'request_type' | 'filename' | 'model';

/** A routing rule; `targets[0]` serves, the others are fallbacks. `ok`/`problem` are read-only. */
export interface IRule {
  kind: RuleKind;
  pattern: string | null;
  targets: ITarget[];
  ok?: boolean;
  problem?: string | null;
}

export type UsageGroupBy = 'workspace' | 'provider' | 'model' | 'day';

export interface IUsageRow {
  key: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** USD; null when a price is unknown. */
  cost: number | null;
}

export interface IUsage {
  rows: IUsageRow[];
  totals: IUsageRow;
}

export interface IUsageQuery {
  group_by?: UsageGroupBy;
  since?: string;
  until?: string;
  workspace?: string;
}
