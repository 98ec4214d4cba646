import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { addCommands, CommandIDs, PALETTE_CATEGORY } from './commands';
import { TRANSLATION_DOMAIN } from './helpers/trans';
import { muxUrl } from './helpers/urls';
import { registerWithLiteAi } from './lite-ai';
import { MuxModel } from './model';
import { MuxSidebar } from './panel/MuxSidebar';
import { MuxView } from './panel/MuxView';
import { MuxStatus } from './statusbar';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mux:plugin',
  description: 'Model Mux: workspaces, providers, usage and the mux URL of jupyter-mux.',
  autoStart: true,
  optional: [ILabShell, ICommandPalette, IStatusBar, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const model = new MuxModel();
    const url = muxUrl(PageConfig.getBaseUrl());

    // The main view: made on first use, made again after it was closed. It is added once
    // the shell has restored its layout: restoring replaces the main area's layout, and a
    // widget added before then (a command run as the page loads) would be dropped from it.
    let main: MainAreaWidget<MuxView> | null = null;
    const openView = async (section?: string): Promise<void> => {
      await app.restored;
      if (!main || main.isDisposed) {
        const content = new MuxView(model, url, trans);
        main = new MainAreaWidget({ content });
        main.id = 'jupyter-mux-view';
        main.title.icon = content.title.icon;
        main.title.label = content.title.label;
        main.title.caption = content.title.caption;
        main.title.closable = true;
        main.toolbar.hide(); // nothing to put there: the view has its own tabs
      }
      if (section) {
        main.content.section = section;
      }
      if (!main.isAttached) {
        app.shell.add(main, 'main');
      }
      app.shell.activateById(main.id);
    };

    const sidebar = new MuxSidebar(model, trans, openView);
    (labShell ?? app.shell).add(sidebar, 'left', { rank: 850 });

    addCommands(app, model, trans, openView, url);
    if (palette) {
      for (const command of [
        CommandIDs.switchWorkspace,
        CommandIDs.openView,
        CommandIDs.copyUrl
      ]) {
        palette.addItem({ command, category: PALETTE_CATEGORY });
      }
    }

    if (statusBar) {
      const item = new MuxStatus(model, trans, () => {
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

/** The "Model Mux" provider in jupyterlite-ai's chat, when jupyterlite-ai is installed. */
const liteAiPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mux:lite-ai',
  description: 'Registers the Model Mux provider with jupyterlite-ai, when it is installed.',
  autoStart: true,
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, translator: ITranslator | null) => {
    void registerWithLiteAi(app, (translator ?? nullTranslator).load(TRANSLATION_DOMAIN));
  }
};

export default [plugin, liteAiPlugin];
