/**
 * Shared state of the panel, status bar and commands: providers, workspaces and the
 * provider types, polled every few seconds so changes made over REST, from a notebook or
 * in another tab show up. `changed` fires only when something actually changed.
 */
import { ISignal, Signal } from '@lumino/signaling';

import * as api from './api';
import type {
  IProvider,
  IProviderCreate,
  IProviderType,
  IProviderUpdate,
  IRule,
  IWorkspace,
  IWorkspaceCreate,
  IWorkspaceUpdate
} from './types';
import { sameData } from './utils';

export const POLL_INTERVAL_MS = 2000;

export class MuxModel {
  constructor(private readonly _interval = POLL_INTERVAL_MS) {}

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

  /** Names of providers whose models are being refreshed right now. */
  isRefreshing(provider: string): boolean {
    return this._refreshing.has(provider);
  }

  /** Start polling; the first refresh happens at once. */
  start(): void {
    if (this._timer !== undefined || this._disposed) {
      return;
    }
    void this.refresh();
    this._timer = window.setInterval(() => {
      if (!document.hidden) {
        void this.refresh();
      }
    }, this._interval);
  }

  dispose(): void {
    this._disposed = true;
    if (this._timer !== undefined) {
      window.clearInterval(this._timer);
      this._timer = undefined;
    }
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
    return this._inflight;
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

  createProvider(body: IProviderCreate): Promise<IProvider> {
    return this._then(api.createProvider(body));
  }

  updateProvider(name: string, body: IProviderUpdate): Promise<IProvider> {
    return this._then(api.updateProvider(name, body));
  }

  deleteProvider(name: string): Promise<void> {
    return this._then(api.deleteProvider(name));
  }

  /** Save a workspace's rules (the catch_all's first target is its preferred model). */
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
  private _providers: IProvider[] = [];
  private _workspaces: IWorkspace[] = [];
  private _providerTypes: IProviderType[] = [];
  private _refreshing = new Set<string>();
  private _loaded = false;
  private _error: string | null = null;
  private _inflight: Promise<void> | null = null;
  private _timer: number | undefined = undefined;
  private _disposed = false;
}
