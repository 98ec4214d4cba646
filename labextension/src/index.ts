import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IStatusBar } from '@jupyterlab/statusbar';

import { addCommands, CommandIDs, PALETTE_CATEGORY } from './commands';
import { MuxModel } from './model';
import { MuxPanel } from './panel/MuxPanel';
import { MuxStatus } from './statusbar';
import { muxUrl } from './utils';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mux:plugin',
  description: 'Workspaces, providers and the mux URL of jupyter-mux.',
  autoStart: true,
  optional: [ILabShell, ICommandPalette, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null
  ) => {
    const model = new MuxModel();
    const url = muxUrl(PageConfig.getBaseUrl());

    const panel = new MuxPanel(model, url);
    (labShell ?? app.shell).add(panel, 'left', { rank: 850 });

    addCommands(app, model, panel.id, url);
    if (palette) {
      for (const command of [
        CommandIDs.switchWorkspace,
        CommandIDs.openPanel,
        CommandIDs.copyUrl
      ]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }

    if (statusBar) {
      const item = new MuxStatus(model, () => {
        void app.commands.execute(CommandIDs.switchWorkspace);
      });
      statusBar.registerStatusItem('jupyter-mux:status', {
        item,
        align: 'left',
        rank: 50,
        isActive: () => true
      });
    }

    model.start();
  }
};

export default plugin;
