// A small TCP proxy on 127.0.0.1:0 for fault tests: passes bytes to a target until paused, then refuses new
// connections (reset), black-holes them (accepted, never answered), and destroys or freezes the existing ones.
import net from 'node:net';

export type PauseMode = 'blackhole' | 'reset';
export type PauseOptions = {
  /** What happens to connections open at the moment of the pause: destroyed at once (default), or frozen (no byte
   * passes either way, like a peer that hangs) until resume destroys them. */
  existing?: 'destroy' | 'hang';
};

export type TcpProxy = {
  port: number;
  /** A copy of `url` with its host and port pointing at the proxy. */
  urlFor(url: string): string;
  pause(mode: PauseMode, opts?: PauseOptions): void;
  resume(): void;
  /** Connections accepted since start, for assertions that traffic really went through the proxy. */
  readonly accepted: number;
  readonly open: number;
  close(): Promise<void>;
};

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: PauseMode | null = null;
  let accepted = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket | null }>();
  const frozen = new Set<net.Socket>();
  const held = new Set<net.Socket>();

  const server = net.createServer((client) => {
    accepted++;
    client.on('error', () => {});
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') {
      // Accepted by the kernel and by us, but nothing is ever forwarded or answered.
      held.add(client);
      client.on('close', () => held.delete(client));
      client.resume();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => {
      upstream.destroy();
      pairs.delete(pair);
    });
    upstream.on('close', () => {
      client.destroy();
      pairs.delete(pair);
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  const destroyAll = () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream?.destroy();
    }
    pairs.clear();
    for (const s of [...frozen, ...held]) s.destroy();
    frozen.clear();
    held.clear();
  };

  return {
    port,
    urlFor(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    pause(m: PauseMode, opts: PauseOptions = {}) {
      mode = m;
      if ((opts.existing ?? 'destroy') === 'destroy') {
        destroyAll();
        return;
      }
      for (const { client, upstream } of pairs) {
        client.unpipe();
        upstream?.unpipe();
        // Keep reading and drop what arrives, so neither side ever sees a byte or a close.
        client.removeAllListeners('data');
        upstream?.removeAllListeners('data');
        client.on('data', () => {});
        upstream?.on('data', () => {});
        frozen.add(client);
        if (upstream) frozen.add(upstream);
      }
      pairs.clear();
    },
    resume() {
      mode = null;
      // A frozen connection has lost bytes; the peers must reconnect, as after a server restart.
      for (const s of [...frozen, ...held]) s.destroy();
      frozen.clear();
      held.clear();
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    async close() {
      mode = 'reset';
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
