/** Targets (provider + model): how they are grouped, keyed, compared and written. */
import type { IProvider, ITarget } from '../types';
import type { Trans } from './trans';

/** A provider's models, as the grouped model pickers list them. */
export interface IModelGroup {
  provider: string;
  status: IProvider['status'];
  models: string[];
}

/**
 * The providers' models grouped by provider, keeping those that match `filter`
 * (case-insensitive; every whitespace-separated word must appear in "provider/model").
 * Providers without a matching model are left out; order is kept.
 */
export function groupModels(providers: IProvider[], filter = ''): IModelGroup[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const groups: IModelGroup[] = [];
  for (const p of providers) {
    const models = p.models.filter(m => {
      const hay = `${p.name}/${m}`.toLowerCase();
      return words.every(w => hay.includes(w));
    });
    if (models.length) {
      groups.push({ provider: p.name, status: p.status, models });
    }
  }
  return groups;
}

/** The value of an <option> for a target, and back. */
export function targetKey(target: ITarget): string {
  return JSON.stringify([target.provider, target.model]);
}

export function parseTargetKey(key: string): ITarget | null {
  try {
    const value = JSON.parse(key);
    if (Array.isArray(value) && value.length === 2 && value.every(v => typeof v === 'string')) {
      return { provider: value[0], model: value[1] };
    }
  } catch {
    // not a target
  }
  return null;
}

/**
 * "provider/model": the provider is always named, since two providers may serve a model
 * of the same name.
 */
export function targetText(target: ITarget | null | undefined, trans: Trans): string {
  return target ? `${target.provider}/${target.model}` : trans.__('no model');
}

/** The label of a group in a picker: the provider, and whether it answered. */
export function groupLabel(group: IModelGroup, trans: Trans): string {
  return group.status === 'ok'
    ? group.provider
    : trans.__('%1 (unreachable)', group.provider);
}

export function sameTarget(a: ITarget, b: ITarget): boolean {
  return a.provider === b.provider && a.model === b.model;
}

/** Targets with `target` appended (as a fallback), unless it is already listed. */
export function addTarget(targets: ITarget[], target: ITarget): ITarget[] {
  return targets.some(t => sameTarget(t, target)) ? targets : [...targets, target];
}

export function removeTarget(targets: ITarget[], index: number): ITarget[] {
  return targets.filter((_, i) => i !== index);
}

/** "primary" for the first target, "fallback 1", "fallback 2"… for the others. */
export function targetRole(index: number, trans: Trans): string {
  return index === 0 ? trans.__('primary') : trans.__('fallback %1', index);
}
