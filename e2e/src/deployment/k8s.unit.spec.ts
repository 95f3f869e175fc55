/**
 * deploy/k8s: every overlay rendered with `kubectl kustomize` (offline) and every object validated
 * against the Kubernetes API schema (kubernetes-models), then checked against the services
 * themselves: the image and its command, ports and probe paths at each service's configuration
 * default, every environment variable one its service reads and with a value its schema accepts,
 * file settings on mounted volumes, secrets referenced and never inlined, NATS users of nats.conf.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { dispatchEntries, repoRoot } from './deployment-files.js';
import { deployedServices, natsUserOf, natsUsersOf, natsUsersStillMissing, readsVariable } from './service-settings.js';

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
} & Record<
  string,
  any // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered YAML, checked field by field below
>;

const kubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!kubectl)
  console.warn('kubectl is not installed: the Kubernetes manifest test is SKIPPED (apt-get install kubectl)');
const describeWithKubectl = kubectl ? describe : describe.skip;

const k8sDir = join(repoRoot, 'deploy/k8s');
const overlays = readdirSync(join(k8sDir, 'overlays'));
const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const natsConf = readFileSync(join(repoRoot, 'deploy/nats/nats.conf'), 'utf8');

function render(overlay: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', join(k8sDir, 'overlays', overlay)], { encoding: 'utf8' });
  return parseAllDocuments(out).map((doc) => doc.toJSON() as K8sObject);
}

/** kubernetes-models' class for the object's apiVersion and kind; undefined for a CRD it does not know. */
async function modelOf(object: K8sObject): Promise<(new (data: unknown) => { validate(): void }) | undefined> {
  if (object.apiVersion.includes('monitoring.coreos.com')) return undefined;
  const module = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, unknown>;
  return module[object.kind] as new (data: unknown) => { validate(): void };
}

const workloads = (objects: K8sObject[]) => objects.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind));

describeWithKubectl('Kubernetes manifests (deploy/k8s)', () => {
  it('has a dev and a production overlay', () => {
    expect(overlays).toEqual(expect.arrayContaining(['dev', 'production']));
  });

  describe.each(overlays)('overlay %s', (overlay) => {
    const objects = render(overlay);
    const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o]));
    const tunnelkeyContainers = workloads(objects).flatMap((w) =>
      (w.spec.template.spec.containers as any[]) // eslint-disable-line @typescript-eslint/no-explicit-any
        .filter((c) => String(c.image).startsWith('ghcr.io/tunnelkey/tunnelkey'))
        .map((container) => ({ workload: w, container, service: String(container.args?.[0]) })),
    );

    it('validates every object against the Kubernetes API schema', async () => {
      expect(objects.length).toBeGreaterThan(20);
      for (const object of objects) {
        const Model = await modelOf(object);
        if (!Model) {
          // A CRD kubernetes-models does not carry: its shape is checked below.
          expect(object.kind).toBe('ServiceMonitor');
          continue;
        }
        expect(() => new Model(object).validate()).not.toThrow();
      }
    });

    it('runs every platform service from the one image at the repository version, with a command it dispatches', () => {
      const entries = dispatchEntries();
      const deployed = new Set(tunnelkeyContainers.map((c) => c.service));
      expect([...deployed].sort()).toEqual(Object.keys(deployedServices).sort());
      const versions = new Set(
        objects.map((o) => o.metadata.labels?.['app.kubernetes.io/version']).filter((v) => v !== undefined),
      );
      expect([...versions]).toEqual([version]);
      for (const { container, service } of tunnelkeyContainers) {
        expect(container.image).toBe(`ghcr.io/tunnelkey/tunnelkey:${version}`);
        expect(Object.keys(entries)).toContain(service);
        expect(container.command).toBeUndefined(); // the image's ENTRYPOINT: tunnelkey
      }
    });

    it("listens, is probed and is reached at each service's configured port, on /health and /ready", () => {
      for (const { container, service, workload } of tunnelkeyContainers) {
        const settings = deployedServices[service]!;
        const env = Object.fromEntries(
          (container.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]),
        );
        expect({ service, port: env[settings.portVariable] }).toEqual({ service, port: String(settings.port) });
        expect(container.ports).toEqual([{ name: 'http', containerPort: settings.port, protocol: 'TCP' }]);
        expect(container.startupProbe.httpGet).toEqual({ path: '/health', port: 'http' });
        expect(container.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
        expect(container.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
        const service_ = objects.find((o) => o.kind === 'Service' && o.metadata.name === service);
        expect(service_?.spec.ports).toEqual([
          { name: 'http', port: settings.port, targetPort: 'http', protocol: 'TCP' },
        ]);
        const podLabels = workload.spec.template.metadata.labels as Record<string, string>;
        for (const [key, value] of Object.entries(service_!.spec.selector as Record<string, string>)) {
          expect(podLabels[key]).toBe(value);
        }
      }
    });

    it('gives each service only variables it reads, with values its configuration schema accepts', () => {
      for (const { container, service } of tunnelkeyContainers) {
        const settings = deployedServices[service]!;
        const fromConfigMaps = ((container.envFrom ?? []) as { configMapRef: { name: string } }[]).map((ref) => {
          const map = configMaps.get(ref.configMapRef.name);
          expect({ configMap: ref.configMapRef.name, exists: map !== undefined }).toEqual({
            configMap: ref.configMapRef.name,
            exists: true,
          });
          return map!.data as Record<string, string>;
        });
        const env = Object.assign(
          {},
          ...fromConfigMaps,
          Object.fromEntries(
            (container.env as { name: string; value?: string }[]).map((e) => [e.name, e.value ?? 'from-a-reference']),
          ),
        ) as Record<string, string>;
        const unread = Object.keys(env).filter((variable) => !readsVariable(settings, variable));
        expect({ service, unread }).toEqual({ service, unread: [] });
        // Values given literally must parse (references stand for a file or secret: not parsed here).
        const literal = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== 'from-a-reference'));
        expect(() => settings.schema.read(literal)).not.toThrow();
        // Every *_FILE setting names a path on a volume mounted into the container.
        const mounts = (container.volumeMounts as { mountPath: string }[]).map((m) => m.mountPath);
        for (const [variable, path] of Object.entries(literal).filter(([v]) => v.endsWith('_FILE'))) {
          expect({ variable, mounted: mounts.some((m) => path.startsWith(`${m}/`)) }).toEqual({
            variable,
            mounted: true,
          });
        }
      }
    });

    it('references its secrets and never inlines one; KEKs and the platform key come from files', () => {
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      const secretVariables = [
        'CA_KEK',
        'ONBOARDING_KEK',
        'OTA_KEK',
        'PLATFORM_KEY',
        'NATS_PASSWORD',
        'GATEWAY_ADMIN_TOKEN',
      ];
      const inlined = workloads(objects).flatMap((w) =>
        (w.spec.template.spec.containers as { env?: { name: string; value?: string }[] }[]).flatMap((c) =>
          (c.env ?? []).filter((e) => secretVariables.includes(e.name) && e.value !== undefined).map((e) => e.name),
        ),
      );
      expect(inlined).toEqual([]);
      const secretNames = new Set<string>();
      for (const w of workloads(objects)) {
        for (const v of (w.spec.template.spec.volumes ?? []) as { secret?: { secretName: string } }[]) {
          if (v.secret) secretNames.add(v.secret.secretName);
        }
      }
      expect([...secretNames]).toEqual(
        expect.arrayContaining([
          'tunnelkey-platform-key',
          'tunnelkey-ca-kek',
          'tunnelkey-onboarding-kek',
          'tunnelkey-ota-kek',
          'tunnelkey-nats-tls',
          'tunnelkey-broker',
        ]),
      );
    });

    it('connects every service as its own user of deploy/nats/nats.conf (a copy of which configures NATS)', () => {
      const { users, passwordVariables } = natsUsersOf(natsConf);
      expect(
        configMaps.get(
          objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('nats-config'))!.metadata.name,
        )!.data['nats.conf'],
      ).toBe(natsConf);
      const missing: string[] = [];
      for (const { container, service } of tunnelkeyContainers) {
        const env = container.env as { name: string; value?: string; valueFrom?: any }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
        const user = env.find((e) => e.name === 'NATS_USER')?.value;
        expect(user).toBe(natsUserOf(service));
        expect(env.find((e) => e.name === 'NATS_PASSWORD')?.valueFrom).toEqual({
          secretKeyRef: { name: 'tunnelkey-nats-passwords', key: natsUserOf(service) },
        });
        if (!users.includes(natsUserOf(service))) missing.push(service);
      }
      expect(missing).toEqual(natsUsersStillMissing);
      const nats = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats')!;
      expect(nats.spec.replicas).toBe(3);
      const natsEnv = (nats.spec.template.spec.containers[0].env as { name: string }[]).map((e) => e.name);
      expect(natsEnv).toEqual(expect.arrayContaining(passwordVariables));
    });

    it('runs every container non-root on a read-only root filesystem, with requests and a memory limit', () => {
      for (const w of workloads(objects)) {
        const pod = w.spec.template.spec;
        expect({ workload: w.metadata.name, runAsNonRoot: pod.securityContext?.runAsNonRoot }).toEqual({
          workload: w.metadata.name,
          runAsNonRoot: true,
        });
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          expect({ container: c.name, sc: c.securityContext }).toMatchObject({
            container: c.name,
            sc: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          });
          expect(c.resources?.requests).toBeDefined();
          expect(c.resources?.limits?.memory).toBeDefined();
        }
      }
    });

    it('gives every workload a PodDisruptionBudget and starts from a default-deny NetworkPolicy', () => {
      const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget');
      for (const w of workloads(objects).filter((w) => w.metadata.name !== 'mongo')) {
        const labels = w.spec.template.metadata.labels as Record<string, string>;
        const covered = budgets.some((b) =>
          Object.entries(b.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v),
        );
        expect({ workload: w.metadata.name, covered }).toEqual({ workload: w.metadata.name, covered: true });
      }
      const deny = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'default-deny');
      expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    });

    it('runs the broker agent beside its broker: one pod, shared trust files, one process namespace, one user', () => {
      const broker = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'mosquitto')!;
      const pod = broker.spec.template.spec;
      expect(pod.shareProcessNamespace).toBe(true);
      expect(broker.spec.strategy).toEqual({ type: 'Recreate' });
      const names = (pod.containers as { name: string }[]).map((c) => c.name);
      expect(names).toEqual(['mosquitto', 'broker-agent']);
      const [mosquitto, agent] = pod.containers;
      type Mount = { name: string; mountPath: string; readOnly?: boolean };
      const mountOf = (c: { volumeMounts: Mount[] }, path: string) => c.volumeMounts.find((m) => m.mountPath === path);
      const mosquittoConf = readFileSync(join(repoRoot, 'deploy/mosquitto/mosquitto.conf'), 'utf8');
      const confValue = (key: string) => new RegExp(`^${key} (.+)$`, 'm').exec(mosquittoConf)![1]!;
      const env = Object.fromEntries((agent.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
      const files = deployedServices['broker-agent']!.schema.read(env) as Record<string, string>;
      // The agent's files are the ones mosquitto.conf names, on the volumes the broker reads them from.
      for (const [setting, key] of [
        ['caFile', 'cafile'],
        ['crlFile', 'crlfile'],
        ['aclFile', 'acl_file'],
        ['pidFile', 'pid_file'],
        ['logFile', 'log_dest file'],
      ]) {
        const file = files[setting!]!;
        expect({ setting, file }).toEqual({ setting, file: confValue(key!) });
        const dir = file.slice(0, file.lastIndexOf('/'));
        expect({ dir, volume: mountOf(agent, dir)?.name }).toEqual({ dir, volume: mountOf(mosquitto, dir)?.name });
        // It writes the trust files only.
        expect({ dir, readOnly: mountOf(agent, dir)?.readOnly === true }).toEqual({
          dir,
          readOnly: dir !== '/mosquitto/trust',
        });
      }
      // A signal (SIGHUP) needs the same user.
      expect(agent.securityContext.runAsUser ?? pod.securityContext.runAsUser).toBe(pod.securityContext.runAsUser);
      const conf = [...configMaps.values()].find((m) => m.metadata.name.startsWith('mosquitto-config'))!;
      expect(conf.data['mosquitto.conf']).toBe(mosquittoConf);
    });

    it('lets onboarding reach its brokers over the network only: the admin listener, open to onboarding alone', () => {
      const onboarding = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'onboarding')!;
      const pod = onboarding.spec.template.spec;
      expect(pod.shareProcessNamespace).toBeUndefined();
      const mounts = (pod.containers[0].volumeMounts as { mountPath: string }[]).map((m) => m.mountPath);
      expect(mounts.filter((m) => m.startsWith('/mosquitto'))).toEqual([]);
      const env = pod.containers[0].env as { name: string; value?: string }[];
      const serverCaFiles = JSON.parse(env.find((e) => e.name === 'MOSQUITTO_SERVER_CA_FILES')!.value!) as object;
      for (const file of Object.values(serverCaFiles) as string[])
        expect({ file, mounted: mounts.some((m) => file.startsWith(`${m}/`)) }).toEqual({ file, mounted: true });
      const policy = (name: string) => objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === name)!;
      expect(policy('mosquitto-admin').spec.ingress).toEqual([
        {
          from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'onboarding' } } }],
          ports: [{ protocol: 'TCP', port: 8884 }],
        },
      ]);
      expect(policy('onboarding-to-brokers').spec.egress[0].ports).toEqual([{ protocol: 'TCP', port: 8884 }]);
      const brokerService = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'mosquitto')!;
      expect(brokerService.spec.ports.map((p: { port: number }) => p.port)).toEqual([8883, 8884]);
      // Every http port a NetworkPolicy admits Prometheus to is one a service listens on, the agent's included.
      const scraped = policy('metrics-scrape').spec.ingress[0].ports.map((p: { port: number }) => p.port);
      expect(scraped).toEqual(expect.arrayContaining(Object.values(deployedServices).map((d) => d.port)));
    });
  });

  it('production runs two replicas of each service that shares its work, the gateway autoscaled', () => {
    const objects = render('production');
    const replicas = Object.fromEntries(
      objects.filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, o.spec.replicas as number]),
    );
    expect(replicas).toEqual({ registry: 2, ca: 2, onboarding: 1, revocation: 2, ota: 2, gateway: 2, mosquitto: 1 });
    const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler');
    expect(hpa?.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'gateway' });
    const monitor = objects.find((o) => o.kind === 'ServiceMonitor')!;
    const httpServices = objects.filter(
      (o) => o.kind === 'Service' && (o.spec.ports as { name: string }[]).some((p) => p.name === 'http'),
    );
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics' });
    expect(httpServices.map((s) => s.metadata.labels?.['app.kubernetes.io/name']).sort()).toEqual(
      [...monitor.spec.selector.matchExpressions[0].values].sort(),
    );
  });
});
