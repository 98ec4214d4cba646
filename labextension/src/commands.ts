import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Clipboard, Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { PRODUCT_NAME } from './helpers/texts';
import type { MuxModel } from './model';
import { showSwitcher } from './switcher';

export namespace CommandIDs {
  export const switchWorkspace = 'jupyter-mux:switch-workspace';
  export const openView = 'jupyter-mux:open';
  export const copyUrl = 'jupyter-mux:copy-url';
}

export const PALETTE_CATEGORY = PRODUCT_NAME;

export function addCommands(
  app: JupyterFrontEnd,
  model: MuxModel,
  trans: TranslationBundle,
  openView: (section?: string) => Promise<void>,
  url: string
): void {
  app.commands.addCommand(CommandIDs.switchWorkspace, {
    label: args =>
      args.name
        ? trans.__('Switch to Workspace %1', args.name as string)
        : trans.__('Switch Mux Workspace…'),
    caption: trans.__('Choose the workspace whose model answers the mux URL'),
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
          Notification.error(
            trans.__('Cannot switch to %1: %2', name, e instanceof Error ? e.message : String(e))
          );
        }
        return;
      }
      await showSwitcher(model, trans, () => openView());
    }
  });

  app.commands.addCommand(CommandIDs.openView, {
    label: trans.__('Open %1', PRODUCT_NAME),
    caption: trans.__('Workspaces, providers, usage, keys and the mux URL'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          section: {
            type: 'string',
            enum: ['workspaces', 'providers', 'usage', 'connect'],
            description: 'The section to show'
          }
        }
      }
    },
    execute: args => openView(args.section as string | undefined)
  });

  app.commands.addCommand(CommandIDs.copyUrl, {
    label: trans.__('Copy Mux URL'),
    caption: url,
    execute: () => {
      Clipboard.copyToSystem(url);
      Notification.info(trans.__('Copied %1', url), { autoClose: 3000 });
    }
  });
}
