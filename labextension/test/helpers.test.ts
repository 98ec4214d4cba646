import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import { sameData } from '../src/helpers/data';
import { nameProblem } from '../src/helpers/names';
import { baseUrls, snippets, tokenKey } from '../src/helpers/snippets';
import {
  groupLabel,
  groupModels,
  parseTargetKey,
  targetKey,
  targetText
} from '../src/helpers/targets';
import {
  deleteProviderMessage,
  PRODUCT_NAME,
  providerStatusText,
  providerTypeLabel,
  sharedWorkspaceText,
  statusBarText,
  statusBarTitle,
  workspaceLockReason
} from '../src/helpers/texts';
import type { Trans } from '../src/helpers/trans';
import { endpointHost, hostChanged, muxUrl } from '../src/helpers/urls';
import type { IProvider, IWorkspace } from '../src/types';

const trans = nullTranslator.load('jupyter_mux');

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
    shared: false,
    ...extra
  };
}

describe('urls', () => {
  it('appends mux/v1 to the base URL', () => {
    expect(muxUrl('http://localhost:8888/')).toBe('http://localhost:8888/mux/v1');
  });
  it('adds the missing slash and keeps a base path', () => {
    expect(muxUrl('https://hub.example/user/ann')).toBe('https://hub.example/user/ann/mux/v1');
  });
  it('pins a workspace by path, URL-encoded', () => {
    expect(muxUrl('/', 'a b')).toBe('/mux/w/a%20b/v1');
  });
  it('tells when an endpoint moves to another host (where the stored key is dropped)', () => {
    expect(endpointHost('HTTPS://API.Example.com:8443/v1')).toBe('api.example.com:8443');
    expect(endpointHost('not a url')).toBeNull();
    expect(hostChanged('http://a:1/v1', 'http://a:1/v2')).toBe(false);
    expect(hostChanged('http://a:1/v1', 'http://a:2/v1')).toBe(true);
    expect(hostChanged('http://a/v1', 'http://b/v1')).toBe(true);
    // Still typing: not a URL yet, so no warning.
    expect(hostChanged('http://a/v1', 'http://')).toBe(false);
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

  it('filters case-insensitively on provider/model, needing every word', () => {
    expect(groupModels(providers, 'MINI')).toEqual([
      { provider: 'cloud', status: 'error', models: ['gpt-4o-mini'] }
    ]);
    expect(groupModels(providers, 'local  b')).toEqual([
      { provider: 'local', status: 'ok', models: ['tiny-b'] }
    ]);
    expect(groupModels(providers, 'nothing-like-this')).toEqual([]);
  });

  it('labels a group by its provider, saying when it cannot be reached', () => {
    const [local, cloud] = groupModels(providers);
    expect(groupLabel(local, trans)).toBe('local');
    expect(groupLabel(cloud, trans)).toBe('cloud (unreachable)');
  });
});

describe('targets', () => {
  it('round-trips keys, even with slashes in model ids', () => {
    const target = { provider: 'or', model: 'meta/llama-3:free' };
    expect(parseTargetKey(targetKey(target))).toEqual(target);
  });
  it('rejects anything else', () => {
    expect(parseTargetKey('')).toBeNull();
    expect(parseTargetKey('["a"]')).toBeNull();
    expect(parseTargetKey('{"provider":"a"}')).toBeNull();
  });
  it('always names the provider with the model', () => {
    expect(targetText({ provider: 'a', model: 'tiny-b' }, trans)).toBe('a/tiny-b');
    expect(targetText({ provider: 'b', model: 'tiny-b' }, trans)).toBe('b/tiny-b');
    expect(targetText(null, trans)).toBe('no model');
  });
});

describe('texts', () => {
  it('says a provider is reachable by its model count, else why not', () => {
    expect(providerStatusText(provider('a', ['x']), trans)).toBe('1 model');
    expect(providerStatusText(provider('a', ['x', 'y']), trans)).toBe('2 models');
    expect(
      providerStatusText(provider('a', [], { status: 'error', error: 'connection refused' }), trans)
    ).toBe('Unreachable: connection refused');
  });

  it('names a provider type by its label', () => {
    const types = [
      {
        type: 'llamacpp',
        label: 'llama.cpp server',
        default_endpoint: '',
        default_auth: 'none' as const,
        auth_types: ['none' as const]
      }
    ];
    expect(providerTypeLabel(types, 'llamacpp')).toBe('llama.cpp server');
    expect(providerTypeLabel([], 'llamacpp')).toBe('llamacpp');
  });

  it('shows workspace → provider/model in the status bar, under one product name', () => {
    const ws = workspace('demo', {
      is_active: true,
      preferred: { provider: 'local', model: 'tiny-a' },
      preferred_ok: true
    });
    expect(statusBarText(ws, trans)).toBe('demo → local/tiny-a');
    expect(statusBarText(workspace('empty'), trans)).toBe('empty → no model');
    expect(statusBarText(null, trans)).toBe('No workspace');
    expect(statusBarTitle(ws, trans)).toBe(
      `${PRODUCT_NAME}: workspace "demo" uses local/tiny-a. Click to switch.`
    );
    expect(statusBarTitle(workspace('x', { problem: 'Provider gone.' }), trans)).toContain(
      'Provider gone.'
    );
    expect(PRODUCT_NAME).toBe('Model Mux');
  });

  it("locks only a workspace the Hub's admin shares, saying why", () => {
    const reason = "Shared by the Hub's admin: you can use and activate it, not change it";
    expect(sharedWorkspaceText(trans)).toBe(reason);
    expect(workspaceLockReason(workspace('team', { shared: true }), trans)).toBe(reason);
    expect(workspaceLockReason(workspace('team', { shared: true, is_active: true }), trans)).toBe(
      reason
    );
    expect(workspaceLockReason(workspace('mine'), trans)).toBeNull();
    // Through the translation bundle.
    const upper: Trans = { __: (s: string) => s.toUpperCase(), _n: (s: string) => s };
    expect(workspaceLockReason(workspace('team', { shared: true }), upper)).toBe(
      reason.toUpperCase()
    );
  });

  it('lists the workspaces that use a provider before deleting it', () => {
    const two = deleteProviderMessage(provider('local', [], { used_by: ['wa', 'wb'] }), trans);
    expect(two).toContain('Workspaces "wa", "wb" use it');
    const one = deleteProviderMessage(provider('local', [], { used_by: ['wa'] }), trans);
    expect(one).toContain('Workspace "wa" uses it');
    expect(deleteProviderMessage(provider('local', []), trans)).toContain('No workspace uses it');
  });
});

describe('names', () => {
  it('follows the server rule', () => {
    expect(nameProblem('good-name_1.0', trans)).toBeNull();
    expect(nameProblem('', trans)).toMatch(/required/);
    expect(nameProblem('-bad', trans)).toMatch(/letters/);
    expect(nameProblem('has space', trans)).toMatch(/letters/);
    expect(nameProblem('x'.repeat(65), trans)).toMatch(/64/);
  });
});

describe('snippets', () => {
  const url = 'http://localhost:8888/mux/v1';
  const key = { value: 'abc123', description: 'a key' };

  it('shows one copyable snippet per client dialect', () => {
    expect(snippets(url, key, trans).map(s => s.id)).toEqual([
      'notebook',
      'openai',
      'responses',
      'anthropic',
      'langchain',
      'embeddings',
      'env'
    ]);
  });

  it('gives OpenAI clients the /v1 URL and Anthropic clients the URL without it', () => {
    const byId = Object.fromEntries(snippets(url, key, trans).map(s => [s.id, s.code]));
    for (const id of ['openai', 'responses', 'langchain', 'embeddings']) {
      expect(byId[id]).toContain('base_url="http://localhost:8888/mux/v1",');
      expect(byId[id]).toContain('api_key="abc123",');
    }
    expect(byId.responses).toContain('client.responses.create(');
    expect(byId.embeddings).toContain('client.embeddings.create(');
    expect(byId.embeddings).toContain('check_embedding_ctx_length=False');
    expect(byId.langchain).toContain('ChatOpenAI(');
    expect(byId.anthropic).toContain(
      'Anthropic(\n    base_url="http://localhost:8888/mux",\n    api_key="abc123",\n)'
    );
    expect(byId.anthropic).toContain('max_tokens=');
    expect(byId.env.split('\n')).toEqual([
      "export OPENAI_BASE_URL='http://localhost:8888/mux/v1'",
      "export OPENAI_API_KEY='abc123'",
      "export ANTHROPIC_BASE_URL='http://localhost:8888/mux'",
      "export ANTHROPIC_AUTH_TOKEN='abc123'"
    ]);
  });

  it('takes the key from one place, so another key replaces the token everywhere', () => {
    const muxKey = { value: 'mux-secret', description: 'A mux key.' };
    const all = snippets(url, muxKey, trans).filter(s => s.id !== 'notebook');
    for (const s of all) {
      expect(s.code).toContain('mux-secret');
      expect(s.code).not.toContain('abc123');
    }
  });

  it('uses a placeholder when the page has no token, and quotes for the shell', () => {
    expect(tokenKey(trans).value).toBe('<your Jupyter token>');
    const odd = { value: "it's", description: '' };
    const env = snippets(url, odd, trans).find(s => s.id === 'env')!;
    expect(env.code).toContain("export OPENAI_API_KEY='it'\\''s'");
  });

  it('derives the base URL of each family, and the pinned form', () => {
    expect(baseUrls('http://h/base/mux/v1/')).toEqual({
      openai: 'http://h/base/mux/v1',
      anthropic: 'http://h/base/mux',
      pinned: 'http://h/base/mux/w/<workspace>/v1'
    });
  });
});

describe('sameData', () => {
  it('compares by value', () => {
    expect(sameData([{ a: 1 }], [{ a: 1 }])).toBe(true);
    expect(sameData([{ a: 1 }], [{ a: 2 }])).toBe(false);
  });
});
