import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach } from 'vitest';
import { tempDir } from './temp.js';

/**
 * A stand-in for the service manager's notify socket: a real AF_UNIX SOCK_DGRAM socket that prints
 * each datagram (and the sender PID from SCM_CREDENTIALS) as a JSON line. Descriptors passed with
 * BARRIER=1 are closed at once, which is how systemd tells systemd-notify the message was read.
 */
const RECEIVER = `
import json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\\0" + sys.argv[1][1:] if sys.argv[1].startswith("@") else sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64 * 4))
    pid = None
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", cdata[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            for i in range(len(cdata) // 4):
                os.close(struct.unpack_from("i", cdata, i * 4)[0])
    print(json.dumps({"pid": pid, "message": data.decode("utf-8", "replace")}), flush=True)
`;

export interface Datagram {
  pid: number | null;
  message: string;
}

const receivers: ChildProcess[] = [];
afterEach(() => {
  for (const child of receivers.splice(0)) child.kill('SIGKILL');
});

/** A receiver bound to a path in a temp dir, or with `abstract` to an abstract name (path is then `@name`). */
export async function notifySocket(
  opts: { abstract?: boolean } = {},
): Promise<{ path: string; received: () => Datagram[]; close: () => Promise<void> }> {
  const dir = await tempDir('cda-sdnotify-');
  const script = join(dir, 'receiver.py');
  await writeFile(script, RECEIVER);
  const path = opts.abstract ? `@cda-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}` : join(dir, 'notify.sock');
  const child = spawn('python3', [script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  receivers.push(child);
  const datagrams: Datagram[] = [];
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
    lines.on('line', (line) => {
      const parsed = JSON.parse(line) as Datagram & { listening?: boolean };
      if (parsed.listening) resolve();
      else if (parsed.message !== 'BARRIER=1') datagrams.push(parsed);
    });
  });
  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  };
  return { path, received: () => [...datagrams], close };
}
