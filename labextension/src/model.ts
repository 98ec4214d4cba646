/**
 * The one front-end data flow: every view (sidebar, main view, status bar, switcher) reads
 * this model and writes through it. One JupyterLab `Poll` keeps it fresh, so changes made
 * over REST, from a notebook or in another tab show up: it backs off while the server does
 * not answer and stands by while the page is hidden. `changed` fires only on real changes.
 *
 * Usage is fetched only while a view watches it (`watchUsage`), and less often than the
 * rest, since a chart over time is one query per bucket. With it comes, under a JupyterHub
 * service, who the user is there (`me`: their budgets, and whether they are a Hub admin,
 * who may watch all users' usage). The mux keys are polled with the rest, but only while
 * a view watches them (`watchKeys`: the Keys and Connect tabs).
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from './api';
import { sameData } from './helpers/data';
import {
  bucketLabel,
  IUsageSeries,
  UsageBreakdown,
  usageBuckets,
  usageSeries,
  UsageRange
} from './helpers/usage';
import type {
  AdminUsageGroupBy,
  IMe,
  IProbe,
  IProvider,
  IProviderCreate,
  IProviderType,
  IProviderUpdate,
  IRule,
  IUsage,
  IKey,
  IKeyCreate,
  IKeyCreated,
  IWorkspace,
  IWorkspaceCreate,
  IWorkspaceUpdate
} from './types';

export const POLL_INTERVAL_MS = 2000;
/** Longest wait between polls while the server does not answer. */
export const POLL_MAX_MS = 30_000;
/** Usage is refreshed at most this often (plus at once when its query changes). */
export const USAGE_INTERVAL_MS = 10_000;

/** The user's own usage (the default), or every user's (Hub admins, `scope: 'all'`). */
export type IUsageQuery =
  | { range: UsageRange; by: UsageBreakdown; scope?: 'mine' }
  | { range: UsageRange; by: AdminUsageGroupBy; scope: 'all' };

/** One window of the watched usage: the user's own, or all users' (Hub admins). */
function fetchUsage(query: IUsageQuery, since: Date, until?: Date): Promise<IUsage> {
  const span = { since: since.toISOString(), until: until?.toISOString() };
  return query.scope === 'all'
    ? api.getAdminUsage({ ...span, group_by: query.by })
    : api.getUsage({ ...span, group_by: query.by });
}

export class MuxModel {
  constructor(options: { interval?: number; usageInterval?: number } = {}) {
    this._usageInterval = options.usageInterval ?? USAGE_INTERVAL_MS;
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: {
        interval: options.interval ?? POLL_INTERVAL_MS,
        backoff: true,
        max: POLL_MAX_MS
      },
      name: 'jupyter-mux:model',
      standby: 'when-hidden'
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get providers(): IProvider[] {
    return this._providers;
  }

  get workspaces(): IWorkspace[] {
    return this._workspaces;
  }

  get providerTypes(): IProviderType[] {
    return this._providerTypes;
  }

  get active(): IWorkspace | null {
    return this._workspaces.find(w => w.is_active) ?? null;
  }

  /** True once the first refresh answered (successfully or not). */
  get loaded(): boolean {
    return this._loaded;
  }

  /** The last refresh's error (e.g. the mux could not start), or null. */
  get error(): string | null {
    return this._error;
  }

  /** The watched usage over time, once fetched for the current query. */
  get usage(): IUsageSeries | null {
    return sameData(this._usageOf, this._usageQuery) ? this._usage : null;
  }

  get usageError(): string | null {
    return this._usageError;
  }

  get usageQuery(): IUsageQuery {
    return this._usageQuery;
  }

  /**
   * Who the user is to the JupyterHub service (their budgets; whether they are a Hub
   * admin), fetched with usage; null on a plain server, and before the first answer.
   */
  get me(): IMe | null {
    return this._me;
  }

  /** The mux keys as last fetched (never their secrets), or null before the first answer. */
  get keys(): IKey[] | null {
    return this._keys;
  }

  /** Why the keys could not be fetched (the last time), or null. */
  get keysError(): string | null {
    return this._keysError;
  }

  /** Names of providers whose models are being refreshed right now. */
  isRefreshing(provider: string): boolean {
    return this._refreshing.has(provider);
  }

  /** The poll behind the model: its `ticked` signal and state (rejected while failing). */
  get poll(): Poll {
    return this._poll;
  }

  /** Start polling; the first refresh happens at once. */
  start(): void {
    if (this._disposed) {
      return;
    }
    void this._poll.start();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  /** Fetch everything again; signals `changed` if anything differs. */
  async refresh(): Promise<void> {
    if (this._inflight) {
      return this._inflight;
    }
    this._inflight = this._refresh().finally(() => {
      this._inflight = null;
    });
    await this._inflight;
  }

  /**
   * Keep `usage` fresh for `query` until the returned function is called (a view that
   * shows usage calls it when it closes).
   */
  watchUsage(query: IUsageQuery): () => void {
    this._usageWatchers++;
    if (!sameData(query, this._usageQuery) || !this.usage) {
      this._usageQuery = query;
      void this.refreshUsage();
    }
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this._usageWatchers--;
      }
    };
  }

  /**
   * Keep `keys` fresh, polled with the rest, until the returned function is called (the
   * Keys and Connect tabs call it when they close). Fetched at once.
   */
  watchKeys(): () => void {
    this._keysWatchers++;
    void this.refreshKeys();
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this._keysWatchers--;
      }
    };
  }

  /** Fetch the keys now (an answer that a write overtook is dropped). */
  async refreshKeys(): Promise<void> {
    const generation = this._keysGeneration;
    try {
      const keys = await api.listKeys();
      if (generation !== this._keysGeneration) {
        return; // a key was made or revoked meanwhile: a newer fetch follows
      }
      if (!sameData(keys, this._keys) || this._keysError) {
        this._keys = keys;
        this._keysError = null;
        this._emit();
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (generation === this._keysGeneration && message !== this._keysError) {
        this._keysError = message;
        this._emit();
      }
    }
  }

  /** Make a key; the answer carries its secret, which is kept nowhere else. */
  async createKey(body: IKeyCreate): Promise<IKeyCreated> {
    try {
      return await api.createKey(body);
    } finally {
      this._keysGeneration++;
      await this.refreshKeys();
    }
  }

  /** Revoke a key: it stops working on the next request. */
  async revokeKey(id: string): Promise<void> {
    try {
      await api.revokeKey(id);
    } finally {
      this._keysGeneration++;
      await this.refreshKeys();
    }
  }

  /** Show another range or breakdown: fetched at once. */
  setUsageQuery(query: IUsageQuery): void {
    if (!sameData(query, this._usageQuery)) {
      this._usageQuery = query;
      void this.refreshUsage();
    }
  }

  /** Fetch the watched usage now (and `me`, on a Hub service). */
  async refreshUsage(): Promise<void> {
    await Promise.all([this._refreshUsage(), this.refreshMe()]);
  }

  /**
   * Ask the JupyterHub service who the user is. A plain server answers 404, once: it is
   * not asked again. Other failures keep the last answer (usage says what went wrong).
   */
  refreshMe(): Promise<void> {
    if (!this._meInflight) {
      this._meInflight = this._refreshMe().finally(() => {
        this._meInflight = null;
      });
    }
    return this._meInflight;
  }

  private async _refreshMe(): Promise<void> {
    if (this._plainServer) {
      return;
    }
    try {
      const me = await api.getMe();
      if (!sameData(me, this._me)) {
        this._me = me;
        this._emit();
      }
    } catch (e) {
      if (e instanceof api.MuxApiError && e.status === 404) {
        this._plainServer = true;
        if (this._me) {
          this._me = null;
          this._emit();
        }
      }
    }
  }

  private async _refreshUsage(): Promise<void> {
    const query = this._usageQuery;
    const now = new Date();
    const buckets = usageBuckets(query.range, now);
    this._usageFetchedAt = Date.now();
    try {
      const [whole, ...perBucket] = await Promise.all([
        fetchUsage(query, buckets[0].since),
        ...buckets.map(b => fetchUsage(query, b.since, b.until))
      ]);
      if (!sameData(query, this._usageQuery)) {
        return; // a newer query is on its way
      }
      const labels = buckets.map(b => bucketLabel(query.range, b));
      const usage = usageSeries(labels, perBucket, whole);
      if (!sameData(usage, this._usage) || !sameData(query, this._usageOf) || this._usageError) {
        this._usage = usage;
        this._usageOf = query;
        this._usageError = null;
        this._emit();
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (message !== this._usageError) {
        this._usageError = message;
        this._emit();
      }
    }
  }

  /** One poll: the state, and usage when watched and due. Rejects so the poll backs off. */
  private async _tick(): Promise<void> {
    await this.refresh();
    if (this._keysWatchers > 0 && !this._error) {
      await this.refreshKeys();
    }
    if (
      this._usageWatchers > 0 &&
      Date.now() - this._usageFetchedAt >= this._usageInterval &&
      !this._error
    ) {
      await this.refreshUsage();
    }
    if (this._error) {
      throw new Error(this._error);
    }
  }

  private async _refresh(): Promise<void> {
    let error: string | null = null;
    let changed = false;
    try {
      const types = this._providerTypes.length
        ? this._providerTypes
        : await api.listProviderTypes();
      const [providers, workspaces] = await Promise.all([
        api.listProviders(),
        api.listWorkspaces()
      ]);
      changed = this._update({ types, providers, workspaces });
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const wasLoaded = this._loaded;
    this._loaded = true;
    if (error !== this._error) {
      this._error = error;
      changed = true;
    }
    if (changed || !wasLoaded) {
      this._emit();
    }
  }

  /** Store fresh data (the last good data stays on failure); true if anything changed. */
  private _update(data: {
    types: IProviderType[];
    providers: IProvider[];
    workspaces: IWorkspace[];
  }): boolean {
    const changed =
      !sameData(data.types, this._providerTypes) ||
      !sameData(data.providers, this._providers) ||
      !sameData(data.workspaces, this._workspaces);
    this._providerTypes = data.types;
    this._providers = data.providers;
    this._workspaces = data.workspaces;
    return changed;
  }

  private _emit(): void {
    if (!this._disposed) {
      this._changed.emit();
    }
  }

  /** Run an API call, then refresh so every view sees the outcome at once. */
  private async _then<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } finally {
      await this.refresh().catch(() => undefined);
      // A refresh may have been in flight before the call: run one more.
      await this.refresh().catch(() => undefined);
    }
  }

  activate(name: string): Promise<unknown> {
    return this._then(api.setActive(name));
  }

  createWorkspace(body: IWorkspaceCreate): Promise<IWorkspace> {
    return this._then(api.createWorkspace(body));
  }

  updateWorkspace(name: string, body: IWorkspaceUpdate): Promise<IWorkspace> {
    return this._then(api.updateWorkspace(name, body));
  }

  deleteWorkspace(name: string): Promise<void> {
    return this._then(api.deleteWorkspace(name));
  }

  /** Whether these settings reach a provider; nothing is saved. */
  probeProvider(body: IProviderCreate): Promise<IProbe> {
    return api.probeProvider(body);
  }

  createProvider(body: IProviderCreate): Promise<IProvider> {
    return this._then(api.createProvider(body));
  }

  updateProvider(name: string, body: IProviderUpdate): Promise<IProvider> {
    return this._then(api.updateProvider(name, body));
  }

  deleteProvider(name: string): Promise<void> {
    return this._then(api.deleteProvider(name));
  }

  /** A workspace's rules as saved (they are not polled: an editor holds its own draft). */
  getRules(workspace: string): Promise<IRule[]> {
    return api.getRules(workspace);
  }

  /** Save a workspace's rules (the catch-all's first target is its preferred model). */
  saveRules(workspace: string, rules: IRule[]): Promise<IRule[]> {
    return this._then(api.putRules(workspace, rules));
  }

  async refreshModels(name: string): Promise<IProvider> {
    this._refreshing.add(name);
    this._emit();
    try {
      return await this._then(api.refreshProvider(name));
    } finally {
      this._refreshing.delete(name);
      this._emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private _poll: Poll;
  private _providers: IProvider[] = [];
  private _workspaces: IWorkspace[] = [];
  private _providerTypes: IProviderType[] = [];
  private _refreshing = new Set<string>();
  private _loaded = false;
  private _error: string | null = null;
  private _inflight: Promise<void> | null = null;
  private _disposed = false;
  private _usage: IUsageSeries | null = null;
  private _usageOf: IUsageQuery | null = null;
  private _usageError: string | null = null;
  private _usageQuery: IUsageQuery = { range: 'day', by: 'workspace', scope: 'mine' };
  private _me: IMe | null = null;
  private _plainServer = false;
  private _meInflight: Promise<void> | null = null;
  private _usageWatchers = 0;
  private _usageFetchedAt = 0;
  private _keys: IKey[] | null = null;
  private _keysError: string | null = null;
  private _keysWatchers = 0;
  private _keysGeneration = 0;
  private readonly _usageInterval: number;
}
