import { chooseTestServer, describeChoice, dockerEndpoint, testServerImages } from './test-servers.js';

describe('which servers a test uses', () => {
  describe('when a Docker engine answers', () => {
    it('starts NATS and MongoDB with testcontainers, whatever the URLs say', () => {
      const env = { NATS_URL: 'nats://127.0.0.1:4222', MONGO_URL: 'mongodb://127.0.0.1:27017' };
      expect(chooseTestServer('nats', env, true)).toEqual({
        kind: 'nats',
        via: 'testcontainers',
        image: testServerImages.nats,
        reason: 'a Docker engine answered',
      });
      expect(chooseTestServer('mongodb', {}, true)).toMatchObject({ via: 'testcontainers', image: 'mongo:7.0' });
    });

    it('uses loopback when TESTCONTAINERS=off', () => {
      expect(chooseTestServer('nats', { TESTCONTAINERS: 'off' }, true)).toEqual({
        kind: 'nats',
        via: 'loopback',
        url: 'nats://127.0.0.1:4222',
        reason: 'TESTCONTAINERS=off; NATS_URL unset, its default',
      });
    });
  });

  describe('when no Docker engine answers (this CI)', () => {
    it('uses the servers the environment names', () => {
      expect(chooseTestServer('nats', { NATS_URL: ' nats://10.0.0.2:4222 ' }, false)).toEqual({
        kind: 'nats',
        via: 'loopback',
        url: 'nats://10.0.0.2:4222',
        reason: 'no Docker engine answered; NATS_URL is set',
      });
      expect(chooseTestServer('mongodb', { MONGO_URL: 'mongodb://127.0.0.1:27017' }, false)).toMatchObject({
        via: 'loopback',
        url: 'mongodb://127.0.0.1:27017',
      });
    });

    it('falls back on loopback NATS, but has no MongoDB to offer: none, with the reason', () => {
      expect(chooseTestServer('nats', {}, false)).toMatchObject({ via: 'loopback', url: 'nats://127.0.0.1:4222' });
      const mongo = chooseTestServer('mongodb', { MONGO_URL: '  ' }, false);
      expect(mongo).toEqual({
        kind: 'mongodb',
        via: 'none',
        reason: 'no Docker engine answered and MONGO_URL is not set',
      });
      expect(describeChoice(mongo)).toBe('mongodb: none: no Docker engine answered and MONGO_URL is not set');
    });
  });

  it('finds the engine from DOCKER_HOST, else the default socket when it exists', () => {
    expect(dockerEndpoint({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toEqual({
      socketPath: '/run/user/1000/docker.sock',
    });
    expect(dockerEndpoint({ DOCKER_HOST: 'tcp://docker:2376' })).toEqual({ host: 'docker', port: 2376 });
    expect(dockerEndpoint({}, () => true)).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(dockerEndpoint({}, () => false)).toBeUndefined();
  });
});
