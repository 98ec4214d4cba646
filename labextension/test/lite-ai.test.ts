import { ServerConnection } from '@jupyterlab/services';
import { describe, expect, it, vi } from 'vitest';

import { DEFAULT_MODEL, muxFetch, muxProvider, PROVIDER_ID } from '../src/lite-ai';

describe('the Model Mux provider for jupyterlite-ai', () => {
  it('asks for no key and no URL, and builds its model on the mux URL', () => {
    const model = { modelId: 'm' };
    const make = vi.fn((name: string) => ({ ...model, name }));
    const create = vi.fn(() => make);
    const fetchImpl = vi.fn() as unknown as typeof fetch;
    const info = muxProvider(create as never, 'http://h/user/a/', fetchImpl);

    expect(info.id).toBe(PROVIDER_ID);
    expect(info.name).toBe('Model Mux');
    expect(info.apiKeyRequirement).toBe('none');
    expect(info.supportsBaseURL).toBe(false);
    expect(info.defaultModels).toEqual([DEFAULT_MODEL]);

    info.factory({ provider: PROVIDER_ID, apiKey: 'ignored', baseURL: 'http://elsewhere' });
    expect(create).toHaveBeenCalledWith({
      name: PROVIDER_ID,
      baseURL: 'http://h/user/a/mux/v1',
      fetch: fetchImpl,
      includeUsage: true
    });
    expect(make).toHaveBeenLastCalledWith('mux');
    info.factory({ provider: PROVIDER_ID, model: 'fast' });
    expect(make).toHaveBeenLastCalledWith('fast');
  });

  it("sends requests with the page's Jupyter credentials, unchanged otherwise", async () => {
    const seen: Request[] = [];
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://h/',
      token: 'page-token',
      fetch: (async (request: Request) => {
        seen.push(request);
        return new Response('{}', { status: 200 });
      }) as unknown as typeof fetch
    });
    const response = await muxFetch(settings)('http://h/mux/v1/chat/completions', {
      method: 'POST',
      body: '{"model":"mux"}',
      headers: { 'Content-Type': 'application/json' }
    });
    expect(response.status).toBe(200);
    const [request] = seen;
    expect(request.url).toBe('http://h/mux/v1/chat/completions');
    expect(request.method).toBe('POST');
    expect(request.headers.get('Authorization')).toBe('token page-token');
    expect(await request.text()).toBe('{"model":"mux"}');
  });
});
