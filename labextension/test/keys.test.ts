import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import {
  budgetText,
  connectKeyName,
  EMPTY_KEY_FORM,
  expiryText,
  IKeyFormValues,
  keyCreateBody,
  keyFormProblems,
  lastUsedText,
  parseDay,
  revokeKeyMessage,
  workspaceText
} from '../src/helpers/keys';
import { connectKey, snippets, tokenKey } from '../src/helpers/snippets';
import type { IKey, IKeyCreated } from '../src/types';

const trans = nullTranslator.load('jupyter_mux');
// Noon local time, 1 December 2026.
const now = new Date(2026, 11, 1, 12, 0, 0);
const options = { now, existing: ['laptop'], workspaces: ['default', 'secret-project'] };
const form = (patch: Partial<IKeyFormValues>): IKeyFormValues => ({
  ...EMPTY_KEY_FORM,
  name: 'ci',
  ...patch
});
const problems = (patch: Partial<IKeyFormValues>) => keyFormProblems(form(patch), trans, options);

const key = (patch: Partial<IKey> = {}): IKey => ({
  id: 'k1',
  name: 'laptop',
  prefix: 'mux_ab12',
  workspace: null,
  expires_at: null,
  budget_usd: null,
  spent_usd: 0,
  created_at: '2026-11-30T10:00:00Z',
  last_used_at: null,
  ...patch
});
const created = (patch: Partial<IKeyCreated> = {}): IKeyCreated => ({
  ...key({ id: 'k2', name: 'connect-2026-12-01', prefix: 'mux_cd34' }),
  secret: 'mux_cd34-the-whole-secret',
  ...patch
});

describe('the key form', () => {
  it('accepts a name alone, and every optional field when it is right', () => {
    expect(problems({})).toEqual({});
    expect(
      problems({ workspace: 'secret-project', expires: '2026-12-01', budget: '12.50' })
    ).toEqual({});
    expect(problems({ budget: '$5' })).toEqual({});
    expect(problems({ budget: ' 0.5 ' })).toEqual({});
  });

  it('says in words what is wrong with the name', () => {
    expect(problems({ name: '  ' }).name).toMatch(/Give the key a name/);
    expect(problems({ name: 'x'.repeat(65) }).name).toMatch(/at most 64 characters/);
    expect(problems({ name: 'tab\there' }).name).toMatch(/control characters/);
    expect(problems({ name: ' laptop ' }).name).toBe(
      'A key named "laptop" exists already: choose another name.'
    );
  });

  it('refuses a workspace that is not there', () => {
    expect(problems({ workspace: 'gone' }).workspace).toMatch(/"gone" does not exist/);
  });

  it('refuses an expiry that is no day or already past; today is the earliest', () => {
    expect(problems({ expires: '2026-02-30' }).expires).toMatch(/not a date/);
    expect(problems({ expires: 'soon' }).expires).toMatch(/not a date/);
    expect(problems({ expires: '2026-11-30' }).expires).toMatch(/in the past/);
    expect(problems({ expires: '2026-12-01' }).expires).toBeUndefined();
    expect(parseDay('2026-12-31')?.getDate()).toBe(31);
  });

  it('takes a budget in dollars: a positive amount with at most two decimals', () => {
    expect(problems({ budget: 'ten' }).budget).toMatch(/amount in US dollars, like 5 or 12.50/);
    expect(problems({ budget: '1,5' }).budget).toMatch(/amount in US dollars/);
    expect(problems({ budget: '1.234' }).budget).toMatch(/at most 2 decimals/);
    expect(problems({ budget: '-3' }).budget).toMatch(/amount in US dollars/);
    expect(problems({ budget: '0' }).budget).toMatch(/more than \$0/);
    expect(problems({ budget: '2000000' }).budget).toMatch(/at most \$1,000,000/);
  });

  it('reports every field at once', () => {
    expect(Object.keys(problems({ name: '', expires: 'x', budget: 'y' })).sort()).toEqual([
      'budget',
      'expires',
      'name'
    ]);
  });

  it('sends only what is set: trimmed name, end of the last day, budget as a number', () => {
    expect(keyCreateBody(form({ name: ' ci ' }))).toEqual({ name: 'ci' });
    const body = keyCreateBody(
      form({ workspace: 'default', expires: '2026-12-31', budget: '$12.50' })
    );
    expect(body.workspace).toBe('default');
    expect(body.budget_usd).toBe(12.5);
    const expires = new Date(body.expires_at!);
    expect([expires.getFullYear(), expires.getMonth(), expires.getDate()]).toEqual([2026, 11, 31]);
    expect([expires.getHours(), expires.getMinutes()]).toEqual([23, 59]);
  });
});

describe('a key in the list', () => {
  it('describes its workspace, expiry, budget and use', () => {
    expect(workspaceText(key(), trans)).toBe('Any workspace (follows the active one)');
    expect(workspaceText(key({ workspace: 'w' }), trans)).toBe('Pinned to w');
    expect(expiryText(key(), now, trans)).toBe('Never expires');
    const later = new Date(2026, 11, 31, 23, 59).toISOString();
    expect(expiryText(key({ expires_at: later }), now, trans)).toBe('Expires 2026-12-31 23:59');
    const past = new Date(2026, 10, 2, 8, 5).toISOString();
    expect(expiryText(key({ expires_at: past }), now, trans)).toBe('Expired 2026-11-02 08:05');
    expect(budgetText(key({ spent_usd: 0.25 }), trans)).toBe('$0.25 spent, no budget');
    expect(budgetText(key({ spent_usd: 2.5, budget_usd: 10 }), trans)).toBe('$2.50 of $10.00 spent');
    expect(lastUsedText(key(), trans)).toBe('Never used');
    expect(lastUsedText(key({ last_used_at: past }), trans)).toBe('Last used 2026-11-02 08:05');
  });

  it('is named, with its prefix, before it is revoked', () => {
    expect(revokeKeyMessage(key(), trans)).toMatch(/^Revoke the key "laptop" \(mux_ab12…\)\?/);
  });

  it('made from the Connect view gets a free name of the day', () => {
    expect(connectKeyName(now, [])).toBe('connect-2026-12-01');
    expect(connectKeyName(now, ['connect-2026-12-01', 'connect-2026-12-01-2'])).toBe(
      'connect-2026-12-01-3'
    );
  });
});

describe('the snippets key', () => {
  const url = 'http://localhost:8888/mux/v1';
  const env = (k: ReturnType<typeof connectKey>) =>
    snippets(url, k, trans).find(s => s.id === 'env')!.code;

  it('is the placeholder until a key is made', () => {
    const k = connectKey(null, [key()], trans);
    expect(k).toEqual(tokenKey(trans));
    expect(env(k)).toContain("OPENAI_API_KEY='<your Jupyter token>'");
  });

  it('is the secret of the key just made, in every snippet, with a warning', () => {
    const made = created();
    for (const keys of [null, [key(), made]]) {
      const k = connectKey(made, keys, trans);
      expect(k.value).toBe(made.secret);
      expect(k.description).toMatch(/you will not see its secret again/);
      for (const s of snippets(url, k, trans).filter(s => s.id !== 'notebook')) {
        expect(s.code).toContain(made.secret);
        expect(s.code).not.toContain('<your Jupyter token>');
      }
    }
  });

  it('switches to the next key made, and back to the placeholder when the key is revoked', () => {
    const first = created();
    const second = created({ id: 'k3', secret: 'mux_ef56-second' });
    const k = connectKey(second, [key(), first, second], trans);
    expect(env(k)).toContain("'mux_ef56-second'");
    expect(env(k)).not.toContain(first.secret);
    const revoked = connectKey(second, [key(), first], trans);
    expect(revoked).toEqual(tokenKey(trans));
  });
});
