import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * The protocol's schemas use zod/mini, which bundles only what they use (~18 KB minified with these
 * messages, against ~450 KB for the classic API): they run in the browser's database worker as
 * well as on the server. Imported for this effect by each schema module: zod's English messages,
 * as the classic API has them.
 */
config(en());
