import { EmbeddedProjectionStore } from './embedded-projection-store.js';
import { MongoProjectionStore } from './mongodb-projection-store.js';
import type { ProjectionStore } from './projection-store.js';

export interface ProjectionStoreEnv {
  /** Set: MongoDB (deployments). Unset: the embedded store, rebuilt from the log at start. */
  MONGO_URL?: string;
  /** Database for the read models. Default: the URL's path, else 'tunnelkey'. */
  MONGO_DATABASE?: string;
}

/**
 * The projection store the configuration asks for: MongoDB when MONGO_URL is set, else the
 * embedded one. Check `store.kind` to log which (never the URL: it may carry credentials).
 */
export async function projectionStoreFromEnv(
  env: ProjectionStoreEnv | NodeJS.ProcessEnv = process.env,
  options: { serverSelectionTimeoutMS?: number } = {},
): Promise<ProjectionStore> {
  const url = env.MONGO_URL?.trim();
  if (url) return MongoProjectionStore.connect(url, { database: env.MONGO_DATABASE?.trim() || undefined, ...options });
  return new EmbeddedProjectionStore();
}
