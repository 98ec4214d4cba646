/** The one translation type the helpers take: JupyterLab's bundle (ITranslator.load). */
import type { TranslationBundle } from '@jupyterlab/translation';

export type Trans = Pick<TranslationBundle, '__' | '_n'>;

/** The domain every string of this extension is translated in. */
export const TRANSLATION_DOMAIN = 'jupyter_mux';
