/**
 * Shapes of the management API, named for the front end. They are aliases of the types
 * generated from docs/openapi.json (`jlpm build:api-types` writes src/api-schema.ts), so
 * the server's models stay the only hand-written copy. Answers are `Required`: a field
 * with a server-side default is always present in what the server sends.
 */
import type { components, paths } from './api-schema';

type Schemas = components['schemas'];

export type AuthType = Schemas['ProviderTypeOut']['default_auth'];
export type IProviderType = Required<Schemas['ProviderTypeOut']>;
export type IProvider = Required<Schemas['ProviderOut']>;
export type IProviderCreate = Schemas['ProviderCreate'];
export type IProviderUpdate = Schemas['ProviderUpdate'];
/** The answer of POST provider-probe: whether the settings reach a provider. */
export type IProbe = Required<Schemas['ProbeOut']>;
export type ITarget = Schemas['TargetOut'];
export type IWorkspace = Required<Schemas['WorkspaceOut']>;
export type IWorkspaceCreate = Schemas['WorkspaceCreate'];
export type IWorkspaceUpdate = Schemas['WorkspaceUpdate'];
export type IModelInfo = Schemas['ModelInfo'];
export type IActive = Schemas['ActiveOut'];
/** A rule as edited and sent (`ok`/`problem` are read-only, present on what GET answers). */
export type IRule = Schemas['RuleIn'] & { targets: ITarget[] };
export type RuleKind = IRule['kind'];
export type IUsageRow = Required<Schemas['UsageRowOut']>;
export interface IUsage {
  rows: IUsageRow[];
  totals: IUsageRow;
}
export type IUsageQuery = NonNullable<paths['/mux/api/usage']['get']['parameters']['query']>;
export type UsageGroupBy = NonNullable<IUsageQuery['group_by']>;

// The JupyterHub service's own routes (API.md section 6; a plain server answers 404): who
// the user is to the service, with their budgets, and usage across users (Hub admins).
export type IMe = Required<Schemas['MeOut']>;
export type IBudget = Required<Schemas['BudgetOut']>;
export type IAdminUsageQuery = NonNullable<
  paths['/mux/api/admin/usage']['get']['parameters']['query']
>;
export type AdminUsageGroupBy = NonNullable<IAdminUsageQuery['group_by']>;

// Scoped mux keys (API.md section 5): a key as listed (never its secret), the body of
// POST /mux/api/keys, and its answer (the key and its secret, shown this once).
export type IKey = Required<Schemas['KeyOut']>;
export type IKeyCreate = Schemas['KeyCreate'];
export type IKeyCreated = Required<Schemas['KeyCreated']>;
