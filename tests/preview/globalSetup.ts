/*
 * Starts the preview host for the browser tests: checks that the plugin, its
 * backend and the host page are built, compiles the Go server entry
 * (`meshwatch preview`, pkg/devkit/cmd/meshwatch), and runs it on 127.0.0.1:0 with a fresh
 * settings file and `--stack sidecar-memory-leak`: the simulated mesh under
 * that fault, scraped by a real Prometheus evaluating the mesh alert rules,
 * with a real Alertmanager and Loki and the Tempo and Ollama contract fakes,
 * all on loopback (the tools come from .ci/install-tools.sh). A second host
 * serves the link fixture plugin with every upstream on a closed port.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

/** The fault the main host's simulated mesh is under (its alert: MeshSidecarMemoryLeak on shop/api). */
const STACK_SCENARIO = 'sidecar-memory-leak';

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[process.arch] ?? process.arch;
}

function mustExist(file: string, hint: string) {
  if (!fs.existsSync(path.join(root, file))) {
    throw new Error(`${file} is missing: ${hint}`);
  }
}

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function waitForUrl(proc: ChildProcess, log: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the preview host did not start in 180 s:\n${log()}`)), 180_000);
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = out.match(/not Grafana — (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the preview host exited (${code}):\n${log()}`));
    });
  });
}

export default async function globalSetup() {
  const exe = `gpx_mesh_${process.platform === 'win32' ? 'windows' : process.platform}_${goArch()}`;
  mustExist('dist/plugin.json', 'run npm run build');
  mustExist('dist/module.js', 'run npm run build');
  mustExist(`dist/${exe}`, `run go build -o dist/${exe} ./pkg (or mage build:linux)`);
  mustExist('tests/preview/host/dist/index.html', 'run npm run preview:build');
  mustExist('tests/preview/host/dist/host.js', 'run npm run preview:build');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'meshwatch-preview-e2e-'));
  const server = path.join(work, 'meshwatch');
  execFileSync('go', ['build', '-o', server, './pkg/devkit/cmd/meshwatch'], { cwd: root, stdio: 'inherit' });

  const closed = `http://127.0.0.1:${await closedPort()}`;
  // Direct URLs (no datasourceUid, which provisioning sets) to a closed port.
  const closedUpstreams = [
    ...['prometheus', 'loki', 'tempo', 'alertmanager', 'ollama'].flatMap((k) => ['--set', `${k}.url=${closed}`]),
    ...['prometheus', 'loki', 'tempo', 'alertmanager'].flatMap((k) => ['--set', `${k}.datasourceUid=`]),
  ];
  const mesh = ['--stack', STACK_SCENARIO, '--stack-eval', '5s'];
  const servers: ChildProcess[] = [];
  const start = async (name: string, dist: string, upstreams: string[]) => {
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    const args = [
      'preview',
      ...['--listen', '127.0.0.1:0', '--dist', dist, '--host-dir', 'tests/preview/host/dist'],
      ...['--provisioning', 'provisioning/plugins/apps.yaml', '--settings-file', path.join(dir, 'settings.json')],
      ...['--set', `storage.path=${path.join(dir, 'meshwatch.db')}`, ...upstreams, '--set', 'kubernetes.mode=disabled'],
    ];
    const logFile = path.join(dir, 'server.log');
    const proc = spawn(server, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(proc);
    proc.stderr?.on('data', (chunk: Buffer) => fs.appendFileSync(logFile, chunk));
    return waitForUrl(proc, () => fs.readFileSync(logFile, 'utf8').slice(-4000));
  };

  // A second host serves the link fixture (tests/preview/fixtures/link-plugin)
  // on the same backend binary, for the panel-menu mechanism test.
  const fixtureDist = path.join(work, 'fixture-dist');
  fs.mkdirSync(fixtureDist);
  for (const f of ['plugin.json', 'module.js']) {
    fs.copyFileSync(path.join(__dirname, 'fixtures', 'link-plugin', f), path.join(fixtureDist, f));
  }
  fs.symlinkSync(path.join(root, 'dist', exe), path.join(fixtureDist, exe));

  try {
    process.env.PREVIEW_URL = await start('main', 'dist', mesh);
    process.env.PREVIEW_FIXTURE_URL = await start('fixture', fixtureDist, closedUpstreams);
  } catch (e) {
    servers.forEach((p) => p.kill('SIGTERM'));
    throw e;
  }
  process.env.PREVIEW_WORKDIR = work;
  process.env.PREVIEW_UPSTREAM = closed;

  return async () => {
    await Promise.all(
      servers
        .filter((p) => p.exitCode === null)
        .map((p) => {
          const exited = new Promise((r) => p.once('exit', r));
          p.kill('SIGTERM');
          return exited;
        })
    );
    if (process.env.PREVIEW_KEEP_WORKDIR) {
      console.log(`preview host work dir kept: ${work}`);
    } else {
      fs.rmSync(work, { recursive: true, force: true });
    }
  };
}
