/**
 * Scoped mux keys (API.md section 5): the create form's values, their checks in words and
 * the body they make, and the sentences that describe a key in the list.
 */
import type { IKey, IKeyCreate } from '../types';
import type { Trans } from './trans';
import { formatCost } from './usage';

export const KEY_NAME_MAX = 64;
/** The largest budget the form takes, in USD (a typo guard, not a policy). */
export const KEY_BUDGET_MAX = 1_000_000;

/** What the create form holds: text as typed; empty means "not set". */
export interface IKeyFormValues {
  name: string;
  /** A workspace name, or '' for none (the key follows the active workspace). */
  workspace: string;
  /** The last day the key works, `YYYY-MM-DD` as a date input gives it, or ''. */
  expires: string;
  /** USD as typed, e.g. "5" or "12.50", or ''. */
  budget: string;
}

export const EMPTY_KEY_FORM: IKeyFormValues = { name: '', workspace: '', expires: '', budget: '' };

/** The problem with each field, in words; a field without a problem is absent. */
export type KeyFormProblems = Partial<Record<keyof IKeyFormValues, string>>;

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const AMOUNT = /^\d+(\.\d{1,2})?$/;

/** A `YYYY-MM-DD` day as a local Date at midnight, or null when it is no real day. */
export function parseDay(text: string): Date | null {
  const m = DAY.exec(text);
  if (!m) {
    return null;
  }
  const [y, mo, d] = [Number(m[1]), Number(m[2]) - 1, Number(m[3])];
  const day = new Date(y, mo, d);
  if (day.getFullYear() !== y || day.getMonth() !== mo || day.getDate() !== d) {
    return null;
  }
  return day;
}

/** `YYYY-MM-DD` of a Date, in local time (what a date input shows and takes). */
export function dayText(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** An ISO time as `YYYY-MM-DD HH:MM` in local time; the text itself if it is no time. */
export function formatWhen(iso: string): string {
  const date = new Date(iso);
  if (isNaN(date.getTime())) {
    return iso;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${dayText(date)} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The key expires at the end of its last day, local time. */
export function expiryTime(day: Date): Date {
  return new Date(day.getFullYear(), day.getMonth(), day.getDate(), 23, 59, 59);
}

/**
 * What is wrong with the form, field by field, before the server sees it. `existing` are
 * the names of the keys already made (a name tells keys apart in the list and in usage),
 * `workspaces` the workspaces a key can be pinned to.
 */
export function keyFormProblems(
  v: IKeyFormValues,
  trans: Trans,
  options: { now: Date; existing: string[]; workspaces: string[] }
): KeyFormProblems {
  const problems: KeyFormProblems = {};
  const name = v.name.trim();
  if (!name) {
    problems.name = trans.__('Give the key a name, e.g. the client or machine that will use it.');
  } else if (name.length > KEY_NAME_MAX) {
    problems.name = trans.__('The name is too long: at most %1 characters.', KEY_NAME_MAX);
  } else if (/[\u0000-\u001f\u007f]/.test(name)) {
    problems.name = trans.__('The name cannot contain control characters.');
  } else if (options.existing.includes(name)) {
    problems.name = trans.__('A key named "%1" exists already: choose another name.', name);
  }
  if (v.workspace && !options.workspaces.includes(v.workspace)) {
    problems.workspace = trans.__('The workspace "%1" does not exist (any more).', v.workspace);
  }
  if (v.expires) {
    const day = parseDay(v.expires);
    if (!day) {
      problems.expires = trans.__('The expiry is not a date: pick a day, or leave it empty.');
    } else if (expiryTime(day) <= options.now) {
      problems.expires = trans.__('The expiry is in the past: pick today or a later day.');
    }
  }
  const budget = v.budget.trim().replace(/^\$/, '');
  if (budget) {
    if (!AMOUNT.test(budget)) {
      problems.budget = trans.__(
        'The budget is an amount in US dollars, like 5 or 12.50 (digits, at most 2 decimals).'
      );
    } else if (Number(budget) <= 0) {
      problems.budget = trans.__('The budget must be more than $0; leave it empty for no limit.');
    } else if (Number(budget) > KEY_BUDGET_MAX) {
      problems.budget = trans.__('The budget can be at most $%1.', KEY_BUDGET_MAX.toLocaleString('en-US'));
    }
  }
  return problems;
}

/** The POST body of valid form values (check `keyFormProblems` first). */
export function keyCreateBody(v: IKeyFormValues): IKeyCreate {
  const body: IKeyCreate = { name: v.name.trim() };
  if (v.workspace) {
    body.workspace = v.workspace;
  }
  const day = v.expires ? parseDay(v.expires) : null;
  if (day) {
    body.expires_at = expiryTime(day).toISOString();
  }
  const budget = v.budget.trim().replace(/^\$/, '');
  if (budget) {
    body.budget_usd = Number(budget);
  }
  return body;
}

/** The prefix as shown: the start of the secret, then an ellipsis. */
export function prefixText(key: Pick<IKey, 'prefix'>): string {
  return `${key.prefix}…`;
}

export function isExpired(key: IKey, now: Date): boolean {
  return !!key.expires_at && new Date(key.expires_at) <= now;
}

export function isOverBudget(key: IKey): boolean {
  return key.budget_usd !== null && key.spent_usd >= key.budget_usd;
}

export function workspaceText(key: IKey, trans: Trans): string {
  return key.workspace
    ? trans.__('Pinned to %1', key.workspace)
    : trans.__('Any workspace (follows the active one)');
}

export function expiryText(key: IKey, now: Date, trans: Trans): string {
  if (!key.expires_at) {
    return trans.__('Never expires');
  }
  const when = formatWhen(key.expires_at);
  return isExpired(key, now) ? trans.__('Expired %1', when) : trans.__('Expires %1', when);
}

export function budgetText(key: IKey, trans: Trans): string {
  const spent = formatCost(key.spent_usd, trans);
  if (key.budget_usd === null) {
    return trans.__('%1 spent, no budget', spent);
  }
  return trans.__('%1 of %2 spent', spent, formatCost(key.budget_usd, trans));
}

export function lastUsedText(key: IKey, trans: Trans): string {
  return key.last_used_at
    ? trans.__('Last used %1', formatWhen(key.last_used_at))
    : trans.__('Never used');
}

/** The confirmation text before revoking a key: it names the key. */
export function revokeKeyMessage(key: IKey, trans: Trans): string {
  return trans.__(
    'Revoke the key "%1" (%2)? Every client that uses it stops working on its next request. This cannot be undone.',
    key.name,
    prefixText(key)
  );
}

/** A name for a key made from the Connect view, not among `existing`. */
export function connectKeyName(now: Date, existing: string[]): string {
  const base = `connect-${dayText(now)}`;
  if (!existing.includes(base)) {
    return base;
  }
  let n = 2;
  while (existing.includes(`${base}-${n}`)) {
    n++;
  }
  return `${base}-${n}`;
}
