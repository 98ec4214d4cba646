/** Sentences about providers and workspaces, shared by the sidebar, main view and status bar. */
import type { IMe, IProvider, IProviderType, IWorkspace } from '../types';
import { targetText } from './targets';
import type { Trans } from './trans';

/** The product's one name, everywhere. */
export const PRODUCT_NAME = 'Model Mux';

/** "2 models", or the reason it cannot be reached (no separate "ok"/"error" badge). */
export function providerStatusText(p: IProvider, trans: Trans): string {
  if (p.status === 'error') {
    return trans.__('Unreachable: %1', p.error || trans.__('unknown error'));
  }
  return trans._n('%1 model', '%1 models', p.models.length);
}

/** A provider type's label ("llama.cpp server"), or its id if the types are not loaded. */
export function providerTypeLabel(types: IProviderType[], type: string): string {
  return types.find(t => t.type === type)?.label ?? type;
}

/** The status bar's text: "workspace → provider/model". */
export function statusBarText(active: IWorkspace | null | undefined, trans: Trans): string {
  if (!active) {
    return trans.__('No workspace');
  }
  return `${active.name} → ${targetText(active.preferred, trans)}`;
}

/** The status bar's tooltip: adds the problem, if any. */
export function statusBarTitle(active: IWorkspace | null | undefined, trans: Trans): string {
  if (!active) {
    return trans.__('%1: no active workspace', PRODUCT_NAME);
  }
  const base = trans.__(
    '%1: workspace "%2" uses %3.',
    PRODUCT_NAME,
    active.name,
    targetText(active.preferred, trans)
  );
  return `${base} ${active.problem ?? trans.__('Click to switch.')}`;
}

/** What the "shared" marker of a workspace means (its tooltip). */
export function sharedWorkspaceText(trans: Trans): string {
  return trans.__("Shared by the Hub's admin: you can use and activate it, not change it");
}

/**
 * Why a workspace cannot be changed here, or null when it can: one the Hub's admin shares
 * is every user's to use and activate, only the admin's to change (the server answers 403).
 */
export function workspaceLockReason(ws: IWorkspace, trans: Trans): string | null {
  return ws.shared ? sharedWorkspaceText(trans) : null;
}

/**
 * Why providers cannot be added, changed or refreshed here, or null when they can: a Hub
 * service whose admin keeps this user to the shared providers (the server answers 403).
 */
export function providerLockReason(me: IMe | null, trans: Trans): string | null {
  return me && !me.policy.user_providers
    ? trans.__(
        "The Hub's admin provides the models here: adding, changing or refreshing providers is not allowed for you."
      )
    : null;
}

/** Why a model is greyed out: the Hub's admin does not allow it to this user. */
export function modelDeniedText(trans: Trans): string {
  return trans.__("not allowed for you by the Hub's admin");
}

/** The confirmation text before deleting a provider. */
export function deleteProviderMessage(p: IProvider, trans: Trans): string {
  if (!p.used_by.length) {
    return trans.__('Delete provider "%1"? No workspace uses it.', p.name);
  }
  const list = p.used_by.map(w => `"${w}"`).join(', ');
  return trans._n(
    'Delete provider "%2"? Workspace %3 uses it and will have no working model until you pick another one (or re-create a provider with this name).',
    'Delete provider "%2"? Workspaces %3 use it and will have no working model until you pick another one (or re-create a provider with this name).',
    p.used_by.length,
    p.name,
    list
  );
}
