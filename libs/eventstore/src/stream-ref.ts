import type { BoundedContext } from '@tunnelkey/contracts';

/** One aggregate instance's stream: `<context>.<aggregate>.<id>`. */
export interface StreamRef {
  context: BoundedContext;
  aggregate: string;
  id: string;
}
