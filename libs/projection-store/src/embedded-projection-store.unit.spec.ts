import { EmbeddedProjectionStore } from './embedded-projection-store.js';
import { projectionStoreFeatures } from './projection-store.features.js';

projectionStoreFeatures('embedded', async () => ({
  open: async (hooks) => new EmbeddedProjectionStore(hooks),
  close: async () => undefined,
}));
