/** The keys client against a faked fetch behind ServerConnection: URLs, bodies, errors. */
import { ServerConnection } from '@jupyterlab/services';
import { beforeEach, describe, expect, it } from 'vitest';

import { createKey, listKeys, MuxApiError, revokeKey, setServerSettings } from '../src/api';

interface ICall {
  method: string;
  url: string;
  body: unknown;
}

let calls: ICall[] = [];
let answers: Response[] = [];

function answer(status: number, body?: unknown): void {
  answers.push(
    new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    })
  );
}

beforeEach(() => {
  calls = [];
  answers = [];
  setServerSettings(
    ServerConnection.makeSettings({
      baseUrl: 'http://127.0.0.1:8888/base/',
      wsUrl: 'ws://127.0.0.1:8888/base/',
      token: '',
      appendToken: false,
      fetch: async (input: RequestInfo, init?: RequestInit) => {
        const request = input instanceof Request ? input : new Request(input, init);
        const text = await request.text();
        calls.push({
          method: request.method,
          url: request.url.replace(/\?\d+$/, ''), // ServerConnection's cache buster
          body: text ? JSON.parse(text) : undefined
        });
        return answers.shift() ?? new Response(null, { status: 500 });
      }
    })
  );
});

const key = {
  id: 'k1',
  name: 'laptop',
  prefix: 'mux_ab12',
  workspace: null,
  expires_at: null,
  budget_usd: null,
  spent_usd: 0,
  created_at: '2026-11-30T10:00:00Z',
  last_used_at: null
};

describe('the keys client', () => {
  it('lists the keys', async () => {
    answer(200, [key]);
    expect(await listKeys()).toEqual([key]);
    expect(calls).toEqual([
      { method: 'GET', url: 'http://127.0.0.1:8888/base/mux/api/keys', body: undefined }
    ]);
  });

  it('creates a key and gets its secret', async () => {
    answer(201, { ...key, secret: 'mux_ab12-secret' });
    const made = await createKey({ name: 'laptop', budget_usd: 5 });
    expect(made.secret).toBe('mux_ab12-secret');
    expect(calls[0]).toMatchObject({ method: 'POST', body: { name: 'laptop', budget_usd: 5 } });
  });

  it('revokes a key by its id, escaped in the path', async () => {
    answer(204);
    await expect(revokeKey('a/b')).resolves.toBeUndefined();
    expect(calls[0]).toMatchObject({
      method: 'DELETE',
      url: 'http://127.0.0.1:8888/base/mux/api/keys/a%2Fb'
    });
  });

  it("reports Jupyter's error message: 400 invalid, 404 unknown", async () => {
    answer(400, { message: 'budget_usd: must be greater than 0', reason: 'Bad Request' });
    const invalid = await createKey({ name: 'x', budget_usd: 0 }).catch(e => e);
    expect(invalid).toBeInstanceOf(MuxApiError);
    expect(invalid.status).toBe(400);
    expect(invalid.message).toBe('budget_usd: must be greater than 0');
    answer(404, { message: 'unknown key: k9', reason: 'Not Found' });
    await expect(revokeKey('k9')).rejects.toMatchObject({ status: 404, message: 'unknown key: k9' });
  });
});
