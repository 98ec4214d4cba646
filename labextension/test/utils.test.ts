import { describe, expect, it } from 'vitest';

import type { IProvider, IWorkspace } from '../src/types';
import {
  deleteProviderMessage,
  deleteWorkspaceBlocker,
  groupModels,
  muxUrl,
  nameProblem,
  parseTargetKey,
  providerStatusText,
  sameData,
  snippets,
  statusBarText,
  statusBarTitle,
  targetKey,
  targetText
} from '../src/utils';

function provider(name: string, models: string[], extra: Partial<IProvider> = {}): IProvider {
  return {
    name,
    type: 'llamacpp',
    endpoint: 'http://127.0.0.1:8080/v1',
    description: '',
    auth_type: 'none',
    has_api_key: false,
    predefined: false,
    models,
    status: 'ok',
    error: null,
    models_refreshed_at: null,
    used_by: [],
    ...extra
  };
}

function workspace(name: string, extra: Partial<IWorkspace> = {}): IWorkspace {
  return {
    name,
    description: '',
    is_active: false,
    preferred: null,
    preferred_ok: false,
    problem: null,
    ...extra
  };
}

describe('muxUrl', () => {
  it('appends mux/v1 to the base URL', () => {
    expect(muxUrl('http://localhost:8888/')).toBe('http://localhost:8888/mux/v1');
  });
  it('adds the missing slash and keeps a base path', () => {
    expect(muxUrl('https://hub.example/user/ann')).toBe('https://hub.example/user/ann/mux/v1');
  });
  it('pins a workspace by path, URL-encoded', () => {
    expect(muxUrl('/', 'a b')).toBe('/mux/w/a%20b/v1');
  });
});

describe('groupModels', () => {
  const providers = [
    provider('local', ['tiny-a', 'tiny-b']),
    provider('cloud', ['gpt-4o', 'gpt-4o-mini'], { status: 'error', error: 'down' }),
    provider('empty', [])
  ];

  it('groups every model by provider, in order, without empty providers', () => {
    expect(groupModels(providers)).toEqual([
      { provider: 'local', status: 'ok', models: ['tiny-a', 'tiny-b'] },
      { provider: 'cloud', status: 'error', models: ['gpt-4o', 'gpt-4o-mini'] }
    ]);
  });

  it('filters case-insensitively on model names', () => {
    expect(groupModels(providers, 'MINI')).toEqual([
      { provider: 'cloud', status: 'error', models: ['gpt-4o-mini'] }
    ]);
  });

  it('matches the provider name too, and needs every word', () => {
    expect(groupModels(providers, 'local')[0].models).toEqual(['tiny-a', 'tiny-b']);
    expect(groupModels(providers, 'local  b')).toEqual([
      { provider: 'local', status: 'ok', models: ['tiny-b'] }
    ]);
    expect(groupModels(providers, 'nothing-like-this')).toEqual([]);
  });
});

describe('target keys', () => {
  it('round-trips, even with slashes in model ids', () => {
    const target = { provider: 'or', model: 'meta/llama-3:free' };
    expect(parseTargetKey(targetKey(target))).toEqual(target);
  });
  it('rejects anything else', () => {
    expect(parseTargetKey('')).toBeNull();
    expect(parseTargetKey('["a"]')).toBeNull();
    expect(parseTargetKey('{"provider":"a"}')).toBeNull();
  });
  it('reads as provider/model', () => {
    expect(targetText({ provider: 'p', model: 'm' })).toBe('p/m');
    expect(targetText(null)).toBe('no model');
  });
});

describe('status texts', () => {
  it('describes a provider', () => {
    expect(providerStatusText(provider('a', ['x']))).toBe('ok · 1 model');
    expect(providerStatusText(provider('a', ['x', 'y']))).toBe('ok · 2 models');
    expect(
      providerStatusText(provider('a', [], { status: 'error', error: 'connection refused' }))
    ).toBe('error: connection refused');
  });

  it('shows workspace -> provider/model in the status bar', () => {
    const ws = workspace('demo', {
      is_active: true,
      preferred: { provider: 'local', model: 'tiny-a' },
      preferred_ok: true
    });
    expect(statusBarText(ws)).toBe('demo -> local/tiny-a');
    expect(statusBarText(workspace('empty'))).toBe('empty -> no model');
    expect(statusBarText(null)).toBe('mux: no workspace');
    expect(statusBarTitle(ws)).toContain('Click to switch');
    expect(statusBarTitle(workspace('x', { problem: 'Provider gone.' }))).toContain(
      'Provider gone.'
    );
  });
});

describe('confirmations', () => {
  it('lists the workspaces that use a provider', () => {
    const msg = deleteProviderMessage(provider('local', [], { used_by: ['wa', 'wb'] }));
    expect(msg).toContain('"wa", "wb"');
    expect(msg).toContain('Workspaces');
    expect(deleteProviderMessage(provider('local', []))).toContain('No workspace uses it');
  });

  it('blocks deleting the active workspace', () => {
    expect(deleteWorkspaceBlocker(workspace('a', { is_active: true }))).toMatch(/active/);
    expect(deleteWorkspaceBlocker(workspace('a'))).toBeNull();
  });
});

describe('names', () => {
  it('follows the server rule', () => {
    expect(nameProblem('good-name_1.0')).toBeNull();
    expect(nameProblem('')).toMatch(/required/);
    expect(nameProblem('-bad')).toMatch(/letters/);
    expect(nameProblem('has space')).toMatch(/letters/);
    expect(nameProblem('x'.repeat(65))).toMatch(/64/);
  });
});

describe('snippets', () => {
  it('embeds the URL in every client snippet', () => {
    const url = 'http://localhost:8888/mux/v1';
    const all = snippets(url);
    expect(all.map(s => s.id)).toEqual(['notebook', 'openai', 'langchain', 'jupyter-ai']);
    for (const s of all.filter(s => s.id !== 'notebook')) {
      expect(s.code).toContain(url);
    }
  });
});

describe('sameData', () => {
  it('compares by value', () => {
    expect(sameData([{ a: 1 }], [{ a: 1 }])).toBe(true);
    expect(sameData([{ a: 1 }], [{ a: 2 }])).toBe(false);
  });
});
