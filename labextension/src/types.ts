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

// --- Scoped mux keys (API.md section 5) -------------------------------------------------
// HAND-WRITTEN until docs/openapi.json describes /mux/api/keys: then replace this block by
// aliases of the generated schemas, like the ones above (e.g.
// `export type IKey = Required<Schemas['KeyOut']>;`), and run `jlpm build`: the compiler
// finds any difference. This is the only hand-kept copy of these shapes in the front end.

/** A mux key as listed: never its secret. Times are ISO 8601, money is USD. */
export interface IKey {
  id: string;
  name: string;
  /** The first characters of the secret, to recognise it by. */
  prefix: string;
  /** The workspace the key is pinned to, or null: it follows the active workspace. */
  workspace: string | null;
  expires_at: string | null;
  budget_usd: number | null;
  spent_usd: number;
  created_at: string;
  last_used_at: string | null;
}

/** The body of POST /mux/api/keys. */
export interface IKeyCreate {
  name: string;
  workspace?: string | null;
  expires_at?: string | null;
  budget_usd?: number | null;
}

/** The answer of POST /mux/api/keys: the key and its secret, shown this once. */
export type IKeyCreated = IKey & { secret: string };
