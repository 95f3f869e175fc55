import { ConfigError } from './config-schema.js';
import { jetStreamReplicasFromEnv } from './jetstream-replicas.js';

describe('JETSTREAM_REPLICAS', () => {
  it('is 1 unless set: a single NATS server', () => {
    expect(jetStreamReplicasFromEnv({})).toBe(1);
  });

  it('is 3 on a 3-node cluster, and refuses what JetStream cannot do, naming the variable', () => {
    expect(jetStreamReplicasFromEnv({ JETSTREAM_REPLICAS: '3' })).toBe(3);
    for (const wrong of ['0', '6', 'three', '1.5']) {
      expect(() => jetStreamReplicasFromEnv({ JETSTREAM_REPLICAS: wrong })).toThrow(ConfigError);
      expect(() => jetStreamReplicasFromEnv({ JETSTREAM_REPLICAS: wrong })).toThrow(/^JETSTREAM_REPLICAS must be/);
    }
  });
});
