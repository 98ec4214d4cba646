import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Clipboard, Notification } from '@jupyterlab/apputils';

import type { MuxModel } from './model';
import { showSwitcher } from './switcher';

export namespace CommandIDs {
  export const switchWorkspace = 'jupyter-mux:switch-workspace';
  export const openPanel = 'jupyter-mux:open-panel';
  export const copyUrl = 'jupyter-mux:copy-url';
}

export const PALETTE_CATEGORY = 'Model Mux';

export function addCommands(
  app: JupyterFrontEnd,
  model: MuxModel,
  panelId: string,
  url: string
): void {
  app.commands.addCommand(CommandIDs.switchWorkspace, {
    label: args => (args.name ? `Switch to Workspace ${args.name}` : 'Switch Mux Workspace…'),
    caption: 'Choose the workspace whose model answers the mux URL',
    describedBy: {
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'Workspace to activate (else a picker opens)' }
        }
      }
    },
    execute: async args => {
      const name = args.name as string | undefined;
      if (name) {
        try {
          await model.activate(name);
        } catch (e) {
          Notification.error(`Cannot switch to ${name}: ${e instanceof Error ? e.message : e}`);
        }
        return;
      }
      await showSwitcher(model);
    }
  });

  app.commands.addCommand(CommandIDs.openPanel, {
    label: 'Open Model Mux Panel',
    caption: 'Workspaces, providers and the mux URL',
    execute: () => {
      app.shell.activateById(panelId);
    }
  });

  app.commands.addCommand(CommandIDs.copyUrl, {
    label: 'Copy Mux URL',
    caption: url,
    execute: () => {
      Clipboard.copyToSystem(url);
      Notification.info(`Copied ${url}`, { autoClose: 3000 });
    }
  });
}
