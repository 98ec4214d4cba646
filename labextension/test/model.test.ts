import { describe, beforeEach, expect, it, vi } from 'vitest';

vi.mock('../src/api', async () => ({
  MuxApiError: (await vi.importActual<typeof import('../src/api')>('../src/api')).MuxApiError,
  getMe: vi.fn(),
  getAdminUsage: vi.fn(),
  listProviderTypes: vi.fn(),
  listProviders: vi.fn(),
  listWorkspaces: vi.fn(),
  setActive: vi.fn(),
  refreshProvider: vi.fn(),
  getUsage: vi.fn(),
  getRules: vi.fn(),
  putRules: vi.fn(),
  probeProvider: vi.fn()
}));

import * as api from '../src/api';
import { MuxApiError } from '../src/api';
import { MuxModel } from '../src/model';

const mocked = api as unknown as Record<string, ReturnType<typeof vi.fn>>;

const types = [
  {
    type: 'llamacpp',
    label: 'llama.cpp',
    default_endpoint: 'http://localhost:8080',
    default_auth: 'none',
    auth_types: ['none']
  }
];

function workspaces(active: string) {
  return ['a', 'b'].map(name => ({
    name,
    description: '',
    is_active: name === active,
    preferred: null,
    preferred_ok: false,
    problem: null
  }));
}

const usageRow = (key: string) => ({
  key,
  requests: 1,
  errors: 0,
  prompt_tokens: 2,
  completion_tokens: 3,
  cost: null
});

/** The outcome of the model's next poll (not the ticks that only schedule one). */
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

describe('MuxModel', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    mocked.listProviderTypes.mockResolvedValue(types);
    mocked.listProviders.mockResolvedValue([]);
    mocked.listWorkspaces.mockResolvedValue(workspaces('a'));
    mocked.getUsage.mockResolvedValue({ rows: [], totals: usageRow('') });
    mocked.getMe.mockRejectedValue(new MuxApiError(404, 'Not Found'));
  });

  it('signals only when the data changed', async () => {
    const model = new MuxModel();
    const changed = vi.fn();
    model.changed.connect(changed);
    await model.refresh();
    expect(changed).toHaveBeenCalledTimes(1);
    expect(model.loaded).toBe(true);
    expect(model.active?.name).toBe('a');

    await model.refresh();
    expect(changed).toHaveBeenCalledTimes(1);
    expect(mocked.listProviderTypes).toHaveBeenCalledTimes(1);

    mocked.listWorkspaces.mockResolvedValue(workspaces('b'));
    await model.refresh();
    expect(changed).toHaveBeenCalledTimes(2);
    expect(model.active?.name).toBe('b');
  });

  it('keeps the last data and reports an error when the API fails', async () => {
    const model = new MuxModel();
    await model.refresh();
    mocked.listProviders.mockRejectedValue(new Error('the mux could not start'));
    await model.refresh();
    expect(model.error).toBe('the mux could not start');
    expect(model.workspaces).toHaveLength(2);
    mocked.listProviders.mockResolvedValue([]);
    await model.refresh();
    expect(model.error).toBeNull();
  });

  it('shares one refresh between concurrent callers', async () => {
    const model = new MuxModel();
    await Promise.all([model.refresh(), model.refresh(), model.refresh()]);
    expect(mocked.listWorkspaces).toHaveBeenCalledTimes(1);
  });

  it('polls at once on start; a failing server rejects the tick so the poll backs off', async () => {
    mocked.listProviders.mockRejectedValue(new Error('down'));
    const model = new MuxModel();
    const first = nextTick(model);
    model.start();
    expect(await first).toBe('rejected');
    expect(model.error).toBe('down');
    expect(model.poll.frequency).toMatchObject({ backoff: true, interval: 2000, max: 30000 });
    expect(model.poll.standby).toBe('when-hidden');

    mocked.listProviders.mockResolvedValue([]);
    const second = nextTick(model);
    await model.poll.refresh();
    expect(['resolved', 'reconnected']).toContain(await second);
    expect(model.error).toBeNull();
    model.dispose();
    expect(model.poll.isDisposed).toBe(true);
  });

  it('activates, then refreshes', async () => {
    const model = new MuxModel();
    await model.refresh();
    mocked.setActive.mockImplementation(async (name: string) => {
      mocked.listWorkspaces.mockResolvedValue(workspaces(name));
      return { name };
    });
    await model.activate('b');
    expect(mocked.setActive).toHaveBeenCalledWith('b');
    expect(model.active?.name).toBe('b');
  });

  it('loads rules through the model and saves them through it, refreshing after', async () => {
    const model = new MuxModel();
    const rules = [{ kind: 'catch_all', pattern: null, targets: [] }];
    mocked.getRules.mockResolvedValue(rules);
    mocked.putRules.mockResolvedValue(rules);
    expect(await model.getRules('a')).toBe(rules);
    await model.saveRules('a', rules as never);
    expect(mocked.putRules).toHaveBeenCalledWith('a', rules);
    expect(mocked.listWorkspaces).toHaveBeenCalled();
  });

  it('marks a provider busy while its models refresh', async () => {
    const model = new MuxModel();
    let release: (v: unknown) => void = () => undefined;
    mocked.refreshProvider.mockReturnValue(new Promise(r => (release = r)));
    const pending = model.refreshModels('p');
    expect(model.isRefreshing('p')).toBe(true);
    release({ name: 'p', status: 'ok' });
    await pending;
    expect(model.isRefreshing('p')).toBe(false);
  });

  it('fetches usage over time only while watched: the range, then one window per bucket', async () => {
    const model = new MuxModel();
    mocked.getUsage.mockImplementation(async (q: { until?: string }) => ({
      rows: q.until ? [usageRow('ws')] : [usageRow('ws'), usageRow('other')],
      totals: usageRow('')
    }));
    const stop = model.watchUsage({ range: 'hour', by: 'workspace' });
    await model.refreshUsage();
    // The whole hour once, and each of its 12 five-minute buckets.
    const calls = mocked.getUsage.mock.calls.slice(-13).map(c => c[0]);
    expect(calls[0]).toMatchObject({ group_by: 'workspace' });
    expect(calls[0].until).toBeUndefined();
    expect(calls.slice(1).every(q => q.since && q.until)).toBe(true);
    expect(model.usage?.labels).toHaveLength(12);
    expect(model.usage?.lines.map(l => l.key)).toEqual(['ws']);
    expect(model.usage?.lines[0].tokens).toEqual(Array(12).fill(5));
    expect(model.usage?.rows.map(r => r.key)).toEqual(['ws', 'other']);
    // The same query again (a view re-rendering) asks for nothing.
    const asked = mocked.getUsage.mock.calls.length;
    model.setUsageQuery({ range: 'hour', by: 'workspace' });
    expect(mocked.getUsage.mock.calls.length).toBe(asked);

    model.setUsageQuery({ range: 'week', by: 'model' });
    await model.refreshUsage();
    expect(mocked.getUsage.mock.calls.at(-1)?.[0]).toMatchObject({ group_by: 'model' });
    expect(model.usage?.labels).toHaveLength(7);
    stop();

    // Unwatched: a poll tick does not ask for usage.
    mocked.getUsage.mockClear();
    const tick = nextTick(model);
    model.start();
    expect(await tick).toBe('resolved');
    expect(mocked.getUsage).not.toHaveBeenCalled();
    model.dispose();
  });

  it('reports a usage error and keeps the last usage', async () => {
    const model = new MuxModel();
    const stop = model.watchUsage({ range: 'day', by: 'workspace' });
    await model.refreshUsage();
    expect(model.usage).not.toBeNull();
    mocked.getUsage.mockRejectedValue(new Error('bad query'));
    await model.refreshUsage();
    expect(model.usageError).toBe('bad query');
    expect(model.usage).not.toBeNull();
    stop();
  });

  it('asks a plain server who the user is once: a 404 means no Hub service', async () => {
    const model = new MuxModel();
    const stop = model.watchUsage({ range: 'day', by: 'workspace' });
    await model.refreshUsage();
    await model.refreshUsage();
    expect(mocked.getMe).toHaveBeenCalledTimes(1);
    expect(model.me).toBeNull();
    expect(mocked.getAdminUsage).not.toHaveBeenCalled();
    stop();
  });

  it("fetches a Hub admin's budgets with usage, and all users' usage when asked", async () => {
    const me = {
      name: 'admin',
      admin: true,
      groups: [],
      policy: { usd_per_day: 1, usd_per_month: null, allowed_models: null, user_providers: false },
      budgets: [
        {
          budget: 'user admin usd_per_day',
          limit_usd: 1,
          spent_usd: 0.25,
          held_usd: 0,
          resets_at: '2030-01-02T00:00:00Z'
        }
      ]
    };
    mocked.getMe.mockResolvedValue(me);
    mocked.getAdminUsage.mockResolvedValue({ rows: [usageRow('alice')], totals: usageRow('') });
    const model = new MuxModel();
    const stop = model.watchUsage({ range: 'hour', by: 'workspace', scope: 'mine' });
    await model.refreshUsage();
    expect(model.me).toEqual(me);
    expect(mocked.getAdminUsage).not.toHaveBeenCalled();

    model.setUsageQuery({ range: 'hour', by: 'group', scope: 'all' });
    // Until all users' usage answers, the user's own is not shown as theirs.
    expect(model.usage).toBeNull();
    await model.refreshUsage();
    const calls = mocked.getAdminUsage.mock.calls.slice(-13).map(c => c[0]);
    expect(calls.every(q => q.group_by === 'group')).toBe(true);
    expect(calls[0].until).toBeUndefined();
    expect(model.usage?.rows.map(r => r.key)).toEqual(['alice']);
    stop();
  });
});
