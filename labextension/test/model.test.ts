import { beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('../src/api', () => ({
  listProviderTypes: vi.fn(),
  listProviders: vi.fn(),
  listWorkspaces: vi.fn(),
  setActive: vi.fn(),
  refreshProvider: vi.fn()
}));

import * as api from '../src/api';
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

describe('MuxModel', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    mocked.listProviderTypes.mockResolvedValue(types);
    mocked.listProviders.mockResolvedValue([]);
    mocked.listWorkspaces.mockResolvedValue(workspaces('a'));
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
});
