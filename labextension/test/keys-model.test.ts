/** The mux keys go through the one model: fetched while watched, refreshed after writes. */
import { beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('../src/api', () => ({
  listProviderTypes: vi.fn(),
  listProviders: vi.fn(),
  listWorkspaces: vi.fn(),
  listKeys: vi.fn(),
  createKey: vi.fn(),
  revokeKey: vi.fn()
}));

import * as api from '../src/api';
import { MuxModel } from '../src/model';

const mocked = api as unknown as Record<string, ReturnType<typeof vi.fn>>;

const key = (id: string) => ({
  id,
  name: id,
  prefix: `mux_${id}`,
  workspace: null,
  expires_at: null,
  budget_usd: null,
  spent_usd: 0,
  created_at: '2026-11-30T10:00:00Z',
  last_used_at: null
});

function nextTick(model: MuxModel): Promise<string> {
  return new Promise(resolve => {
    const onTick = (_: unknown, state: { phase: string }) => {
      if (['resolved', 'rejected', 'reconnected'].includes(state.phase)) {
        model.poll.ticked.disconnect(onTick);
        resolve(state.phase);
      }
    };
    model.poll.ticked.connect(onTick);
  });
}

describe('MuxModel keys', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    mocked.listProviderTypes.mockResolvedValue([]);
    mocked.listProviders.mockResolvedValue([]);
    mocked.listWorkspaces.mockResolvedValue([]);
    mocked.listKeys.mockResolvedValue([key('a')]);
  });

  it('fetches the keys at once when watched, and polls them only while watched', async () => {
    const model = new MuxModel();
    expect(model.keys).toBeNull();
    const changed = vi.fn();
    model.changed.connect(changed);
    const stop = model.watchKeys();
    await model.refreshKeys();
    expect(model.keys?.map(k => k.id)).toEqual(['a']);
    expect(changed).toHaveBeenCalledTimes(1); // the same list twice signals once

    mocked.listKeys.mockResolvedValue([key('a'), key('b')]);
    const tick = nextTick(model);
    model.start();
    expect(await tick).toBe('resolved');
    expect(model.keys?.map(k => k.id)).toEqual(['a', 'b']);

    stop();
    mocked.listKeys.mockClear();
    const unwatched = nextTick(model);
    await model.poll.refresh();
    expect(await unwatched).toBe('resolved');
    expect(mocked.listKeys).not.toHaveBeenCalled();
    model.dispose();
  });

  it('keeps the last list and reports why the keys cannot be fetched', async () => {
    const model = new MuxModel();
    const stop = model.watchKeys();
    await model.refreshKeys();
    mocked.listKeys.mockRejectedValue(new Error('Not Found'));
    await model.refreshKeys();
    expect(model.keysError).toBe('Not Found');
    expect(model.keys).toHaveLength(1);
    stop();
  });

  it('refreshes the list after making or revoking a key; the secret is only in the answer', async () => {
    const model = new MuxModel();
    const made = { ...key('b'), secret: 'mux_b-secret' };
    mocked.createKey.mockImplementation(async () => {
      mocked.listKeys.mockResolvedValue([key('a'), key('b')]);
      return made;
    });
    expect(await model.createKey({ name: 'b' })).toEqual(made);
    expect(model.keys?.map(k => k.id)).toEqual(['a', 'b']);
    expect(JSON.stringify(model.keys)).not.toContain('secret');

    mocked.revokeKey.mockImplementation(async () => {
      mocked.listKeys.mockResolvedValue([key('a')]);
    });
    await model.revokeKey('b');
    expect(mocked.revokeKey).toHaveBeenCalledWith('b');
    expect(model.keys?.map(k => k.id)).toEqual(['a']);
  });

  it('drops a list fetched before a key was made (it would hide the new key)', async () => {
    const model = new MuxModel();
    let release: (v: unknown) => void = () => undefined;
    mocked.listKeys.mockReturnValueOnce(new Promise(r => (release = r)));
    const stale = model.refreshKeys();
    mocked.createKey.mockResolvedValue({ ...key('b'), secret: 's' });
    mocked.listKeys.mockResolvedValue([key('a'), key('b')]);
    await model.createKey({ name: 'b' });
    release([key('a')]);
    await stale;
    expect(model.keys?.map(k => k.id)).toEqual(['a', 'b']);
  });
});
